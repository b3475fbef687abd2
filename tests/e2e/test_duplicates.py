"""The duplicate guard through the real service: the same video (same bytes, another name) is
published once, whether the copies arrive together, one after the other, or across a restart.

What the guard remembers is in the README ("The duplicate guard"): content being published
(claimed before TikTok's init), content published since the start (in memory), a record per
refused copy while that copy exists, and with `dedupe.remember_days` a file of hashes."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.faults import FAST_LIMITS, complete_posts, inits, records, sha256
from tests.support.videos import small_mp4
from tests.support.wait import wait_file, wait_until

pytestmark = pytest.mark.e2e
SENTENCE = "does not publish a video twice"


def staged(svc, name: str = "original.mp4"):
    """A video outside the inbox, to be copied in under any name (same bytes each time)."""
    folder = svc.root / "staging"
    folder.mkdir(exist_ok=True)
    return small_mp4(folder, name)


def drop(svc, src, name: str, *, title: str = "same clip") -> tuple:
    """Copy `src` in as NAME.mp4 + NAME.yaml (the video renamed in last, like a sync tool)."""
    (svc.inbox / f"{name}.yaml").write_text(f"title: {title}\nprivacy: private\n", encoding="utf-8")
    tmp = svc.root / "staging" / f".{name}.part"
    shutil.copyfile(src, tmp)
    video = svc.inbox / f"{name}.mp4"
    os.replace(tmp, video)
    return video, svc.inbox / f"{name}.yaml"


def refused_records(state_dir) -> list[dict]:
    return [r for r in records(state_dir) if r.get("kind") == "refused_duplicate"]


def published_and_gone(svc, video, sidecar, timeout: float = 60) -> None:
    svc.wait_state(video.name, "published", timeout=timeout)
    wait_until(lambda: not video.exists() and not sidecar.exists(), 10, f"{video.name} and its sidecar to be deleted")


class TestCopiesAtOnce:
    def test_two_copies_dropped_at_once_are_published_once(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=2, times=2)   # TikTok is slow: both copies are due meanwhile
        src = staged(svc)
        digest = sha256(src)
        (svc.inbox / "one.yaml").write_text("title: one\nprivacy: private\n", encoding="utf-8")
        (svc.inbox / "two.yaml").write_text("title: two\nprivacy: private\n", encoding="utf-8")
        for name in ("one", "two"):
            shutil.copyfile(src, svc.root / "staging" / f"{name}.mp4")
        for name in ("one", "two"):   # at once: both complete in the same moment
            os.replace(svc.root / "staging" / f"{name}.mp4", svc.inbox / f"{name}.mp4")

        def settled():
            states = {t["video"]: t for t in svc.tasks() if t["video"] in ("one.mp4", "two.mp4")}
            done = sorted(t["state"] for t in states.values())
            return states if done == ["invalid", "published"] else None
        states = wait_until(settled, 60, "one copy published and the other invalid")
        [refused] = [t for t in states.values() if t["state"] == "invalid"]
        assert SENTENCE in refused["error"], refused
        name = refused["video"].removesuffix(".mp4")
        assert SENTENCE in wait_file(svc.inbox / f"{name}.error.txt"), "the refused copy gets an error file"
        posts = complete_posts(emulator)
        assert [p["sha256"] for p in posts] == [digest], "exactly one post of the video"
        assert inits(emulator) == 1, "the refused copy never reached TikTok's init"
        assert (svc.inbox / f"{name}.mp4").exists() and (svc.inbox / f"{name}.yaml").exists(), \
            "a refused copy is kept for the user to delete"
        # Once the original went out, the copy's refusal is on disk, so it outlasts a restart.
        wait_until(lambda: refused_records(svc.state_dir), 10, "the refused copy's record")
        assert not (svc.state_dir / "published.json").exists(), "remember_days 0: nothing else on disk"

    def test_when_the_first_copy_fails_at_tiktok_the_refused_copy_goes_out(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=2)      # the first copy is still uploading when the second is due
        emulator.fail_next("picture_size_check_failed")   # ... and TikTok then fails it: nothing posted
        src = staged(svc)
        digest = sha256(src)
        drop(svc, src, "one")
        drop(svc, src, "two")

        def settled():
            states = {t["video"]: t["state"] for t in svc.tasks() if t["video"] in ("one.mp4", "two.mp4")}
            return states if sorted(states.values()) == ["failed", "published"] else None
        states = wait_until(settled, 60, "the first copy failed and the other published")
        assert [p["sha256"] for p in complete_posts(emulator)] == [digest]
        [failed] = [v for v, s in states.items() if s == "failed"]
        assert (svc.inbox / failed).exists(), "a failed pair keeps its files"
        assert "which is being published now" in svc.log_text(), "the copy was refused while the first was in flight"
        assert refused_records(svc.state_dir) == [], "the copy that went out was refused only for a while"


class TestRefusalOutlastsARestart:
    def test_a_refused_copy_stays_refused_after_a_restart_until_its_file_is_replaced(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        src = staged(svc)
        digest = sha256(src)
        video, sidecar = drop(svc, src, "first")
        published_and_gone(svc, video, sidecar)
        copy, copy_sidecar = drop(svc, src, "again", title="a secret title")
        task = svc.wait_state("again.mp4", "invalid")
        assert "was already published at" in task["error"] and SENTENCE in task["error"]
        [rec] = wait_until(lambda: refused_records(svc.state_dir), 10, "the refused copy's record")
        assert rec["pair"] == "again" and rec["video"] == "again.mp4" and rec["size"] == copy.stat().st_size
        assert rec["published_at"] and "publish_id" not in rec and "account" not in rec
        assert "secret" not in json.dumps(rec), "no title in a record"
        svc.kill()   # no clean shutdown: the refusal is on disk already

        svc2 = make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2).start()
        task = svc2.wait_state("again.mp4", "invalid")   # decided by the start-up scan
        assert "was already published at" in task["error"] and SENTENCE in task["error"]
        svc2.login()
        other, other_sidecar = drop(svc2, small_mp4(svc2.root / "staging", "other.mp4"), "other")
        published_and_gone(svc2, other, other_sidecar)   # the scheduler ran after the login ...
        assert svc2.task("again.mp4")["state"] == "invalid"   # ... and left the copy alone
        assert [p["sha256"] for p in complete_posts(emulator)].count(digest) == 1
        assert copy.exists() and copy_sidecar.exists()

        # A new file under the refused name is a new video: the refusal lifts.
        new = small_mp4(svc2.root / "staging", "new.mp4")
        new_digest = sha256(new)
        os.replace(new, copy)
        published_and_gone(svc2, copy, copy_sidecar)
        assert [p["sha256"] for p in complete_posts(emulator)].count(new_digest) == 1
        assert refused_records(svc2.state_dir) == [], "the refusal went with the refused file"

    def test_deleting_a_refused_pair_deletes_its_record_even_while_the_service_is_down(self, make_service,
                                                                                       emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
        svc.login()
        src = staged(svc)
        video, sidecar = drop(svc, src, "first")
        published_and_gone(svc, video, sidecar)
        for name in ("copy1", "copy2"):
            drop(svc, src, name)
            svc.wait_state(f"{name}.mp4", "invalid")
        wait_until(lambda: len(refused_records(svc.state_dir)) == 2, 10, "two refused records")
        for ext in ("mp4", "yaml"):                    # deleted while the service runs
            (svc.inbox / f"copy1.{ext}").unlink()
        wait_until(lambda: [r["pair"] for r in refused_records(svc.state_dir)] == ["copy2"], 10,
                   "copy1's record to be deleted with it")
        svc.stop()
        for ext in ("mp4", "yaml"):                    # deleted while it is down
            (svc.inbox / f"copy2.{ext}").unlink()
        svc2 = make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2).start()
        assert refused_records(svc2.state_dir) == [], "a record outlives its pair by no more than a restart"


class TestRememberDays:
    def test_remember_days_keeps_published_content_across_a_restart_and_prunes_old_lines(self, make_service,
                                                                                         emulator):
        config = {"dedupe": {"remember_days": 30}}
        svc = make_service(limits=FAST_LIMITS, settle=0.2, config=config)
        old = datetime.now(timezone.utc) - timedelta(days=31)
        memory = svc.state_dir / "published.json"
        memory.parent.mkdir(parents=True, exist_ok=True)
        memory.write_text(json.dumps({"version": 1, "published": [
            {"sha256": "0" * 64, "size": 1234, "published_at": old.isoformat()}]}))
        svc.start()
        wait_until(lambda: "0" * 64 not in memory.read_text(), 10, "the 31-day-old line to be pruned")
        svc.login()
        src = staged(svc)
        video, sidecar = drop(svc, src, "first", title="a secret title")
        published_and_gone(svc, video, sidecar)
        data = json.loads(memory.read_text())
        [line] = data["published"]
        assert set(line) == {"sha256", "size", "published_at"} and line["size"] == src.stat().st_size
        assert "first" not in memory.read_text() and "secret" not in memory.read_text(), "no name, no title"
        svc.kill()   # the memory is on disk as soon as the post is

        svc2 = make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2, config=config).start()
        svc2.login()
        drop(svc2, src, "later")
        task = svc2.wait_state("later.mp4", "invalid")
        assert "was already published at" in task["error"] and SENTENCE in task["error"]
        assert len(complete_posts(emulator)) == 1

    def test_turning_remember_days_off_removes_its_file(self, make_service, emulator):
        svc = make_service(limits=FAST_LIMITS, settle=0.2)
        memory = svc.state_dir / "published.json"
        memory.parent.mkdir(parents=True, exist_ok=True)
        memory.write_text(json.dumps({"version": 1, "published": [
            {"sha256": "0" * 64, "size": 1234, "published_at": datetime.now(timezone.utc).isoformat()}]}))
        svc.start()
        assert not memory.exists(), "remember_days 0: the guard remembers in memory only"
