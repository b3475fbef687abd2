"""The status page in a real browser (issue 6): Debian's chromium through Playwright, against
the real service subprocess and the TikTok emulator on loopback.

    TestAccount      logging in by clicking through the consent page; nickname, avatar; logging out
    TestLiveUpdates  an upload's progress bar, then `published`, with no reload
    TestActions      cancel through the confirm() dialog; pause and resume
    TestHostileText  a title full of markup, template syntax, bidi marks and emoji shows literally
    TestNoJavaScript the page and the cancel confirmation page without JavaScript
    TestIssue16Page  live MB/s and time left, both zones, attention first, accessible names, the
                     preview player, copy caption, the dark theme, no empty labels on a phone

Every test collects the page's console errors and uncaught exceptions and asserts there are
none, and saves screenshots at 390 px and 1280 px into artifacts/screenshots/ (`shoot` also
fails when a page is wider than the window). Look at them after changing the page.
"""
from __future__ import annotations

import os
import re
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from ralph_watch.tasks import State
from ralph_watch.web import WebServer, make_app
from tests.support.browser import PageLog, launch, login_by_clicking, shoot, watch
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config
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


# The thumbnail and video routes come from the page-routes branch (issue 16). Until it is merged
# they answer 404 (or 405: POST /tasks/<id>/<action> exists), which the browser logs as a failed load; that one error is not the page's.
_MEDIA_ROUTES = "/thumbnail" in (Path(__file__).parents[2] / "ralph_watch" / "web" / "app.py").read_text()


def assert_clean(log: PageLog) -> None:
    errors = log.errors if _MEDIA_ROUTES else [
        e for e in log.errors if not ((" 404 " in e or " 405 " in e) and re.search(r"/tasks/\d+/(thumbnail|video)\)$", e))]
    assert errors == [], f"the page logged errors: {errors}"


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
        # issue 16: the confirmation names the files
        assert log.dialogs == [("confirm", "Cancel later.mp4? Both files will be deleted from the inbox: "
                                           "later.mp4 and later.yaml.")] * 2
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


