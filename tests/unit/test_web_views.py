"""View models for the page (ralph_watch/web/views.py): times, links, actions, privacy text."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.tasks import State, Task
from ralph_watch.web import views

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
BERLIN = ZoneInfo("Europe/Berlin")


class TestTimes:
    @pytest.mark.parametrize(("delta", "text"), [
        pytest.param(timedelta(seconds=10), "now", id="now"),
        pytest.param(timedelta(minutes=-5), "5 min ago", id="minutes_ago"),
        pytest.param(timedelta(minutes=80), "in 80 min", id="minutes"),
        pytest.param(timedelta(hours=3), "in 3 h", id="hours"),
        pytest.param(timedelta(hours=-30), "30 h ago", id="hours_ago"),
        pytest.param(timedelta(days=180), "in 180 d", id="days"),
    ])
    def test_it_says_how_far_away_a_time_is(self, delta, text):
        assert views.relative(NOW + delta, NOW) == text

    # Europe/Berlin springs forward on 2026-03-29 at 01:00 UTC (02:00 CET -> 03:00 CEST).
    @pytest.mark.parametrize(("when", "text"), [
        pytest.param(datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc), "2026-03-29 01:59 +01:00", id="before_gap"),
        pytest.param(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc), "2026-03-29 03:00 +02:00", id="after_gap"),
        pytest.param(None, "", id="none"),
    ])
    def test_it_shows_local_time_with_offset(self, when, text):
        assert views.local_time(when, BERLIN) == text


class TestLinks:
    @pytest.mark.parametrize(("post_id", "user", "url"), [
        pytest.param("7312345", None, "https://www.tiktok.com/video/7312345", id="no_handle"),
        pytest.param("7312345", "ralph.w_1", "https://www.tiktok.com/@ralph.w_1/video/7312345", id="handle"),
        pytest.param("7312345", "a/../b", "https://www.tiktok.com/video/7312345", id="bad_handle"),
        pytest.param("javascript:x", None, None, id="not_digits"),
        pytest.param(None, None, None, id="none"),
    ])
    def test_it_builds_post_links_from_digits_only(self, post_id, user, url):
        assert views.post_url(post_id, user) == url


class TestRows:
    def test_it_turns_a_task_into_display_strings(self):
        t = Task(id="7", key="sub/clip", video="sub/clip.mp4", state=State.UPLOADING, title="T",
                 privacy="SELF_ONLY", mode="direct", due=NOW + timedelta(hours=2), progress=1.7)
        row = views.task_row(t, now=NOW, tz=BERLIN)
        assert row.video == "sub/clip.mp4" and row.privacy == "private" and row.progress == 1.0
        assert row.due_text == "2026-03-29 04:30 +02:00" and row.due_relative == "in 2 h" and row.actions == ()

    def test_it_names_a_task_by_its_sidecar_or_key_when_the_video_is_gone(self):
        assert views.task_row(Task(id="1", key="k", sidecar="k.yaml"), now=NOW, tz=BERLIN).video == "k.yaml"
        assert views.task_row(Task(id="1", key="k"), now=NOW, tz=BERLIN).video == "k"

    def test_it_shows_only_the_page_fields_of_an_account(self):
        acct = views.account_view({"nickname": "N", "avatar": True, "access_token": "act.x",
                                   "refresh_expires_at": NOW + timedelta(days=3), "username": "n"}, now=NOW, tz=BERLIN)
        assert set(acct) == {"nickname", "username", "avatar", "relogin_text", "relogin_relative", "relogin_soon"}
        assert acct["relogin_soon"] and acct["relogin_relative"] == "in 3 d"
        assert views.account_view(None, now=NOW, tz=BERLIN) is None


class TestPrivacyText:
    def test_it_splits_the_policy_into_headings_items_and_paragraphs(self):
        blocks = views.privacy_blocks("Title line\n\n1. Introduction\nSome text.\n2.1 From TikTok\n- Open ID: x\n")
        assert blocks == [("p", "Title line"), ("h", "1. Introduction"), ("p", "Some text."),
                          ("h", "2.1 From TikTok"), ("li", "Open ID: x")]


class TestHealth:
    @pytest.mark.parametrize(("last", "text"), [
        pytest.param(NOW - timedelta(minutes=2), "2026-03-29 01:28 +01:00 (2 min ago)", id="datetime"),
        pytest.param((NOW - timedelta(minutes=2)).isoformat(), "2026-03-29 01:28 +01:00 (2 min ago)",
                     id="iso_string_from_the_watcher"),
        pytest.param("2026-03-29T00:28:00", "2026-03-29T00:28:00", id="naive_string_shown_as_is"),
        pytest.param(None, "not yet", id="none"),
    ])
    def test_it_shows_the_last_scan_in_the_configured_zone(self, last, text):
        assert views.health_view(True, {"last_scan": last}, now=NOW, tz=BERLIN)["last_scan"] == text
