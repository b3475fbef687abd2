"""When a long upload deserves a log line and what it says. Pure: the caller passes the time."""
from __future__ import annotations

from typing import Callable

__all__ = ["ProgressLog", "progress_reporter", "PROGRESS_STEP", "PROGRESS_SECONDS", "PROGRESS_MIN_BYTES"]

PROGRESS_STEP = 0.10            # a progress line at every 10 % of a long upload ...
PROGRESS_SECONDS = 10.0         # ... and at least every 10 s while it lasts
PROGRESS_MIN_BYTES = 8_000_000  # smaller uploads take a moment: no progress lines


class ProgressLog:
    """When an upload deserves a log line and what it says: percent, megabytes, MB/s.
    Pure: the caller passes monotonic seconds."""

    def __init__(self, *, total: int, first: int = 0, started: float) -> None:
        self.total = total
        self.first = first          # an upload resumed by TikTok's 416 starts past 0
        self.started = started
        self.logged_at = started
        self.step = 0               # the last 10 % step logged
        self.done = False

    def line(self, sent: int, now: float) -> str | None:
        if self.done or self.total <= 0:
            return None
        step = int(sent / self.total / PROGRESS_STEP + 1e-9)
        big = self.total >= PROGRESS_MIN_BYTES
        due = (big and step > self.step) or now - self.logged_at >= PROGRESS_SECONDS
        if sent >= self.total:
            due = big or self.logged_at != self.started  # close what was opened
            self.done = True
        if not due:
            return None
        self.step = max(self.step, step)
        self.logged_at = now
        elapsed = max(now - self.started, 1e-6)
        rate = (sent - self.first) / elapsed / 1e6
        return (f"{sent * 100 // self.total}% ({sent / 1e6:.1f} of {self.total / 1e6:.1f} MB) "
                f"at {rate:.2f} MB/s")


def progress_reporter(update: Callable[[float, int], None], monotonic: Callable[[], float],
                      say: Callable[[str], None]) -> Callable[[int, int], None]:
    """The client's `progress(sent, total)`: `update(fraction, bytes)` at every 1 % (and at the
    end), `say(line)` when `ProgressLog` gives a line."""
    last = [0.0]
    lines: list[ProgressLog] = []

    def report(sent: int, total: int) -> None:
        frac = sent / total if total else 1.0
        if frac - last[0] >= 0.01 or sent >= total:
            last[0] = frac
            update(round(frac, 4), int(sent))
        if not lines:
            lines.append(ProgressLog(total=total, first=sent, started=monotonic()))
        line = lines[0].line(sent, monotonic())
        if line:
            say(line)
    return report
