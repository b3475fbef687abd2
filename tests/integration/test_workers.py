"""The two pools of `Workers`: uploads bounded by their own pool never hold up a due pair's
steps (creator_info, init, status checks)."""
from __future__ import annotations

import threading

from ralph_watch.workers import Workers
from tests.support.wait import wait_until


def test_long_uploads_leave_the_step_workers_free() -> None:
    stop, release = threading.Event(), threading.Event()
    workers = Workers(stop=stop, size=2, uploads=2)
    uploading: list[str] = []
    stepped: list[str] = []

    def upload(task_id: str) -> None:
        uploading.append(task_id)
        release.wait(10)
    try:
        for i in range(4):   # two run, two wait for the upload pool
            assert workers.submit("upload", f"u{i}", upload, done=lambda: None)
        wait_until(lambda: len(uploading) == 2, 5, "two uploads to run")
        assert workers.capacity() == 2
        for i in range(3):
            assert workers.submit("publish" if i < 2 else "follow", f"s{i}", stepped.append, done=lambda: None)
        wait_until(lambda: len(stepped) == 3, 5, "the steps to run beside the uploads")
        assert len(uploading) == 2 and workers.busy() == 4
        release.set()
        wait_until(lambda: workers.busy() == 0, 5, "every job to end")
        assert sorted(uploading) == ["u0", "u1", "u2", "u3"]
    finally:
        release.set()
        workers.shutdown()


def test_a_job_runs_once_at_a_time_and_none_after_stop() -> None:
    stop, release = threading.Event(), threading.Event()
    workers = Workers(stop=stop)
    try:
        assert workers.submit("follow", "t1", lambda _id: release.wait(10) and None, done=lambda: None)
        assert not workers.submit("follow", "t1", lambda _id: None, done=lambda: None)
        assert workers.capacity() == workers.size
        stop.set()
        assert not workers.submit("upload", "t2", lambda _id: None, done=lambda: None)
    finally:
        release.set()
        workers.shutdown()
