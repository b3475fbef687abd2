"""Thumbnails for the page: one JPEG of the cover frame, made in memory on the first request.

`ByteLRU` (pure) keeps them within a byte budget. `make_thumbnail` decodes the frame at
`cover_ms` (else the first) with PyAV from a file object the caller opened (never a path, so
the open is the caller's O_NOFOLLOW one), scales it to `long_side` pixels on its longer side
and encodes it with FFmpeg's MJPEG encoder: nothing is written to disk, and no imaging
library is needed.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from fractions import Fraction
from typing import BinaryIO, Callable, Generic, Hashable, TypeVar

__all__ = ["ByteLRU", "make_thumbnail", "ThumbnailError", "LONG_SIDE", "CACHE_BYTES"]

LONG_SIDE = 320
CACHE_BYTES = 20 * 1024 * 1024
K = TypeVar("K", bound=Hashable)


class ThumbnailError(Exception):
    """The video has no frame FFmpeg can decode; `str()` is a sentence for the page."""


class ByteLRU(Generic[K]):
    """A thread-safe LRU of byte strings whose total size stays within `max_bytes`.
    An item larger than the whole budget is not kept at all."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[K, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: K, data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            if len(data) > self.max_bytes:
                return
            self._items[key] = data
            self.size += len(data)
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def drop_where(self, pred: Callable[[K], bool]) -> int:
        """Drop every item whose key matches; returns how many went."""
        with self._lock:
            gone = [k for k in self._items if pred(k)]
            for k in gone:
                self.size -= len(self._items.pop(k))
            return len(gone)

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._items)


def scaled(width: int, height: int, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """(w, h) with the longer side at most `long_side`, the aspect kept, both even and >= 2."""
    scale = min(1.0, long_side / max(width, height, 1))
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def make_thumbnail(f: BinaryIO, *, cover_ms: int = 0, long_side: int = LONG_SIDE, quality: int = 5) -> bytes:
    """A JPEG of the frame shown at `cover_ms` (the last frame when the video is shorter)."""
    import av  # the page imports without FFmpeg; only a thumbnail needs it

    try:
        with av.open(f, mode="r", metadata_errors="ignore") as c:
            if not c.streams.video:
                raise ThumbnailError("the file has no video track")
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            base = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            target = base + max(0, cover_ms) / 1000
            if cover_ms > 0 and stream.time_base:
                # The keyframe at or before the cover, then decode forward to it.
                c.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            frame = None
            for candidate in c.decode(stream):
                frame = candidate
                if candidate.time is None or candidate.time + 0.0005 >= target:
                    break
            if frame is None:
                raise ThumbnailError("FFmpeg found no frame to show")
            w, h = scaled(frame.width, frame.height, long_side)
            small = frame.reformat(width=w, height=h, format="yuvj420p")
            enc = av.CodecContext.create("mjpeg", "w")
            enc.width, enc.height, enc.pix_fmt = w, h, "yuvj420p"
            enc.time_base = Fraction(1, 25)
            enc.options = {"q:v": str(quality)}
            small.pts = 0
            packets = list(enc.encode(small)) + list(enc.encode(None))
            data = b"".join(bytes(p) for p in packets)
    except ThumbnailError:
        raise
    except av.FFmpegError as exc:
        raise ThumbnailError(f"FFmpeg cannot read the video ({exc})") from None
    except Exception as exc:  # PyAV raises plain Python errors for some broken files
        raise ThumbnailError(f"FFmpeg cannot read the video ({type(exc).__name__}: {exc})") from None
    if not data.startswith(b"\xff\xd8"):
        raise ThumbnailError("FFmpeg did not produce a JPEG")
    return data
