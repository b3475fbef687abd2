"""The preview routes: the Range decision (table), the byte-bounded LRU, thumbnails from real
videos, and /tasks/<id>/video and /thumbnail through WebTest on real files (links refused)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import webtest

from ralph_watch.sample import make_video
from ralph_watch.tasks import State
from ralph_watch.web import make_app
from ralph_watch.web.media import FileBody
from ralph_watch.web.thumbnails import make_thumbnail
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2, width=360, height=640, audio=False)


class World:
    def __init__(self, inbox: Path) -> None:
        self.clock = FakeClock(START)
        self.config = web_config()
        self.inbox = inbox
        self.backend = FakeBackend(clock=self.clock, config=self.config, inbox=inbox)
        self.board = self.backend.board
        self.web = make_app(self.backend, self.config, clock=self.clock)
        self.app = webtest.TestApp(self.web, extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})

    def task(self, key: str, state: State = State.SCHEDULED, **values: object):
        values.setdefault("video", f"{key}.mp4")
        values.setdefault("sidecar", f"{key}.yaml")
        return self.board.create(key, state=state, **values)


@pytest.fixture
def world(tmp_path, clip) -> World:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "clip.mp4").write_bytes(clip.read_bytes())
    return World(inbox)


def test_file_body_reads_its_range_in_blocks_and_closes_its_fd(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(bytes(range(256)) * 10)
    fd = os.open(p, os.O_RDONLY)
    body = FileBody(fd, 5, 1000, block=64)
    chunks = list(body)
    assert b"".join(chunks) == (bytes(range(256)) * 10)[5:1005] and max(map(len, chunks)) == 64
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize("cover_ms", [0, 1000, 60_000])
def test_make_thumbnail_gives_a_small_jpeg_of_the_cover(clip, cover_ms):
    with open(clip, "rb") as f:
        data = make_thumbnail(f, cover_ms=cover_ms)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" and len(data) < 100_000


def test_different_covers_give_different_pictures(clip):
    with open(clip, "rb") as f:
        first = make_thumbnail(f, cover_ms=0)
    with open(clip, "rb") as f:
        later = make_thumbnail(f, cover_ms=1500)
    assert first != later


class TestVideoRoute:
    def test_it_serves_the_whole_video_with_no_store(self, world):
        t = world.task("clip")
        r = world.app.get(f"/tasks/{t.id}/video")
        assert r.status_int == 200 and r.body == (world.inbox / "clip.mp4").read_bytes()
        assert r.headers["Content-Type"] == "video/mp4" and r.headers["Cache-Control"] == "no-store"
        assert r.headers["Accept-Ranges"] == "bytes" and int(r.headers["Content-Length"]) == len(r.body)

    def test_it_serves_one_range_with_206(self, world):
        t = world.task("clip")
        data = (world.inbox / "clip.mp4").read_bytes()
        r = world.app.get(f"/tasks/{t.id}/video", headers={"Range": "bytes=100-199"})
        assert r.status_int == 206 and r.body == data[100:200]
        assert r.headers["Content-Range"] == f"bytes 100-199/{len(data)}" and r.headers["Content-Length"] == "100"
        r = world.app.get(f"/tasks/{t.id}/video", headers={"Range": "bytes=-10"})
        assert r.status_int == 206 and r.body == data[-10:]

    def test_an_unsatisfiable_range_is_416_with_the_size(self, world):
        t = world.task("clip")
        size = (world.inbox / "clip.mp4").stat().st_size
        r = world.app.get(f"/tasks/{t.id}/video", headers={"Range": f"bytes={size}-"}, status=416)
        assert r.headers["Content-Range"] == f"bytes */{size}" and r.body == b""

    def test_if_range_sends_the_whole_file(self, world):
        # No validators are given out, so an If-Range never matches: the whole file (RFC 9110 13.1.5).
        t = world.task("clip")
        r = world.app.get(f"/tasks/{t.id}/video", headers={"Range": "bytes=0-9", "If-Range": '"x"'})
        assert r.status_int == 200 and r.body == (world.inbox / "clip.mp4").read_bytes()

    def test_head_sends_the_headers_only(self, world):
        t = world.task("clip")
        r = world.app.head(f"/tasks/{t.id}/video", headers={"Range": "bytes=0-9"})
        assert r.status_int == 206 and r.headers["Content-Length"] == "10" and r.body == b""

    def test_a_symlinked_video_is_never_served(self, world, tmp_path):
        secret = tmp_path / "secret.mp4"
        secret.write_bytes(b"not for the page")
        (world.inbox / "link.mp4").symlink_to(secret)
        t = world.task("link")
        r = world.app.get(f"/tasks/{t.id}/video", status=404)
        assert b"not for the page" not in r.body and "link.mp4" in r.text

    def test_a_video_in_a_symlinked_folder_is_never_served(self, world, tmp_path):
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "x.mp4").write_bytes(b"outside the inbox")
        (world.inbox / "sub").symlink_to(outside)
        t = world.task("sub/x")
        r = world.app.get(f"/tasks/{t.id}/video", status=404)
        assert b"outside the inbox" not in r.body

    def test_a_fifo_is_refused_without_blocking(self, world):
        os.mkfifo(world.inbox / "pipe.mp4")
        t = world.task("pipe")
        world.app.get(f"/tasks/{t.id}/video", status=404)

    def test_unknown_ids_and_missing_videos_are_404_with_a_sentence(self, world):
        r = world.app.get("/tasks/999/video", status=404)
        assert "There is no task 999" in r.text
        t = world.task("gone", video="gone.mp4")
        r = world.app.get(f"/tasks/{t.id}/video", status=404)
        assert "gone.mp4" in r.text

    def test_it_needs_the_sign_in_in_password_mode(self, tmp_path, clip):
        w = World(tmp_path)
        w.config.web.password = "pw"
        w.web = make_app(w.backend, w.config, clock=w.clock)
        w.app = webtest.TestApp(w.web, extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})
        t = w.task("clip")
        for path in (f"/tasks/{t.id}/video", f"/tasks/{t.id}/thumbnail", "/calendar", f"/tasks/{t.id}/edit"):
            r = w.app.get(path, status=303)
            assert r.headers["Location"].endswith("/signin"), path


class TestThumbnailRoute:
    def test_it_is_a_jpeg_made_once_and_cached_in_memory(self, world):
        t = world.task("clip")
        r = world.app.get(f"/tasks/{t.id}/thumbnail")
        assert r.headers["Content-Type"] == "image/jpeg" and r.body[:2] == b"\xff\xd8"
        assert r.headers["Cache-Control"] == "no-store"
        cache = world.web.ralph_web.thumbs
        assert len(cache) == 1
        again = world.app.get(f"/tasks/{t.id}/thumbnail")
        assert again.body == r.body and len(cache) == 1
        assert not [p for p in world.inbox.iterdir() if p.name != "clip.mp4"], "nothing written to disk"

    def test_it_is_dropped_when_the_task_is_published_cancelled_or_gone(self, world):
        cache = world.web.ralph_web.thumbs
        t = world.task("clip")
        world.app.get(f"/tasks/{t.id}/thumbnail")
        world.board.transition(t.id, State.CANCELLED)
        world.app.get("/api/tasks")
        assert len(cache) == 0
        world.app.get(f"/tasks/{t.id}/thumbnail", status=404)
        world.board.remove(t.id)
        t2 = world.task("clip")
        world.app.get(f"/tasks/{t2.id}/thumbnail")
        world.board.remove(t2.id)
        world.app.get("/api/tasks")
        assert len(cache) == 0

    def test_a_changed_file_gets_a_new_picture(self, world, clip):
        t = world.task("clip")
        first = world.app.get(f"/tasks/{t.id}/thumbnail").body
        make_video(world.inbox / "clip.mp4", seconds=1, width=640, height=360, audio=False)
        second = world.app.get(f"/tasks/{t.id}/thumbnail").body
        assert first != second and len(world.web.ralph_web.thumbs) == 1

    def test_a_file_that_is_no_video_is_404_with_a_sentence(self, world):
        (world.inbox / "junk.mp4").write_bytes(b"hello" * 100)
        t = world.task("junk")
        r = world.app.get(f"/tasks/{t.id}/thumbnail", status=404)
        assert "junk.mp4 has no preview" in r.text

    def test_a_symlinked_video_gets_no_thumbnail(self, world, clip):
        (world.inbox / "link.mp4").symlink_to(clip)
        t = world.task("link")
        world.app.get(f"/tasks/{t.id}/thumbnail", status=404)
        assert len(world.web.ralph_web.thumbs) == 0
