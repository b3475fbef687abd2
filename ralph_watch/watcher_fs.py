"""The watchdog adapter and the mount table: inotify events (change events only, overflow
reported) and which file systems need polling. No watchdog type leaves watcher*.py."""

import logging
import os
import warnings
from pathlib import Path
from typing import Callable, Final

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

__all__ = ["Observer", "Handler", "detect_network_fs", "NETWORK_FS_TYPES", "CHANGE_EVENTS", "CHANGE_MASK"]

log = logging.getLogger("ralph_watch.watcher")

# watchdog re-adds a watch for a folder created and scanned at once and warns about it; harmless.
warnings.filterwarnings("ignore", message="Callback with id .* already exists", category=RuntimeWarning,
                        module=r"watchdog\.")

# File systems where inotify does not see changes made by other machines (or by the FUSE
# daemon on behalf of a remote): auto mode polls these.
NETWORK_FS_TYPES: Final[frozenset[str]] = frozenset({
    "cifs", "smb3", "smbfs",          # SMB shares (Windows, Samba, NAS)
    "nfs", "nfs4",                    # NFS
    "9p", "virtiofs", "vboxsf",       # VM shared folders (WSL2, QEMU, VirtualBox)
    "ceph", "glusterfs", "lustre", "gpfs", "ocfs2", "afs",  # cluster file systems
    "sshfs", "davfs", "ncpfs", "fuse", "fuseblk",
})


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


class Emitter(InotifyFullEmitter):
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


class Observer(BaseObserver):
    """An inotify observer with its own inotify instance and our overflow-aware emitter."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        self._inotify_fd = InotifyFD()
        self._inotify_fd.start()
        super().__init__(Emitter, timeout=1.0, inotify_fd=self._inotify_fd, on_overflow=on_overflow)

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        self._inotify_fd.stop()
        self._inotify_fd.join()

    def healthy(self) -> bool:
        return self.is_alive() and bool(self.emitters) and all(e.is_alive() for e in list(self.emitters))


class Handler(FileSystemEventHandler):
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
