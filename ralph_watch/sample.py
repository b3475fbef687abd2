"""Sample videos made in-process with PyAV: for `demo --sample`, the tests and the benchmarks.

PyAV's wheel carries its own FFmpeg with libx264, libx265, libvpx and AAC/Opus, so no system
package is needed. Encoders run at their fastest presets: these files only have to be valid,
not pretty.
"""
from __future__ import annotations

import math
import random
import struct
from array import array
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av

__all__ = ["make_video", "make_padded_mp4", "CONTAINERS", "CODECS"]

# suffix -> (our container name, FFmpeg muxer)
CONTAINERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}

# our codec name -> (FFmpeg encoder, options that make it fast; `lossless` variant for noise)
CODECS = {
    "h264": ("libx264", {"preset": "ultrafast", "crf": "28"}, {"preset": "ultrafast", "qp": "0"}),
    "hevc": ("libx265", {"preset": "ultrafast", "crf": "30", "x265-params": "log-level=error"},
             {"preset": "ultrafast", "x265-params": "lossless=1:log-level=error"}),
    "vp8": ("libvpx", {"deadline": "realtime", "cpu-used": "16", "b": "1M"},
            {"deadline": "realtime", "cpu-used": "16", "b": "200M", "qmin": "0", "qmax": "0"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "b": "1M", "row-mt": "1"},
            {"deadline": "realtime", "cpu-used": "8", "lossless": "1", "row-mt": "1"}),
}
_ALIASES = {"h265": "hevc", "avc": "h264", "x264": "h264", "x265": "hevc"}

_SAMPLE_RATE = 48_000
_TONE_HZ = 440.0


def make_video(
    path: Path,
    *,
    seconds: float = 3,
    width: int = 720,
    height: int = 1280,
    fps: int = 30,
    codec: str = "h264",
    container: str | None = None,
    noise: bool = False,
    min_bytes: int = 0,
    audio: bool = True,
    faststart: bool = False,
    recorder: bool = False,
) -> Path:
    """Write a real, playable video to `path` and return `path`.

    Defaults: a 3 s vertical 720x1280 H.264 MP4 at 30 fps (moving colour bars and a 440 Hz
    tone), tens of kB. `container` defaults to the suffix (mp4, mov, webm, mkv). `noise`
    fills frames with random pixels, encoded losslessly, so the file is big (about 2 MB a
    720x1280 frame with H.264; 70 MB in well under a second). `min_bytes` implies noise and adds
    frames beyond `seconds` until the encoded video reaches that size: pass `seconds=0` to stop
    as soon as it does.
    `faststart` puts the MP4/MOV `moov` box before the media data (the default is at the end).
    `recorder` (WebM/MKV) writes what a browser's MediaRecorder writes: Segment and Clusters of
    unknown size, no Duration, no Cues, no DefaultDuration — headers that hold no timing.
    """
    path = Path(path)
    name = (container or path.suffix.lstrip(".")).lower()
    if name not in CONTAINERS:
        raise ValueError(f"{path}: unknown container {name!r}; use one of {', '.join(CONTAINERS)}")
    codec = _ALIASES.get(codec.lower(), codec.lower())
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")
    if name == "webm" and codec not in ("vp8", "vp9"):
        raise ValueError(f"WebM holds only VP8/VP9, not {codec}; use container='mkv' for {codec} in Matroska")
    if recorder and name not in ("webm", "mkv"):
        raise ValueError(f"recorder=True makes WebM/MKV files only, not {name}")
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even for 4:2:0 video, not {width}x{height}")
    noise = noise or min_bytes > 0
    encoder, fast, lossless = CODECS[codec]

    options = {"movflags": "faststart"} if faststart and name in ("mp4", "mov") else {}
    # A sink that cannot seek makes the Matroska muxer write a live stream: unknown sizes, no Duration.
    sink = _Unseekable(open(path, "wb")) if recorder else None
    try:
        with av.open(sink or str(path), "w", format=CONTAINERS[name], options=options) as out:
            _encode(out, encoder=encoder, options=lossless if noise else fast, codec=codec, container=name,
                    frames_wanted=max(1, round(seconds * fps)), min_bytes=min_bytes, noise=noise,
                    width=width, height=height, fps=fps, audio=audio)
    finally:
        if sink is not None:
            sink.close()
    if recorder:
        _strip_timing(path)
    return path


