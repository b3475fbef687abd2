"""The status page in a real browser (issue 6): Debian's chromium through Playwright, against
the real service subprocess and the TikTok emulator on loopback.

    TestAccount      logging in by clicking through the consent page; nickname, avatar; logging out
    TestLiveUpdates  an upload's progress bar, then `published`, with no reload
    TestActions      cancel through the confirm() dialog; pause and resume
    TestHostileText  a title full of markup, template syntax, bidi marks and emoji shows literally
    TestNoJavaScript the page and the cancel confirmation page without JavaScript

Every test collects the page's console errors and uncaught exceptions and asserts there are
none, and saves screenshots at 390 px and 1280 px into artifacts/screenshots/ (`shoot` also
fails when a page is wider than the window). Look at them after changing the page.
"""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import PageLog, launch, login_by_clicking, shoot, watch
from tests.support.videos import big_mp4, small_mp4
from tests.support.wait import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FAR_FUTURE = "2099-01-01 12:00"   # scheduled, and stays so for the whole test


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_playwright() as playwright:
        chromium = launch(playwright, home=tmp_path_factory.mktemp("chromium-home"))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def log(page, service) -> PageLog:
    return watch(page, origin=service.url)


def drop_pair(inbox, name: str, sidecar: str) -> None:
    small_mp4(inbox, f"{name}.mp4")
    (inbox / f"{name}.yaml").write_text(sidecar, encoding="utf-8")


def row(page, video: str):
    """The task row whose Video cell names `video` (server- or script-rendered alike)."""
    return page.locator("#tasks tbody tr").filter(has=page.locator("td.c-video", has_text=video))


def assert_clean(log: PageLog) -> None:
    assert log.errors == [], f"the page logged errors: {log.errors}"


def scripted(page) -> None:
    """Wait until the page's script has rendered every row from /api/tasks at least once."""
    # page.evaluate, not wait_for_function: the page's CSP (rightly) forbids the eval that one uses
    wait_until(lambda: page.evaluate("() => [...document.querySelectorAll('#tasks tbody tr')]"
                                     ".every(r => r.dataset.json)"), 10, "the page's script to render the rows")


class TestAccount:
    def test_it_logs_in_by_clicking_and_shows_the_nickname_and_the_avatar_from_its_own_origin(
            self, service, emulator, page, log):
        page.goto(service.url + "/")
        expect(page.get_by_role("heading", name="Not logged in")).to_be_visible()
        shoot(page, "logged-out")
        login_by_clicking(page, service.url)
        expect(page.locator(".nick")).to_have_text(emulator.profile.account.nickname)
        expect(page.locator(".flash")).to_contain_text("Logged in to TikTok")
        avatar = page.locator("img.avatar")
        wait_until(lambda: avatar.evaluate("img => img.complete && img.naturalWidth > 0"), 10, "the avatar to load")
        assert avatar.get_attribute("src") == "/avatar"
        assert service.url + "/avatar" in log.requests   # served through the service, not TikTok's CDN
        assert log.requests_off("127.0.0.1") == []
        shoot(page, "logged-in")
        assert_clean(log)

    def test_it_logs_out_with_the_button_and_shows_the_logged_out_view(self, service, page, log):
        login_by_clicking(page, service.url)
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Not logged in")).to_be_visible()
        expect(page.get_by_role("link", name="Log in with TikTok")).to_be_visible()
        expect(page.locator(".flash")).to_contain_text("Logged out")
        assert [kind for kind, _ in log.dialogs] == ["confirm"]   # "Log out of TikTok?" asked first
        assert service.http.get("/api/account").json() == {"logged_in": False, "nickname": None}
        shoot(page, "after-logout")
        assert_clean(log)


class TestLiveUpdates:
    def test_it_shows_the_upload_progress_and_then_published_without_a_reload(self, service, emulator, page, log):
        login_by_clicking(page, service.url)
        page.evaluate("window.__marker = 1")
        loads = len(log.navigations)
        # 70 MB is 7 chunks of 10 MB; holding each for 0.8 s makes the upload last ~6 s,
        # long enough for the page's 2 s poll to see it part way.
        emulator.inject("upload", delay=0.8, times=7)
        (service.root / "src").mkdir()
        src = big_mp4(service.root / "src")
        (service.inbox / "big.yaml").write_text('title: "A big one"\nprivacy: private\n', encoding="utf-8")
        os.replace(src, service.inbox / "big.mp4")
        bar = row(page, "big.mp4").locator("progress")
        seen: list[float] = []

        def part_way() -> bool:
            if bar.count():
                seen.append(float(bar.get_attribute("value") or 0))
            return any(0 < v < 1 for v in seen)
        wait_until(part_way, 30, "a progress bar part way through the upload")
        expect(row(page, "big.mp4").locator(".badge")).to_have_text("uploading")
        shoot(page, "uploading")
        expect(row(page, "big.mp4").locator(".badge")).to_have_text("published", timeout=30_000)
        expect(bar).to_have_count(0)
        expect(row(page, "big.mp4").get_by_role("button")).to_have_count(0)   # files gone: no Retry
        expect(page.locator("#filters")).to_contain_text("published (1)")     # counts follow too
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
        assert len(log.navigations) == loads, f"the page navigated: {log.navigations[loads:]}"
        assert not (service.inbox / "big.mp4").exists()
        shoot(page, "published")
        assert_clean(log)


