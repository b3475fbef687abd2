"""Client-side rate limits, so ralph-watch stays inside TikTok's limits instead of hitting them.

Sliding windows on the monotonic clock (wall-clock steps must not free or block slots).
TikTok counts per user token: init 6/min (direct and draft share one budget here, the
conservative reading), creator_info 20/min, status 30/min; per creator ~15 direct posts
and 5 pending drafts per rolling 24 h. Thread-safe.
"""
from __future__ import annotations

import threading

from ralph_watch.clock import Clock
from ralph_watch.limits import Limits

__all__ = ["SlidingWindow", "AccountLimiter", "KINDS"]

KINDS = ("init", "creator_info", "status")


class SlidingWindow:
    """At most `limit` events in any `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: list[list[float]] = []   # one mutable cell per event, so a thread can re-date its own
        self._mine = threading.local()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        self._events = [e for e in self._events if e[0] + self.window > now]

    def _wait(self, now: float) -> float:
        self._prune(now)
        if len(self._events) < self.limit:
            return 0.0
        # The slot frees when the oldest event that keeps us at the limit leaves the window.
        times = sorted(e[0] for e in self._events)
        return max(0.0, times[len(times) - self.limit] + self.window - now)

    def wait_time(self) -> float:
        """Seconds until a slot is free (0.0: free now). Takes nothing."""
        with self._lock:
            return self._wait(self._clock.monotonic())

    def try_acquire(self) -> float:
        """0.0 and the slot is taken, or the seconds until one frees (nothing taken)."""
        with self._lock:
            now = self._clock.monotonic()
            wait = self._wait(now)
            if wait == 0.0:
                self._add(now)
            return wait

    def _add(self, when: float) -> None:
        cell = [when]
        self._events.append(cell)
        self._mine.cell = cell

    def reserve(self) -> None:
        """Record an event regardless of the limit (TikTok counted it anyway)."""
        with self._lock:
            self._add(self._clock.monotonic())

    def release(self) -> None:
        """Give back this thread's slot (the request was never sent)."""
        with self._lock:
            cell = getattr(self._mine, "cell", None)
            if cell is not None and any(e is cell for e in self._events):
                self._events = [e for e in self._events if e is not cell]
            elif self._events:
                self._events.pop()
            self._mine.cell = None

    def restamp(self) -> None:
        """Move this thread's event to now: the server counted the request on arrival, after we
        took the slot, so its window frees later than ours would. (Another thread's event is
        left alone: with several workers the newest event is often someone else's.)"""
        with self._lock:
            cell = getattr(self._mine, "cell", None)
            if cell is None:
                if self._events:
                    newest = max(self._events, key=lambda e: e[0])
                    newest[0] = max(newest[0], self._clock.monotonic())
                return
            cell[0] = max(cell[0], self._clock.monotonic())

    def saturate(self) -> None:
        """TikTok said the limit is reached: treat the window as full from now on."""
        with self._lock:
            now = self._clock.monotonic()
            self._prune(now)
            while len(self._events) < self.limit:
                self._events.append([now])
            # Make the newest `limit` events "now", so the wait is a whole window.
            for e in sorted(self._events, key=lambda e: e[0])[-self.limit:]:
                e[0] = now

    def count(self) -> int:
        with self._lock:
            self._prune(self._clock.monotonic())
            return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


class AccountLimiter:
    """The per-account windows: request kinds plus the rolling-day caps."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self._windows = {
            "init": SlidingWindow(limits.init_per_window, limits.window_seconds, clock),
            "creator_info": SlidingWindow(limits.creator_info_per_window, limits.window_seconds, clock),
            "status": SlidingWindow(limits.status_per_window, limits.window_seconds, clock),
        }
        self.daily_posts = SlidingWindow(limits.daily_posts, limits.day_seconds, clock)
        self.pending_drafts = SlidingWindow(limits.pending_drafts, limits.day_seconds, clock)

    def window(self, kind: str) -> SlidingWindow:
        try:
            return self._windows[kind]
        except KeyError:
            raise ValueError(f"unknown limiter kind {kind!r}; known: {', '.join(KINDS)}") from None

    def try_acquire(self, kind: str) -> float:
        return self.window(kind).try_acquire()

    def wait_time(self, kind: str) -> float:
        return self.window(kind).wait_time()

    def release(self, kind: str) -> None:
        self.window(kind).release()

    def saturate(self, kind: str) -> None:
        self.window(kind).saturate()

    def restamp(self, kind: str) -> None:
        self.window(kind).restamp()

    # Rolling-day caps: record after TikTok accepted an init; ask before starting one.
    def record_post(self) -> None:
        self.daily_posts.reserve()

    def post_wait(self) -> float:
        return self.daily_posts.wait_time()

    def record_draft(self) -> None:
        self.pending_drafts.reserve()

    def draft_wait(self) -> float:
        return self.pending_drafts.wait_time()

    def init_wait(self, *, mode: str = "direct") -> float:
        """How long until an init of this mode would be allowed (0.0 = now)."""
        cap = self.post_wait() if mode == "direct" else self.draft_wait()
        return max(cap, self.wait_time("init"))