def _encode(out: av.container.OutputContainer, *, encoder: str, options: dict[str, str], codec: str,
            container: str, frames_wanted: int, min_bytes: int, noise: bool, width: int, height: int, fps: int,
            audio: bool) -> None:
    video = out.add_stream(encoder, rate=fps)
    if not isinstance(video, av.VideoStream):  # narrows PyAV's union; an encoder name is a video codec here
        raise TypeError(f"{encoder} is not a video encoder")
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.options = dict(options)
    if codec == "hevc" and container in ("mp4", "mov"):
        video.codec_tag = "hvc1"  # what Apple players (and TikTok's docs) expect for H.265
    sound = None
    if audio:
        added = out.add_stream("libopus" if container in ("webm", "mkv") else "aac", rate=_SAMPLE_RATE)
        if not isinstance(added, av.AudioStream):
            raise TypeError("the audio encoder made no audio stream")
        sound = added
        sound.layout = "mono"
    rng = random.Random(12345)  # fixed seed: the same call makes the same file
    encoded = 0
    i = 0
    while i < frames_wanted or encoded < min_bytes:
        frame = _noise_frame(rng, width, height) if noise else _bars_frame(i, width, height, fps)
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        for packet in video.encode(frame):
            encoded += packet.size
            out.mux(packet)
        i += 1
    for packet in video.encode(None):
        out.mux(packet)
    if sound is not None:
        _write_tone(out, sound, i / fps)


def make_padded_mp4(path: Path, *, total_bytes: int, **video: object) -> Path:
    """A valid MP4 grown to exactly `total_bytes` by a trailing `free` box.

    The padding is a hole in a sparse file: a 2 GiB sample costs no disk and no time, and its
    box structure is still complete, so it probes like any finished copy. `video` goes to
    `make_video` (default: a small 1 s 360x640 clip).
    """
    path = Path(path)
    options: dict[str, Any] = {"seconds": 1, "width": 360, "height": 640, "audio": False}
    options.update(video)
    make_video(path, container="mp4", **options)
    base = path.stat().st_size
    pad = total_bytes - base
    if pad < 8:
        raise ValueError(f"total_bytes={total_bytes:,} leaves no room for a free box after the {base:,}-byte video")
    if pad > 0xFFFFFFFF:
        header = struct.pack(">I4sQ", 1, b"free", pad)  # size 1: a 64-bit size follows
    else:
        header = struct.pack(">I4s", pad, b"free")
    with open(path, "r+b") as f:
        f.seek(base)
        f.write(header)
        f.truncate(total_bytes)
    return path


