"""What the inbox holds, as data: names, pairs, in-flight markers and file stability.

Pure: no file system access, no clock. The watcher (the shell) lists folders, feeds what it
saw into a `StabilityTracker` with the time as an argument, and asks `build_snapshots` for the
pairs. The service decides what a snapshot means (waiting, invalid, scheduled ...).

Definitions used here:
- A *pair* is `NAME.mp4|mov|webm` (any letter case) with `NAME.yaml|yml` in the same folder;
  NAME matches exactly. Its key is `folder/NAME` relative to the inbox, "/"-separated.
- A file is *stable* once the same size and mtime were observed at least `settle_seconds`
  apart (`quick_seconds` for a file renamed into place: a rename publishes a finished file;
  such a file is `early` until the full settle has passed too, and the service refuses it only
  then).
  A close after writing is no proof: an interrupted SMB upload closes a partial file, which
  only the probe's structure check can refuse.
- An *in-flight marker* is a sibling that a sync tool writes while the real file is coming
  (`.syncthing.clip.mp4.tmp`, `clip.mp4.part`, ...). The snapshot names it; the service waits.
"""
from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Iterable, Literal, Mapping

from .constants import VIDEO_EXTS

__all__ = [
    "VIDEO_EXTS",
    "SIDECAR_EXTS",
    "IGNORED_PREFIXES",
    "IGNORED_SUFFIXES",
    "IGNORED_NAMES",
    "FileState",
    "PairSnapshot",
    "Entry",
    "is_ignored",
    "classify",
    "forget_name",
    "inflight_target",
    "inflight_sibling",
    "StabilityTracker",
    "build_snapshots",
    "shown_name",
    "is_utf8_name",
]

SIDECAR_EXTS: Final = ("yaml", "yml")

# Names never read as inbox content. Each line says which tool makes such names.
IGNORED_PREFIXES: Final[tuple[str, ...]] = (
    ".",   # hidden files: rsync temp `.NAME.XXXXXX`, Syncthing `.syncthing.NAME.tmp`, `.DS_Store`,
           # macOS `._NAME` resource forks, `.stfolder`/`.stversions`, `.dropbox*`, Resilio `.sync`
    "~",   # Syncthing on Windows `~syncthing~NAME.tmp`, Office `~$NAME` lock files
)
IGNORED_SUFFIXES: Final[tuple[str, ...]] = (  # compared case-insensitively
    ".part",        # Firefox, Transmission, curl/wget-style partial downloads
    ".partial",     # rclone 1.75 `NAME.<hex>.partial`, generic partial files
    ".partial~",    # older rclone
    ".crdownload",  # Chrome
    ".tmp",         # Syncthing and many editors and uploaders
    ".download",    # Safari (a bundle folder)
    ".!sync",       # Resilio / BitTorrent Sync
    ".error.txt",   # our own feedback files (NAME.error.txt), written beside a bad pair
)
IGNORED_NAMES: Final[frozenset[str]] = frozenset({  # compared case-insensitively
    ".ds_store",     # macOS Finder metadata
    "thumbs.db",     # Windows Explorer thumbnails
    "desktop.ini",   # Windows Explorer folder settings
    "@eadir",        # Synology DSM thumbnails and indexes (a folder)
    ".stfolder",     # Syncthing folder marker
    ".stversions",   # Syncthing file versions
    ".sync",         # Resilio Sync metadata folder
    ".dropbox.cache",  # Dropbox staging area (downloads are renamed into place from here)
})


@dataclass(frozen=True)
class FileState:
    rel: str          # path relative to the inbox, "/" separators
    size: int
    mtime_ns: int
    stable: bool      # same size and mtime for the settle period
    regular: bool     # False: a directory, FIFO, device, socket (or a symlink) with a pair's name
    symlink: bool     # never followed; the service refuses it
    # stable only because it was renamed into place and has not changed since; the full settle
    # has not passed: a pair that fails its checks now waits for it rather than being refused
    early: bool = False


@dataclass(frozen=True)
class PairSnapshot:
    key: str                       # "sub/clip": folder + stem, relative to the inbox, "/" separators
    videos: tuple[FileState, ...]  # 0, 1 or more (more = invalid: two videos for one name)
    sidecars: tuple[FileState, ...]
    inflight: str | None           # name of an in-flight sibling (".syncthing.clip.mp4.tmp", ...) or None
    # A symlink under this key's name that is no pair member (a linked folder): never entered,
    # but reported so the person who put it there learns why nothing happens.
    links: tuple[FileState, ...] = ()
    # Another key in the same folder that is this one in a different Unicode normalisation
    # (NFC "café" vs NFD "café"): the two halves of a pair that will never meet.
    twin: str | None = None


