"""/healthz notices a loop that is alive but stuck: the heartbeat ages, as a table."""
from __future__ import annotations

from ralph_watch.service import HEARTBEAT_STALE_SECONDS


class _StuckWatcher:
    """A watcher whose threads are alive but whose worker stopped beating."""

    def __init__(self, worker_age: float) -> None:
        self.worker_age = worker_age

    def status(self) -> dict:
        return {"mode": "events", "reason": "test", "last_scan": None, "inbox_ok": True, "error": None, "alive": True}

    def heartbeat_ages(self) -> dict:
        return {"worker": self.worker_age, "supervisor": 0.5}


def test_healthz_data_says_503_and_why_when_the_watcher_is_alive_but_stuck(tmp_path) -> None:
    import threading

    from ralph_watch.clock import FakeClock
    from ralph_watch.config import default_config
    from ralph_watch.service import Service

    clock = FakeClock()
    svc = Service(default_config(tmp_path, inbox="inbox", state_dir="state"), clock=clock, serve_web=False)
    svc.watcher = _StuckWatcher(worker_age=1.0)
    alive = threading.Event()
    th = threading.Thread(target=alive.wait, daemon=True)
    th.start()
    try:
        svc._threads["scheduler"] = th
        svc._started = True
        ok, data = svc.health()
        assert ok and data["reason"] is None
        assert set(data["heartbeat_age"]) == {"watcher_worker", "watcher_supervisor", "scheduler"}
        svc.watcher.worker_age = HEARTBEAT_STALE_SECONDS + 60
        ok, data = svc.health()
        assert not ok and "the inbox watcher has made no progress" in data["reason"]
        # The scheduler made no step for longer than the limit (its thread is alive): stuck too.
        svc.watcher.worker_age = 1.0
        clock.advance(HEARTBEAT_STALE_SECONDS + 1)
        ok, data = svc.health()
        assert not ok and "the scheduler has made no progress" in data["reason"]
    finally:
        alive.set()
        svc.executor.shutdown(wait=False)