def rows_in_order(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#tasks tbody tr')].map(r => r.dataset.name)")


class TestIssue16Page:
    def test_progress_moves_with_megabytes_speed_and_time_left_during_a_slow_upload(self, service, emulator,
                                                                                     page, log):
        login_by_clicking(page, service.url)
        # 7 chunks of 10 MB, each held 1.5 s by the emulator: ~10 s of upload, five polls or more.
        emulator.inject("upload", delay=1.5, times=7)
        (service.root / "src").mkdir()
        src = big_mp4(service.root / "src")
        (service.inbox / "big.yaml").write_text('title: "A big one"\nprivacy: private\n', encoding="utf-8")
        os.replace(src, service.inbox / "big.mp4")
        text = row(page, "big.mp4").locator(".progress-text")
        seen: list[str] = []

        def has_speed() -> bool:
            if text.count():
                seen.append(text.text_content() or "")
            return any("MB/s" in t and "left" in t for t in seen)
        wait_until(has_speed, 40, "the progress text to show MB/s and time left")
        shoot(page, "issue16-uploading")
        page.emulate_media(color_scheme="dark")
        shoot(page, "issue16-uploading-dark")
        page.emulate_media(color_scheme="light")
        sent = [float(m.group(1)) for t in seen if (m := re.search(r"· ([0-9.]+)\s+of\s+([0-9.]+)\s+MB", t))]
        assert len(set(sent)) >= 2 and sent == sorted(sent), f"the MB sent did not move forward: {seen}"
        assert re.search(r"\d+\s%\s·\s[0-9.]+\sof\s[0-9.]+\sMB\s·\s[0-9.]+\sMB/s\s·\s\d+\s(s|min)\sleft",
                         seen[-1]), seen[-1]
        expect(row(page, "big.mp4").locator(".badge")).to_have_text("published", timeout=30_000)
        expect(row(page, "big.mp4").locator(".when")).to_contain_text("Published")
        expect(row(page, "big.mp4").locator(".status-text")).to_contain_text("only you can see it")
        assert_clean(log)

    def test_times_show_in_the_configured_zone_and_in_the_viewers_own(self, service, browser):
        drop_pair(service.inbox, "later", f'title: "Later"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        service.wait_state("later.mp4", "scheduled")
        context = browser.new_context(timezone_id="America/New_York", viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            log = watch(page, origin=service.url)
            page.goto(service.url + "/")
            due = row(page, "later.mp4").locator("td.c-due")
            expect(due.locator("time")).to_have_text("2099-01-01 12:00 +01:00")     # the configured zone
            expect(due.locator(".zone").first).to_have_text("Europe/Berlin")
            expect(due.locator(".viewer-time")).to_have_text("your time: 2099-01-01 06:00 -05:00 America/New_York")
            scripted(page)   # redrawn from JSON: still both
            expect(due.locator(".viewer-time")).to_have_text("your time: 2099-01-01 06:00 -05:00 America/New_York")
            shoot(page, "issue16-two-zones")
            assert_clean(log)
        finally:
            context.close()
        plain = browser.new_context(timezone_id="America/New_York", java_script_enabled=False)
        try:   # without JavaScript only the configured zone
            page = plain.new_page()
            page.goto(service.url + "/")
            expect(row(page, "later.mp4").locator("td.c-due time")).to_have_text("2099-01-01 12:00 +01:00")
            expect(row(page, "later.mp4").locator(".viewer-time")).to_have_count(0)
        finally:
            plain.close()

    def test_attention_rows_come_first_with_names_that_say_what_buttons_do(self, service, page, log):
        drop_pair(service.inbox, "sample", f'title: "Sample"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        drop_pair(service.inbox, "draft", f'title: "Draft caption #tag"\nmode: draft\nat: "{FAR_FUTURE}"\n')
        drop_pair(service.inbox, "broken", 'title: "Broken"\nprivacy: everyone-please\n')
        service.wait_state("sample.mp4", "scheduled")
        service.wait_state("draft.mp4", "scheduled")
        service.wait_state("broken.mp4", "invalid")
        page.goto(service.url + "/")
        assert rows_in_order(page)[0] == "broken.mp4"
        scripted(page)
        assert rows_in_order(page)[0] == "broken.mp4", "the script's redraw keeps attention first"
        expect(page.get_by_role("button", name="Publish sample.mp4 now", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Cancel and delete files of sample.mp4", exact=True)).to_have_text(
            "Cancel and delete files")
        expect(page.get_by_role("button", name="Cancel and delete files of broken.mp4", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Copy caption of draft.mp4", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Preview sample.mp4", exact=True)).to_be_visible()
        expect(row(page, "sample.mp4").locator(".facts-line")).to_have_text(re.compile(r"^\d+:\d\d · \d+×\d+ · "
                                                                                       r"[0-9.]+ [KM]B$"))
        buttons = page.locator("#tasks button")
        for i in range(buttons.count()):   # every button names its video
            name = buttons.nth(i).get_attribute("aria-label") or ""
            assert any(v in name for v in ("sample.mp4", "draft.mp4", "broken.mp4")), name
        expect(page.locator("#counts")).to_contain_text("invalid 1")
        expect(page.locator("#quota")).to_contain_text("Direct posts, last 24 h: 0 of 15")
        expect(page.locator("#banner-logged-out")).to_be_visible()
        # The preview player: the title, privacy and switches as the post will look.
        page.get_by_role("link", name="Preview sample.mp4", exact=True).click()
        dialog = page.locator("dialog#player")
        expect(dialog).to_be_visible()
        expect(dialog.locator("#player-title")).to_have_text("Sample")
        expect(dialog.locator("#player-meta")).to_have_text("Who can watch: private · comments off · duet off · "
                                                            "stitch off")
        assert dialog.locator("video").get_attribute("src").endswith("/video")
        if _MEDIA_ROUTES:   # the video route is the page-routes branch's: with it, the player plays
            wait_until(lambda: dialog.locator("video").evaluate("v => v.readyState >= 1"), 10, "the video to load")
        shoot(page, "issue16-preview")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        # Phones: no "Privacy:" or "Mode:" label over an empty cell (the invalid pair has neither).
        page.set_viewport_size({"width": 390, "height": 900})
        empty = page.evaluate("() => [...document.querySelectorAll('#tasks td.c-short')]"
                              ".filter(td => !td.textContent.trim() && getComputedStyle(td).display !== 'none').length")
        assert empty == 0, "an empty Privacy/Mode cell still shows its label on a phone"
        page.set_viewport_size({"width": 1280, "height": 900})
        shoot(page, "issue16-attention")
        page.emulate_media(color_scheme="dark")
        shoot(page, "issue16-attention-dark")
        assert_clean(log)

    def test_the_dark_theme_follows_the_system_setting(self, service, browser):
        drop_pair(service.inbox, "night", f'title: "Night"\nprivacy: private\nat: "{FAR_FUTURE}"\n')
        service.wait_state("night.mp4", "scheduled")
        for scheme, dark in (("light", False), ("dark", True)):
            context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                log = watch(page, origin=service.url)
                page.goto(service.url + "/")
                rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
                level = sum(int(x) for x in re.findall(r"\d+", rgb)[:3]) / 3
                assert (level < 60) is dark, f"{scheme}: the page background is {rgb}"
                shoot(page, f"issue16-theme-{scheme}")
                assert_clean(log)
            finally:
                context.close()


# -- several accounts (issue 15): the page served in-process over the fake backend ---------------

def _png() -> bytes:
    """A real 8x8 PNG, so the avatars load (a broken image would be a failed load in the log)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x30\x80\xd0" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def accounts_site(request):
    """The page for a fake backend holding the accounts given by indirect parametrization (two by default)."""
    names = getattr(request, "param", ("main", "brand"))
    clock = FakeClock(START)
    config = web_config()
    backend = FakeBackend(clock=clock, config=config, names=names, avatar_image=(_png(), "image/png"))
    for name in names[:-1]:   # every account but the last is logged in
        backend.finish_login(code="c", code_verifier="v", scopes="video.publish", account=name)
        backend._login(name)["username"] = f"{name}.handle"
    backend.quotas[names[-1]] = {"posts": 0, "posts_cap": 15, "drafts": 0, "drafts_cap": 5}
    backend.quotas[names[0]] = {"posts": 9, "posts_cap": 15, "drafts": 2, "drafts_cap": 5}
    later = START + timedelta(hours=3)
    for i, name in enumerate(names):
        backend.board.create(f"{name}/launch-video-with-a-long-name", state=State.SCHEDULED, account=name,
                             video=f"{name}/launch-video-with-a-long-name.mp4", sidecar=f"{name}/launch.yaml",
                             title=f"Launch day for {name} 🚀", privacy="SELF_ONLY", mode="direct",
                             due=later + timedelta(minutes=i))
    backend.board.create(f"{names[-1]}/waiting", state=State.NEEDS_LOGIN, account=names[-1],
                         video=f"{names[-1]}/waiting.mp4", title="Waits for its login", privacy="SELF_ONLY",
                         mode="direct", due=START)
    server = WebServer(make_app(backend, config, clock=clock), "127.0.0.1", 0).start()
    try:
        yield server.url, backend
    finally:
        server.stop()


class TestSeveralAccounts:
    def test_two_accounts_cards_filter_and_logout_at_390_and_1280(self, accounts_site, page):
        url, backend = accounts_site
        log = watch(page, origin=url)
        page.goto(url + "/")
        scripted(page)
        cards = page.locator("#accounts .account-card")
        expect(cards).to_have_count(2)
        main, brand = cards.nth(0), cards.nth(1)
        expect(main.locator(".nick")).to_have_text("Ralph")
        expect(main.locator(".handle")).to_have_text("@main.handle")
        expect(main).to_contain_text("9 of 15")
        expect(brand).to_contain_text("Not logged in")
        expect(brand).to_contain_text("1 video waits for this login.")
        expect(page.get_by_role("link", name="Log in brand with TikTok", exact=True)).to_have_attribute(
            "href", "/login?account=brand")
        expect(page.get_by_role("button", name="Log out main", exact=True)).to_be_visible()
        wait_until(lambda: main.locator("img.avatar").evaluate("img => img.complete && img.naturalWidth > 0"), 10,
                   "the avatar to load")
        # every row says its account, also after the script's redraw
        expect(row(page, "brand/waiting.mp4").locator("td.c-account")).to_have_text("brand")
        expect(row(page, "main/launch-video-with-a-long-name.mp4").locator("td.c-account")).to_have_text("main")
        shoot(page, "accounts")
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            expect(page.get_by_role("link", name="Log in brand with TikTok", exact=True)).to_be_visible()
        page.set_viewport_size({"width": 1280, "height": 900})
        # the account filter keeps the order filter and the script keeps the account filter
        page.get_by_role("link", name="due order").click()
        page.locator("#account-filter").get_by_role("link", name="brand", exact=True).click()
        assert "order=due" in page.url and "account=brand" in page.url
        scripted(page)
        expect(page.locator("#tasks tbody tr")).to_have_count(2)
        expect(page.locator("#tasks td.c-account")).to_have_text(["brand", "brand"])
        # logging one account out leaves the other logged in
        page.get_by_role("button", name="Log out main", exact=True).click()
        expect(page.locator('.account-card[data-account="main"]')).to_have_attribute("data-logged-in", "no")
        expect(page.locator(".flash")).to_contain_text("Logged out main")
        assert [kind for kind, _ in log.dialogs] == ["confirm"]
        assert backend.account(account="main") is None
        assert log.requests_off("127.0.0.1") == []
        assert_clean(log)

    @pytest.mark.parametrize("accounts_site", [("main", "brand", "shop", "news", "team-7")], indirect=True)
    def test_five_accounts_fit_a_phone_without_sideways_scrolling(self, accounts_site, page):
        url, _ = accounts_site
        log = watch(page, origin=url)
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(url + "/")
        scripted(page)
        expect(page.locator("#accounts .account-card")).to_have_count(5)
        lefts = page.evaluate("() => [...document.querySelectorAll('.account-card')].map(c => c.getBoundingClientRect().left)")
        assert len(set(lefts)) == 1, f"on a phone the cards stack in one column: {lefts}"
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 390, f"the page is {wide} px wide at 390 px"
        shoot(page, "accounts-five")   # also fails on any sideways overflow, at 390 and 1280 px
        page.set_viewport_size({"width": 1280, "height": 900})
        tops = page.evaluate("() => [...document.querySelectorAll('.account-card')].map(c => c.getBoundingClientRect().top)")
        assert len(set(tops)) < 5, "at 1280 px the cards sit side by side"
        assert_clean(log)