EntryKind = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True)
class Entry:
    """One directory entry as the watcher saw it (lstat: symlinks are not followed)."""

    rel: str           # "sub/clip.mp4"
    name: str          # "clip.mp4"
    size: int
    mtime_ns: int
    kind: EntryKind    # file (regular) | dir | symlink | other (FIFO, device, socket)
    inode: int = 0     # lets the watcher recognise a rename inside the inbox


# C0/C1 controls, DEL and the Unicode line/paragraph separators: a name holding one must not
# start a line of its own in an error file, a log or a page.
_NAME_CONTROLS: Final = {c: repr(chr(c))[1:-1] for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]}


def shown_name(name: str) -> str:
    """A file name as the service writes it anywhere (error files, logs, pages, JSON).

    Bytes that are not UTF-8 (kept by Python as lone surrogates, U+DC80..U+DCFF) show as
    `\\xff`, control characters as `\\n`, `\\x1b`: one name is always one line of text.
    """
    if name.isprintable():
        return name   # the common case, cheaply
    out: list[str] = []
    for ch in name:
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:
            out.append(f"\\x{c - 0xDC00:02x}")
        elif 0xD800 <= c <= 0xDFFF:
            out.append(f"\\u{c:04x}")
        else:
            out.append(_NAME_CONTROLS.get(c, ch))
    return "".join(out)


def is_utf8_name(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (decoded with surrogateescape)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_ignored(name: str) -> bool:
    """True for temporary, system and sync-tool names that are never inbox content."""
    if not name or name.startswith(IGNORED_PREFIXES):
        return True
    lower = name.lower()
    if lower in IGNORED_NAMES or lower.startswith(".dropbox"):
        return True
    return lower.endswith(IGNORED_SUFFIXES)


_CLASSIFIED: dict[str, tuple[str, str] | None] = {}   # name -> classify(name), for names in the inbox
_CLASSIFIED_MAX: Final = 1 << 15


def classify(name: str) -> tuple[str, str] | None:
    """("video"|"sidecar", stem) for a pair member's name, else None.

    Memoised (pure; a scan asks it twice per name, every scan). The watcher calls `forget_name`
    when a name leaves the inbox, so thousands of published pairs leave no entries behind.
    """
    try:
        return _CLASSIFIED[name]
    except KeyError:
        pass
    found = _classify(name)
    if len(_CLASSIFIED) >= _CLASSIFIED_MAX:
        _CLASSIFIED.clear()  # a bound in case names leave unseen (a lost mount); refilled by the next scan
    _CLASSIFIED[name] = found
    return found


def forget_name(name: str) -> None:
    """The file `name` left a folder of the inbox: drop its memo entry (another folder may refill it)."""
    _CLASSIFIED.pop(name, None)


def _classify(name: str) -> tuple[str, str] | None:
    """classify() without the memo.

    Extensions match in any letter case (cameras and Windows write `CLIP.MP4`); the stem is
    kept exactly, so `Clip.mp4` and `clip.yaml` are not a pair.
    """
    if is_ignored(name):
        return None
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None
    ext = ext.lower()
    if ext in VIDEO_EXTS:
        return ("video", stem)
    if ext in SIDECAR_EXTS:
        return ("sidecar", stem)
    return None


# In-flight markers: (pattern, tool). Group 1 is the final name the tool is writing.
_INFLIGHT: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"^\.syncthing\.(.+)\.tmp$", re.S), "Syncthing"),
    (re.compile(r"^~syncthing~(.+)\.tmp$", re.S), "Syncthing on Windows"),
    (re.compile(r"^(.+)\.[0-9a-fA-F]{4,}\.partial$", re.S), "rclone 1.75+"),
    (re.compile(r"^(.+)\.partial~$", re.S), "older rclone"),
    (re.compile(r"^(.+)\.partial$", re.S), "partial download"),
    (re.compile(r"^(.+)\.part$", re.S), "Firefox, Transmission"),
    (re.compile(r"^(.+)\.crdownload$", re.S), "Chrome"),
    (re.compile(r"^(.+)\.download$", re.S), "Safari"),
    (re.compile(r"^(.+)\.!sync$", re.S), "Resilio Sync"),
    (re.compile(r"^\.(.+)\.[A-Za-z0-9]{6}$", re.S), "rsync temp file"),
)


