"""`upload.max_rate`: a cap on upload bandwidth, so a home connection stays usable.

A token bucket shared by every upload of the process (the cap is for the uplink, not per
video). The bucket itself is pure arithmetic on a monotonic time the caller passes in; the
`Pacer` adapter adds the lock, the clock and the wait. TikTok's upload URL lives one hour
(`tiktok.limits.upload_url_seconds`), so `too_slow` tells `check` and the page, before any byte
is sent, when the cap makes a video too slow to finish in time.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from ralph_watch.clock import Clock

__all__ = ["parse_rate", "format_rate", "TokenBucket", "Pacer", "upload_seconds", "too_slow"]

_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_RATE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]?i?b)\s*/\s*s\s*", re.IGNORECASE)
MIN_RATE = 64 * 1024          # below this every chunk would count as stalled (upload.MIN_UPLOAD_RATE)
BURST_SECONDS = 0.1           # a burst of 0.1 s of the cap keeps the measured rate within ~1 % of it


def parse_rate(text: object) -> float:
    """'8MB/s' -> 8e6 bytes per second. Decimal (kB, MB, GB) and binary (KiB, MiB, GiB) units.
    Raises ValueError with a sentence that says how to write it."""
    how = 'write it like "8MB/s", "500kB/s" or "2MiB/s"'
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"must be a rate with its unit, {how}")
    m = _RATE.fullmatch(text)
    if m is None or m.group(2).lower() not in _UNITS or m.group(2).lower() == "ib":
        raise ValueError(f'"{text}" is not a rate; {how}')
    rate = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if rate < MIN_RATE:
        raise ValueError(f'"{text}" is below {MIN_RATE // 1024} KiB/s, where TikTok\'s upload would count as '
                         "stalled; choose a higher cap or remove upload.max_rate")
    return rate


def format_rate(rate: float) -> str:
    return f"{rate / 1e6:.1f} MB/s" if rate >= 1e6 else f"{rate / 1e3:.0f} kB/s"


@dataclass
class TokenBucket:
    """`rate` bytes per second, at most `burst` bytes ahead. Pure: `now` is monotonic seconds."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    @classmethod
    def start(cls, rate: float, *, now: float, burst: float | None = None) -> "TokenBucket":
        size = burst if burst is not None else max(64 * 1024, rate * BURST_SECONDS)
        return cls(rate=rate, burst=size, tokens=size, stamp=now)

    def reserve(self, n: int, now: float) -> float:
        """Take `n` bytes' worth; returns how many seconds to wait before sending them.
        Debt is allowed (tokens below 0), so a block larger than the burst still goes out at the rate."""
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class Pacer:
    """The process's one bucket, shared by every upload thread. `reserve(n)` books `n` bytes and
    says how long the caller must wait before sending them (the caller waits, so that it can count
    the wait as its own pause and stop waiting when the upload is abandoned)."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._bucket = TokenBucket.start(rate, now=clock.monotonic())

    @property
    def block(self) -> int:
        """A block size that keeps progress smooth under the cap (about 20 blocks a second)."""
        return max(16 * 1024, min(1024 * 1024, int(self.rate / 20)))

    def reserve(self, n: int) -> float:
        with self._lock:
            return self._bucket.reserve(n, self._clock.monotonic())


def upload_seconds(size: int, rate: float | None) -> float | None:
    """How long the upload of `size` bytes takes at the cap alone (None: no cap)."""
    return None if not rate else size / rate


def too_slow(size: int, rate: float | None, *, lifetime: float) -> str | None:
    """A sentence when the cap makes this video's upload outlast TikTok's upload URL, else None.
    A margin of 10 % leaves room for other uploads sharing the cap and for retries."""
    seconds = upload_seconds(size, rate)
    if seconds is None or rate is None or seconds <= lifetime * 0.9:
        return None
    needed = size / (lifetime * 0.9)
    return (f"at upload.max_rate {format_rate(rate)} this {size / 1e6:.0f} MB video takes about "
            f"{seconds / 60:.0f} minutes to upload, but TikTok's upload link lasts "
            f"{lifetime / 60:.0f} minutes; raise upload.max_rate to at least {format_rate(needed)} "
            "or remove it")
