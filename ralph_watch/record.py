"""The one thing ralph-watch writes to disk: a small publish record per pair, and the lock.

TikTok's init has no idempotency key, so right after an init (before the first byte) a
record is written durably (temp file, fsync, rename, fsync dir). While it exists a restart
restores the task's last known state instead of publishing again. It holds no token and no
title: the pair's path, the video's identity, publish_id, a hash of the account's open_id,
mode, init time, the last known outcome, and whether the upload's final bytes started to go out
(with the sent file's device, inode, size and mtime). It lives exactly as long as either file does.

A refused duplicate (a pair whose content already went out) has a record of its own in the
same place, under its pair's name, so it is deleted with the pair like every publish record:
its kind, the pair's path, the refused file's identity and when the original went out; no
init, no account, no title. With `dedupe.remember_days`, `state_dir/published.json` holds
the content hash, size and time of each post of the last days: no name, no title.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from .dedupe import Remembered
from .errors import LockError, RecordError

__all__ = ["Identity", "file_identity", "PublishRecord", "RefusedRecord", "RecordStore", "InstanceLock",
           "account_hash", "OUTCOMES", "REFUSED", "PublishedFile", "identity_of_fd", "stamp_of_fd"]

log = logging.getLogger(__name__)
MIB = 1 << 20
# uploading: init done, bytes may be in flight · processing: last chunk accepted · in_inbox:
# draft delivered · published: PUBLISH_COMPLETE seen · failed: TikTok said FAILED / refused.
OUTCOMES = ("uploading", "processing", "in_inbox", "published", "failed")
REFUSED = "refused_duplicate"   # the `kind` of a refused duplicate's record (publish records have none)


@dataclass(frozen=True)
class Identity:
    """What makes a video "the same video": its size and a hash of its first and last MiB.

    Deliberately not the inode or mtime: sync clients rewrite files (new inode, new mtime)
    with the same content, and that must still count as the same video.

    The hash costs 2 MiB of reads, so it is computed only where it is needed (issue 18): at
    publish time, when content of the same size was claimed or published (the duplicate guard),
    and to match a publish record. Until then `head_tail` is None and the file is told apart by
    its fstat stamp (size, mtime, inode, ctime: a rewrite in place changes the ctime).
    """

    size: int
    mtime_ns: int
    head_tail: str | None = None   # None: not hashed yet
    ino: int | None = None         # None: unknown (an identity read back from a record)
    ctime_ns: int | None = None

    @property
    def hashed(self) -> bool:
        return self.head_tail is not None

    @property
    def digest(self) -> str:
        """The content hash; only asked of a hashed identity (a bug otherwise)."""
        if self.head_tail is None:
            raise ValueError("the content hash of this identity was not computed")
        return self.head_tail

    def same_content(self, other: "Identity | None") -> bool:
        return (other is not None and self.head_tail is not None and self.size == other.size
                and self.head_tail == other.head_tail)

    def same_file(self, other: "Identity | None") -> bool:
        """Still the file that was checked: size and mtime, and inode, ctime and hash where both
        sides know them. This is how a change between validation and publish is noticed."""
        if other is None or (self.size, self.mtime_ns) != (other.size, other.mtime_ns):
            return False
        pairs = ((self.ino, other.ino), (self.ctime_ns, other.ctime_ns), (self.head_tail, other.head_tail))
        return all(a == b for a, b in pairs if a is not None and b is not None)

    @property
    def content_key(self) -> str:
        return f"{self.size}:{self.digest}"

    @property
    def probe_key(self) -> tuple[int, int, int | None, int | None]:
        """validate_pair's probe cache key: the file as fstat sees it, no byte read."""
        return (self.size, self.mtime_ns, self.ino, self.ctime_ns)


def file_identity(path: Path) -> Identity:
    """Identity of a regular file, hashed, read without following symlinks (OSError on failure)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        return identity_of_fd(fd)
    finally:
        os.close(fd)


def stamp_of_fd(fd: int) -> Identity:
    """The file open at `fd` as fstat sees it, not hashed (a FIFO or device is refused)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a pipe, device or folder)")
    return Identity(size=st.st_size, mtime_ns=st.st_mtime_ns, ino=st.st_ino, ctime_ns=st.st_ctime_ns)


