"""The preview routes: the Range decision (table), the byte-bounded LRU, thumbnails from real
videos, and /tasks/<id>/video and /thumbnail through WebTest on real files (links refused)."""
from __future__ import annotations


import pytest

from ralph_watch.web.media import ByteRange, Unsatisfiable, parse_range, video_type
from ralph_watch.web.thumbnails import ByteLRU, scaled


@pytest.mark.parametrize("header, size, expected", [
    (None, 100, None),
    ("", 100, None),
    ("bytes=0-", 100, ByteRange(0, 99)),
    ("bytes=0-0", 100, ByteRange(0, 0)),
    ("bytes=10-19", 100, ByteRange(10, 19)),
    ("bytes=90-200", 100, ByteRange(90, 99)),        # the end is clamped to the file
    ("bytes=-10", 100, ByteRange(90, 99)),           # the last ten bytes
    ("bytes=-500", 100, ByteRange(0, 99)),
    ("BYTES = 5 - 6", 100, ByteRange(5, 6)),
    ("bytes=5-4", 100, None),                         # invalid: ignored, whole file
    ("bytes=0-1,5-6", 100, None),                     # several ranges: whole file (allowed)
    ("items=0-1", 100, None),
    ("bytes=-", 100, None),
    ("bytes=x-1", 100, None),
    ("bytes=" + "9" * 30 + "-", 100, None),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header, size", [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100),
                                          ("bytes=0-", 0), ("bytes=-5", 0)])
def test_parse_range_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize("name, ctype", [("a.mp4", "video/mp4"), ("b/A.MOV", "video/quicktime"),
                                         ("c.webm", "video/webm"), ("d.bin", "application/octet-stream")])
def test_video_type(name, ctype):
    assert video_type(name) == ctype


def test_lru_keeps_within_its_byte_budget_and_drops_the_least_recently_used():
    lru: ByteLRU[str] = ByteLRU(max_bytes=10)
    lru.put("a", b"1234")
    lru.put("b", b"1234")
    assert lru.get("a") == b"1234"          # a is now the most recent
    lru.put("c", b"1234")                    # 12 bytes > 10: b goes
    assert lru.keys() == ["a", "c"] and lru.size == 8
    lru.put("huge", b"x" * 11)               # larger than the budget: not kept
    assert lru.get("huge") is None and lru.size == 8
    lru.put("a", b"12")                      # replacing counts the new size only
    assert lru.size == 6
    assert lru.drop_where(lambda k: k == "a") == 1 and lru.keys() == ["c"] and lru.size == 4


@pytest.mark.parametrize("w, h, out", [(1080, 1920, (180, 320)), (1920, 1080, (320, 180)), (200, 100, (200, 100)),
                                       (4096, 360, (320, 28)), (3, 5, (4, 4))])
def test_scaled(w, h, out):
    assert scaled(w, h, 320) == out