# A long name without spaces: it must wrap inside its cell, never widen a phone's page.
KEEP = "2026-11-29_holiday_sunset_over_the_bay_final_final_v2"


class TestActions:
    def test_it_cancels_a_scheduled_task_only_after_the_confirm_dialog_is_accepted(self, service, page, log):
        drop_pair(service.inbox, "later", f'title: "Later"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        drop_pair(service.inbox, KEEP, f'title: "Keep"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        service.wait_state("later.mp4", "scheduled")
        service.wait_state(f"{KEEP}.mp4", "scheduled")
        page.goto(service.url + "/")
        shoot(page, "scheduled")
        cancel = row(page, "later.mp4").get_by_role("button", name="Cancel")
        log.accept_dialogs = False
        cancel.click()
        wait_until(lambda: log.dialogs, 5, "the confirm dialog")
        assert service.task("later.mp4")["state"] == "scheduled"   # dismissed: nothing happened
        log.accept_dialogs = True
        cancel.click()
        expect(row(page, "later.mp4").locator(".badge")).to_have_text("cancelled")
        expect(page.locator(".flash")).to_contain_text("both files were deleted")
        assert log.dialogs == [("confirm", "Cancel later.mp4? Both files will be deleted from the inbox.")] * 2
        assert not (service.inbox / "later.mp4").exists() and not (service.inbox / "later.yaml").exists()
        assert (service.inbox / f"{KEEP}.mp4").exists() and service.task(f"{KEEP}.mp4")["state"] == "scheduled"
        shoot(page, "cancelled")
        assert_clean(log)

    def test_it_pauses_and_resumes_publishing(self, service, emulator, page, log):
        service.login()
        page.goto(service.url + "/")
        page.get_by_role("button", name="Pause publishing").click()
        expect(page.locator("#paused-state")).to_have_text("paused")
        expect(page.locator(".flash")).to_contain_text("Paused")
        drop_pair(service.inbox, "held", 'title: "Held"\nprivacy: private\n')
        expect(row(page, "held.mp4").locator(".badge")).to_have_text("scheduled", timeout=10_000)
        shoot(page, "paused")
        assert emulator.stats()["inits"] == 0 and service.http.get("/healthz").json()["paused"] is True
        page.get_by_role("button", name="Resume publishing").click()
        expect(page.locator("#paused-state")).to_have_text("running")
        expect(page.get_by_role("button", name="Pause publishing")).to_be_visible()
        expect(row(page, "held.mp4").locator(".badge")).to_have_text("published", timeout=20_000)
        assert len(emulator.posts()) == 1
        assert_clean(log)


HOSTILE = "<script>alert(1)</script> {{7*7}} \u202eevil\u202c \u200fשלום\u200e 🎬👩‍👩‍👧 <b>bold</b> &amp;"


class TestHostileText:
    def test_it_shows_markup_template_syntax_bidi_marks_and_emoji_literally(self, service, page, log):
        # YAML double quotes with \u escapes: the sidecar file itself stays plain ASCII plus emoji.
        quoted = HOSTILE.replace("\u202e", "\\u202e").replace("\u202c", "\\u202c").replace(
            "\u200f", "\\u200f").replace("\u200e", "\\u200e")
        drop_pair(service.inbox, "odd", f'title: "{quoted}"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        assert service.wait_state("odd.mp4", "scheduled")["title"] == HOSTILE
        page.goto(service.url + "/")
        title = row(page, "odd.mp4").locator("td.c-title")
        assert title.text_content() == HOSTILE          # as the server rendered it
        scripted(page)
        assert title.text_content() == HOSTILE          # as the page's script rendered it from JSON
        assert page.locator("#tasks script, #tasks b").count() == 0
        assert "49" not in page.locator("#tasks").inner_text()
        shoot(page, "hostile-title")
        assert log.dialogs == []
        assert_clean(log)


class TestNoJavaScript:
    def test_it_lists_the_tasks_and_cancels_through_the_confirmation_page(self, service, browser):
        drop_pair(service.inbox, "plain", f'title: "Plain"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        service.wait_state("plain.mp4", "scheduled")
        context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            log = watch(page, origin=service.url)
            page.goto(service.url + "/")
            expect(row(page, "plain.mp4").locator(".badge")).to_have_text("scheduled")
            expect(row(page, "plain.mp4").locator("td.c-title")).to_have_text("Plain")
            shoot(page, "no-js-status")
            row(page, "plain.mp4").get_by_role("button", name="Cancel").click()
            expect(page.get_by_role("heading", name="Cancel plain.mp4?")).to_be_visible()
            assert (service.inbox / "plain.mp4").exists()   # asking is not doing
            shoot(page, "no-js-confirm")
            page.get_by_role("button", name="Yes, cancel and delete the files").click()
            page.wait_for_url(service.url + "/")
            expect(row(page, "plain.mp4").locator(".badge")).to_have_text("cancelled")
            assert not (service.inbox / "plain.mp4").exists() and not (service.inbox / "plain.yaml").exists()
            shoot(page, "no-js-cancelled")
            assert log.dialogs == []
            assert_clean(log)
        finally:
            context.close()
