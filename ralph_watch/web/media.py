"""Serving a video from the inbox: the HTTP Range decision (pure) and a constant-memory body.

`parse_range` follows RFC 9110 §14 for one range: `bytes=a-b`, `bytes=a-`, `bytes=-n`. A
header it cannot use (another unit, bad syntax, several ranges) is ignored, so the whole
file is sent (200), as the RFC allows; a well-formed range outside the file is 416.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterator

from ..constants import MIME_TYPES

__all__ = ["ByteRange", "Unsatisfiable", "parse_range", "video_type", "FileBody", "BLOCK"]

BLOCK = 256 * 1024  # bytes per read: memory stays at one block whatever the file's size
_ONE = re.compile(r"^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$", re.I)
# The pair kinds, plus two the page may be asked to preview (a stray .m4v or .mkv).
_TYPES = {**{f".{ext}": mime for ext, mime in MIME_TYPES.items()}, ".m4v": "video/mp4", ".mkv": "video/x-matroska"}


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(Exception):
    """A well-formed range that selects no byte of the file: 416 with `bytes */size`."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to send, or None for the whole file; raises Unsatisfiable for 416."""
    if not header:
        return None
    m = _ONE.match(header.strip())
    if m is None:
        return None  # several ranges, another unit or nonsense: the whole file is a valid answer
    first, last = m.group(1), m.group(2)
    if len(first) > 19 or len(last) > 19:
        return None  # beyond any file size: not worth parsing
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax per the RFC: ignored
    if start >= size:
        raise Unsatisfiable(header)
    return ByteRange(start, min(end, size - 1))


def video_type(name: str) -> str:
    """The Content-Type for a video by its container suffix."""
    return _TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


class FileBody:
    """A WSGI body reading `length` bytes from `offset` of an open fd, one block at a time.
    It owns the fd: closed at the end, or by the server's close() when a client goes away."""

    def __init__(self, fd: int, offset: int, length: int, block: int = BLOCK) -> None:
        self.fd, self.offset, self.left, self.block = fd, offset, length, block

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self.left > 0:
                data = os.pread(self.fd, min(self.block, self.left), self.offset)
                if not data:
                    return  # the file shrank meanwhile: the client sees a short body
                self.offset += len(data)
                self.left -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
