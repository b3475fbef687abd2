"""What is in a video file, read from its container headers, and whether TikTok would take it.

`probe_video` parses the headers in-process: MP4/MOV boxes (`moov/mvhd`, `trak/tkhd`,
`mdia/mdhd/hdlr`, `stbl/stsd/stts`) and WebM/Matroska EBML (`Info`, `Tracks`). It seeks over
the media data, so a 4 GB file costs a few small reads, and 10,000 files take seconds (PyAV
needs ~14 ms a file because it probes frames). It also checks that the container structure
is complete — every box fits in the file — because a copy that was cut off (an interrupted
SMB upload) can look settled and closed. Only when the headers lack the frame rate or
duration (a MediaRecorder WebM, a fragmented MP4) does it ask PyAV; that is the only use of
`av`, and no `av` error leaves this module.

`check_video` compares a `VideoInfo` with TikTok's rules (product.md § Inbox).

Messages are sentences for a person — what is wrong, the measured value, the rule and a fix —
and name no path: the caller prefixes the file (`clip.mp4: ...`), as for `check_video`.
"""
from __future__ import annotations

import errno
import os
import struct
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterator

from .constants import MAX_VIDEO_BYTES
from .errors import ProbeError
from .pairfiles import NotRegularFile, open_regular

__all__ = [
    "VideoInfo",
    "probe_video",
    "check_video",
    "check_size",
    "MAX_BYTES",
    "MIN_FPS",
    "MAX_FPS",
    "MIN_SIDE",
    "MAX_SIDE",
    "CONTAINERS",
    "CODECS",
]

# TikTok's rules (Content Sharing Guidelines; product.md § Inbox).
MAX_BYTES = MAX_VIDEO_BYTES
MIN_FPS, MAX_FPS = 23, 60
MIN_SIDE, MAX_SIDE = 360, 4096
CONTAINERS = ("mp4", "mov", "webm")
CODECS = ("h264", "hevc", "vp8", "vp9")

# Header boxes are small; a moov beyond this is damage, not a video (and would cost memory).
MOOV_CAP = 64 * 1024 * 1024
EBML_CAP = 16 * 1024 * 1024

_REMUX = "re-export it from your editor, or convert it, e.g. `ffmpeg -i in.mov -c:v libx264 -c:a aac out.mp4`"


@dataclass(frozen=True)
class VideoInfo:
    container: str          # "mp4" | "mov" | "webm" | "matroska" (check_video refuses Matroska)
    codec: str              # "h264" | "hevc" | "vp8" | "vp9" | another name ("av1", "mpeg4", a fourcc)
    width: int              # display size in pixels (a 90°/270° rotation matrix swaps them)
    height: int
    fps: float | None       # average frames per second
    duration: float | None  # seconds
    size: int               # bytes


def probe_video(path: Path, *, file: BinaryIO | None = None) -> VideoInfo:
    """Read a video's container headers. Raises `ProbeError` (and nothing else) with a sentence
    a person can act on: empty, not a video, cut off while copying, damaged, unsupported.

    `file`: the video already opened by the caller (the inbox opens it by descriptor); else
    `path` is opened without following a symlink, and only if it is a regular file."""
    path = Path(path)
    try:
        with _open_video(path, file) as f:
            size = _fstat_size(f)
            if size == 0:
                raise ProbeError(
                    "the file is empty (0 bytes): it may still be an online-only placeholder or a copy "
                    "that has not started; wait until it is copied completely, or copy it again")
            info = _probe_open(f, size)
        if info.fps is None or info.duration is None:
            with _open_video(path, file) as f:
                f.seek(0)
                info = _fill_with_av(f, info)
        return info
    except ProbeError:
        raise
    except NotRegularFile as exc:
        raise ProbeError(f"this is {exc.kind}, not a video file; put a video file here under this name") from None
    except FileNotFoundError:
        raise ProbeError("the file disappeared while it was being read; copy it into the inbox again") from None
    except PermissionError:
        raise ProbeError(
            "the file cannot be read: permission denied; make it readable for the user that runs ralph-watch") from None
    except IsADirectoryError:
        raise ProbeError("this is a folder, not a video file; put a video file here under this name") from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise _unreadable(exc) from None
        raise ProbeError("this is a symbolic link; ralph-watch never follows links: put the file itself here") from None
    except MemoryError:
        raise ProbeError(f"the video's headers are too large to read; {_REMUX}") from None
    except (struct.error, ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError) as exc:
        raise ProbeError(f"the video's headers are damaged ({type(exc).__name__}: {exc}); {_REMUX}") from None


