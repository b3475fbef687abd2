"""Opening and replacing files inside the inbox without ever going through a symlink.

Every path is walked from a file descriptor of the inbox itself, one component at a time with
O_DIRECTORY|O_NOFOLLOW, so a link anywhere on the way (a folder swapped for a link to /etc,
a video replaced by a link) makes the open fail instead of reaching outside. The final file is
opened with O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks the open) and must be a regular file.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo
from .sidecar_edit import EditRefused, new_text
from .strictyaml import SIDECAR_MAX_BYTES

__all__ = ["UnsafePath", "open_dir", "open_regular", "replace_file", "read_limited", "edit_sidecar_file"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafePath(OSError):
    """The path is not a plain file inside the inbox (a link, a folder, a pipe, `..`)."""


def _parts(rel: str) -> list[str]:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"{rel!r} is not a plain path inside the inbox")
    return parts


def open_dir(inbox: Path, rel_dir: list[str]) -> int:
    """An fd of the folder inbox/rel_dir, walked without following links. The caller closes it."""
    fd = os.open(inbox, _DIR_FLAGS)
    try:
        for part in rel_dir:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise UnsafePath(exc.errno, f"{part}: {exc.strerror} (ralph-watch never follows links)") from None
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_regular(inbox: Path, rel: str) -> tuple[int, os.stat_result]:
    """(fd, fstat) of the regular file inbox/rel, opened read-only; never through a link."""
    *dirs, name = _parts(rel)
    dfd = open_dir(inbox, dirs)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
        except OSError as exc:
            raise UnsafePath(exc.errno, f"{rel}: {exc.strerror} (ralph-watch never follows links)") from None
    finally:
        os.close(dfd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePath(f"{rel} is not a regular file")
    return fd, st


def replace_file(inbox: Path, rel: str, data: bytes) -> None:
    """Write `data` as inbox/rel atomically: a new file at a random name in the same folder
    (O_EXCL|O_NOFOLLOW, so nothing existing is ever written through), fsync, then rename over
    the old one and fsync the folder. A reader sees the old text or the new, never a part.
    An existing inbox/rel that is a link or not a regular file is refused, not replaced."""
    *dirs, name = _parts(rel)
    dfd = open_dir(inbox, dirs)
    try:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{rel} is a link or not a regular file; ralph-watch does not replace it")
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"  # a dot name: the watcher ignores it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o644 if st is None else stat.S_IMODE(st.st_mode), dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=dfd)
            raise
        os.close(fd)
        try:
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            os.unlink(tmp, dir_fd=dfd)
            raise
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_limited(inbox: Path, rel: str, limit: int) -> bytes | None:
    """At most `limit` + 1 bytes of the regular file inbox/rel (None when there is none)."""
    try:
        fd, _ = open_regular(inbox, rel)
    except UnsafePath as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    try:
        return os.read(fd, limit + 1)
    finally:
        os.close(fd)


def edit_sidecar_file(inbox: Path, rel: str, form: Mapping[str, str], *, tz: ZoneInfo,
                      defaults: Mapping[str, Any]) -> bool:
    """Apply the page's edit form to the sidecar inbox/rel (written anew when there is none).
    The new text must pass the strict loader and parse_sidecar before it replaces the old;
    raises sidecar_edit.EditRefused otherwise (nothing written). Returns whether it changed."""

    try:
        data = read_limited(inbox, rel, SIDECAR_MAX_BYTES)
    except UnsafePath as exc:
        raise EditRefused([f"{rel} cannot be opened ({exc.strerror or exc}); fix it in the folder"]) from None
    if data is not None and len(data) > SIDECAR_MAX_BYTES:
        raise EditRefused([f"{rel} is larger than {SIDECAR_MAX_BYTES // 1024} KiB; fix it in a text editor"])
    try:
        old = None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        raise EditRefused([f"{rel} is not UTF-8 text; fix it in a text editor"]) from None
    text = new_text(old, form, path=rel, tz=tz, defaults=defaults)
    if text == old:
        return False
    replace_file(inbox, rel, text.encode("utf-8"))
    return True
