"""Issue 16, the page side: the new /api/tasks fields, attention-first order, banners, the
daily-cap meter, what the actions say, and the row texts (progress, step, where the post is).

    TestJsonFields   size, bytes_sent, published_at, post_url (with the creator's @handle), kind, account
    TestOrder        rows that need a person first on the page; ?order= on the API
    TestRowTexts     facts line, progress text, TikTok's step, private/draft texts, copy caption, preview slots
    TestHeader       banners (paused, logged out, inbox lost) and the counts and meter
    TestActionNames  "Cancel and delete files", aria-labels naming the video, confirmations naming the files
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.clock import FakeClock as PlainClock
from ralph_watch.tasks import State, Task, TaskBoard
from ralph_watch.web import views
from tests.support.fake_backend import START
from tests.unit.test_client import FakeTikTok, make_client
from tests.unit.test_web_app import World

BERLIN = ZoneInfo("Europe/Berlin")
INFO = SimpleNamespace(duration=42.4, width=1080, height=1920, size=12_345_678)
IDENT = SimpleNamespace(size=12_345_678)


def sidecar(**kw: object) -> SimpleNamespace:
    base = dict(at=None, cron=None, allow_comments=True, allow_duet=False, allow_stitch=False, mode="direct")
    return SimpleNamespace(**{**base, **kw})


@pytest.fixture
def world() -> World:
    return World()


class TestJsonFields:
    def test_an_uploading_task_carries_size_and_bytes_sent(self, world):
        world.task("up", state=State.UPLOADING, progress=0.5, bytes_sent=6_000_000, identity=IDENT, video_info=INFO,
                   sidecar_data=sidecar())
        item = world.app.get("/api/tasks").json[0]
        assert item["size"] == 12_345_678 and item["bytes_sent"] == 6_000_000
        assert item["kind"] == "now" and item["account"] == "default"
        assert item["published_at"] is None and item["post_url"] is None
        assert item["duration"] == 42.4 and (item["width"], item["height"]) == (1080, 1920)

    @pytest.mark.parametrize("state", [State.SCHEDULED, State.PROCESSING, State.FAILED])
    def test_bytes_sent_is_null_unless_uploading(self, world, state):
        world.task("x", state=state, bytes_sent=5)
        assert world.app.get("/api/tasks").json[0]["bytes_sent"] is None

    @pytest.mark.parametrize(("sc", "cron_key", "kind"), [
        pytest.param(sidecar(at=START), None, "at", id="at"),
        pytest.param(sidecar(cron="0 18 * * *"), "0 18 * * *", "cron", id="cron"),
        pytest.param(sidecar(), None, "now", id="now"),
        pytest.param(None, None, "now", id="invalid_no_sidecar"),
    ])
    def test_kind_says_how_the_sidecar_times_the_pair(self, sc, cron_key, kind):
        assert views.task_kind(Task(id="1", key="k", sidecar_data=sc, cron_key=cron_key)) == kind

    def test_the_board_stamps_published_at_and_clears_it_when_published_anew(self):
        clock = PlainClock(START)
        board = TaskBoard(now=clock.now)
        t = board.create("k", state=State.SCHEDULED)
        board.transition(t.id, State.UPLOADING)
        board.transition(t.id, State.PROCESSING)
        clock.advance(90)
        done = board.transition(t.id, State.PUBLISHED)
        assert done is not None and done.published_at == START + timedelta(seconds=90)
        assert views.task_json(done)["published_at"] == "2026-12-24T12:01:30+00:00"
        again = board.transition(t.id, State.SCHEDULED)   # retry of a published-with-files-kept pair
        assert again is not None and again.published_at is None

    def test_a_finished_task_keeps_its_size_and_kind_after_its_working_data_is_dropped(self):
        from ralph_watch.tasks import finished
        t = Task(id="1", key="k", state=State.PUBLISHED, identity=IDENT, video_info=INFO, sidecar_data=sidecar(at=START))
        finished(t)
        item = views.task_json(t)
        assert (item["size"], item["kind"]) == (12_345_678, "at")

    def test_post_url_carries_the_handle_of_the_logged_in_creator(self, world):
        world.backend.logged_in_as = {"nickname": "R", "username": "ralph.w"}
        world.task("done", state=State.PUBLISHED, post_id="42", video=None)
        assert world.app.get("/api/tasks").json[0]["post_url"] == "https://www.tiktok.com/@ralph.w/video/42"

    def test_a_new_handle_is_a_new_etag(self, world):
        world.task("done", state=State.PUBLISHED, post_id="42", video=None)
        first = world.app.get("/api/tasks")
        world.backend.logged_in_as = {"nickname": "R", "username": "ralph.w"}
        second = world.app.get("/api/tasks", headers={"If-None-Match": first.headers["ETag"]})
        assert second.status_int == 200 and second.json[0]["post_url"].startswith("https://www.tiktok.com/@ralph.w/")

    def test_the_client_keeps_the_handle_from_creator_info_and_forgets_it_at_logout(self):
        # The Account (from the login's user info) has no username; creator_info does.
        logged_in = make_client(FakeTikTok(), PlainClock())
        logged_in.exchange_code("good-code", code_verifier="v" * 43)
        assert logged_in.creator_username is None
        logged_in.creator_info()
        assert logged_in.creator_username == "ralph"
        logged_in.logout()
        assert logged_in.creator_username is None
        logged_in.close()


class TestOrder:
    def fill(self, world: World) -> None:
        world.task("soon", state=State.SCHEDULED, due=START + timedelta(minutes=5))
        world.task("bad", state=State.INVALID, due=None)
        world.task("later", state=State.SCHEDULED, due=START + timedelta(hours=5))
        world.task("late", state=State.FAILED, due=START + timedelta(hours=1))
        world.task("gone", state=State.MISSED, due=START - timedelta(hours=1))

    def test_the_page_lists_rows_that_need_a_person_first_then_due_order(self, world):
        self.fill(world)
        page = world.app.get("/").text
        shown = re.findall(r'data-name="([^"]+)"', page)
        assert shown == ["gone.mp4", "late.mp4", "bad.mp4", "soon.mp4", "later.mp4"]
        assert page.count('class="attention"') == 3

    def test_the_page_can_be_in_due_order(self, world):
        self.fill(world)
        shown = re.findall(r'data-name="([^"]+)"', world.app.get("/?order=due").text)
        assert shown == ["gone.mp4", "soon.mp4", "late.mp4", "later.mp4", "bad.mp4"]

    def test_the_api_keeps_the_contracts_order_unless_asked(self, world):
        self.fill(world)
        assert [t["video"] for t in world.app.get("/api/tasks").json][:2] == ["gone.mp4", "soon.mp4"]
        attention = [t["video"] for t in world.app.get("/api/tasks?order=attention").json]
        assert attention == ["gone.mp4", "late.mp4", "bad.mp4", "soon.mp4", "later.mp4"]

    def test_an_unknown_order_is_refused_with_a_sentence(self, world):
        r = world.app.get("/api/tasks?order=random", status=400)
        assert "attention, due" in r.json["error"]
        assert "order must be one of attention, due" in world.app.get("/?order=x", status=400).text


class TestRowTexts:
    def test_a_row_shows_duration_resolution_and_size_and_offers_a_preview(self, world):
        t = world.task("clip", video_info=INFO, identity=IDENT, sidecar_data=sidecar(), title="Sunset",
                       privacy="SELF_ONLY")
        page = world.app.get("/").text
        assert "0:42 · 1080×1920 · 12.3 MB" in page
        assert f'<img class="thumb" src="/tasks/{t.id}/thumbnail" alt="" loading="lazy"' in page
        assert f'href="/tasks/{t.id}/video" aria-label="Preview clip.mp4"' in page
        assert 'data-switches="comments on · duet off · stitch off"' in page

    def test_no_thumbnail_or_preview_without_a_probed_video_in_the_inbox(self, world):
        world.task("bad", state=State.INVALID)                                      # never probed
        world.task("done", state=State.PUBLISHED, video_info=INFO, post_id="1")     # files deleted
        page = world.app.get("/").text
        assert "/thumbnail" not in page and "/video\"" not in page

    def test_upload_progress_says_percent_and_megabytes_without_javascript(self, world):
        world.task("up", state=State.UPLOADING, progress=0.25, bytes_sent=3_086_419, identity=IDENT)
        page = world.app.get("/").text
        assert '<progress max="1" value="0.250">25 %</progress>' in page
        assert "25 % · 3.1 of 12.3 MB" in page

    @pytest.mark.parametrize(("values", "text"), [
        pytest.param(dict(state=State.PROCESSING), "TikTok is processing the video", id="processing"),
        pytest.param(dict(state=State.IN_INBOX, mode="draft"), "tap the inbox notification", id="draft"),
        pytest.param(dict(state=State.PUBLISHED, privacy="SELF_ONLY", video=None), "Profile → the lock tab",
                     id="private"),
        pytest.param(dict(state=State.PUBLISHED, privacy="PUBLIC_TO_EVERYONE", video=None),
                     "TikTok has not given the post", id="public_no_id_yet"),
    ])
    def test_it_says_where_the_post_is(self, world, values, text):
        world.task("x", **values)
        assert text in world.app.get("/").text

    def test_a_published_row_says_when_in_the_configured_zone_and_links_to_tiktok(self, world):
        t = world.task("done", state=State.PROCESSING)
        world.clock.advance(60)
        world.board.transition(t.id, State.PUBLISHED, post_id="7312345")
        page = world.app.get("/").text
        assert ('Published <time class="dual" datetime="2026-12-24T12:01:00+00:00">2026-12-24 13:01 +01:00</time> '
                '<span class="zone">Europe/Berlin</span>') in page
        assert ">View on TikTok</a>" in page and 'aria-label="View done.mp4 on TikTok"' in page

    def test_draft_rows_offer_to_copy_the_caption(self, world):
        world.task("d", state=State.IN_INBOX, mode="draft", title="My caption #tag")
        world.task("p", state=State.SCHEDULED, mode="direct", title="Not a draft")
        page = world.app.get("/").text
        assert page.count('class="copy"') == 1
        assert 'data-caption="My caption #tag" aria-label="Copy caption of d.mp4"' in page

    def test_due_times_name_the_configured_zone(self, world):
        world.task("clip", due=START + timedelta(hours=3))
        page = world.app.get("/").text
        assert ('<time class="dual" datetime="2026-12-24T15:00:00+00:00">2026-12-24 16:00 +01:00</time> '
                '<span class="zone">Europe/Berlin</span>') in page


class TestHeader:
    def test_no_banner_when_all_is_well(self, world):
        world.login()
        page = world.app.get("/").text
        for banner in ("banner-paused", "banner-logged-out", "banner-inbox"):
            assert re.search(rf'id="{banner}"[^>]*hidden>', page), banner

    def test_banners_say_paused_logged_out_and_inbox_lost(self, world):
        world.backend.paused = True
        ok, data = world.backend.health_answer
        world.backend.health_answer = (False, dict(data, inbox_ok=False))
        page = world.app.get("/").text
        for banner in ("banner-paused", "banner-logged-out", "banner-inbox"):
            assert not re.search(rf'id="{banner}"[^>]*hidden>', page), banner
        assert "Publishing is\n    paused" in page and "cannot be read" in page and "logged out" in page

    def test_the_header_counts_states_and_shows_the_daily_cap_meter(self, world):
        world.task("a", state=State.FAILED)
        world.task("b", state=State.SCHEDULED)
        world.task("c", state=State.SCHEDULED)
        world.backend.quota_answer = {"posts": 3, "posts_cap": 15, "drafts": 5, "drafts_cap": 5}
        page = world.app.get("/").text
        assert '<span class="badge s-scheduled">scheduled</span> <span class="n">2</span>' in page
        assert "Direct posts, last 24 h: <strong>3 of 15</strong>" in page
        assert "Pending drafts: <strong>5 of 5</strong>" in page
        assert '<meter min="0" max="15" value="3"' in page

    @pytest.mark.parametrize(("quota", "shown"), [
        pytest.param({"posts": 2, "posts_cap": 15, "drafts": 0, "drafts_cap": 5}, True, id="numbers"),
        pytest.param({"posts": "2"}, False, id="garbage"),
        pytest.param(None, False, id="none"),
    ])
    def test_the_meter_takes_only_whole_numbers(self, quota, shown):
        assert (views.quota_view(quota) is not None) is shown


class TestActionNames:
    def test_buttons_say_what_they_do_and_name_the_video(self, world):
        world.task("sample", state=State.SCHEDULED)
        world.task("broken", state=State.FAILED)
        page = world.app.get("/").text
        assert 'aria-label="Publish sample.mp4 now">Publish now</button>' in page
        assert 'aria-label="Cancel and delete files of sample.mp4">Cancel and delete files</button>' in page
        assert 'aria-label="Retry broken.mp4">Retry</button>' in page
        assert ">Cancel</button>" not in page

    def test_the_confirmation_names_the_files(self, world):
        t = world.task("sample")
        page = world.app.get("/").text
        assert ('data-confirm="Cancel sample.mp4? Both files will be deleted from the inbox: sample.mp4 and '
                'sample.yaml."') in page
        confirm = world.app.post(f"/tasks/{t.id}/cancel", {"csrf": world.csrf()}).text
        assert "<code>sample.mp4</code>" in confirm and "<code>sample.yaml</code>" in confirm


def test_the_service_reads_the_meter_from_the_limiter():
    from ralph_watch.limits import Limits
    from ralph_watch.service import Service
    from ralph_watch.tiktok.limiter import AccountLimiter

    limiter = AccountLimiter(Limits(), PlainClock(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    limiter.record_post()
    limiter.record_post()
    limiter.record_draft()
    fake_service = SimpleNamespace(client=SimpleNamespace(limiter=limiter))
    assert Service.quota(fake_service) == {"posts": 2, "posts_cap": 15, "drafts": 1, "drafts_cap": 5}  # type: ignore[arg-type]


def test_the_csp_lets_thumbnails_and_the_preview_video_load_from_self_only():
    from ralph_watch.web.security import SECURITY_HEADERS
    csp = dict(part.strip().split(" ", 1) for part in SECURITY_HEADERS["Content-Security-Policy"].split(";")
               if part.strip())
    assert csp["img-src"] == "'self'" and csp["script-src"] == "'self'"
    assert "media-src" not in csp and csp["default-src"] == "'self'", "the <video> falls back to default-src 'self'"