def _unreadable(exc: OSError) -> ProbeError:
    return ProbeError(f"the file could not be read ({exc.strerror or exc}); check the disk or share and copy it again")


@contextmanager
def _open_video(path: Path, file: BinaryIO | None) -> Iterator[BinaryIO]:
    """The caller's open file (left open), or `path` opened with O_NOFOLLOW, regular files only
    (a FIFO would block the reader forever)."""
    if file is not None:
        yield file
        return
    with os.fdopen(open_regular(path), "rb") as f:
        yield f


def check_size(size: int) -> str | None:
    """TikTok's size limit, checkable from `stat` alone (before any byte is read)."""
    if size > MAX_BYTES:
        return (f"the video is {size:,} bytes ({size / 1e9:.2f} GB); TikTok accepts at most {MAX_BYTES:,} bytes "
                f"(4 GB): make it smaller, e.g. `ffmpeg -i in.mp4 -c:v libx264 -crf 23 -c:a aac out.mp4`, "
                f"or shorten it")
    return None


def check_video(info: VideoInfo, *, max_duration: float = 600) -> list[str]:
    """Every way `info` breaks TikTok's rules, one sentence each (empty: TikTok should take it).

    `max_duration` is TikTok's 10 minutes, or the creator's `max_video_post_duration_sec`."""
    problems: list[str] = []
    if info.container not in CONTAINERS:
        problems.append(
            f"the video is in a {_container_label(info.container)} container; TikTok accepts MP4, MOV and WebM: "
            f"convert it, e.g. `ffmpeg -i in.mkv -c copy out.mp4` (keeps the picture as it is) "
            f"or `ffmpeg -i in.mkv -c:v libx264 -c:a aac out.mp4`")
    if info.codec not in CODECS:
        problems.append(
            f"the video is encoded with {_codec_label(info.codec)}; TikTok accepts H.264, H.265, VP8 and VP9: "
            f"re-encode it, e.g. `ffmpeg -i in.mp4 -c:v libx264 -c:a aac out.mp4`")
    if info.fps is None:
        problems.append(
            f"the video's frame rate could not be read; TikTok accepts {MIN_FPS} to {MAX_FPS} frames per second: "
            f"re-encode it at a fixed rate, e.g. `ffmpeg -i in.mp4 -r 30 out.mp4`")
    elif not MIN_FPS <= round(info.fps, 1) <= MAX_FPS:
        fix = "-r 30" if info.fps < MIN_FPS else "-r 60"
        problems.append(
            f"the video is {_num(info.fps)} fps; TikTok accepts {MIN_FPS} to {MAX_FPS} frames per second: "
            f"re-encode it, e.g. `ffmpeg -i in.mp4 {fix} out.mp4`")
    small = min(info.width, info.height) < MIN_SIDE
    big = max(info.width, info.height) > MAX_SIDE
    if small or big:
        if big:
            scale = "scale=-2:1920" if info.height >= info.width else "scale=1920:-2"
        else:
            scale = "scale=720:-2" if info.height >= info.width else "scale=-2:720"
        problems.append(
            f"the video is {info.width}×{info.height} pixels; TikTok accepts {MIN_SIDE} to {MAX_SIDE} pixels "
            f"on each side: {'scale it down' if big else 'scale it up'}, e.g. "
            f"`ffmpeg -i in.mp4 -vf {scale} out.mp4`")
    too_big = check_size(info.size)
    if too_big:
        problems.append(too_big)
    if info.duration is None:
        problems.append(f"the video's duration could not be read; {_REMUX}")
    elif info.duration <= 0:
        problems.append(f"the video has no length (0 seconds); {_REMUX}")
    elif info.duration > max_duration + 0.0005:
        limit = _seconds_label(max_duration)
        problems.append(
            f"the video is {_seconds_label(info.duration)} long; the limit here is {limit}: shorten it, e.g. "
            f"`ffmpeg -i in.mp4 -t {_num(max_duration)} -c copy out.mp4`")
    return problems


# --- helpers for messages -------------------------------------------------------------------

