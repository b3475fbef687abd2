"""MP4/MOV (ISO base media) headers: `moov/mvhd`, `trak/tkhd`, `mdia/mdhd/hdlr`, `stbl/stsd/stts`,
and whether every sample the tables name lies inside the file."""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

from .errors import ProbeError
from .probe_base import _REMUX, MOOV_CAP, VideoInfo, _damaged, _round_fps, _truncated

__all__ = ["probe_isobmff"]

_FOURCC_CODECS = {
    b"avc1": "h264", b"avc3": "h264", b"hvc1": "hevc", b"hev1": "hevc", b"vp08": "vp8", b"vp09": "vp9",
    b"av01": "av1", b"mp4v": "mpeg4", b"jpeg": "mjpeg", b"mjpa": "mjpeg",
    b"apch": "prores", b"apcn": "prores", b"apcs": "prores", b"apco": "prores", b"ap4h": "prores", b"ap4x": "prores",
}


def probe_isobmff(f: BinaryIO, size: int) -> VideoInfo:
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
    size: int
    if uniform:
        size = int(uniform) * int(per_chunk)
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