# Every _INFLIGHT pattern starts with "." or "~" or ends with one of these: keep them in step.
_INFLIGHT_ENDINGS: Final = (".tmp", ".partial", ".partial~", ".part", ".crdownload", ".download", ".!sync")


def inflight_target(name: str) -> str | None:
    """The final name a sync tool's temporary `name` will become, or None.

    `.syncthing.clip.mp4.tmp` -> `clip.mp4`; `clip.mp4.1a2b3c4d.partial` -> `clip.mp4`;
    `.clip.mp4.Xy12Ab` (rsync) -> `clip.mp4`. Dropbox stages in `.dropbox.cache` and renames
    into place, so it leaves no per-file marker (the folder is ignored and not descended).
    """
    if not name.startswith((".", "~")) and not name.endswith(_INFLIGHT_ENDINGS):
        return None   # the common case, cheaply: a scan of 10,000 pairs asks this 20,000 times
    for pattern, _tool in _INFLIGHT:
        m = pattern.match(name)
        if m and m.group(1):
            return m.group(1)
    return None


def inflight_sibling(stem_with_ext: str, names: Iterable[str]) -> str | None:
    """The first (sorted) in-flight marker among `names` for the final name `stem_with_ext`."""
    found = sorted(n for n in names if n != stem_with_ext and inflight_target(n) == stem_with_ext)
    return found[0] if found else None


@dataclass
class _Track:
    size: int
    mtime_ns: int
    since: float       # when this size+mtime was first observed
    needed: float      # quiet period required for this observation
    confirmed: bool    # observed unchanged at least `needed` after `since`
    # confirmed only by the rename rule: the full settle has not passed yet, so a pair that
    # fails its checks now waits for it instead of being refused (the service decides)
    early: bool = False


class StabilityTracker:
    """Decides when a file is complete from observations the caller makes.

    Fed observations, never stats itself; `now` is a monotonic time. A file is stable once the
    same (size, mtime) was observed at two moments at least `settle_seconds` apart, or
    `quick_seconds` apart when it was renamed into place. `startup=True` means the caller found
    it already older than `settle_seconds` at start-up: it counts at once. Any change restarts
    the wait with the full settle period.

    A file confirmed by the rename rule is `early` until it has also been observed unchanged
    `settle_seconds` after `since`: it stays on `due`/`next_check`/`unconfirmed` until then, so
    the caller looks once more and the snapshot then says early=False. As data:

        renamed in at T, unchanged           -> stable (early) at T + quick; stable at T + settle
        renamed in at T, changed at T2       -> unstable; stable at T2 + settle (full wait)
        written in place (no rename), or a   -> stable at first sight + settle
        new inode of any age (polling)
    """

    def __init__(self, settle_seconds: float, quick_seconds: float) -> None:
        if settle_seconds < 0 or quick_seconds < 0:
            raise ValueError("settle_seconds and quick_seconds must not be negative")
        self.settle_seconds = settle_seconds
        self.quick_seconds = min(quick_seconds, settle_seconds)
        self._tracks: dict[str, _Track] = {}

    def observe(self, rel: str, *, size: int, mtime_ns: int, now: float,
                renamed_in: bool = False, startup: bool = False) -> None:
        t = self._tracks.get(rel)
        if t is None or t.size != size or t.mtime_ns != mtime_ns:
            full = startup or self.settle_seconds <= 0
            early = renamed_in and not full and self.quick_seconds <= 0
            needed = self.quick_seconds if renamed_in else self.settle_seconds
            self._tracks[rel] = _Track(size, mtime_ns, now, needed, full or early, early)
            return
        if renamed_in and not t.confirmed:
            t.needed = min(t.needed, self.quick_seconds)
        if startup or now - t.since >= self.settle_seconds:
            t.confirmed, t.early, t.needed = True, False, self.settle_seconds
        elif not t.confirmed and now - t.since >= t.needed:
            t.confirmed, t.early = True, True   # by the rename rule: early until the full settle

    def forget(self, rel: str) -> None:
        self._tracks.pop(rel, None)

    def is_stable(self, rel: str, now: float) -> bool:
        t = self._tracks.get(rel)
        return t is not None and t.confirmed

    def is_early(self, rel: str) -> bool:
        """Stable only by the rename rule: the full settle period has not passed yet."""
        t = self._tracks.get(rel)
        return t is not None and t.early

    def next_check(self, now: float) -> float | None:
        """The earliest moment an unconfirmed file may be confirmed by observing it again."""
        due = [t.since + (self.settle_seconds if t.early else t.needed)
               for t in self._tracks.values() if not t.confirmed or t.early]
        return min(due) if due else None

    def due(self, now: float) -> list[str]:
        """Unconfirmed files whose quiet period has passed: observe them again now."""
        return sorted(rel for rel, t in self._tracks.items()
                      if (not t.confirmed and now - t.since >= t.needed)
                      or (t.early and now - t.since >= self.settle_seconds))

    def tracked(self) -> list[str]:
        return sorted(self._tracks)

    def unconfirmed(self) -> list[str]:
        """Files still waiting to be confirmed stable, or early (their folders must be looked at again)."""
        return [rel for rel, t in self._tracks.items() if not t.confirmed or t.early]