def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _seconds_label(s: float) -> str:
    if s < 60:
        return f"{_num(s)} seconds"
    m, rest = divmod(s, 60)
    text = f"{int(m)} minute{'s' if m >= 2 else ''}"
    if rest >= 0.005:
        text += f" {_num(rest)} seconds"
    return f"{text} ({_num(s)} s)"


def _container_label(name: str) -> str:
    return {"matroska": "Matroska (MKV)"}.get(name, name)


def _codec_label(name: str) -> str:
    return {"av1": "AV1", "mpeg4": "MPEG-4 Part 2", "prores": "ProRes", "mjpeg": "Motion JPEG"}.get(name, repr(name))


def _truncated(size: int, claimed: int, where: str = "boxes") -> ProbeError:
    return ProbeError(
        f"the file ends before its container structure does: it is {size:,} bytes but its {where} claim "
        f"{claimed:,} — it was probably cut off while copying; copy it again")


def _damaged(what: str) -> ProbeError:
    return ProbeError(f"the video's container structure is damaged ({what}); {_REMUX}")


def _fstat_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


# --- format detection -----------------------------------------------------------------------

# Box types seen first in MP4/MOV/3GP files (QuickTime files may start with wide/free/mdat).
_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"uuid", b"junk", b"pdin"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def _probe_open(f: BinaryIO, size: int) -> VideoInfo:
    head = f.read(512)
    if head[:4] == _EBML_MAGIC:
        return _probe_ebml(f, size)
    if len(head) >= 8 and head[4:8] in _FIRST_BOXES:
        return _probe_isobmff(f, size)
    raise ProbeError(_not_a_video(head))


def _not_a_video(head: bytes) -> str:
    what = _sniff(head)
    if what.endswith("video"):
        return (f"this is {what}; TikTok accepts MP4, MOV and WebM: convert it, e.g. "
                f"`ffmpeg -i in.avi -c:v libx264 -c:a aac out.mp4`")
    return (f"this is not a video: the file holds {what}; put an MP4, MOV or WebM video under this name "
            f"(export it again if it came from an editor)")


