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
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import ProbeError
from .probe_base import _REMUX, VideoInfo, _round_fps
from .probe_mp4 import probe_isobmff
from .probe_webm import probe_ebml
from .media_rules import CODECS, CONTAINERS, MAX_BYTES, MAX_FPS, MAX_SIDE, MIN_FPS, MIN_SIDE, Rule, breaches, size_ok
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

# TikTok's rules live in media_rules (shared with the emulator); re-exported here for callers.


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
    if not size_ok(size):
        return (f"the video is {size:,} bytes ({size / 1e9:.2f} GB); TikTok accepts at most {MAX_BYTES:,} bytes "
                f"(4 GB): make it smaller, e.g. `ffmpeg -i in.mp4 -c:v libx264 -crf 23 -c:a aac out.mp4`, "
                f"or shorten it")
    return None


def check_video(info: VideoInfo, *, max_duration: float = 600) -> list[str]:
    """Every way `info` breaks TikTok's rules (media_rules.breaches), one sentence each (empty:
    TikTok should take it).

    `max_duration` is TikTok's 10 minutes, or the creator's `max_video_post_duration_sec`."""
    return [_BREACH_TEXT[rule](info, max_duration) for rule in breaches(info, max_duration=max_duration)]


def _container_text(info: VideoInfo, _max: float) -> str:
    return (f"the video is in a {_container_label(info.container)} container; TikTok accepts MP4, MOV and WebM: "
            f"convert it, e.g. `ffmpeg -i in.mkv -c copy out.mp4` (keeps the picture as it is) "
            f"or `ffmpeg -i in.mkv -c:v libx264 -c:a aac out.mp4`")


def _codec_text(info: VideoInfo, _max: float) -> str:
    return (f"the video is encoded with {_codec_label(info.codec)}; TikTok accepts H.264, H.265, VP8 and VP9: "
            f"re-encode it, e.g. `ffmpeg -i in.mp4 -c:v libx264 -c:a aac out.mp4`")


def _fps_text(info: VideoInfo, _max: float) -> str:
    if info.fps is None:
        return (f"the video's frame rate could not be read; TikTok accepts {MIN_FPS} to {MAX_FPS} frames per "
                f"second: re-encode it at a fixed rate, e.g. `ffmpeg -i in.mp4 -r 30 out.mp4`")
    fix = "-r 30" if info.fps < MIN_FPS else "-r 60"
    return (f"the video is {_num(info.fps)} fps; TikTok accepts {MIN_FPS} to {MAX_FPS} frames per second: "
            f"re-encode it, e.g. `ffmpeg -i in.mp4 {fix} out.mp4`")


def _sides_text(info: VideoInfo, _max: float) -> str:
    big = max(info.width, info.height) > MAX_SIDE
    if big:
        scale = "scale=-2:1920" if info.height >= info.width else "scale=1920:-2"
    else:
        scale = "scale=720:-2" if info.height >= info.width else "scale=-2:720"
    return (f"the video is {info.width}×{info.height} pixels; TikTok accepts {MIN_SIDE} to {MAX_SIDE} pixels "
            f"on each side: {'scale it down' if big else 'scale it up'}, e.g. "
            f"`ffmpeg -i in.mp4 -vf {scale} out.mp4`")


def _size_text(info: VideoInfo, _max: float) -> str:
    return check_size(info.size) or ""


def _duration_text(info: VideoInfo, max_duration: float) -> str:
    if info.duration is None:
        return f"the video's duration could not be read; {_REMUX}"
    if info.duration <= 0:
        return f"the video has no length (0 seconds); {_REMUX}"
    return (f"the video is {_seconds_label(info.duration)} long; the limit here is {_seconds_label(max_duration)}: "
            f"shorten it, e.g. `ffmpeg -i in.mp4 -t {_num(max_duration)} -c copy out.mp4`")


_BREACH_TEXT = {Rule.CONTAINER: _container_text, Rule.CODEC: _codec_text, Rule.FPS: _fps_text,
                Rule.SIDES: _sides_text, Rule.SIZE: _size_text, Rule.DURATION: _duration_text}


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


def _fstat_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


# --- format detection -----------------------------------------------------------------------

# Box types seen first in MP4/MOV/3GP files (QuickTime files may start with wide/free/mdat).
_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"uuid", b"junk", b"pdin"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def _probe_open(f: BinaryIO, size: int) -> VideoInfo:
    head = f.read(512)
    if head[:4] == _EBML_MAGIC:
        return probe_ebml(f, size)
    if len(head) >= 8 and head[4:8] in _FIRST_BOXES:
        return probe_isobmff(f, size)
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


# --- PyAV, only where the headers are silent ------------------------------------------------

def _fill_with_av(source: BinaryIO, info: VideoInfo) -> VideoInfo:
    """Frame rate and duration from PyAV (a MediaRecorder WebM has neither in its headers)."""
    import av  # imported here: the header parser above needs no FFmpeg

    fps, duration = info.fps, info.duration
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as c:
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
