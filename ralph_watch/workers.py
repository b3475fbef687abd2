"""The publish workers, shared by the accounts, one job per (kind, task), in two pools:

- the step pool runs the short steps: a due pair's checks, creator_info and init ("publish"),
  the settling after a restart and every follow-up, including each status check of a task
  `processing` (one call, then it is scheduled again: no worker waits for TikTok);
- the upload pool runs the uploads, sized for bandwidth, not for accounts: more parallel
  uploads only split the same link, and a long one must never delay a due pair's init.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["Workers", "PUBLISH_WORKERS", "STEP_WORKERS", "UPLOAD_WORKERS"]

log = logging.getLogger(__name__)
STEP_WORKERS = 8      # short calls (a round trip each); the limiter, not threads, paces them
UPLOAD_WORKERS = 2    # parallel uploads
PUBLISH_WORKERS = STEP_WORKERS   # the old name: how many due pairs start at once


class Workers:
    def __init__(self, *, stop: threading.Event, size: int = STEP_WORKERS, uploads: int = UPLOAD_WORKERS) -> None:
        self.size = size
        self.stop = stop
        self.executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="step")
        self.uploads = ThreadPoolExecutor(max_workers=uploads, thread_name_prefix="upload")
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def capacity(self) -> int:
        """How many more due pairs may start now (free step workers for their init)."""
        with self._lock:
            busy = sum(1 for kind, _ in self._inflight if kind == "publish")
        return self.size - busy

    def busy(self) -> int:
        """Jobs submitted and not yet ended, in both pools."""
        with self._lock:
            return len(self._inflight)

    def submit(self, kind: str, task_id: str, fn: Callable[[str], None], *, done: Callable[[], None]) -> bool:
        """Run fn(task_id) unless that job runs already ("upload" on the upload pool, the rest
        on the step pool); `done` after it ends."""
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
            (self.uploads if kind == "upload" else self.executor).submit(run)
        except RuntimeError:  # shutting down
            with self._lock:
                self._inflight.discard(job)
            return False
        return True

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.uploads.shutdown(wait=False, cancel_futures=True)
