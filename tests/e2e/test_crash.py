"""Nothing lost, nothing twice across crashes: SIGKILL at each phase of a publish, then a
restart on the same inbox and state_dir, a login, and the settled truth.

Each phase is reached deterministically with the emulator's faults, never with timing:
- "after init, at the first chunk": the first PUT is held (`delay`) and then dropped unanswered;
  the kill lands while the emulator holds it (it has taken the fault: `faults_applied`);
- "mid-upload": a no-op fault lets chunk 1 through, chunk 2 is held and dropped;
- "after the last chunk, before the status answer": every byte is in (`received_bytes`), and
  the first status call is held;
- "last chunk sent, not yet answered" (SIGKILL and SIGTERM): a slow TikTok (`delay`) has taken
  every byte but not counted or answered them; the chunk completes at TikTok on its own, and the
  next start waits for that instead of publishing anew (issue 12.1);
- "after PUBLISH_COMPLETE, before the delete": the video is made immutable (`chattr +i`: root
  ignores permissions, not that), so the service records the post as published and cannot delete;
  the kill then finds exactly the disk state of a crash between the two steps (record
  `published`, both files present).
"""
from __future__ import annotations

import os
import time

import pytest

from tests.support.faults import (drop_pair, FAST_LIMITS, complete_posts, immutable, inits, records, wait_faults_applied,
                                  wait_record)
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
HOLD = 120  # seconds the emulator holds a request: far longer than any test waits (ends at teardown)






def restart(make_service, old):
    """A new process on the same root: same inbox, same state_dir, same config (new port)."""
    old.kill()
    return make_service(root=old.root, limits=FAST_LIMITS, settle=0.2).start()


