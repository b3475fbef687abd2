"""The one thing ralph-watch writes to disk: a small publish record per pair, and the lock.

TikTok's init has no idempotency key, so right after an init (before the first byte) a
record is written durably (temp file, fsync, rename, fsync dir). While it exists a restart
restores the task's last known state instead of publishing again. It holds no token and no
title: the pair's path, the video's identity, publish_id, a hash of the account's open_id,
mode, init time, the last known outcome, and whether the upload's final bytes started to go out
(with the sent file's device, inode, size and mtime). It lives exactly as long as either file does.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from .errors import LockError, RecordError

__all__ = ["Identity", "file_identity", "PublishRecord", "RecordStore", "InstanceLock", "account_hash",
           "OUTCOMES"]

log = logging.getLogger(__name__)
MIB = 1 << 20
# uploading: init done, bytes may be in flight · processing: last chunk accepted · in_inbox:
# draft delivered · published: PUBLISH_COMPLETE seen · failed: TikTok said FAILED / refused.
OUTCOMES = ("uploading", "processing", "in_inbox", "published", "failed")


@dataclass(frozen=True)
class Identity:
    """What makes a video "the same video": its size and a hash of its first and last MiB.

    Deliberately not the inode or mtime: sync clients rewrite files (new inode, new mtime)
    with the same content, and that must still count as the same video.
    """

    size: int
    mtime_ns: int
    head_tail: str

    def same_content(self, other: "Identity | None") -> bool:
        return other is not None and self.size == other.size and self.head_tail == other.head_tail

    @property
    def content_key(self) -> str:
        return f"{self.size}:{self.head_tail}"


def file_identity(path: Path) -> Identity:
    """Identity of a regular file, read without following symlinks (OSError on failure)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        h = hashlib.sha256()
        h.update(st.st_size.to_bytes(8, "big"))
        h.update(os.pread(fd, MIB, 0))
        if st.st_size > MIB:
            h.update(os.pread(fd, MIB, max(MIB, st.st_size - MIB)))
        return Identity(size=st.st_size, mtime_ns=st.st_mtime_ns, head_tail=h.hexdigest())
    finally:
        os.close(fd)


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


class RecordStore:
    """Publish records as one small JSON file each under `state_dir/records/`."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "records"

    def _path(self, pair: str) -> Path:
        return self.dir / (hashlib.sha256(pair.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json")

    def ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise RecordError(f"cannot create {self.dir}: {exc.strerror}") from exc

    def put(self, rec: PublishRecord) -> None:
        """Write durably: temp file, fsync, rename over, fsync the folder."""
        self.ensure_dir()
        final = self._path(rec.pair)
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        data = json.dumps(asdict(rec), sort_keys=True).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            dfd = os.open(self.dir, os.O_RDONLY)
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
            raise RecordError(f"cannot write the publish record in {self.dir}: {reason}") from exc

    def get(self, pair: str) -> PublishRecord | None:
        try:
            return self._read(self._path(pair))
        except FileNotFoundError:
            return None

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
        out: list[PublishRecord] = []
        if not self.dir.is_dir():
            return out
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(self._read(p))
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
