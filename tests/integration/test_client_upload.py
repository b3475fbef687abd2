"""An upload reads one descriptor and never completes a file that changed under it (issue 12.6).

The client opens the video once (no symlink, regular files only), sends every chunk from that
descriptor, and compares fstat with the start right before the final bytes. These run against
the emulator on loopback; the "mid-upload" moment is the progress report after chunk 1, which
the client makes synchronously before it starts chunk 2 (no timing).
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from ralph_watch.errors import TikTokError
from ralph_watch.tiktok.client import ChunkBody, TikTokClient
from ralph_watch.emulator import EmulatorServer, load_profile
from tests.support.videos import padded_mp4, small_mp4
from tests.support.wait import wait_until
from tests.integration.test_client_contract import PUBLIC, login, make_client, post_for, sha

MIB = 1 << 20
SIZE = 69_000_123   # more than one chunk: chunk 1, then the last chunk


@pytest.fixture(scope="module")
def server():
    profile = load_profile(None)
    fast = replace(profile.limits, processing_seconds=0.2, moderation_seconds=0.2)
    srv = EmulatorServer(replace(profile, limits=fast)).start()
    yield srv
    srv.stop()


@pytest.fixture
def emulator(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def client(emulator):
    c = make_client(emulator)
    login(c)
    yield c
    c.close()


def upload_with(client: TikTokClient, init, path: Path, at_chunk_2, **kw) -> list[int]:
    """Upload; `at_chunk_2()` runs once, when chunk 1 is in and before chunk 2 starts."""
    sent: list[int] = []
    first_end = init.chunks[0].last + 1

    def progress(s: int, total: int) -> None:
        if s == first_end and at_chunk_2 is not None and first_end not in sent and len(init.chunks) > 1:
            at_chunk_2()
        sent.append(s)
    client.upload(init, path, mime="video/mp4", progress=progress, cancel=threading.Event(), **kw)
    return sent


def rewrite_middle_in_place(path: Path) -> None:
    """Same size, same first and last MiB: only bytes in the middle differ (an editor's save)."""
    with open(path, "r+b") as f:
        f.seek(SIZE // 2)
        f.write(b"NEW BYTES " * 1000)


class TestTheFileChangesDuringTheUpload:
    def test_an_in_place_rewrite_mid_upload_stops_before_the_final_bytes(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=SIZE)
        head, tail = path.read_bytes()[:MIB], path.read_bytes()[-MIB:]
        init = client.init_direct(post_info=PUBLIC, video_size=SIZE)
        assert len(init.chunks) > 1
        with pytest.raises(TikTokError) as err:
            upload_with(client, init, path, lambda: rewrite_middle_in_place(path))
        assert err.value.code == "file_changed" and "changed while uploading" in err.value.message
        post = post_for(emulator, init.publish_id)
        assert post["received_bytes"] < SIZE and post["status"] == "PROCESSING_UPLOAD", \
            "TikTok must never get the final bytes of a file that changed"
        data = path.read_bytes()
        assert len(data) == SIZE and data[:MIB] == head and data[-MIB:] == tail  # the case the issue names

    def test_a_symlink_swapped_in_mid_upload_never_sends_the_outside_file(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=SIZE)
        outside = tmp_path / "outside" / "secret.bin"
        outside.parent.mkdir()
        outside.write_bytes(b"S" * SIZE)

        def swap() -> None:
            link = tmp_path / "link.tmp"
            link.symlink_to(outside)
            link.replace(path)

        init = client.init_direct(post_info=PUBLIC, video_size=SIZE)
        with pytest.raises(TikTokError) as err:
            upload_with(client, init, path, swap)
        assert err.value.code == "file_changed"
        post = post_for(emulator, init.publish_id)
        assert post["received_bytes"] < SIZE and post["status"] == "PROCESSING_UPLOAD"
        assert path.is_symlink() and outside.read_bytes() == b"S" * SIZE   # nothing of ours is touched

    def test_a_symlink_at_the_start_is_refused_without_a_byte_sent(self, client, emulator, tmp_path):
        real = small_mp4(tmp_path)
        path = tmp_path / "link.mp4"
        path.symlink_to(real)
        init = client.init_direct(post_info=PUBLIC, video_size=real.stat().st_size)
        with pytest.raises(TikTokError) as err:
            upload_with(client, init, path, None)
        assert err.value.code == "file_changed"
        assert post_for(emulator, init.publish_id)["received_bytes"] == 0

    def test_a_fifo_is_refused_without_blocking(self, client, emulator, tmp_path):
        path = tmp_path / "fifo.mp4"
        os.mkfifo(path)
        init = client.init_direct(post_info=PUBLIC, video_size=1000)
        with pytest.raises(TikTokError) as err:
            upload_with(client, init, path, None)
        assert err.value.code == "file_changed" and "regular file" in err.value.message

    def test_an_unchanged_file_goes_up_whole_and_before_final_sees_the_start_stat(self, client, emulator,
                                                                                 tmp_path):
        path = padded_mp4(tmp_path, total_bytes=SIZE)
        init = client.init_direct(post_info=PUBLIC, video_size=SIZE)
        seen: list[os.stat_result] = []
        received_then: list[int] = []

        def before_final(st: os.stat_result) -> None:
            seen.append(st)
            received_then.append(post_for(emulator, init.publish_id)["received_bytes"])

        upload_with(client, init, path, None, before_final=before_final)
        post = post_for(emulator, init.publish_id)
        assert post["sha256"] == sha(path)
        assert seen and seen[0].st_ino == path.stat().st_ino and seen[0].st_size == SIZE
        assert received_then[0] < SIZE, "before_final runs before TikTok has the last bytes"

    def test_a_before_final_that_raises_keeps_the_final_bytes_back(self, client, emulator, tmp_path):
        path = small_mp4(tmp_path)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)

        def refuse(_st: os.stat_result) -> None:
            raise TikTokError("record_unwritable", "the record could not be written")

        with pytest.raises(TikTokError) as err:
            upload_with(client, init, path, None, before_final=refuse)
        assert err.value.code == "record_unwritable"
        post = post_for(emulator, init.publish_id)
        assert post["received_bytes"] == 0 and post["status"] == "PROCESSING_UPLOAD"


class TestChunkBodyFromOneDescriptor:
    def test_a_single_put_stops_before_its_last_block_when_the_file_is_rewritten(self, tmp_path):
        """Most clips go up in one PUT: the check sits inside the body, between its blocks."""
        path = tmp_path / "clip.mp4"
        path.write_bytes(b"a" * (3 * MIB + 5))
        fd = os.open(path, os.O_RDONLY)
        start = os.fstat(fd)

        def check(body_fd: int) -> None:
            now = os.fstat(body_fd)
            if (now.st_mtime_ns, now.st_ctime_ns) != (start.st_mtime_ns, start.st_ctime_ns):
                raise RuntimeError("changed")

        try:
            blocks = iter(ChunkBody(fd, 0, 3 * MIB + 5, before_final=check))
            got = [next(blocks)]
            with open(path, "r+b") as f:     # in place, same size
                f.seek(MIB + 10)
                f.write(b"b" * 100)
            os.utime(path, ns=(start.st_atime_ns, start.st_mtime_ns + 1_000_000))
            with pytest.raises(RuntimeError):
                got.extend(blocks)
            assert sum(map(len, got)) < 3 * MIB + 5, "the final block was never handed over"
        finally:
            os.close(fd)

    def test_it_reads_from_the_descriptor_even_after_the_path_is_gone(self, tmp_path):
        path = tmp_path / "clip.mp4"
        path.write_bytes(b"x" * 100 + b"y" * 2_000_000)
        fd = os.open(path, os.O_RDONLY)
        try:
            path.unlink()
            body = ChunkBody(fd, 100, 2_000_000)
            assert b"".join(body) == b"y" * 2_000_000
            assert b"".join(body) == b"y" * 2_000_000   # re-iterable for a retry
        finally:
            os.close(fd)


class TestTheEmulatorHoldsTheAnswerNotTheBytes:
    """Like TikTok: a chunk whose bytes arrived completes even when the client has gone, and a
    finished upload is published whether or not anyone asks for its status."""

    def test_a_held_chunk_counts_after_the_client_gave_up(self, client, emulator, tmp_path):
        path = small_mp4(tmp_path)
        data = path.read_bytes()
        init = client.init_direct(post_info=PUBLIC, video_size=len(data))
        emulator.inject("upload", delay=5)
        with pytest.raises(httpx.TimeoutException):
            httpx.put(init.upload_url, content=data, timeout=httpx.Timeout(5.0, read=0.3),
                      headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
        held = post_for(emulator, init.publish_id)
        assert held["received_bytes"] == 0 and held["status"] == "PROCESSING_UPLOAD", "not counted while held"
        done = wait_until(lambda: (p := post_for(emulator, init.publish_id))["status"] == "PUBLISH_COMPLETE" and p,
                          30, "the held chunk to complete at the emulator without the client")
        assert done["sha256"] == sha(path) and done["received_bytes"] == len(data)