def _sniff(head: bytes) -> str:
    signatures = [
        (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
        (b"OggS", "an Ogg file (audio or Theora video)"), (b"ID3", "an MP3 audio file"),
        (b"fLaC", "a FLAC audio file"), (b"FLV", "an FLV video"), (b"\x00\x00\x01\xba", "an MPEG program stream video"),
        (b"\x00\x00\x01\xb3", "an MPEG-1/2 video"), (b"\x30\x26\xb2\x75", "a Windows Media (ASF/WMV) video"),
    ]
    for magic, what in signatures:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF":
        return {b"AVI ": "an AVI video", b"WAVE": "a WAV audio file", b"WEBP": "a WebP image"}.get(
            head[8:12], "a RIFF file")
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:  # 188-byte packets, each starting 0x47
        return "an MPEG transport stream (.ts) video"
    return _text_or_data(head)


def _text_or_data(head: bytes) -> str:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
        try:
            text = head[:-3].decode("utf-8")  # a multi-byte character cut at the end of the sample
        except UnicodeDecodeError:
            pass
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "text"
    return "data of an unknown kind"


# --- ISO base media (MP4, MOV) --------------------------------------------------------------

_FOURCC_CODECS = {
    b"avc1": "h264", b"avc3": "h264", b"hvc1": "hevc", b"hev1": "hevc", b"vp08": "vp8", b"vp09": "vp9",
    b"av01": "av1", b"mp4v": "mpeg4", b"jpeg": "mjpeg", b"mjpa": "mjpeg",
    b"apch": "prores", b"apcn": "prores", b"apcs": "prores", b"apco": "prores", b"ap4h": "prores", b"ap4x": "prores",
}


def _probe_isobmff(f: BinaryIO, size: int) -> VideoInfo:
    """Walk the top-level boxes (checking each against the file size), then parse `moov`."""
    pos = 0
    moov: bytes | None = None
    brand: bytes | None = None
    media = False  # an mdat (or a movie fragment) seen
    while pos < size:
        kind = b""
        try:
            if size - pos < 8:
                raise _truncated(size, pos + 8, "box headers")
            f.seek(pos)
            header = f.read(16 if size - pos >= 16 else 8)
            box_size, kind = struct.unpack(">I4s", header[:8])
            header_len = 8
            if box_size == 1:  # a 64-bit size follows the type
                if len(header) < 16:
                    raise _truncated(size, pos + 16, "box headers")
                box_size = struct.unpack(">Q", header[8:16])[0]
                header_len = 16
            elif box_size == 0:  # this box runs to the end of the file
                box_size = size - pos
            if box_size < header_len:
                raise _damaged(f"a top-level {_fourcc(kind)} box at byte {pos:,} claims only {box_size} bytes")
            end = pos + box_size
            if end > size:
                raise _truncated(size, end)
        except ProbeError:
            # Bytes that are no box (junk appended by a tool), or a final mdat that claims more than
            # the file holds: complete all the same when the sample table ends inside the file.
            # A copy that was cut off has samples past its end, or no moov yet.
            overrun = kind == b"mdat"
            if moov is None or not (media or overrun) or not _samples_fit(moov, size if overrun else pos):
                raise
            media = True
            break
        if kind == b"ftyp" and brand is None:
            brand = header[8:12] if header_len == 8 and box_size >= 12 else None
        elif kind == b"moov":
            if box_size > MOOV_CAP:
                raise _damaged(f"its moov header box claims {box_size:,} bytes")
            f.seek(pos + header_len)
            moov = f.read(box_size - header_len)
        elif kind in (b"mdat", b"moof"):
            media = True
        pos = end
    if moov is None:
        raise ProbeError(
            "the video has no header box (moov): it was probably cut off while copying (cameras and editors "
            "often write that header last), or it was not finished by the app that made it; copy it again")
    if not media:
        raise ProbeError(
            "the video has no media data (mdat box): it was probably cut off while copying, right after its "
            "header; copy it again")
    container = "mov" if brand == b"qt  " or brand is None else "mp4"
    return _parse_moov(moov, container=container, size=size)


def _samples_fit(moov: bytes, limit: int) -> bool:
    """True when every track's samples (its last chunk: stco/co64 + stsc + stsz) end by byte `limit`."""
    try:
        ends = [_track_samples_end(moov, s, e) for k, s, e in _boxes(moov, 0, len(moov), "moov") if k == b"trak"]
    except (ProbeError, struct.error, IndexError):
        return False
    return bool(ends) and all(end is not None and end <= limit for end in ends)


def _track_samples_end(buf: bytes, start: int, end: int) -> int | None:
    """The byte just past a track's last sample; None when its sample table cannot say."""
    mdia = _child(buf, start, end, b"mdia", "trak")
    minf = _child(buf, mdia[0], mdia[1], b"minf", "mdia") if mdia else None
    stbl = _child(buf, minf[0], minf[1], b"stbl", "minf") if minf else None
    if stbl is None:
        return None
    stsz = _child(buf, stbl[0], stbl[1], b"stsz", "stbl")
    stsc = _child(buf, stbl[0], stbl[1], b"stsc", "stbl")
    stco = _child(buf, stbl[0], stbl[1], b"stco", "stbl")
    co64 = _child(buf, stbl[0], stbl[1], b"co64", "stbl")
    if stsz is None or stsc is None or (stco is None and co64 is None):
        return None
    table, width = (stco, 4) if stco is not None else (co64, 8)
    assert table is not None
    (chunks,) = struct.unpack_from(">I", buf, table[0] + 4)
    if chunks == 0:
        return 0  # no samples: nothing that could be missing
    if table[0] + 8 + width * chunks > table[1]:
        return None
    offsets = struct.unpack_from(f">{chunks}{'I' if width == 4 else 'Q'}", buf, table[0] + 8)
    last = max(range(chunks), key=offsets.__getitem__)  # 0-based index of the chunk that lies furthest
    # stsc: runs of (first_chunk (1-based), samples_per_chunk, description); find the last chunk's samples.
    (runs,) = struct.unpack_from(">I", buf, stsc[0] + 4)
    if runs == 0 or stsc[0] + 8 + 12 * runs > stsc[1]:
        return None
    first_sample = 0
    per_chunk = 0
    for i in range(runs):
        first, per, _ = struct.unpack_from(">III", buf, stsc[0] + 8 + 12 * i)
        upto = struct.unpack_from(">I", buf, stsc[0] + 8 + 12 * (i + 1))[0] if i + 1 < runs else chunks + 1
        if first - 1 <= last < upto - 1:
            first_sample += (last - (first - 1)) * per
            per_chunk = per
            break
        first_sample += (upto - first) * per
    uniform, count = struct.unpack_from(">II", buf, stsz[0] + 4)
    if uniform:
        size = uniform * per_chunk
    else:
        stop = min(first_sample + per_chunk, count)
        if stsz[0] + 12 + 4 * stop > stsz[1]:
            return None
        size = sum(struct.unpack_from(f">{stop - first_sample}I", buf, stsz[0] + 12 + 4 * first_sample)) \
            if stop > first_sample else 0
    return int(offsets[last]) + size


def _fourcc(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def _boxes(buf: bytes, start: int, end: int, where: str) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload_start, payload_end) of each box in buf[start:end], sizes checked."""
    pos = start
    while pos + 8 <= end:
        box_size, kind = struct.unpack_from(">I4s", buf, pos)
        header_len = 8
        if box_size == 1:
            if pos + 16 > end:
                raise _damaged(f"a box inside {where} is cut short")
            box_size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header_len = 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < header_len or pos + box_size > end:
            raise _damaged(f"the {_fourcc(kind)} box inside {where} does not fit")
        yield kind, pos + header_len, pos + box_size
        pos += box_size


def _child(buf: bytes, start: int, end: int, kind: bytes, where: str) -> tuple[int, int] | None:
    for k, s, e in _boxes(buf, start, end, where):
        if k == kind:
            return s, e
    return None


def _parse_moov(buf: bytes, *, container: str, size: int) -> VideoInfo:
    duration: float | None = None
    mvhd = _child(buf, 0, len(buf), b"mvhd", "moov")
    if mvhd:
        timescale, length = _version_times(buf, mvhd)
        if timescale and length and length != 0xFFFFFFFF and length != 0xFFFFFFFFFFFFFFFF:
            duration = length / timescale
    if duration is None:
        # A fragmented MP4 may state its whole length in mvex/mehd (in the movie timescale).
        mvex = _child(buf, 0, len(buf), b"mvex", "moov")
        mehd = _child(buf, mvex[0], mvex[1], b"mehd", "mvex") if mvex else None
        if mvhd and mehd:
            timescale, _ = _version_times(buf, mvhd)
            version = buf[mehd[0]]
            length = struct.unpack_from(">Q" if version == 1 else ">I", buf, mehd[0] + 4)[0]
            if timescale and length:
                duration = length / timescale

    if _child(buf, 0, len(buf), b"cmov", "moov"):
        raise ProbeError(f"the video's header is compressed (an old QuickTime format that is not supported); {_REMUX}")
    for kind, start, end in _boxes(buf, 0, len(buf), "moov"):
        if kind != b"trak":
            continue
        track = _parse_trak(buf, start, end)
        if track is None:
            continue
        codec, width, height, fps, track_duration = track
        return VideoInfo(container=container, codec=codec, width=width, height=height, fps=_round_fps(fps),
                         duration=duration if duration is not None else track_duration, size=size)
    raise ProbeError(
        "the file has no video track (it may hold only sound, or be an image); put a video here under this name")


def _version_times(buf: bytes, box: tuple[int, int]) -> tuple[int, int]:
    """(timescale, duration) of an mvhd/mdhd payload; (0, 0) when it is too short to hold them."""
    at, end = box
    if buf[at] == 1:
        return struct.unpack_from(">IQ", buf, at + 4 + 16) if end - at >= 32 else (0, 0)
    return struct.unpack_from(">II", buf, at + 4 + 8) if end - at >= 20 else (0, 0)


def _parse_trak(buf: bytes, start: int, end: int) -> tuple[str, int, int, float | None, float | None] | None:
    """(codec, width, height, fps, duration) of a video track, None for any other track."""
    mdia = _child(buf, start, end, b"mdia", "trak")
    if mdia is None:
        return None
    hdlr = _child(buf, mdia[0], mdia[1], b"hdlr", "mdia")
    if hdlr is None or buf[hdlr[0] + 8:hdlr[0] + 12] != b"vide":
        return None
    mdhd = _child(buf, mdia[0], mdia[1], b"mdhd", "mdia")
    timescale, media_length = _version_times(buf, mdhd) if mdhd else (0, 0)
    minf = _child(buf, mdia[0], mdia[1], b"minf", "mdia")
    stbl = _child(buf, minf[0], minf[1], b"stbl", "minf") if minf else None
    if stbl is None:
        raise _damaged("the video track has no sample table (stbl)")
    stsd = _child(buf, stbl[0], stbl[1], b"stsd", "stbl")
    if stsd is None or stsd[1] - stsd[0] < 8 + 36:
        raise _damaged("the video track has no sample description (stsd)")
    entry = stsd[0] + 8
    fourcc = buf[entry + 4:entry + 8]
    coded_w, coded_h = struct.unpack_from(">HH", buf, entry + 32)
    codec = _FOURCC_CODECS.get(fourcc, fourcc.decode("latin-1").strip().lower() or "unknown")

    width, height = coded_w, coded_h
    tkhd = _child(buf, start, end, b"tkhd", "trak")
    if tkhd:
        base = tkhd[0] + (52 if buf[tkhd[0]] == 1 else 40)
        if base + 44 <= tkhd[1]:
            a, b = struct.unpack_from(">ii", buf, base)
            tw, th = struct.unpack_from(">II", buf, base + 36)
            if tw >> 16 and th >> 16:  # 16.16 fixed point; zero in some writers' tkhd
                width, height = round(tw / 65536), round(th / 65536)
            if a == 0 and b != 0:  # a 90° or 270° rotation: the picture is shown sideways
                width, height = height, width

    fps: float | None = None
    stts = _child(buf, stbl[0], stbl[1], b"stts", "stbl")
    if stts and timescale:
        (count,) = struct.unpack_from(">I", buf, stts[0] + 4)
        if 8 + 8 * count > stts[1] - stts[0]:
            raise _damaged("the video track's time table (stts) is cut short")
        samples = ticks = 0
        for i in range(count):
            n, delta = struct.unpack_from(">II", buf, stts[0] + 8 + 8 * i)
            samples += n
            ticks += n * delta
        if samples and ticks:
            fps = samples * timescale / ticks
    track_duration = media_length / timescale if timescale and media_length else None
    return codec, width, height, fps, track_duration


# --- EBML (WebM, Matroska) -----------------------------------------------------------------

_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_VOID, _CRC32 = 0xEC, 0xBF
# Elements that may follow a Cluster at the Segment level: they end an unknown-sized Cluster.
_SEGMENT_CHILDREN = {0x114D9B74, _INFO, _TRACKS, _CLUSTER, 0x1C53BB6B, 0x1043A770, 0x1254C367, 0x1941A469,
                     _VOID, _CRC32}
_EBML_CODECS = {
    "V_VP8": "vp8", "V_VP9": "vp9", "V_AV1": "av1", "V_MPEG4/ISO/AVC": "h264", "V_MPEGH/ISO/HEVC": "hevc",
    "V_MPEG4/ISO/SP": "mpeg4", "V_MPEG4/ISO/ASP": "mpeg4", "V_MJPEG": "mjpeg", "V_THEORA": "theora",
    "V_PRORES": "prores",
}
_UNKNOWN = -1


class _Reader:
    """Sequential EBML element reader over a file, checking every size against the file size."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size

    def header(self, pos: int) -> tuple[int, int, int]:
        """(id, data_start, data_size or _UNKNOWN) of the element at `pos`."""
        self.f.seek(pos)
        raw = self.f.read(12)
        if not raw:
            raise _truncated(self.size, pos + 1, "elements")
        id_len = _vint_len(raw[0])
        if id_len > 4:
            raise _damaged(f"an element at byte {pos:,} has an invalid ID")
        size_at = id_len
        if len(raw) < size_at + 1:
            raise _truncated(self.size, pos + size_at + 1, "elements")
        size_len = _vint_len(raw[size_at])
        if size_len > 8:
            raise _damaged(f"an element at byte {pos:,} has an invalid size")
        if len(raw) < size_at + size_len:
            raise _truncated(self.size, pos + size_at + size_len, "elements")
        element_id = int.from_bytes(raw[:id_len], "big")
        value = int.from_bytes(raw[size_at:size_at + size_len], "big")
        value &= (1 << (7 * size_len)) - 1  # drop the length marker bit
        if value == (1 << (7 * size_len)) - 1:
            value = _UNKNOWN  # all ones: the size is unknown (live writers, browser recorders)
        return element_id, pos + size_at + size_len, value

    def body(self, start: int, length: int, cap: int, what: str) -> bytes:
        if length > cap:
            raise _damaged(f"its {what} element claims {length:,} bytes")
        self.f.seek(start)
        return self.f.read(length)


def _vint_len(first: int) -> int:
    """Length of an EBML variable-size integer from its first byte (9 = invalid)."""
    for n in range(8):
        if first & (0x80 >> n):
            return n + 1
    return 9


def _ebml_children(buf: bytes, start: int, end: int, where: str) -> Iterator[tuple[int, int, int]]:
    """(id, data_start, data_end) of each element in buf[start:end]."""
    pos = start
    while pos < end:
        id_len = _vint_len(buf[pos])
        if id_len > 4 or pos + id_len >= end:
            raise _damaged(f"an element inside {where} is malformed")
        size_len = _vint_len(buf[pos + id_len])
        if size_len > 8 or pos + id_len + size_len > end:
            raise _damaged(f"an element inside {where} is malformed")
        element_id = int.from_bytes(buf[pos:pos + id_len], "big")
        length = int.from_bytes(buf[pos + id_len:pos + id_len + size_len], "big") & ((1 << (7 * size_len)) - 1)
        data = pos + id_len + size_len
        if data + length > end:
            raise _damaged(f"an element inside {where} does not fit")
        yield element_id, data, data + length
        pos = data + length


def _uint(buf: bytes, s: int, e: int) -> int:
    return int.from_bytes(buf[s:e], "big")


def _float(buf: bytes, s: int, e: int) -> float:
    if e - s == 4:
        return struct.unpack_from(">f", buf, s)[0]
    if e - s == 8:
        return struct.unpack_from(">d", buf, s)[0]
    return 0.0


def _probe_ebml(f: BinaryIO, size: int) -> VideoInfo:
    r = _Reader(f, size)
    element_id, start, length = r.header(0)
    if length == _UNKNOWN:
        raise _damaged("the EBML header has no size")
    if start + length > size:
        raise _truncated(size, start + length, "elements")
    doc_type = "matroska"
    head = r.body(start, length, 4096, "EBML header")
    for eid, s, e in _ebml_children(head, 0, len(head), "the EBML header"):
        if eid == 0x4282:
            doc_type = head[s:e].rstrip(b"\0").decode("ascii", "replace")
    container = {"webm": "webm", "matroska": "matroska"}.get(doc_type)
    if container is None:
        raise ProbeError(f"this is an EBML file of type {doc_type!r}, not a video; put an MP4, MOV or WebM video "
                         f"under this name")

    # Find the Segment (Void elements may come first).
    pos = start + length
    while True:
        if pos >= size:
            raise ProbeError("the WebM file has no Segment (it holds only a header): it was probably cut off "
                             "while copying; copy it again")
        element_id, seg_start, seg_len = r.header(pos)
        if element_id == _SEGMENT:
            break
        if seg_len == _UNKNOWN:
            raise _damaged("an element of unknown size comes before the Segment")
        pos = seg_start + seg_len
        if pos > size:
            raise _truncated(size, pos, "elements")
    known = seg_len != _UNKNOWN
    seg_end = seg_start + seg_len if known else size
    if seg_end > size:
        raise _truncated(size, seg_end, "elements")

    info: bytes | None = None
    tracks: bytes | None = None
    pos = seg_start
    while pos < seg_end:
        element_id, data, length = r.header(pos)
        if element_id == _INFO and length != _UNKNOWN:
            info = r.body(data, min(length, seg_end - data), EBML_CAP, "Info")
        elif element_id == _TRACKS and length != _UNKNOWN:
            tracks = r.body(data, min(length, seg_end - data), EBML_CAP, "Tracks")
        if known and info is not None and tracks is not None:
            break  # the Segment's own size already proves the file is complete
        if length == _UNKNOWN:
            if element_id != _CLUSTER:
                raise _damaged("an element of unknown size other than a Cluster")
            pos = _skip_open_cluster(r, data, seg_end)
            continue
        pos = data + length
        if pos > seg_end:
            raise _truncated(size, pos, "elements")
    if tracks is None:
        raise ProbeError("the WebM file has no track list (Tracks): it was probably cut off while copying; "
                         "copy it again")
    return _parse_ebml_headers(info, tracks, container=container, size=size)


def _skip_open_cluster(r: _Reader, pos: int, end: int) -> int:
    """Walk the blocks of an unknown-sized Cluster; return where the next Segment child starts."""
    while pos < end:
        element_id, data, length = r.header(pos)
        if element_id in _SEGMENT_CHILDREN and element_id not in (_VOID, _CRC32):
            return pos
        if length == _UNKNOWN:
            raise _damaged("an element of unknown size inside a Cluster")
        pos = data + length
        if pos > end:
            raise _truncated(r.size, pos, "elements")
    return pos


def _parse_ebml_headers(info: bytes | None, tracks: bytes, *, container: str, size: int) -> VideoInfo:
    duration: float | None = None
    if info is not None:
        scale, raw = 1_000_000, 0.0
        for eid, s, e in _ebml_children(info, 0, len(info), "Info"):
            if eid == 0x2AD7B1:
                scale = _uint(info, s, e) or 1_000_000
            elif eid == 0x4489:
                raw = _float(info, s, e)
        if raw > 0:
            duration = raw * scale / 1e9
    for eid, s, e in _ebml_children(tracks, 0, len(tracks), "Tracks"):
        if eid != 0xAE:
            continue
        kind, codec_id, frame_ns, frame_rate, width, height = 0, "", 0, 0.0, 0, 0
        for tid, ts, te in _ebml_children(tracks, s, e, "TrackEntry"):
            if tid == 0x83:
                kind = _uint(tracks, ts, te)
            elif tid == 0x86:
                codec_id = tracks[ts:te].rstrip(b"\0").decode("ascii", "replace")
            elif tid == 0x23E383:
                frame_ns = _uint(tracks, ts, te)
            elif tid == 0xE0:
                for vid, vs, ve in _ebml_children(tracks, ts, te, "Video"):
                    if vid == 0xB0:
                        width = _uint(tracks, vs, ve)
                    elif vid == 0xBA:
                        height = _uint(tracks, vs, ve)
                    elif vid == 0x2383E3:
                        frame_rate = _float(tracks, vs, ve)
        if kind != 1:
            continue
        fps = 1e9 / frame_ns if frame_ns else (frame_rate or None)
        codec = _EBML_CODECS.get(codec_id, codec_id.lower() or "unknown")
        return VideoInfo(container=container, codec=codec, width=width, height=height, fps=_round_fps(fps),
                         duration=duration, size=size)
    raise ProbeError(
        "the file has no video track (it may hold only sound); put a video here under this name")


# --- PyAV, only where the headers are silent ------------------------------------------------

def _fill_with_av(source: BinaryIO, info: VideoInfo) -> VideoInfo:
    """Frame rate and duration from PyAV (a MediaRecorder WebM has neither in its headers)."""
    import av  # imported here: the header parser above needs no FFmpeg

    fps, duration = info.fps, info.duration
    try:
        with av.open(source, metadata_errors="ignore") as c:
            if not c.streams.video:
                raise ProbeError("the file has no video track that FFmpeg can read; " + _REMUX)
            stream = c.streams.video[0]
            if duration is None and c.duration:
                duration = c.duration / 1_000_000
            if duration is None or fps is None:
                # Demux (not decode) the video packets: their timestamps give both. Recorders use
                # millisecond timecodes, so FFmpeg's estimated rate can be off (1000/33 for 30 fps);
                # frames over the span of their timestamps is not.
                frames, first, last, end = 0, None, None, None
                for packet in c.demux(stream):
                    if packet.pts is None:
                        continue
                    frames += 1
                    t = float(packet.pts * packet.time_base)
                    t_end = t + float((packet.duration or 0) * packet.time_base)
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
                    end = t_end if end is None else max(end, t_end)
                if duration is None and first is not None and end is not None and end > first:
                    duration = end - first
                if fps is None and frames > 1 and first is not None and last is not None and last > first:
                    fps = (frames - 1) / (last - first)
            rate = stream.average_rate or stream.guessed_rate
            if fps is None and rate:
                fps = float(rate)
    except ProbeError:
        raise
    except av.FFmpegError as exc:
        raise ProbeError(f"FFmpeg cannot read the video ({exc}); {_REMUX}") from None
    except Exception as exc:  # PyAV surfaces some failures as plain Python errors
        raise ProbeError(f"FFmpeg cannot read the video ({type(exc).__name__}: {exc}); {_REMUX}") from None
    return replace(info, fps=_round_fps(fps), duration=duration)


def _round_fps(fps: float | None) -> float | None:
    """30.0000003 (1e9 / 33,333,333 ns) is 30: three decimals keep 29.97 and 23.976 apart."""
    return None if fps is None else round(fps, 3)
