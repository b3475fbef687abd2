"""The files of a pair inside the inbox: opening, deleting, and the NAME.error.txt feedback file.

Error files reach people who only see the synced folder (a phone, a NAS share): they say
what is wrong and how to fix it, and they disappear once the problem is gone.

Every access below the inbox goes through opened directories: each folder is opened with
`O_DIRECTORY | O_NOFOLLOW` relative to its parent's descriptor, files are opened with
`O_NOFOLLOW | O_NONBLOCK` and refused unless `fstat` says regular, and new files are created
with `O_CREAT | O_EXCL | O_NOFOLLOW` at a random name and renamed into place. So a symlink
planted anywhere in the inbox (a folder, a temp name, the error file itself) is never
followed, and a FIFO or device is never opened for reading or blocks a thread.
"""
from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterator

from .inbox import shown_name

__all__ = ["error_file", "write_error_file", "remove_error_file", "delete_files", "resolve", "open_regular",
           "open_in_inbox", "inbox_dir", "open_inbox_dir", "replace_file", "NotRegularFile", "ERROR_FILE_MAX_BYTES"]

log = logging.getLogger(__name__)

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
ERROR_FILE_MAX_BYTES = 256 * 1024   # more than any message we write: a bigger file is not ours to compare


class NotRegularFile(OSError):
    """The name is a FIFO, device, socket or folder: never opened for reading."""

    def __init__(self, name: str, mode: int) -> None:
        kind = ("a folder" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", name)
        self.kind = kind


def resolve(inbox: Path, rel: str) -> Path:
    """The absolute path of an inbox-relative path (which the watcher produced; never '..')."""
    return inbox.joinpath(*_parts(rel))


def _parts(rel: str) -> tuple[str, ...]:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"not a path inside the inbox: {shown_name(rel)!r}")
    return p.parts


def open_regular(name: str | Path, *, dir_fd: int | None = None) -> int:
    """Open a regular file for reading: no symlink followed (ELOOP), nothing else opened.

    An `lstat` first keeps FIFOs and devices from being opened at all (opening some devices
    acts); if the name is swapped in between, the open does not block (a FIFO would wait for a
    writer forever) and `fstat` refuses anything that is not a regular file with `NotRegularFile`.
    """
    first = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISLNK(first.st_mode):
        raise OSError(errno.ELOOP, "a symbolic link (never followed)", str(name))
    if not stat.S_ISREG(first.st_mode):
        raise NotRegularFile(str(name), first.st_mode)
    fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(str(name), st.st_mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)  # regular files ignore it; keep the descriptor ordinary
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_folder(name: str, dir_fd: int | None) -> int:
    return os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)


def open_inbox_dir(inbox: Path, folder: str) -> int:
    """A descriptor of an inbox folder ("" is the inbox), reached without following a symlink
    (ELOOP). The caller closes it. The inbox itself may be a symlink the admin configured;
    nothing below it is followed."""
    fd = os.open(inbox, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in (_parts(folder) if folder else ()):
            sub = _open_folder(part, fd)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def inbox_dir(inbox: Path, folder: str) -> Iterator[int]:
    """`open_inbox_dir` as a context manager."""
    fd = open_inbox_dir(inbox, folder)
    try:
        yield fd
    finally:
        os.close(fd)


def _split(rel: str) -> tuple[str, str]:
    parts = _parts(rel)
    return "/".join(parts[:-1]), parts[-1]


def open_in_inbox(inbox: Path, rel: str) -> int:
    """Open an inbox file for reading (see `open_regular`), walking folders by descriptor."""
    folder, name = _split(rel)
    with inbox_dir(inbox, folder) as dfd:
        return open_regular(name, dir_fd=dfd)


def error_file(inbox: Path, key: str) -> Path:
    return resolve(inbox, key + ".error.txt")


def _read_capped(fd: int, cap: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = os.read(fd, min(65536, cap + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def write_error_file(inbox: Path, key: str, *, video: str | None, state: str, message: str, when: datetime) -> None:
    """Write NAME.error.txt beside the pair (atomically; unchanged text is not rewritten).

    A symlink, FIFO or folder at that name is left alone: it is not ours to replace or read.
    """
    text = (
        f"ralph-watch could not publish {shown_name(video or key)} ({state}).\n\n"
        f"{message}\n\n"
        "Fix the problem (usually by editing the .yaml file next to the video) and this file\n"
        "disappears by itself. Nothing was deleted.\n"
        f"\n-- {when.isoformat(timespec='seconds')}\n"
    )
    data = text.encode("utf-8", "backslashreplace")
    folder, name = _split(key + ".error.txt")
    try:
        with inbox_dir(inbox, folder) as dfd:
            try:
                fd = open_regular(name, dir_fd=dfd)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EINVAL) or isinstance(exc, NotRegularFile):
                    log.warning("not writing the error file of %s: %s is there and is not a regular file (it "
                                "is left as it is)", shown_name(key), shown_name(name))
                    return
                raise
            else:
                try:
                    old = _read_capped(fd, ERROR_FILE_MAX_BYTES)
                finally:
                    os.close(fd)
                if old.split(b"\n-- ")[0] == data.split(b"\n-- ")[0]:
                    return  # same message: don't rewrite (sync clients would upload it again)
            _replace(dfd, name, data)
    except OSError as exc:
        log.warning("cannot write %s: %s", shown_name(key + ".error.txt"), exc.strerror)


def _replace(dfd: int, name: str, data: bytes) -> None:
    """Create `data` at a fresh random name in the folder, then rename it over `name`."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"   # hidden + .tmp: the watcher ignores it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644, dir_fd=dfd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise


def replace_file(folder: Path, name: str, data: bytes) -> None:
    """Write `data` as `folder/name` atomically without following any symlink planted at a
    temp name (`ralph-watch new` writes sidecars with it). OSError on failure."""
    with inbox_dir(folder, "") as dfd:
        _replace(dfd, name, data)


def remove_error_file(inbox: Path, key: str) -> None:
    folder, name = _split(key + ".error.txt")
    try:
        with inbox_dir(inbox, folder) as dfd:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                os.unlink(name, dir_fd=dfd)   # unlink never follows a symlink either
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", shown_name(key + ".error.txt"), exc.strerror)


def delete_files(inbox: Path, rels: list[str | None]) -> list[str]:
    """Delete the given files (missing ones are fine). Returns the problems, one sentence each."""
    problems = []
    for rel in rels:
        if not rel:
            continue
        folder, name = _split(rel)
        try:
            with inbox_dir(inbox, folder) as dfd:
                os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"{shown_name(rel)} could not be deleted ({exc.strerror}); check the folder's permissions")
    return problems
