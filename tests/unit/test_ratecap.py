"""upload.max_rate: the rate syntax, the token bucket's arithmetic and the "too slow for TikTok's
upload link" sentence, as tables (no threads, no clock)."""
from __future__ import annotations

import pytest

from ralph_watch.tiktok.ratecap import TokenBucket, parse_rate, too_slow, upload_seconds


@pytest.mark.parametrize("text, rate", [
    ("8MB/s", 8e6), ("8 MB/s", 8e6), ("8mb/s", 8e6), ("500kB/s", 5e5), ("500KB/s", 5e5),
    ("2MiB/s", 2 * 1024**2), ("1.5MB/s", 1.5e6), ("1GB/s", 1e9), ("100KiB/s", 100 * 1024),
    (" 8MB / s ", 8e6), ("70000B/s", 70000),
])
def test_it_reads_a_rate_with_decimal_or_binary_units(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("value, says", [
    (8, "must be a rate with its unit"), (True, "must be a rate with its unit"), ("8", "is not a rate"),
    ("8MB", "is not a rate"), ("8 Mbit/s", "is not a rate"), ("fast", "is not a rate"), ("-1MB/s", "is not a rate"),
    ("ib/s", "is not a rate"), ("10kB/s", "below 64 KiB/s"), ("0MB/s", "below 64 KiB/s"),
])
def test_it_refuses_what_is_not_a_usable_rate_with_the_fix(value, says):
    with pytest.raises(ValueError) as info:
        parse_rate(value)
    assert says in str(info.value) and '"8MB/s"' in str(info.value) or "below" in says


@pytest.mark.parametrize("steps, waits", [
    # (bytes, at time) -> seconds to wait; rate 1000 B/s, burst 500 B, full at t=0
    ([(500, 0.0)], [0.0]),                              # the burst goes out at once
    ([(500, 0.0), (500, 0.0)], [0.0, 0.5]),             # then the rate: 500 B take 0.5 s
    ([(500, 0.0), (500, 0.0), (500, 0.0)], [0.0, 0.5, 1.0]),   # debt adds up across callers
    ([(500, 0.0), (500, 0.5)], [0.0, 0.0]),             # refilled by waiting
    ([(500, 0.0), (2000, 10.0)], [0.0, 1.5]),           # refill stops at the burst: idle time is not saved up
    ([(3000, 0.0)], [2.5]),                             # a block larger than the burst still goes at the rate
    ([(100, 5.0), (100, 4.0)], [0.0, 0.0]),             # a clock going backwards refills nothing
])
def test_the_bucket_paces_bytes_to_the_rate(steps, waits):
    bucket = TokenBucket.start(1000.0, now=0.0, burst=500.0)
    assert [pytest.approx(bucket.reserve(n, t)) for n, t in steps] == waits


def test_over_a_long_upload_the_rate_stays_within_one_percent_of_the_cap():
    rate = 8e6
    bucket = TokenBucket.start(rate, now=0.0)
    now, sent = 0.0, 0
    while sent < 200e6:               # 200 MB in 400 kB blocks, each sent when the bucket allows
        now += bucket.reserve(400_000, now)
        sent += 400_000
    assert sent / now == pytest.approx(rate, rel=0.01)


@pytest.mark.parametrize("size, rate, lifetime, warned", [
    (100_000_000, None, 3600, False),           # no cap: never
    (100_000_000, 8e6, 3600, False),            # 12.5 s
    (4_000_000_000, 1e6, 3600, True),           # 4000 s > 3240 s (90 % of an hour)
    (3_240_000_000, 1e6, 3600, False),          # exactly at the margin
    (3_250_000_000, 1e6, 3600, True),
    (10_000_000, 65536, 120, True),             # a shortened lifetime counts
])
def test_it_warns_when_the_cap_outlasts_the_upload_link(size, rate, lifetime, warned):
    sentence = too_slow(size, rate, lifetime=lifetime)
    assert (sentence is not None) is warned
    if sentence:
        assert "upload.max_rate" in sentence and "raise upload.max_rate to at least" in sentence


def test_upload_seconds_is_size_over_rate():
    assert upload_seconds(8_000_000, 8e6) == 1.0 and upload_seconds(1, None) is None
