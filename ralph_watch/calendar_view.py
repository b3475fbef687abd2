"""The calendar of the next days: `at` pairs and every cron queue's slots, per local day. Pure.

* Each day (in the configured zone) lists its `at` (and "now") pairs and, per cron queue,
  its slots with the pair that holds each, or free.
* A queue with more than `DENSE` slots on a day (every hour, every minute) is one line for
  that day: its first slot and the pairs it holds, so `* * * * *` is never 20,160 rows.
* TikTok's cap is per rolling day: a direct post (or a free slot, were a pair put there)
  at t is marked when `daily_posts` direct posts already fall in the day before t, which is
  when the publisher would hold it back for the daily cap.
Slots come from `schedule.cron_slots`, so DST and every other rule are the scheduler's.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from .limits import Limits
from .schedule import cron_slots, parse_cron
from .clock import utc

__all__ = ["Item", "Slot", "QueueDay", "Day", "build", "DENSE", "DAYS", "SHOWN_AT"]

DAYS = 14
DENSE = 12          # more slots than this on one day: one line for the queue that day
SHOWN_HELD = 20     # pairs named on a dense line; the rest are counted
SHOWN_AT = 50       # `at` pairs listed per day; the rest are counted (the status page lists them all)


@dataclass(frozen=True)
class Item:
    """What the calendar needs of a task."""

    id: str
    name: str                   # the video (or pair) name shown
    state: str
    due: datetime | None
    cron_key: str | None = None
    direct: bool = True         # counts toward the daily cap (drafts do not)
    title: str = ""


@dataclass(frozen=True)
class Slot:
    at: datetime                # UTC
    time: str                   # local HH:MM
    item: Item | None           # None: free
    over_cap: bool = False


@dataclass(frozen=True)
class QueueDay:
    line: str                   # the queue's canonical cron line
    slots: tuple[Slot, ...] = ()
    dense: bool = False
    first: str | None = None    # dense: the first slot's local time that day
    held: tuple[Slot, ...] = () # dense: the held slots (at most SHOWN_HELD)
    more_held: int = 0


@dataclass(frozen=True)
class Day:
    day: date
    label: str                  # "Thu 24 Dec 2026"
    items: tuple[Slot, ...] = ()    # at / now pairs (at most SHOWN_AT)
    queues: tuple[QueueDay, ...] = ()
    more_items: int = 0

    @property
    def empty(self) -> bool:
        return not self.items and not self.queues


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return utc(datetime.combine(d, time(0), tzinfo=tz))


def _over(posts: Sequence[datetime], t: datetime, *, limits: Limits) -> bool:
    """`daily_posts` direct posts before t within a day (t's own post not counted)."""
    day = timedelta(seconds=limits.day_seconds)
    lo = bisect.bisect_right(posts, t - day)
    hi = bisect.bisect_left(posts, t)
    return hi - lo >= limits.daily_posts


def _due(item: Item) -> datetime:
    """The due time of an item `build` kept (it keeps only items that have one)."""
    if item.due is None:
        raise ValueError(f"task {item.id} has no due time")
    return item.due


def build(items: Iterable[Item], *, now: datetime, tz: ZoneInfo, limits: Limits, posted: Iterable[datetime] = (),
          days: int = DAYS) -> list[Day]:
    """The next `days` local days from today, with every pair due in them and every queue's slots.
    `posted` are direct posts already made (for the rolling cap)."""
    today = now.astimezone(tz).date()
    dates = [today + timedelta(days=i) for i in range(days)]
    starts = [_midnight(d, tz) for d in dates] + [_midnight(today + timedelta(days=days), tz)]
    start, end = starts[0], starts[-1]
    pending = [i for i in items if i.due is not None and start <= i.due < end]
    pending.sort(key=lambda i: (_due(i), i.name))
    queues = sorted({i.cron_key for i in pending if i.cron_key})
    holders = {(i.cron_key, _due(i)): i for i in pending if i.cron_key}
    posts = sorted([*(p for p in posted if p > now - timedelta(seconds=limits.day_seconds)),
                    *(max(_due(i), now) for i in pending if i.direct)])
    taken: set[str] = set()
    per_day: list[dict[str, QueueDay]] = [{} for _ in dates]
    for line in queues:
        spec = parse_cron(line)
        for n in range(days):
            lo, hi = starts[n], starts[n + 1]
            found: list[datetime] = []
            for slot in cron_slots(spec, lo - timedelta(microseconds=1), tz):  # the whole day decides density
                if slot >= hi or len(found) > DENSE:
                    break
                found.append(slot)
            dense = len(found) > DENSE
            found = [s for s in found if s >= now]  # today's passed slots are not drawn
            held_here = sorted((i for (k, due), i in holders.items() if k == line and lo <= due < hi),
                               key=lambda i: _due(i))
            for i in held_here:
                taken.add(i.id)
            if not found and not held_here:
                continue

            def slot_of(at: datetime, item: Item | None) -> Slot:
                over = _over(posts, max(at, now), limits=limits) if (
                    item is None or item.direct) else False
                return Slot(at=at, time=f"{at.astimezone(tz):%H:%M}", item=item, over_cap=over)

            if dense:
                shown = [slot_of(_due(i), i) for i in held_here[:SHOWN_HELD]]
                per_day[n][line] = QueueDay(line=line, dense=True, first=f"{found[0].astimezone(tz):%H:%M}" if found else None,
                                            held=tuple(shown), more_held=max(0, len(held_here) - SHOWN_HELD))
            else:
                by_at = {_due(i): i for i in held_here}
                ats = sorted(set(found) | set(by_at))
                per_day[n][line] = QueueDay(line=line, slots=tuple(slot_of(a, by_at.get(a)) for a in ats))
    out: list[Day] = []
    for n, d in enumerate(dates):
        lo, hi = starts[n], starts[n + 1]
        own = list(Slot(at=_due(i), time=f"{_due(i).astimezone(tz):%H:%M}", item=i,
                         over_cap=i.direct and _over(posts, max(_due(i), now), limits=limits))
                    for i in pending if i.id not in taken and lo <= _due(i) < hi)
        out.append(Day(day=d, label=f"{d:%a %d %b %Y}", items=tuple(own[:SHOWN_AT]),
                       queues=tuple(per_day[n][k] for k in sorted(per_day[n])), more_items=max(0, len(own) - SHOWN_AT)))
    return out