class _Unseekable:
    """A write-only file object with no `seek`, so FFmpeg writes as if to a pipe."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def close(self) -> None:
        self._f.close()


_EBML_SEGMENT, _EBML_TRACKS, _EBML_CLUSTER = 0x18538067, 0x1654AE6B, 0x1F43B675
_EBML_TRACK_ENTRY, _EBML_DEFAULT_DURATION, _EBML_VOID = 0xAE, 0x23E383, 0xEC


def _vint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    """(length, value without marker) of the EBML variable-size integer at `pos`."""
    n = next(i for i in range(8) if buf[pos] & (0x80 >> i)) + 1
    return n, int.from_bytes(buf[pos:pos + n], "big") & ((1 << (7 * n)) - 1)


def _element(buf: bytes | bytearray, pos: int) -> tuple[int, int, int, int]:
    """(id, data start, data size, size-field length) of the element at `pos`."""
    id_len, _ = _vint(buf, pos)
    size_len, size = _vint(buf, pos + id_len)
    return int.from_bytes(buf[pos:pos + id_len], "big"), pos + id_len + size_len, size, size_len


def _strip_timing(path: Path) -> None:
    """Make a live-written WebM look like a MediaRecorder one: every Cluster of unknown size and
    each DefaultDuration turned into a Void element of the same length (the file keeps its size)."""
    buf = bytearray(path.read_bytes())
    _, pos, size, _ = _element(buf, 0)
    pos += size  # past the EBML header
    eid, pos, _, _ = _element(buf, pos)
    assert eid == _EBML_SEGMENT, "expected the Segment after the EBML header"
    while pos < len(buf):
        eid, data, size, size_len = _element(buf, pos)
        if eid == _EBML_CLUSTER:
            # all ones in the size field (keeping its marker bit) means "unknown size"
            buf[data - size_len:data] = ((1 << (7 * size_len + 1)) - 1).to_bytes(size_len, "big")
        elif eid == _EBML_TRACKS:
            entry = data
            while entry < data + size:
                tid, tdata, tsize, _ = _element(buf, entry)
                if tid == _EBML_TRACK_ENTRY:
                    child = tdata
                    while child < tdata + tsize:
                        cid, cdata, csize, _ = _element(buf, child)
                        if cid == _EBML_DEFAULT_DURATION:
                            total = cdata + csize - child  # 3-byte ID + size + value, >= 4
                            buf[child:child + total] = bytes([_EBML_VOID, 0x80 | (total - 2)]) + bytes(total - 2)
                        child = cdata + csize
                entry = tdata + tsize
        pos = data + size
    path.write_bytes(bytes(buf))


# The seven SMPTE-style bars (white, yellow, cyan, green, magenta, red, blue) as BT.601 Y, U, V.
_BARS = [(235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34), (106, 202, 222), (81, 90, 240),
         (41, 240, 110)]
_SHADES = 16  # vertical gradient steps (one translate table each)
_Y_TABLES = [bytes(16 + int((v - 16) * (1 - 0.6 * k / _SHADES)) if v > 16 else v for v in range(256))
             for k in range(_SHADES)]
_C_TABLES = [bytes(128 + int((v - 128) * (1 - 0.6 * k / _SHADES)) for v in range(256)) for k in range(_SHADES)]


def _bars_frame(i: int, width: int, height: int, fps: int) -> av.VideoFrame:
    """Colour bars scrolling sideways, darker towards the bottom, and a white band sweeping down
    once a second. Built plane by plane from bytes (no numpy needed)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    shift = (i * max(2, width // 90)) % width
    band_start = (i % fps) * height // fps
    band_end = band_start + max(2, height // 40)
    for index, plane in enumerate(frame.planes):
        w, h = (width, height) if index == 0 else (width // 2, height // 2)
        cols = bytes(_BARS[(x * len(_BARS)) // w][index] for x in range(w))
        twice = cols + cols
        row = twice[shift * w // width:][:w]
        tables = _Y_TABLES if index == 0 else _C_TABLES
        white = bytes([235 if index == 0 else 128]) * w
        pad = bytes(plane.line_size - w)
        scale = 1 if index == 0 else 2
        rows = []
        for y in range(h):
            if band_start <= y * scale < band_end:
                rows.append(white + pad)
            else:
                rows.append(row.translate(tables[y * _SHADES // h]) + pad)
        plane.update(b"".join(rows))
    return frame


def _noise_frame(rng: random.Random, width: int, height: int) -> av.VideoFrame:
    """Random pixels: nothing for the encoder to predict, so every frame costs its full size."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(rng.randbytes(plane.buffer_size))
    return frame


def _write_tone(out: av.container.OutputContainer, sound: av.AudioStream, seconds: float) -> None:
    ctx = sound.codec_context
    per_frame = ctx.frame_size or 1024
    total = int(seconds * _SAMPLE_RATE)
    step = 2 * math.pi * _TONE_HZ / _SAMPLE_RATE
    t = 0
    while t < total:
        pcm = array("f", (0.2 * math.sin(step * k) for k in range(t, t + per_frame)))
        frame = av.AudioFrame(format="flt", layout="mono", samples=per_frame)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = _SAMPLE_RATE
        frame.pts = t
        frame.time_base = Fraction(1, _SAMPLE_RATE)
        for packet in sound.encode(frame):
            out.mux(packet)
        t += per_frame
    for packet in sound.encode(None):
        out.mux(packet)
