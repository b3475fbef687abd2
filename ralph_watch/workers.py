"""The publish workers: a small thread pool shared by the accounts, one job per (kind, task)."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["Workers", "PUBLISH_WORKERS"]

log = logging.getLogger(__name__)
PUBLISH_WORKERS = 4


class Workers:
    def __init__(self, *, stop: threading.Event, size: int = PUBLISH_WORKERS) -> None:
        self.size = size
        self.stop = stop
        # settles and follow-ups beside the uploads: two more threads than publish slots
        self.executor = ThreadPoolExecutor(max_workers=size + 2, thread_name_prefix="publish")
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def capacity(self) -> int:
        """Free publish workers."""
        with self._lock:
            busy = sum(1 for kind, _ in self._inflight if kind == "publish")
        return self.size - busy

    def submit(self, kind: str, task_id: str, fn: Callable[[str], None], *, done: Callable[[], None]) -> bool:
        """Run fn(task_id) on a worker unless that job runs already; `done` after it ends."""
        job = (kind, task_id)
        with self._lock:
            if job in self._inflight or self.stop.is_set():
                return False
            self._inflight.add(job)

        def run() -> None:
            try:
                fn(task_id)
            except Exception:
                log.exception("%s of task %s failed", kind, task_id)
            finally:
                with self._lock:
                    self._inflight.discard(job)
                done()
        try:
            self.executor.submit(run)
        except RuntimeError:  # shutting down
            with self._lock:
                self._inflight.discard(job)
            return False
        return True

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
