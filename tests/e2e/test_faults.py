"""Faults from TikTok (the emulator's fault API) and from the local disk: each ends in the
right state with a sentence a person can act on, no file is lost, nothing is posted twice."""
from __future__ import annotations

import shutil

import pytest

from tests.support.faults import (drop_pair, sha256, FAST_LIMITS, complete_posts, immutable, inits, records,
                                  wait_faults_applied, wait_record)
from tests.support.videos import small_mp4, truncated_copy
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e






@pytest.fixture
def fast(make_service):
    svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
    svc.login()
    return svc


def assert_published_once(svc, emulator, video, sidecar, digest, *, timeout: float = 60):
    svc.wait_state(video.name, "published", timeout=timeout)
    posts = complete_posts(emulator)
    assert len(posts) == 1 and posts[0]["sha256"] == digest
    wait_until(lambda: not video.exists() and not sidecar.exists(), 10, "both files to be deleted")


class TestTikTokAnswersErrors:
    @pytest.mark.parametrize("endpoint, fault, needle", [
        pytest.param("init", {"status": 500}, "Trying again at", id="init-500"),
        pytest.param("init", {"status": 503, "times": 2}, "Trying again at", id="init-503-twice"),
        pytest.param("init", {"status": 429}, "Trying again at", id="init-429"),
        pytest.param("creator_info", {"status": 500}, "Trying again at", id="creator_info-500"),
        pytest.param("creator_info", {"status": 429}, "creator_info/query/ failed: rate_limit_exceeded",
                     id="creator_info-429"),
        pytest.param("upload", {"status": 500, "times": 2}, "attempt 3/5", id="chunk-500"),
        pytest.param("upload", {"status": 429}, "attempt 2/5", id="chunk-429"),
        pytest.param("status", {"status": 500, "times": 2}, "status/fetch/ failed: internal_error", id="status-500"),
        pytest.param("status", {"status": 429}, "status/fetch/ failed: rate_limit_exceeded", id="status-429"),
        pytest.param("upload", {"drop_after_bytes": 20_000}, "attempt 2/5", id="connection-dropped-mid-chunk"),
    ])
    def test_it_recovers_from_a_transient_error_and_posts_once(self, fast, emulator, endpoint, fault, needle):
        emulator.inject(endpoint, **fault)
        video, sidecar, digest = drop_pair(fast.inbox)
        assert_published_once(fast, emulator, video, sidecar, digest)
        assert emulator.stats()["faults_applied"] >= 1
        assert needle in fast.log_text()
        assert inits(emulator) <= 2  # an init refused by TikTok (5xx, 429) is the only reason for a second

    def test_it_abandons_a_chunk_whose_answer_never_comes_by_its_own_deadline(self, make_service, emulator):
        svc = make_service(limits={**FAST_LIMITS, "chunk_deadline_seconds": 1}, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=120, drop=True)   # a server that holds the chunk and never answers
        video, sidecar, digest = drop_pair(svc.inbox)
        assert_published_once(svc, emulator, video, sidecar, digest)
        assert "no answer within 1 s" in svc.log_text()
        assert inits(emulator) == 1


class TestTokensAndUrlsExpire:
    def test_it_refreshes_an_access_token_that_expires_mid_upload(self, fast, emulator):
        emulator.inject("upload", delay=1)
        video, sidecar, digest = drop_pair(fast.inbox)
        wait_faults_applied(emulator, 1)
        emulator.expire("access_token")
        assert_published_once(fast, emulator, video, sidecar, digest)
        assert "TikTok access token refreshed" in fast.log_text()
        assert inits(emulator) == 1

    def test_a_refused_refresh_asks_for_a_login_and_keeps_the_files(self, fast, emulator):
        emulator.inject("upload", delay=1)
        video, sidecar, digest = drop_pair(fast.inbox)
        wait_faults_applied(emulator, 1)
        emulator.expire("access_token")
        emulator.expire("refresh_token")
        task = fast.wait_state("clip.mp4", "needs_login")
        assert "needs a new login" in task["error"]
        assert video.exists() and sidecar.exists()
        assert fast.http.get("/api/account").json()["logged_in"] is False  # the dead tokens were forgotten
        fast.login()
        assert_published_once(fast, emulator, video, sidecar, digest)
        assert inits(emulator) == 1, "settled through status/fetch, not published again"

    def test_an_expired_upload_url_starts_over_with_one_new_init(self, fast, emulator):
        emulator.inject("upload", delay=1, drop=True)
        video, sidecar, digest = drop_pair(fast.inbox)
        wait_faults_applied(emulator, 1)
        emulator.expire("upload_url")
        assert_published_once(fast, emulator, video, sidecar, digest)
        assert "upload URL gone" in fast.log_text()
        assert inits(emulator) == 2


FAILED_FOR_GOOD = [
    ("file_format_check_failed", "could not read the video's format"),
    ("duration_check_failed", "refused the video's length"),
    ("frame_rate_check_failed", "frame rate"),
    ("picture_size_check_failed", "picture size"),
    ("publish_cancelled", "cancelled before TikTok finished it"),
    ("auth_removed", "log in again, then use Retry"),
    ("spam_risk_user_banned_from_posting", "banned this account"),
    ("spam_risk_text", "edit `title:`"),
    ("spam_risk", "TikTok says not to retry it"),
]