def identity_of_fd(fd: int) -> Identity:
    """Identity of the file open at `fd`, hashed (a FIFO or device is refused: never read from)."""
    stamp = stamp_of_fd(fd)
    h = hashlib.sha256()
    h.update(stamp.size.to_bytes(8, "big"))
    h.update(os.pread(fd, MIB, 0))
    if stamp.size > MIB:
        h.update(os.pread(fd, MIB, max(MIB, stamp.size - MIB)))
    return replace(stamp, head_tail=h.hexdigest())


def account_hash(open_id: str) -> str:
    return hashlib.sha256(open_id.encode()).hexdigest()


@dataclass(frozen=True)
class PublishRecord:
    pair: str                 # key relative to the inbox ("sub/clip")
    video: str                # the video's path relative to the inbox
    size: int
    mtime_ns: int
    head_tail: str
    publish_id: str
    account: str              # sha256 of the open_id
    mode: str                 # direct | draft
    init_time: str            # ISO 8601 UTC
    outcome: str              # one of OUTCOMES
    detail: str | None = None # a sentence for failed outcomes
    version: int = 1
    # True once the upload's final bytes started to go out: from then on TikTok may complete it,
    # so a restart waits for TikTok's verdict instead of publishing anew. None: a record from an
    # older version, which did not say; it is read as "may have been sent" (the safe side).
    final_sent: bool | None = None
    # (st_dev, st_ino, st_size, st_mtime_ns) of the descriptor the upload read: a video is only
    # deleted while it is still that file.
    sent_file: tuple[int, int, int, int] | None = None

    @property
    def identity(self) -> Identity:
        return Identity(self.size, self.mtime_ns, self.head_tail)

    @property
    def init_at(self) -> datetime:
        return datetime.fromisoformat(self.init_time)

    def with_outcome(self, outcome: str, detail: str | None = None) -> "PublishRecord":
        return replace(self, outcome=outcome, detail=detail)

    def with_final_sent(self, sent_file: tuple[int, int, int, int]) -> "PublishRecord":
        return replace(self, final_sent=True, sent_file=sent_file)

    @property
    def may_complete(self) -> bool:
        """Whether TikTok may have (or get) every byte: the final bytes went out, or we cannot tell."""
        return self.final_sent is not False


@dataclass(frozen=True)
class RefusedRecord:
    """A pair refused as a duplicate: it stays refused across restarts while it exists. The
    refused file's identity (a new file lifts the refusal), when the original went out."""

    pair: str                 # key relative to the inbox ("sub/clip")
    video: str                # the refused video's path relative to the inbox
    size: int
    mtime_ns: int
    head_tail: str            # the content hash (Identity.head_tail)
    published_at: str         # ISO 8601 UTC: when the original went out
    kind: str = REFUSED       # no init: never settled, never published
    version: int = 1

    @property
    def identity(self) -> Identity:
        return Identity(self.size, self.mtime_ns, self.head_tail)

    @property
    def published(self) -> datetime:
        return datetime.fromisoformat(self.published_at)


