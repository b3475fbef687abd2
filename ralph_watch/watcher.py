"""The inbox watcher: turns a folder into a stream of pair snapshots, missing nothing.

Events are a hint, the listing is the truth (reliability.md §5). watchdog's handler only marks
folders dirty and wakes our worker; the worker lists those folders (`os.scandir`, lstat only,
no content reads), feeds the `StabilityTracker`, builds snapshots and tells the sink what
changed. Safety nets: a full rescan every `rescan_seconds` and after an inotify queue
overflow; a supervisor thread that restarts a dead observer/emitter and re-watches an inbox
that was deleted and re-created; an unreadable inbox (dead mount) is reported in `status()`
and withdraws nothing. Polling mode is the same worker listing everything every
`poll_seconds` (no watchdog PollingObserver: its outage handling looks like deletions).

No watchdog type escapes this module.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Final

from .clock import Clock
from .constants import WATCH_MODES
from .inbox import (
    Entry,
    PairSnapshot,
    StabilityTracker,
    is_ignored,
)
from .watcher_fs import CHANGE_EVENTS, NETWORK_FS_TYPES, Handler, Observer, detect_network_fs
from .watcher_scan import QUICK_SECONDS, RETRY_SINK_SECONDS, ScanMixin, parent_folder

__all__ = ["Watcher", "detect_network_fs", "NETWORK_FS_TYPES", "MODES"]

log = logging.getLogger(__name__)

MODES: Final = WATCH_MODES
COALESCE_SECONDS: Final = 0.05    # a writer's event storm becomes at most ~20 listings a second
HEARTBEAT_SECONDS: Final = 5.0    # an idle loop still beats this often (so a stuck one shows in /healthz)


class Watcher(ScanMixin):
    """Watches `inbox` and calls `sink(changed snapshots)` from its own worker thread.

    `start()` lists the inbox once and reports the start-up snapshots synchronously (files
    older than `settle_seconds` count as stable at once), then starts the worker, the
    supervisor and (events mode) the watchdog observer.
    """

    def __init__(self, inbox: Path, *, mode: str, settle_seconds: float, poll_seconds: float,
                 rescan_seconds: float, clock: Clock, sink: Callable[[list[PairSnapshot]], None],
                 stop: threading.Event, mountinfo_path: Path = Path("/proc/self/mountinfo"),
                 supervise_seconds: float = 1.0, ismount: Callable[[str], bool] = os.path.ismount) -> None:
        if mode not in MODES:
            raise ValueError(f"watch.mode is {mode!r}; use one of: auto, events, polling")
        self._inbox = Path(os.path.abspath(inbox))
        self._root = str(self._inbox)
        self._mode = mode
        self._settle = float(settle_seconds)
        self._poll = max(0.05, float(poll_seconds))
        self._rescan = max(0.05, float(rescan_seconds))
        self._clock = clock
        self._sink = sink
        self._stop = stop
        self._mountinfo_path = Path(mountinfo_path)
        self._supervise = supervise_seconds

        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._tracker = StabilityTracker(self._settle, min(QUICK_SECONDS, self._settle))
        # the last listing of each folder ("" is the inbox); ignored folders are not descended
        self._tree: dict[str, dict[str, Entry]] = {}
        self._reported: dict[str, dict[str, PairSnapshot]] = {}  # folder -> key -> last sent
        # work queued by events and requests (guarded by _lock)
        self._dirty: set[str] = set()
        self._renamed: set[str] = set()
        self._event_folders: set[str] = set()   # folders events mentioned since the last full scan
        self._full_requested: str | None = None  # reason of a requested rescan
        self._unsent: set[str] = set()
        self._retry_at: float | None = None
        self._next_full: float = 0.0
        self._last_step: float = 0.0
        # status
        self._active = "events"
        self._reason = ""
        self._inbox_ok = False
        self._error: str | None = None
        self._last_scan: str | None = None
        self._inbox_id: tuple[int, int] | None = None
        # A share mounted at the inbox itself leaves an empty folder when it goes away: that is
        # a lost mount, not a deleted inbox. Remember whether the inbox was a mount point.
        self._ismount = ismount
        self._was_mountpoint: bool | None = None
        self._restart_observer = False
        self._observer: Observer | None = None
        self._threads: dict[str, threading.Thread] = {}
        self._started = False
        self._ctimes: dict[str, int] = {}  # rel -> st_ctime_ns of the current step's listings
        # loop -> monotonic time it last made progress: a thread that is alive but stuck (a
        # blocking open, a sink that never returns) is as bad as a dead one.
        self._beats: dict[str, float] = {}

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        if self._started:
            raise RuntimeError("this Watcher was already started")
        self._started = True
        self._choose_mode()
        if self._active == "events":
            self._start_observer()  # before the first listing, so nothing slips between
        try:
            self._step(initial=True)
        except Exception:  # noqa: BLE001
            log.exception("the first scan of the inbox %s failed; the worker retries", self._root)
        self._spawn("worker", self._worker)
        self._spawn("supervisor", self._supervisor)

    def stop_and_join(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        self._stop_observer(timeout)
        for t in list(self._threads.values()):
            if t is not threading.current_thread():
                t.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._active,
                "reason": self._reason,
                "last_scan": self._last_scan,
                "inbox_ok": self._inbox_ok,
                "error": self._error,
                "alive": self.alive(),
            }

    def heartbeat_ages(self) -> dict[str, float | None]:
        """Seconds since each loop (worker, supervisor) last made progress; None before it ran."""
        now = self._clock.monotonic()
        beats = dict(self._beats)
        return {name: (round(max(0.0, now - beats[name]), 3) if name in beats else None)
                for name in ("worker", "supervisor")}

    def _beat(self, name: str) -> None:
        self._beats[name] = self._clock.monotonic()

    def rescan_now(self, reason: str = "requested") -> None:
        with self._lock:
            self._full_requested = self._full_requested or reason
        self._wake.set()

    def alive(self) -> bool:
        threads = [self._threads.get("worker"), self._threads.get("supervisor")]
        return all(t is not None and t.is_alive() for t in threads)

    # ------------------------------------------------------------------ mode

    def _choose_mode(self) -> None:
        if self._mode == "polling":
            self._set_mode("polling", "watch.mode is polling")
            return
        try:
            text = self._mountinfo_path.read_text(encoding="utf-8", errors="replace")
            resolved = Path(os.path.realpath(self._inbox))
            network, fstype = detect_network_fs(resolved, text)
        except OSError as exc:
            network, fstype = False, f"unknown ({exc.strerror})"
        if self._mode == "events":
            note = f" (the inbox is on {fstype}: changes from other machines are found by the rescan)" if network else ""
            self._set_mode("events", f"watch.mode is events{note}")
        elif network:
            self._set_mode("polling", f"auto: the inbox is on a {fstype} file system, which raises no "
                                      "events for changes made by other machines")
        else:
            self._set_mode("events", f"auto: native inotify events ({fstype} file system)")

    def _set_mode(self, mode: str, reason: str) -> None:
        with self._lock:
            changed = mode != self._active or reason != self._reason
            self._active, self._reason = mode, reason
        if changed:
            log.info("inbox watch mode: %s (%s)", mode, reason)

    def _to_polling(self, reason: str) -> None:
        self._set_mode("polling", reason)
        self._stop_observer(2.0)
        with self._lock:
            self._next_full = self._clock.monotonic() + self._poll

    # ------------------------------------------------------------------ observer

    def _start_observer(self) -> bool:
        """Start a fresh observer on the inbox; False if the inbox cannot be watched now."""
        self._stop_observer(2.0)
        observer = Observer(on_overflow=self._on_overflow)
        try:
            observer.schedule(Handler(self._on_event), self._root, recursive=True, event_filter=list(CHANGE_EVENTS))
            observer.start()
        except OSError as exc:
            try:
                observer.stop()
            except Exception:  # noqa: BLE001
                pass
            if exc.errno in (errno.ENOSPC, errno.EMFILE) or os.path.isdir(self._root):
                self._to_polling(f"inotify cannot watch the inbox ({exc.strerror}); raise "
                                 "fs.inotify.max_user_watches / max_user_instances to use events")
            else:
                log.warning("cannot watch the inbox %s yet (%s); retrying", self._root, exc.strerror)
            return False
        with self._lock:
            self._observer = observer
        return True

    def _stop_observer(self, timeout: float) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
        if observer is None:
            return
        try:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join(timeout)
        except Exception:  # noqa: BLE001
            log.exception("stopping the inbox observer failed")

    def _on_overflow(self) -> None:
        log.warning("inotify queue overflowed below %s: rescanning the inbox", self._root)
        self.rescan_now("inotify queue overflow")

    def _on_event(self, kind: str, src: str, dest: str, is_dir: bool) -> None:
        folders: set[str] = set()
        renamed: set[str] = set()
        for path in (src, dest):
            if not path:
                continue
            rel = self._rel(path)
            if rel is None:
                continue
            if rel == "":
                folders.add("")  # the inbox itself changed (or vanished)
                continue
            folders.add(parent_folder(rel))
            if is_dir:
                folders.add(rel)
        if kind == "moved" and dest and not is_dir:
            rel = self._rel(dest)
            if rel:
                renamed.add(rel)
        folders = {f for f in folders if not any(is_ignored(p) for p in f.split("/") if p)}
        if not folders:
            return
        with self._lock:
            self._dirty |= folders
            self._event_folders |= folders
            self._renamed |= renamed
        self._wake.set()

    def _rel(self, path: str) -> str | None:
        if path == self._root:
            return ""
        if not path.startswith(self._root + os.sep):
            return None
        return path[len(self._root) + 1:].replace(os.sep, "/")

    # ------------------------------------------------------------------ threads

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"ralph-watch-{name}", daemon=True)
        self._threads[name] = t
        t.start()

    def _worker(self) -> None:
        while not self._stop.is_set():
            self._beat("worker")
            try:
                self._step()
            except Exception:  # noqa: BLE001 - one bad step never ends watching
                log.exception("inbox scan step failed; a full rescan follows shortly")
                with self._lock:
                    self._next_full = min(self._next_full, self._clock.monotonic() + RETRY_SINK_SECONDS)
            self._beat("worker")
            remaining = self._timeout()
            # wait(remaining), in slices: an idle worker beats too
            while not self._wake.wait(min(remaining, HEARTBEAT_SECONDS)) and remaining > HEARTBEAT_SECONDS:
                remaining -= HEARTBEAT_SECONDS
                self._beat("worker")
            self._wake.clear()

    def _timeout(self) -> float:
        now = self._clock.monotonic()
        with self._lock:
            if self._full_requested:
                return 0.0
            if self._dirty:
                return max(0.0, self._last_step + COALESCE_SECONDS - now)
            times = [self._next_full]
            nxt = self._tracker.next_check(now)
            if nxt is not None:
                # overdue means the last look failed (an unreadable folder): retry calmly, never spin
                times.append(nxt if nxt > now else now + min(1.0, self._poll))
            if self._retry_at is not None:
                times.append(self._retry_at)
        return max(0.0, min(times) - now)

    def _supervisor(self) -> None:
        self._beat("supervisor")
        while not self._stop.wait(self._supervise):
            self._beat("supervisor")
            try:
                self._check_health()
            except Exception:  # noqa: BLE001
                log.exception("inbox supervisor check failed")
        self._wake.set()

    def _check_health(self) -> None:
        worker = self._threads.get("worker")
        if worker is None or not worker.is_alive():
            log.error("the inbox worker thread died; restarting it")
            self._spawn("worker", self._worker)
        was_ok = self._inbox_ok
        ok = self._check_root()
        if not ok:
            return
        with self._lock:
            restart, self._restart_observer = self._restart_observer, False
            observer, active = self._observer, self._active
        if not was_ok:
            self.rescan_now("the inbox is readable again")
        if restart and self._mode == "auto" and active == "events":
            self._choose_mode()  # a share may have been mounted over the inbox
            if self._active == "polling":
                self._to_polling(self._reason)
                return
        if active != "events":
            return
        if restart or observer is None or not observer.healthy():
            log.warning("inbox observer %s; starting a new one",
                        "watches a replaced inbox" if restart else "is not running")
            if self._start_observer():
                self.rescan_now("the inbox observer was restarted")

    # ------------------------------------------------------------------ scanning