class TestTikTokFailsThePost:
    @pytest.mark.parametrize("reason, sentence", [pytest.param(r, s, id=r) for r, s in FAILED_FOR_GOOD])
    def test_a_failed_status_ends_failed_with_files_kept_and_an_error_file(self, fast, emulator, reason, sentence):
        emulator.fail_next(reason)
        video, sidecar, _ = drop_pair(fast.inbox)
        task = fast.wait_state("clip.mp4", "failed")
        assert sentence in task["error"] and reason in task["error"]
        assert video.exists() and sidecar.exists()
        error_file = fast.inbox / "clip.error.txt"
        wait_until(error_file.exists, 10, "clip.error.txt to be written")
        assert sentence in error_file.read_text()
        assert complete_posts(emulator) == [] and inits(emulator) == 1
        assert [r["outcome"] for r in records(fast.state_dir)] == ["failed"]

    def test_an_internal_failure_is_uploaded_again_and_posted_once(self, fast, emulator):
        emulator.fail_next("internal")
        video, sidecar, digest = drop_pair(fast.inbox)
        assert_published_once(fast, emulator, video, sidecar, digest)
        assert inits(emulator) == 2
        assert "TikTok failed internally" in fast.log_text()

    def test_the_daily_cap_holds_the_task_scheduled_with_files_kept(self, fast, emulator):
        emulator.fail_next("spam_risk_too_many_posts")
        video, sidecar, _ = drop_pair(fast.inbox)
        task = wait_until(lambda: (t := fast.task("clip.mp4")) and t["state"] == "scheduled" and t["error"] and t,
                          30, "the task to be held")
        assert "daily cap" in task["error"] and "Trying again at" in task["error"]
        assert video.exists() and sidecar.exists()
        assert complete_posts(emulator) == [] and records(fast.state_dir) == []


class TestLocalFaults:
    @pytest.mark.parametrize("target", [pytest.param("video", id="delete-refused"),
                                        pytest.param("inbox", id="inbox-read-only")])
    def test_a_refused_delete_is_retried_and_reported_and_nothing_is_published_again(self, fast, emulator, target):
        video, sidecar, digest = drop_pair(fast.inbox)
        with immutable(video if target == "video" else fast.inbox):
            task = wait_until(lambda: (t := fast.task("clip.mp4")) and t["state"] == "published" and t["error"]
                              and t, 30, "published with a deletion problem")
            assert "could not be deleted" in task["error"] and "keeps trying" in task["error"]
            assert video.exists() and sidecar.exists()
            assert wait_record(fast.state_dir, "published")
        wait_until(lambda: not video.exists() and not sidecar.exists(), 20, "the deletion to be retried")
        wait_until(lambda: (t := fast.task("clip.mp4")) is None or not t["error"], 10, "the problem to clear")
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest and inits(emulator) == 1
        assert records(fast.state_dir) == []

    def test_an_unwritable_state_dir_pauses_publishing_and_the_service_stays_up(self, fast, emulator):
        shutil.rmtree(fast.state_dir / "records")
        (fast.state_dir / "records").write_text("not a folder")   # no record can be written now
        video, sidecar, digest = drop_pair(fast.inbox)
        task = wait_until(lambda: (t := fast.task("clip.mp4")) and t["error"] and "paused" in t["error"] and t,
                          30, "publishing to pause")
        assert task["state"] == "scheduled"
        assert "cannot create" in task["error"] and "records" in task["error"] and "press Resume" in task["error"]
        health = fast.http.get("/healthz")
        assert health.status_code == 200 and health.json()["paused"] is True
        assert video.exists() and sidecar.exists()
        assert inits(emulator) == 0, "no init while no record could be written"
        (fast.state_dir / "records").unlink()
        assert fast.post("/resume").status_code in (200, 303)
        assert_published_once(fast, emulator, video, sidecar, digest)

    @pytest.mark.parametrize("change", [pytest.param("truncated", id="truncated"),
                                        pytest.param("replaced", id="replaced")])
    def test_a_video_changed_mid_upload_stops_the_upload_and_is_checked_again(self, fast, emulator, change):
        emulator.inject("upload")                      # chunk 1 goes through
        emulator.inject("upload", delay=1, drop=True)  # chunk 2 is held, then dropped: the retry reads the file
        video, sidecar, _ = drop_pair(fast.inbox, big=True)
        wait_faults_applied(emulator, 2)
        if change == "truncated":
            cut = fast.root / "cut.mp4"
            truncated_copy(video, cut, 0.15)
            with open(video, "r+b") as f:   # in place: an interrupted copy over the file
                f.truncate(cut.stat().st_size)
            task = fast.wait_state("clip.mp4", "invalid", timeout=60)
            assert "clip.mp4" in task["error"]
            assert video.exists() and sidecar.exists()
            assert complete_posts(emulator) == []
        else:
            new = small_mp4(fast.root, "new.mp4")
            digest = sha256(new)
            new.replace(video)
            assert_published_once(fast, emulator, video, sidecar, digest)
        assert "changed while it was being uploaded" in fast.log_text()
        assert all(p["status"] != "PUBLISH_COMPLETE" or p["video_size"] < 64_000_000 for p in emulator.posts())