def _write_durably(final: Path, tmp: Path, data: bytes, *, what: str) -> None:
    """Temp file, fsync, rename over, fsync the folder: after a crash either the old or the new
    version is there, whole. RecordError naming `what` on failure."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dfd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise RecordError(f"cannot write {what}: {reason}") from exc


class RecordStore:
    """Publish records as one small JSON file each under `state_dir/records/`, or under
    `folder` (an account's own, see record_layout)."""

    def __init__(self, state_dir: Path, *, folder: Path | None = None) -> None:
        self.dir = folder if folder is not None else Path(state_dir) / "records"

    def _path(self, pair: str) -> Path:
        return self.dir / (hashlib.sha256(pair.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")

    def ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(f"cannot create {self.dir}: {exc.strerror}") from exc

    def put(self, rec: PublishRecord | RefusedRecord) -> None:
        """Write durably: temp file, fsync, rename over, fsync the folder."""
        self.ensure_dir()
        final = self._path(rec.pair)
        _write_durably(final, final.with_suffix(f".tmp{os.getpid()}"),
                       json.dumps(asdict(rec), sort_keys=True).encode(),
                       what=f"the publish record in {self.dir}")

    def get(self, pair: str) -> PublishRecord | None:
        try:
            rec = self._read_any(self._path(pair))
        except FileNotFoundError:
            return None
        return rec if isinstance(rec, PublishRecord) else None

    def get_refused(self, pair: str) -> RefusedRecord | None:
        try:
            rec = self._read_any(self._path(pair))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        return rec if isinstance(rec, RefusedRecord) else None

    def delete(self, pair: str) -> None:
        try:
            self._path(pair).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RecordError(f"cannot remove the publish record of {pair}: {exc.strerror}") from exc

    def discard(self, pair: str) -> None:
        """delete(), but a failure is only logged: callers forgetting a record must not fail for it."""
        try:
            self.delete(pair)
        except RecordError as exc:
            log.warning("%s", exc)

    def load_all(self) -> list[PublishRecord]:
        return [r for r in self._load_every() if isinstance(r, PublishRecord)]

    def load_refused(self) -> list[RefusedRecord]:
        return [r for r in self._load_every() if isinstance(r, RefusedRecord)]

    def _load_every(self) -> list[PublishRecord | RefusedRecord]:
        out: list[PublishRecord | RefusedRecord] = []
        if not self.dir.is_dir():
            return out
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(self._read_any(p))
            except (OSError, ValueError, TypeError) as exc:
                log.error("ignoring unreadable publish record %s: %s", p, exc)
        for p in self.dir.glob("*.tmp*"):  # a crash during put(): the old version is still there
            try:
                p.unlink()
            except OSError:
                pass
        return out

    @staticmethod
    def _read(path: Path) -> PublishRecord:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("unknown record format")
        if isinstance(data.get("sent_file"), list):
            data["sent_file"] = tuple(data["sent_file"])
        return PublishRecord(**data)

    @staticmethod
    def _read_any(path: Path) -> PublishRecord | RefusedRecord:
        """A refused duplicate's record, or a publish record (no `kind`: as every record written
        before refused ones existed, so those stay readable)."""
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and data.get("kind") == REFUSED and data.get("version") == 1:
            return RefusedRecord(**data)
        return RecordStore._read(path)


class InstanceLock:
    """One service per state_dir: an flock on `state_dir/ralph-watch.lock` (never in the inbox)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "ralph-watch.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LockError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockError(
                f"another ralph-watch (process {holder}) is already running with state_dir "
                f"{self.path.parent}; stop it first, or give this instance its own state_dir and inbox"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class PublishedFile:
    """`state_dir/published.json`, only with `dedupe.remember_days` > 0: the content that went
    out in the last days, so the duplicate guard remembers it across restarts. Each line is a
    SHA-256, a size and a time; no file name, no title, no account."""

    NAME = "published.json"

    def __init__(self, state_dir: Path, *, path: Path | None = None) -> None:
        self.path = path if path is not None else Path(state_dir) / self.NAME

    def load(self) -> list[Remembered]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.error("ignoring unreadable %s (the duplicate guard starts without it): %s", self.path, exc)
            return []
        try:
            if not isinstance(data, dict) or data.get("version") != 1:
                raise ValueError("unknown format")
            return [Remembered(sha256=str(d["sha256"]), size=int(d["size"]),
                               published_at=datetime.fromisoformat(d["published_at"])) for d in data["published"]]
        except (KeyError, TypeError, ValueError) as exc:
            log.error("ignoring unreadable %s (the duplicate guard starts without it): %s", self.path, exc)
            return []

    def save(self, items: list[Remembered]) -> None:
        """Write durably (temp file, fsync, rename over, fsync the folder); RecordError on failure."""
        body = {"version": 1, "published": [{"sha256": r.sha256, "size": r.size,
                                              "published_at": r.published_at.isoformat()} for r in items]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(f"cannot create {self.path.parent}: {exc.strerror}") from exc
        _write_durably(self.path, self.path.with_name(f".{self.NAME}.tmp{os.getpid()}"),
                       json.dumps(body, sort_keys=True).encode(), what=str(self.path))

    def remove(self) -> bool:
        """Forget it all (`remember_days` back to 0); True when there was a file."""
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.path, exc.strerror)
            return False
