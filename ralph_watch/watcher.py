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
import stat
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Final, Iterator

from watchdog.events import (
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyFullEmitter
from watchdog.observers.inotify_c import WATCHDOG_ALL_EVENTS, InotifyConstants, InotifyFD, Mask

from .clock import Clock
from .pairfiles import open_inbox_dir
from .inbox import (
    Entry,
    EntryKind,
    PairSnapshot,
    StabilityTracker,
    build_snapshots,
    classify,
    diff_snapshots,
    forget_name,
    is_ignored,
)

__all__ = ["Watcher", "detect_network_fs", "NETWORK_FS_TYPES", "MODES"]

log = logging.getLogger(__name__)

# watchdog re-adds a watch for a folder created and scanned at once and warns about it; harmless.
warnings.filterwarnings("ignore", message="Callback with id .* already exists", category=RuntimeWarning,
                        module=r"watchdog\.")

MODES: Final = ("auto", "events", "polling")

# File systems where inotify does not see changes made by other machines (or by the FUSE
# daemon on behalf of a remote): auto mode polls these.
NETWORK_FS_TYPES: Final[frozenset[str]] = frozenset({
    "cifs", "smb3", "smbfs",          # SMB shares (Windows, Samba, NAS)
    "nfs", "nfs4",                    # NFS
    "9p", "virtiofs", "vboxsf",       # VM shared folders (WSL2, QEMU, VirtualBox)
    "ceph", "glusterfs", "lustre", "gpfs", "ocfs2", "afs",  # cluster file systems
    "sshfs", "davfs", "ncpfs", "fuse", "fuseblk",
})

# A file renamed into place counts as stable (early) at once: rsync, Syncthing, Dropbox and
# download tools rename a finished file. The service still refuses it only after the full settle.
QUICK_SECONDS: Final = 0.0
RETRY_SINK_SECONDS: Final = 1.0   # after the sink raised, report again this much later
UNREPORTED_AGE_NS: Final = 2_000_000_000  # a file older than this that no event announced
COALESCE_SECONDS: Final = 0.05    # a writer's event storm becomes at most ~20 listings a second
HEARTBEAT_SECONDS: Final = 5.0    # an idle loop still beats this often (so a stuck one shows in /healthz)


def _unescape_mountinfo(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 \011 \012 \134)
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _is_under(path: str, mountpoint: str) -> bool:
    if mountpoint == "/":
        return path.startswith("/")
    return path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")


def detect_network_fs(path: Path, mountinfo_text: str) -> tuple[bool, str]:
    """(is_network_or_fuse, fstype) for the mount holding `path` (an absolute, resolved path).

    Pure: the caller reads `/proc/self/mountinfo`. The longest matching mount point wins; of
    two mounts on the same point the later line (mounted on top) wins.
    """
    target = str(path)
    best: tuple[int, str] | None = None
    for line in mountinfo_text.splitlines():
        fields = line.split(" ")
        if "-" not in fields or len(fields) < 7:
            continue
        sep = fields.index("-")
        if sep + 1 >= len(fields):
            continue
        mountpoint = _unescape_mountinfo(fields[4])
        fstype = fields[sep + 1]
        if _is_under(target, mountpoint) and (best is None or len(mountpoint) >= best[0]):
            best = (len(mountpoint), fstype)
    if best is None:
        return (False, "unknown")
    fstype = best[1]
    return (fstype in NETWORK_FS_TYPES or fstype.startswith("fuse."), fstype)


# Only changes are asked for: IN_OPEN / IN_CLOSE_NOWRITE of our own reads (probe, sidecar) cost
# the start-up of 10,000 pairs ~1.7 s of CPU on watchdog's threads (BENCHMARKS.md).
CHANGE_EVENTS: Final = (FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, DirModifiedEvent,
                        FileAttribEvent, DirAttribEvent, FileMovedEvent, DirMovedEvent,
                        FileDeletedEvent, DirDeletedEvent, FileClosedEvent)
CHANGE_MASK: Final = Mask((WATCHDOG_ALL_EVENTS & ~(InotifyConstants.IN_OPEN | InotifyConstants.IN_CLOSE_NOWRITE))
                           | InotifyConstants.IN_DONT_FOLLOW)


class _Emitter(InotifyFullEmitter):
    """watchdog's inotify emitter, plus a call to us when the kernel queue overflows.

    watchdog 7.1 logs the overflow and rebuilds its watches but never tells the handler, so
    events (files!) are lost unless we rescan. Its mask from an event filter may drop
    IN_DONT_FOLLOW: ours is the default mask less the two read events, always with
    IN_DONT_FOLLOW, so no watch is added through a symlink.
    """

    def get_event_mask_from_filter(self) -> Mask:
        return CHANGE_MASK

    def __init__(self, *args: object, on_overflow: Callable[[], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._on_overflow = on_overflow

    def on_thread_start(self) -> None:
        super().on_thread_start()
        group = self._inotify
        if group is None:
            return
        original = group.on_queue_overflow
        notify = self._on_overflow

        def on_queue_overflow() -> None:
            try:
                original()
            finally:
                notify()

        group.on_queue_overflow = on_queue_overflow  # type: ignore[method-assign]


class _Observer(BaseObserver):
    """An inotify observer with its own inotify instance and our overflow-aware emitter."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        self._inotify_fd = InotifyFD()
        self._inotify_fd.start()
        super().__init__(_Emitter, timeout=1.0, inotify_fd=self._inotify_fd, on_overflow=on_overflow)

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        self._inotify_fd.stop()
        self._inotify_fd.join()

    def healthy(self) -> bool:
        return self.is_alive() and bool(self.emitters) and all(e.is_alive() for e in list(self.emitters))


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's dispatcher thread: only queues work, never raises (an exception
    here would end the dispatcher and every later event would be lost)."""

    def __init__(self, on_event: Callable[[str, str, str, bool], None]) -> None:
        self._on_event = on_event

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type in ("opened", "closed_no_write"):
                return  # readers (our probe) open files: no change to look at
            self._on_event(event.event_type, os.fsdecode(event.src_path or ""),
                           os.fsdecode(event.dest_path or ""), event.is_directory)
        except Exception:  # noqa: BLE001 - the dispatcher thread must survive anything
            log.exception("inbox event handler failed for %r (the next rescan covers it)", event)


@contextmanager
def _scandir_nofollow(inbox: Path, folder: str, path: str) -> Iterator[Iterator[os.DirEntry[str]]]:
    """`os.scandir` of an inbox folder reached by descriptor, each step with O_NOFOLLOW: a
    subfolder swapped for a symlink since the last listing is not read through (it is gone;
    its parent's next listing shows the link)."""
    try:
        dfd = open_inbox_dir(inbox, folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotADirectoryError(errno.ENOTDIR, "a symbolic link, not a folder", path) from None
        raise
    try:
        with os.scandir(dfd) as it:
            yield it
    finally:
        os.close(dfd)


_KINDS: Final[dict[int, EntryKind]] = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]


def _inside(rel: str, folder: str) -> bool:
    return folder == "" or rel == folder or rel.startswith(folder + "/")


class Watcher:
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
        self._observer: _Observer | None = None
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

    def status(self) -> dict:
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
        observer = _Observer(on_overflow=self._on_overflow)
        try:
            observer.schedule(_Handler(self._on_event), self._root, recursive=True, event_filter=list(CHANGE_EVENTS))
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
            folders.add(_parent(rel))
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

    def _check_root(self) -> bool:
        """Is the inbox a readable folder? Updates inbox_ok/error; notes a replaced inbox."""
        try:
            st = os.stat(self._root)
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(20, "not a folder")
        except OSError as exc:
            self._set_error(f"the inbox {self._root} cannot be read ({exc.strerror or exc}); check that the "
                            "folder exists and its share is mounted - nothing is withdrawn meanwhile")
            return False
        mountpoint = self._ismount(str(self._root))
        if self._was_mountpoint is None:
            self._was_mountpoint = mountpoint
        elif self._was_mountpoint and not mountpoint:
            self._set_error(f"the share mounted at the inbox {self._root} is not mounted any more (an empty "
                            "folder is left); nothing is withdrawn meanwhile - mount it again, or restart "
                            "ralph-watch to use the folder as it is")
            return False
        ident = (st.st_dev, st.st_ino)
        with self._lock:
            if self._inbox_id is not None and ident != self._inbox_id:
                log.warning("the inbox %s was replaced (new inode); watching the new folder", self._root)
                self._restart_observer = True
            self._inbox_id = ident
        return True

    def _set_error(self, sentence: str | None) -> None:
        with self._lock:
            if sentence and sentence != self._error:
                log.error("%s", sentence)
            self._error = sentence
            self._inbox_ok = sentence is None

    def _list(self, folder: str) -> dict[str, Entry]:
        """One folder's entries (lstat: symlinks are never followed, files never opened)."""
        path = os.path.join(self._root, folder) if folder else self._root
        out: dict[str, Entry] = {}
        # The previous listing's Entry is reused when this scan's own lstat gives the same size,
        # mtime, inode and kind: a quiet folder then compares identical objects, and builds no
        # rel string and no ctime record (a poll of 10,000 pairs is mostly this loop). Any
        # in-place edit changes size or mtime (or the inode), so it always gets a fresh Entry.
        prev = self._tree.get(folder) or {}
        kinds = _KINDS
        ctimes = self._ctimes
        with _scandir_nofollow(self._inbox, folder, path) as it:
            for de in it:
                name = de.name
                try:
                    st = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning("cannot stat %s in the inbox (%s); skipping it this time",
                                os.path.join(path, name), exc.strerror)
                    continue
                kind = kinds.get(st.st_mode & 0o170000, "other")
                e = prev.get(name)
                if (e is not None and e.mtime_ns == st.st_mtime_ns and e.size == st.st_size
                        and e.inode == st.st_ino and e.kind == kind):
                    out[name] = e
                    continue
                rel = f"{folder}/{name}" if folder else name
                out[name] = Entry(rel=rel, name=name, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                  kind=kind, inode=st.st_ino)
                ctimes[rel] = st.st_ctime_ns   # only read for entries that changed (_step's judgement)
        return out

    def _walk(self, folder: str, into: dict[str, dict[str, Entry]]) -> None:
        """List `folder` and every non-ignored real subfolder into `into`.

        A subfolder that cannot be read keeps its previous listing (nothing withdrawn).
        """
        stack = [folder]
        while stack:
            f = stack.pop()
            try:
                entries = self._list(f)
            except (FileNotFoundError, NotADirectoryError):
                if f == "":
                    raise
                continue  # gone: its pairs are reported gone
            except OSError as exc:
                if f == "":
                    raise
                log.warning("cannot list %s in the inbox (%s); keeping what was seen before", f, exc.strerror)
                for g, old in self._tree.items():
                    if _inside(g, f):
                        into[g] = old
                continue
            into[f] = entries
            stack.extend(e.rel for e in entries.values() if e.kind == "dir" and not is_ignored(e.name))

    def _step(self, initial: bool = False) -> None:
        now = self._clock.monotonic()
        self._last_step = now
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            renamed, self._renamed = self._renamed, set()
            requested, self._full_requested = self._full_requested, None
            polling = self._active == "polling"
            periodic = now >= self._next_full
            retry = self._retry_at is not None and now >= self._retry_at
            if retry:
                dirty |= self._unsent
                self._unsent, self._retry_at = set(), None
            full = initial or requested is not None or periodic
            judged = periodic and not initial and requested is None and not polling and self._mode == "auto"
            if full:
                event_folders, self._event_folders = self._event_folders, set()
                self._next_full = now + (self._poll if polling else self._rescan)
        self._ctimes = {}
        if not self._check_root():
            return  # nothing withdrawn while the inbox cannot be read
        new_tree: dict[str, dict[str, Entry]] = {}
        try:
            if full:
                self._walk("", new_tree)
                scanned = set(new_tree) | set(self._tree)
            else:
                scanned = self._relist(self._expand(dirty | {_parent(r) for r in self._tracker.due(now)}), new_tree)
        except OSError as exc:
            self._set_error(f"the inbox {self._root} cannot be read ({exc.strerror or exc}); check that the "
                            "folder exists and its share is mounted - nothing is withdrawn meanwhile")
            return
        self._set_error(None)
        wall_ns = int(self._clock.now().timestamp() * 1e9)
        unreported: list[str] = []
        # A folder whose listing is exactly as before, with every file in it already stable and
        # nothing left to resend, cannot change any snapshot: skip observing and reporting it.
        # (This keeps a polling scan of a large, quiet inbox down to the listing itself.)
        with self._lock:
            unsent = set(self._unsent)
        busy = {_parent(r) for r in self._tracker.unconfirmed()} | unsent
        quiet = {f for f in scanned if f in new_tree and f not in busy and f in self._reported
                 and new_tree[f] == self._tree.get(f)}
        for f in scanned:
            if f in quiet:
                continue
            old = self._tree.get(f, {})
            new = new_tree.get(f, {})  # a scanned folder missing from new_tree is gone
            self._observe(f, old, new, now=now, wall_ns=wall_ns, renamed=renamed, initial=initial)
            if judged and f not in event_folders:
                unreported += [e.rel for n, e in new.items()
                               if e.kind == "file" and classify(n) and old.get(n) != e
                               and self._ctimes.get(e.rel, wall_ns) < wall_ns - UNREPORTED_AGE_NS]
            if f in new_tree:
                self._tree[f] = new_tree[f]
            else:
                self._tree.pop(f, None)
        if full:
            with self._lock:
                self._last_scan = self._clock.now().isoformat()
        self._report(scanned - quiet, now)
        if unreported:
            self._to_polling(f"auto: a rescan found {sorted(unreported)[0]!r} that file system events never "
                             "reported (a writer on another machine?)")

    def _expand(self, folders: set[str]) -> set[str]:
        """Dirty folders to list, without those below ignored names."""
        return {f for f in folders if not any(is_ignored(p) for p in f.split("/") if p)}

    def _relist(self, folders: set[str], new_tree: dict[str, dict[str, Entry]]) -> set[str]:
        """List each dirty folder itself; walk subfolders that are new to us (moved in whole);
        a subfolder that vanished takes its subtree with it. Returns the folders touched."""
        scanned: set[str] = set()
        for f in sorted(folders, key=len):
            try:
                entries = self._list(f)
            except (FileNotFoundError, NotADirectoryError):
                if f == "":
                    raise
                scanned |= {g for g in self._tree if _inside(g, f)}  # the folder is gone
                continue
            except OSError as exc:
                if f == "":
                    raise
                log.warning("cannot list %s in the inbox (%s); keeping what was seen before", f, exc.strerror)
                continue
            new_tree[f] = entries
            scanned.add(f)
            subdirs = {e.rel for e in entries.values() if e.kind == "dir" and not is_ignored(e.name)}
            for g in list(self._tree):
                if g != f and _inside(g, f) and not any(_inside(g, s) for s in subdirs):
                    scanned.add(g)  # below a subfolder that is no longer there
            for sub in sorted(subdirs):
                if sub not in self._tree and sub not in new_tree:
                    before = set(new_tree)
                    self._walk(sub, new_tree)
                    scanned |= set(new_tree) - before
        return scanned

    def _observe(self, folder: str, old: dict[str, Entry], new: dict[str, Entry], *, now: float,
                 wall_ns: int, renamed: set[str], initial: bool) -> None:
        old_by_inode = {e.inode: n for n, e in old.items() if e.inode}
        for name, e in new.items():
            if classify(name) is None:
                continue
            prev = old_by_inode.get(e.inode)
            # A rename seen by listing (polling, or events coalesced): the same inode under a new
            # name, the old name gone, and the same size and mtime (a rename keeps both; an inode
            # number reused by a new upload would not). A new inode is never taken early, however
            # old its mtime looks: a copy that keeps timestamps (cp -p, SMB) grows in place.
            renamed_in = e.rel in renamed or (
                prev is not None and prev != name and prev not in new
                and old[prev].size == e.size and old[prev].mtime_ns == e.mtime_ns)
            startup = initial and wall_ns - e.mtime_ns >= self._settle * 1e9
            self._tracker.observe(e.rel, size=e.size, mtime_ns=e.mtime_ns, now=now,
                                  renamed_in=renamed_in, startup=startup)
        for name, e in old.items():
            if name not in new:
                self._tracker.forget(e.rel)
                forget_name(name)

    def _report(self, folders: set[str], now: float) -> None:
        changes: list[PairSnapshot] = []
        fresh: dict[str, dict[str, PairSnapshot]] = {}
        with self._lock:
            folders = folders | self._unsent
        for f in folders:
            snaps = build_snapshots(self._tree.get(f, {}).values(), self._tracker, now)
            changes += diff_snapshots(self._reported.get(f, {}), snaps)
            fresh[f] = snaps
        if changes:
            changes.sort(key=lambda s: s.key)
            try:
                self._sink(changes)
            except Exception:  # noqa: BLE001 - the service's bug must not stop watching
                log.exception("the inbox sink failed on %d change(s); reporting them again in %ss",
                              len(changes), RETRY_SINK_SECONDS)
                with self._lock:
                    self._unsent |= folders
                    self._retry_at = self._clock.monotonic() + RETRY_SINK_SECONDS
                return
        with self._lock:
            self._unsent -= folders
        for f, snaps in fresh.items():
            if snaps:
                self._reported[f] = snaps
            else:
                self._reported.pop(f, None)