class TestSigkillAtEachPhase:
    def test_it_publishes_anew_once_when_killed_after_init_at_the_first_chunk(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=HOLD, drop=True)   # the first PUT: held, then never answered
        # More than one chunk: the held first PUT keeps the final bytes (in the last chunk) from
        # ever starting, which the record says, so TikTok provably cannot complete this upload.
        video, sidecar, digest = drop_pair(svc.inbox, "first", big=True)
        wait_faults_applied(emulator, 1)
        rec = wait_record(svc.state_dir, "uploading")
        assert [p["received_bytes"] for p in emulator.posts()] == [0]
        assert rec["final_sent"] is False
        svc.kill()

        svc2 = restart(make_service, svc)
        task = svc2.wait_state("first.mp4", "needs_login")
        assert "before a restart" in task["error"] and "instead of publishing it again" in task["error"]
        assert video.exists() and sidecar.exists(), "nothing is deleted before TikTok says it is published"
        svc2.login()
        svc2.wait_state("first.mp4", "published", timeout=120)
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest
        assert posts[0]["publish_id"] != rec["publish_id"], "the cut-off upload never became a post"
        assert inits(emulator) == 2  # the second init only because the first upload provably never completed
        assert "cut off by a restart; publishing anew" in svc2.log_text()
        wait_until(lambda: not video.exists() and not sidecar.exists(), 10, "both files to be deleted")
        wait_until(lambda: records(svc2.state_dir) == [], 10, "the publish record to be removed")

    def test_it_publishes_anew_once_when_killed_mid_upload(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload")                          # chunk 1: through (a no-op fault)
        emulator.inject("upload", delay=HOLD, drop=True)   # chunk 2: held, then never answered
        video, sidecar, digest = drop_pair(svc.inbox, "middle", big=True)
        wait_faults_applied(emulator, 2)
        [post] = emulator.posts()
        assert 0 < post["received_bytes"] < post["video_size"] and post["total_chunk_count"] > 2
        svc.kill()
        assert records(svc.state_dir)[0]["outcome"] == "uploading"

        svc2 = restart(make_service, svc)
        svc2.wait_state("middle.mp4", "needs_login")
        assert video.exists() and sidecar.exists()
        svc2.login()
        svc2.wait_state("middle.mp4", "published", timeout=120)
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest
        assert inits(emulator) == 2
        assert not video.exists() and not sidecar.exists()

    def test_it_settles_without_a_second_init_when_killed_after_the_last_chunk(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("status", delay=HOLD)   # the first status answer never comes in time
        video, sidecar, digest = drop_pair(svc.inbox, "last")
        wait_faults_applied(emulator, 1)
        [post] = emulator.posts()
        assert post["received_bytes"] == post["video_size"]
        assert records(svc.state_dir)[0]["outcome"] == "processing"
        svc.kill()

        svc2 = restart(make_service, svc)
        task = svc2.wait_state("last.mp4", "needs_login")
        assert "instead of publishing it again" in task["error"]
        assert video.exists() and sidecar.exists()
        svc2.login()
        svc2.wait_state("last.mp4", "published")
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest and posts[0]["publish_id"] == post["publish_id"]
        assert inits(emulator) == 1, "no init after the upload completed"
        wait_until(lambda: not video.exists() and not sidecar.exists(), 10, "both files to be deleted")
        assert records(svc2.state_dir) == []

    @pytest.mark.parametrize("stuck", [
        pytest.param("video", id="before-the-delete"),
        pytest.param("sidecar", id="between-deleting-the-video-and-the-sidecar"),
    ])
    def test_it_deletes_without_publishing_again_when_killed_after_publish_complete(self, make_service, emulator,
                                                                                   stuck):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        video, sidecar, digest = drop_pair(svc.inbox, "done")
        with immutable(video if stuck == "video" else sidecar):
            wait_record(svc.state_dir, "published")
            if stuck == "video":
                assert video.exists() and sidecar.exists(), "a refused video deletion keeps the pair whole"
            else:
                wait_until(lambda: not video.exists(), 10, "the video to be deleted")
                assert sidecar.exists()
            svc.kill()
        assert len(complete_posts(emulator)) == 1

        svc2 = restart(make_service, svc)
        svc2.login()
        wait_until(lambda: not video.exists() and not sidecar.exists(), 20, "both files to be deleted")
        wait_until(lambda: records(svc2.state_dir) == [], 10, "the publish record to be removed")
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest
        assert inits(emulator) == 1
        assert "published" in svc2.log_text()


def wait_last_chunk_taken_unanswered(emulator, video) -> dict:
    """TikTok has every byte of the (single) chunk, but has neither counted nor answered it."""
    size = video.stat().st_size
    wait_until(lambda: emulator.stats()["upload_bytes"] >= size, 30, "the emulator to hold every byte")
    [post] = emulator.posts()
    assert post["received_bytes"] == 0 and post["status"] == "PROCESSING_UPLOAD", \
        "the held chunk must not count yet (status shows fewer bytes than the video: no proof of a cut-off)"
    return post


class TestLastChunkSentNotAnswered:
    """Issue 12.1: the service dies while TikTok has the last chunk but has not answered. The
    held chunk completes at TikTok on its own; the next start must wait for that, not init again."""

    @pytest.mark.parametrize("how", ["sigkill", "sigterm"])
    def test_it_waits_for_tiktok_and_posts_once(self, make_service, emulator, how):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=8)   # a slow TikTok: takes the bytes, counts and answers 8 s later
        video, sidecar, digest = drop_pair(svc.inbox, "slow")
        post = wait_last_chunk_taken_unanswered(emulator, video)
        assert wait_record(svc.state_dir, "uploading")["final_sent"] is True
        if how == "sigkill":
            svc.kill()
        else:
            assert svc.stop(timeout=15) == 0
            assert "upload abandoned for shutdown" in svc.log_text()
        assert video.exists() and sidecar.exists()

        svc2 = restart(make_service, svc)
        svc2.login()
        svc2.wait_state("slow.mp4", "published", timeout=60)
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest and posts[0]["publish_id"] == post["publish_id"]
        assert inits(emulator) == 1, "no second init while TikTok could still complete the first upload"
        assert "publishing anew" not in svc2.log_text()
        assert "waiting for its verdict" in svc2.log_text(), "the restart found the upload undecided and waited"
        wait_until(lambda: not video.exists() and not sidecar.exists(), 10, "both files to be deleted")
        wait_until(lambda: records(svc2.state_dir) == [], 10, "the publish record to be removed")

    def test_it_stays_processing_refuses_retry_and_publishes_anew_once_the_upload_url_is_dead(
            self, make_service, emulator):
        limits = {**FAST_LIMITS, "upload_url_seconds": 8}
        svc = make_service(limits=limits, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=HOLD, drop=True)   # the bytes go out, TikTok never takes them
        video, sidecar, digest = drop_pair(svc.inbox, "lost")
        wait_faults_applied(emulator, 1)
        rec = wait_until(lambda: next((r for r in records(svc.state_dir) if r.get("final_sent")), None), 30,
                         "the record to say the final bytes went out")
        svc.kill()

        svc2 = make_service(root=svc.root, limits=limits, settle=0.2).start()
        svc2.login()
        task = svc2.wait_state("lost.mp4", "processing")
        assert "TikTok may still post it" in task["error"] and "upload link has expired" in task["error"]
        answer = svc2.http.post(f"/tasks/{task['id']}/retry", data={"csrf": svc2.csrf()},
                                headers={"Origin": svc2.url, "Accept": "application/json"})
        assert answer.status_code == 409 and "can be decided at" in answer.text, answer.text
        assert inits(emulator) == 1
        svc2.wait_state("lost.mp4", "published", timeout=60)
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest and posts[0]["publish_id"] != rec["publish_id"]
        assert inits(emulator) == 2
        assert "cannot complete the earlier upload" in svc2.log_text() or "publishing anew" in svc2.log_text()


class TestSigterm:
    def test_it_stops_within_seconds_mid_upload_and_the_next_start_settles_it(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload")
        emulator.inject("upload", delay=HOLD, drop=True)
        video, sidecar, digest = drop_pair(svc.inbox, "term", big=True)
        wait_faults_applied(emulator, 2)
        began = time.monotonic()
        assert svc.stop(timeout=15) == 0
        took = time.monotonic() - began
        assert took < 8, f"SIGTERM took {took:.1f} s"
        assert "upload abandoned for shutdown" in svc.log_text()
        assert video.exists() and sidecar.exists()
        assert [r["outcome"] for r in records(svc.state_dir)] == ["uploading"]

        svc2 = make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2).start()
        svc2.login()
        svc2.wait_state("term.mp4", "published", timeout=120)
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest
        assert not video.exists() and not sidecar.exists()


class TestTokensNeverTouchTheDisk:
    def test_no_token_or_upload_url_is_in_any_file_the_process_wrote(self, make_service, emulator):
        """A full flow with a refresh, a SIGKILL mid-publish and a restart; then every file under
        the root (inbox, state_dir, config, log, and the process's TMPDIR) and every page."""
        state = emulator.state
        seen: set[str] = set()

        def harvest() -> None:
            with state.lock:
                seen.update(state.access)
                seen.update(state.refresh)
                seen.update(g.refresh_token for g in state.grants.values() if g.refresh_token)
                seen.update(p.upload_token for p in state.publishes.values() if p.upload_token)
            if hasattr(state, "issued_tokens"):
                seen.update(state.issued_tokens())

        svc = make_service(limits=FAST_LIMITS, settle=0.2)
        tmp = svc.root / "tmp"
        tmp.mkdir()
        svc.env["TMPDIR"] = str(tmp)
        svc.start()
        svc.login()
        harvest()
        emulator.inject("upload", delay=1)
        one, _, _ = drop_pair(svc.inbox, "one")
        wait_faults_applied(emulator, 1)
        harvest()
        emulator.expire("access_token")   # the next status call refreshes: new tokens, rotated refresh
        svc.wait_state("one.mp4", "published")
        harvest()
        emulator.inject("status", delay=HOLD)
        two, _, _ = drop_pair(svc.inbox, "two")
        wait_faults_applied(emulator, 2)
        harvest()
        svc.kill()

        svc2 = make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2, env={"TMPDIR": str(tmp)}).start()
        svc2.login()
        svc2.wait_state("two.mp4", "published")
        harvest()
        pages = [svc2.http.get(p).text for p in ("/", "/api/tasks", "/api/account", "/healthz", "/privacy")]
        assert svc2.stop() == 0
        assert len([t for t in seen if t.startswith("act.")]) >= 3, "login, refresh and the second login"
        assert not one.exists() and not two.exists()
        texts = pages
        for dirpath, _, files in os.walk(svc.root):
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) < 50_000_000:
                    texts.append(open(p, "rb").read().decode("latin-1"))
        blob = "\n".join(texts)
        assert "refreshed" in blob and "publish_id" in blob   # the logs are there and were searched
        leaked = [t[:8] + "…" for t in seen if t in blob]
        assert not leaked, f"tokens found on disk or in pages: {leaked}"
