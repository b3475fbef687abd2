"""A video rewritten in place or swapped for a symlink while it is being uploaded (issue 12.6).

The upload reads one descriptor, opened without following symlinks, and compares fstat with
the start right before the final bytes. A change stops the upload before those bytes, so TikTok
never completes a mix of old and new bytes, and the pair is checked again. The moment is made
with the emulator's faults: chunk 1 goes through, chunk 2 is held and then dropped, and the
change lands while it is held (the retry then reads the changed file).
"""
from __future__ import annotations

import pytest

from tests.support.faults import (FAST_LIMITS, complete_posts, drop_pair, records, sha256, wait_faults_applied)
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
MIB = 1 << 20


@pytest.fixture
def fast(make_service):
    svc = make_service(limits=FAST_LIMITS, settle=0.2).start()
    svc.login()
    return svc


def hold_chunk_2(emulator) -> None:
    emulator.inject("upload")                       # chunk 1 goes through
    emulator.inject("upload", delay=2, drop=True)   # chunk 2 is held, then dropped: the retry reads again


class TestTheVideoChangesDuringItsUpload:
    def test_an_in_place_rewrite_with_the_same_size_and_ends_is_never_posted_mixed(self, fast, emulator):
        hold_chunk_2(emulator)
        video, sidecar, _ = drop_pair(fast.inbox, big=True)
        size = video.stat().st_size
        head, tail = video.read_bytes()[:MIB], video.read_bytes()[-MIB:]
        wait_faults_applied(emulator, 2)
        with open(video, "r+b") as f:   # an editor saving over the file: only the middle differs
            f.seek(size // 2)
            f.write(b"\x00\x01rewritten\x02" * 4096)
        data = video.read_bytes()
        assert len(data) == size and data[:MIB] == head and data[-MIB:] == tail
        new_digest = sha256(video)
        wait_until(lambda: "changed while it was being uploaded" in fast.log_text(), 60,
                   "the upload to be stopped for the change")
        first = emulator.posts()[0]
        assert first["status"] == "PROCESSING_UPLOAD" and first["received_bytes"] < size, \
            "the stopped upload must never get its final bytes"
        # The changed file is a new video: it is checked again, and if it goes out, it goes out whole.
        fast.wait_state("clip.mp4", "published", "invalid", "failed", timeout=120)
        assert all(p["sha256"] == new_digest for p in complete_posts(emulator)), "a mix of old and new bytes"
        assert emulator.posts()[0]["status"] != "PUBLISH_COMPLETE"

    def test_a_symlink_swapped_in_mid_upload_publishes_nothing_and_keeps_every_file(self, fast, emulator):
        hold_chunk_2(emulator)
        video, sidecar, _ = drop_pair(fast.inbox, big=True)
        outside = fast.root / "outside.mp4"
        original = video.read_bytes()
        outside.write_bytes(original[::-1][:len(original)])   # same size, other bytes, outside the inbox
        outside_digest = sha256(outside)
        wait_faults_applied(emulator, 2)
        link = fast.inbox / ".swap.tmp"
        link.symlink_to(outside)
        link.replace(video)
        wait_until(lambda: "changed while it was being uploaded" in fast.log_text(), 60,
                   "the upload to be stopped for the swap")
        task = fast.wait_state("clip.mp4", "invalid", timeout=30)
        assert "symbolic link" in task["error"]
        assert complete_posts(emulator) == [], "nothing is posted: neither the mix nor the outside file"
        first = emulator.posts()[0]
        assert first["received_bytes"] < len(original) and first["status"] == "PROCESSING_UPLOAD"
        assert video.is_symlink() and sidecar.exists(), "the inbox is left as it is"
        assert sha256(outside) == outside_digest, "the outside file is never touched"
        assert records(fast.state_dir) == [] or all(r["outcome"] != "published" for r in records(fast.state_dir))

    def test_a_video_rewritten_after_its_bytes_went_out_is_kept_not_deleted(self, fast, emulator):
        """Same size, same first and last MiB: only the file's identity (device, inode, size,
        mtime) at upload time tells that these are not the bytes TikTok received."""
        emulator.inject("status", delay=3)   # every byte is in; the first status answer is held
        video, sidecar, digest = drop_pair(fast.inbox, big=True)
        wait_faults_applied(emulator, 1)
        [post] = emulator.posts()
        assert post["received_bytes"] == post["video_size"]
        with open(video, "r+b") as f:
            f.seek(video.stat().st_size // 2)
            f.write(b"edited after upload" * 1000)
        task = wait_until(lambda: (t := fast.task("clip.mp4")) and t["state"] == "published" and t["error"] and t,
                          60, "published, with the changed file kept")
        assert "changed after it was sent" in task["error"]
        assert video.exists() and sidecar.exists(), "a video whose bytes TikTok did not receive is never deleted"
        posts = complete_posts(emulator)
        assert len(posts) == 1 and posts[0]["sha256"] == digest
