"""WebM/Matroska (EBML) headers: `Info` and `Tracks`, found by seeking over the clusters."""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

from .errors import ProbeError
from .probe_base import EBML_CAP, VideoInfo, _damaged, _round_fps, _truncated

__all__ = ["probe_ebml"]

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
        return float(struct.unpack_from(">f", buf, s)[0])
    if e - s == 8:
        return float(struct.unpack_from(">d", buf, s)[0])
    return 0.0


def probe_ebml(f: BinaryIO, size: int) -> VideoInfo:
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
