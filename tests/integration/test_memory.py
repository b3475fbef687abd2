"""What a finished task leaves behind in the service (issue 12 item 16): its probe cache entry
goes when its files do. The RSS figure per published task is benchmarks/bench_memory.py."""
from __future__ import annotations

from pathlib import Path

from ralph_watch.config import default_config
from ralph_watch.service import Service
from ralph_watch.tasks import State
from ralph_watch.validate import validate_pair
from tests.support.videos import small_mp4


def test_a_finished_task_leaves_no_probe_cache_entry(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    svc = Service(default_config(tmp_path, inbox=inbox, state_dir=tmp_path / "state"), serve_web=False)
    try:
        small_mp4(inbox, "clip.mp4")
        (inbox / "clip.yaml").write_text("privacy: private\n")
        result, problems = validate_pair(inbox, video="clip.mp4", sidecar="clip.yaml", tz=svc.config.tz,
                                         defaults={}, probe_cache=svc.probe_cache)
        assert result is not None, problems
        assert len(svc.probe_cache) == 1
        t = svc.board.create("clip", state=State.SCHEDULED, video="clip.mp4", sidecar="clip.yaml",
                             identity=result.identity, video_info=result.info, sidecar_data=result.sidecar)
        other = svc.board.create("other", state=State.SCHEDULED, identity=None)
        svc.board.detach_key(other.id)     # a task without an identity: nothing to drop, no error
        assert len(svc.probe_cache) == 1
        svc.board.detach_key(t.id)         # its files are gone (published or cancelled)
        assert svc.probe_cache == {}
    finally:
        svc.executor.shutdown(wait=False)


def test_the_watcher_forgets_the_names_of_files_that_left(tmp_path: Path) -> None:
    import threading

    from ralph_watch import inbox as inbox_mod
    from ralph_watch.clock import SystemClock
    from ralph_watch.watcher import Watcher
    from tests.support.wait import wait_until

    folder = tmp_path / "inbox"
    folder.mkdir()
    seen: list[list] = []
    lock = threading.Lock()

    def sink(snaps: list) -> None:
        with lock:
            seen.append(list(snaps))

    def last(key: str):
        with lock:
            found = [s for call in seen for s in call if s.key == key]
        return found[-1] if found else None

    w = Watcher(folder, mode="polling", settle_seconds=0.05, poll_seconds=0.05, rescan_seconds=3600,
                clock=SystemClock(), sink=sink, stop=threading.Event())
    w.start()
    try:
        (folder / "memo-clip-7781.mp4").write_bytes(b"\0" * 100)
        (folder / "memo-clip-7781.yaml").write_text("title: hi\n")
        wait_until(lambda: (s := last("memo-clip-7781")) is not None and s.videos and s.sidecars, 10,
                   "the watcher to report the pair")
        assert "memo-clip-7781.mp4" in inbox_mod._CLASSIFIED
        (folder / "memo-clip-7781.mp4").unlink()
        (folder / "memo-clip-7781.yaml").unlink()
        wait_until(lambda: (s := last("memo-clip-7781")) is not None and not s.videos and not s.sidecars, 10,
                   "the watcher to report the pair gone")
        assert "memo-clip-7781.mp4" not in inbox_mod._CLASSIFIED
        assert "memo-clip-7781.yaml" not in inbox_mod._CLASSIFIED
    finally:
        w.stop_and_join(5)
