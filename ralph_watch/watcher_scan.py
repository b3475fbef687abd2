"""The watcher's listing step: list the dirty (or all) folders with lstat only, feed the
`StabilityTracker`, build snapshots and hand the changed ones to the sink. `Watcher` owns the
threads and the mode; this mixin owns what one step does."""

import errno
import logging
import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Final, Iterator, NamedTuple

from .clock import Clock
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
from .pairfiles import open_inbox_dir

__all__ = ["ScanMixin", "QUICK_SECONDS", "RETRY_SINK_SECONDS", "parent_folder"]

log = logging.getLogger("ralph_watch.watcher")

# A file renamed into place counts as stable (early) at once: rsync, Syncthing, Dropbox and
# download tools rename a finished file. The service still refuses it only after the full settle.
QUICK_SECONDS: Final = 0.0
RETRY_SINK_SECONDS: Final = 1.0   # after the sink raised, report again this much later
UNREPORTED_AGE_NS: Final = 2_000_000_000  # a file older than this that no event announced


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


def parent_folder(rel: str) -> str:
    return rel.rpartition("/")[0]


def _inside(rel: str, folder: str) -> bool:
    return folder == "" or rel == folder or rel.startswith(folder + "/")


class _Work(NamedTuple):
    dirty: set[str]
    renamed: set[str]
    full: bool
    judged: bool
    event_folders: set[str]


class ScanMixin:
    """Listing and reporting; the state is set up by `Watcher.__init__`."""

    _root: str
    _inbox: Path
    _mode: str
    _settle: float
    _poll: float
    _rescan: float
    _clock: Clock
    _sink: Callable[[list[PairSnapshot]], None]
    _lock: threading.RLock
    _tracker: StabilityTracker
    _tree: dict[str, dict[str, Entry]]
    _reported: dict[str, dict[str, PairSnapshot]]
    _dirty: set[str]
    _renamed: set[str]
    _event_folders: set[str]
    _full_requested: str | None
    _unsent: set[str]
    _retry_at: float | None
    _next_full: float
    _last_step: float
    _active: str
    _inbox_ok: bool
    _error: str | None
    _last_scan: str | None
    _inbox_id: tuple[int, int] | None
    _ismount: Callable[[str], bool]
    _was_mountpoint: bool | None
    _restart_observer: bool
    _ctimes: dict[str, int]

    def _to_polling(self, reason: str) -> None:
        """Switch to polling (Watcher stops the observer too)."""

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

    def _take_work(self, now: float, initial: bool) -> _Work:
        """What events, requests and timers queued for this step (and reset them)."""
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
            # a periodic rescan in auto mode also judges whether events missed anything
            judged = periodic and not initial and requested is None and not polling and self._mode == "auto"
            event_folders: set[str] = set()
            if full:
                event_folders, self._event_folders = self._event_folders, set()
                self._next_full = now + (self._poll if polling else self._rescan)
        return _Work(dirty, renamed, full, judged, event_folders)

    def _step(self, initial: bool = False) -> None:
        now = self._clock.monotonic()
        self._last_step = now
        dirty, renamed, full, judged, event_folders = self._take_work(now, initial)
        self._ctimes = {}
        if not self._check_root():
            return  # nothing withdrawn while the inbox cannot be read
        new_tree: dict[str, dict[str, Entry]] = {}
        try:
            if full:
                self._walk("", new_tree)
                scanned = set(new_tree) | set(self._tree)
            else:
                scanned = self._relist(self._expand(dirty | {parent_folder(r) for r in self._tracker.due(now)}), new_tree)
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
        busy = {parent_folder(r) for r in self._tracker.unconfirmed()} | unsent
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