def _folder_and_name(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


def _key(folder: str, stem: str) -> str:
    return posixpath.join(folder, stem) if folder else stem


def build_snapshots(entries: Iterable[Entry], tracker: StabilityTracker, now: float) -> dict[str, PairSnapshot]:
    """Group entries into pair snapshots keyed by `folder/stem`.

    Entries of ignored names are used only as in-flight markers. A pair exists once one of its
    members exists; markers alone make no pair. Non-regular entries with a member's name are
    included (regular=False / symlink=True) so the service can refuse them, and so is any other
    symlink (`links`: a linked folder is never entered, but it is named). Keys that differ only
    in Unicode normalisation name each other (`twin`).
    """
    videos: dict[str, list[FileState]] = {}
    sidecars: dict[str, list[FileState]] = {}
    markers: dict[str, list[str]] = {}
    links: dict[str, list[FileState]] = {}
    for e in entries:
        folder, _ = _folder_and_name(e.rel)
        target = inflight_target(e.name)
        if target is not None:
            c = classify(target)
            if c is not None:
                markers.setdefault(_key(folder, c[1]), []).append(e.name)
        c = classify(e.name)
        if c is None:
            if e.kind == "symlink" and target is None and not is_ignored(e.name):
                links.setdefault(_key(folder, e.name), []).append(
                    FileState(rel=e.rel, size=e.size, mtime_ns=e.mtime_ns, stable=True, regular=False, symlink=True))
            continue
        kind, stem = c
        state = FileState(
            rel=e.rel,
            size=e.size,
            mtime_ns=e.mtime_ns,
            stable=tracker.is_stable(e.rel, now),
            regular=e.kind == "file",
            symlink=e.kind == "symlink",
            early=tracker.is_early(e.rel),
        )
        (videos if kind == "video" else sidecars).setdefault(_key(folder, stem), []).append(state)
    members = set(videos) | set(sidecars)
    twins = _unicode_twins(members)
    out: dict[str, PairSnapshot] = {}
    for key in sorted(members | set(links)):
        found = markers.get(key)
        out[key] = PairSnapshot(
            key=key,
            videos=tuple(sorted(videos.get(key, ()), key=lambda f: f.rel)),
            sidecars=tuple(sorted(sidecars.get(key, ()), key=lambda f: f.rel)),
            inflight=min(found) if found else None,
            links=tuple(sorted(links.get(key, ()), key=lambda f: f.rel)),
            twin=twins.get(key),
        )
    return out


def _unicode_twins(keys: Iterable[str]) -> dict[str, str]:
    """key -> another key equal to it under NFC (only for keys that have such a twin)."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        if key.isascii():
            continue   # ASCII is its own normal form (the common case, cheaply)
        groups.setdefault(unicodedata.normalize("NFC", key), []).append(key)
    out: dict[str, str] = {}
    for same in groups.values():
        if len(same) > 1:
            same.sort()
            for key in same:
                out[key] = next(k for k in same if k != key)
    return out


def gone(key: str) -> PairSnapshot:
    """The snapshot of a pair whose files are all gone."""
    return PairSnapshot(key=key, videos=(), sidecars=(), inflight=None)


def diff_snapshots(old: Mapping[str, PairSnapshot], new: Mapping[str, PairSnapshot]) -> list[PairSnapshot]:
    """The snapshots to report: changed or new pairs, and a `gone` for each vanished key."""
    changed = [snap for key, snap in new.items() if old.get(key) != snap]
    changed += [gone(key) for key in old if key not in new]
    return sorted(changed, key=lambda s: s.key)
