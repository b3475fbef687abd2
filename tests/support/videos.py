"""Real video files for tests, made with PyAV (`ralph_watch.sample`).

Every helper writes into the folder you give it (usually `tmp_path`) and returns the path.
Encoded videos are cached per test process and copied, so a suite pays for each kind once
(the 70 MB `big_mp4` included). Each copy gets a few unique trailing bytes (an MP4 `free` box,
a WebM `Void` element: both valid and ignored by players), so two clips never share a hash —
the service refuses to publish the same content twice.

    small_mp4(tmp_path)                      # 1 s 360x640 H.264 MP4, 30 fps: valid for TikTok
    small_mp4(tmp_path, "a.mp4", fps=15)     # any make_video() keyword
    mov(tmp_path); webm(tmp_path, codec="vp8"); webm(tmp_path, recorder=True)  # MediaRecorder-like
    big_mp4(tmp_path)                        # > 64,000,000 bytes (multi-chunk uploads)
    padded_mp4(tmp_path, total_bytes=2**31)  # a sparse 2 GiB MP4 that probes fine
    truncated_copy(src, dst, 0.5); not_a_video(path, "png"); sparse_file(path, 4_000_000_001)
"""
from __future__ import annotations

import atexit
import itertools
import os
import shutil
import struct
import tempfile
import threading
import zlib
from pathlib import Path

from ralph_watch.sample import make_padded_mp4, make_video

__all__ = [
    "small_mp4", "mov", "webm", "big_mp4", "padded_mp4", "video", "truncated_copy", "not_a_video",
    "sparse_file", "mp4_boxes", "NOT_A_VIDEO_KINDS",
]

# Small and fast, and inside every TikTok rule (360-4096 px, 23-60 fps, > 0 s).
SMALL = {"seconds": 1, "width": 360, "height": 640, "fps": 30}

_cache_dir: Path | None = None
_cache_lock = threading.Lock()
_serial = itertools.count(1)


def video(folder: Path, name: str = "clip.mp4", *, unique: bool = True, **kw: object) -> Path:
    """`make_video(folder / name, **SMALL | kw)`, from the per-process cache; `unique` tags the copy."""
    options = {**SMALL, **kw}
    dst = Path(folder) / name
    master = _cached(Path(name).suffix.lower() or ".mp4", options)
    shutil.copyfile(master, dst)
    if unique:
        _tag(dst)
    return dst


def small_mp4(tmp_path: Path, name: str = "clip.mp4", **kw: object) -> Path:
    """A small valid H.264 MP4 (1 s, 360x640, 30 fps, AAC tone) unless `kw` says otherwise."""
    return video(tmp_path, name, **kw)


def mov(tmp_path: Path, name: str = "clip.mov", **kw: object) -> Path:
    """A small valid H.264 QuickTime MOV."""
    return video(tmp_path, name, **kw)


def webm(tmp_path: Path, name: str = "clip.webm", *, codec: str = "vp9", **kw: object) -> Path:
    """A small valid VP9 (or `codec="vp8"`) WebM; `recorder=True` for one like a browser's MediaRecorder."""
    return video(tmp_path, name, codec=codec, **kw)


def big_mp4(tmp_path: Path, name: str = "big.mp4", *, min_bytes: int = 70_000_000) -> Path:
    """A valid H.264 MP4 of at least `min_bytes` (random-noise frames; ~1 s to make, then cached)."""
    return video(tmp_path, name, seconds=0, width=720, height=1280, min_bytes=min_bytes, audio=False)


def padded_mp4(tmp_path: Path, name: str = "padded.mp4", *, total_bytes: int) -> Path:
    """A small MP4 grown to exactly `total_bytes` by a sparse trailing `free` box (no disk cost)."""
    return make_padded_mp4(Path(tmp_path) / name, total_bytes=total_bytes)


def truncated_copy(src: Path, dst: Path, fraction: float) -> Path:
    """The first `fraction` of `src` in `dst`: a copy cut off part way (an interrupted upload)."""
    data = Path(src).read_bytes()
    keep = int(len(data) * fraction)
    if not 0 < keep < len(data):
        raise ValueError(f"fraction {fraction} keeps {keep} of {len(data)} bytes: not a truncation")
    Path(dst).write_bytes(data[:keep])
    return Path(dst)


NOT_A_VIDEO_KINDS = ("text", "random", "png", "empty")


def not_a_video(path: Path, kind: str = "text") -> Path:
    """A file under a video's name that is no video: text, random bytes, a PNG image or empty."""
    path = Path(path)
    if kind == "text":
        path.write_text("This is a shopping list, not a video.\nmilk\neggs\n" * 20, encoding="utf-8")
    elif kind == "random":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "png":
        path.write_bytes(_png(4, 4))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(f"unknown kind {kind!r}; use one of {NOT_A_VIDEO_KINDS}")
    return path


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (a hole): for size limits, never read it."""
    with open(path, "wb") as f:
        f.truncate(size)
    return Path(path)


def mp4_boxes(path: Path) -> list[tuple[str, int, int]]:
    """The top-level boxes of an MP4/MOV as (type, offset, size), read independently of probe.py."""
    out = []
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            box, kind = struct.unpack(">I4s", f.read(8))
            if box == 1:
                box = struct.unpack(">Q", f.read(8))[0]
            elif box == 0:
                box = size - pos
            out.append((kind.decode("latin-1"), pos, box))
            pos += box
    return out


def _cached(suffix: str, options: dict) -> Path:
    global _cache_dir
    key = suffix.lstrip(".") + "-" + "-".join(f"{k}={options[k]}" for k in sorted(options))
    with _cache_lock:
        if _cache_dir is None:
            _cache_dir = Path(tempfile.mkdtemp(prefix="ralph-watch-videos-"))
            atexit.register(shutil.rmtree, _cache_dir, True)
        master = _cache_dir / f"{zlib.crc32(key.encode()):08x}{suffix}"
        if not master.exists():
            tmp = master.with_name("tmp-" + master.name)
            make_video(tmp, **options)  # type: ignore[arg-type]
            tmp.rename(master)
    return master


def _tag(path: Path) -> None:
    """Append a few unique bytes the container ignores, so each copy has its own hash."""
    tag = f"ralph-watch test {os.getpid()} {next(_serial)}".encode()
    data = Path(path).read_bytes()[:4]
    with open(path, "ab") as f:
        if data == b"\x1a\x45\xdf\xa3":  # EBML: a Void element (ID 0xEC, 1-byte size)
            f.write(bytes([0xEC, 0x80 | len(tag)]) + tag)
        else:  # MP4/MOV: a free box
            f.write(struct.pack(">I4s", 8 + len(tag), b"free") + tag)


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
