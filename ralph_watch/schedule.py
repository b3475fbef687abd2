"""When a pair is published: exact `at` times, cron queues, DST, lateness and TikTok's caps.

Pure: no clock reads, no threads, no I/O. Every instant in and out is an aware datetime;
instants come back in UTC. Wall-clock reasoning happens only on naive local datetimes,
because aware arithmetic in Python is wall-clock arithmetic and resets `fold`.

Cron lines and their DST rules are in `cron.py` (re-exported here).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Collection, Iterable, Iterator, Mapping, NoReturn, Sequence
from zoneinfo import ZoneInfo

from .cron import (
    CronSpec,
    _exists,
    _first,
    _local_text,
    _valid_minute,
    cron_slots,
    describe_slots,
    parse_cron,
)
from .limits import Limits

__all__ = [
    "parse_at",
    "CronSpec",
    "parse_cron",
    "cron_slots",
    "describe_slots",
    "CronQueues",
    "Settled",
    "Lateness",
    "ON_TIME",
    "late_decision",
    "at_verdict",
    "Due",
    "due_decision",
    "quota_warnings",
]


UTC = timezone.utc
_MINUTE = timedelta(minutes=1)
_EXAMPLE_AT = '"2026-12-24 18:00"'
ON_TIME = timedelta(minutes=1)  # a slot this recent is on time, not late (scheduler latency)


# ---------------------------------------------------------------------------------- at

_AT_RE = re.compile(
    r"""^(?P<date>\d{4}-\d{2}-\d{2})
        [Tt\ ]
        (?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?
        \s*(?P<off>[Zz]|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE,
)
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_TIME_ONLY_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")


def _at_problem(text: str, what: str, example: str = _EXAMPLE_AT) -> ValueError:
    return ValueError(f'at: "{text}" {what}; write the date and time, e.g. at: {example}')


def parse_at(text: object, tz: ZoneInfo) -> datetime:
    """The instant an `at:` value names, as an aware UTC datetime.

    Accepts `YYYY-MM-DD HH:MM` ('T' or space, seconds optional) with an optional offset
    (`+01:00`, `+0100`, `+01`, `Z`): with an offset it is that instant; without, it is wall
    time in `tz`. An ambiguous wall time (fall-back) means its first occurrence; one that
    does not exist (spring-forward gap) is an error naming the nearest valid times.
    Everything else (a date alone, a time alone, a YAML 1.1 sexagesimal number such as
    1080 for an unquoted 18:00) is a ValueError whose sentence says what to write instead.
    """
    if isinstance(text, datetime):  # a YAML loader that reads timestamps itself
        shown = f"{text:%Y-%m-%d %H:%M:%S}"
        try:
            if text.tzinfo is not None:
                return text.astimezone(UTC)
            return _wall_at(text, tz, shown)
        except OverflowError:
            raise _out_of_range(shown) from None
    if isinstance(text, date):
        return _fail_date_only(text.isoformat())
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(
            f"at: {text!r} is not a date and time; write the date and time in quotes, e.g. at: {_EXAMPLE_AT}"
        )
    if isinstance(text, (int, float)):
        hint = ""
        if isinstance(text, int) and 0 <= text < 24 * 60:
            hint = f" (YAML 1.1 reads an unquoted {text // 60}:{text % 60:02d} as the number {text})"
        raise ValueError(
            f"at: {text} is a number, not a date and time{hint}; write the date and time "
            f"in quotes, e.g. at: {_EXAMPLE_AT}"
        )
    raw = text.strip()
    if _DATE_ONLY_RE.match(raw):
        return _fail_date_only(raw)
    bare = _TIME_ONLY_RE.match(raw)
    if bare:
        example = f'"2026-12-24 {int(bare.group(1)):02d}:{bare.group(2)}"'
        raise ValueError(f'at: "{raw}" is a time without a date; write the date too, e.g. at: {example}')
    found = _AT_RE.match(raw)
    if not found:
        raise _at_problem(
            raw,
            'is not a date and time in the form "YYYY-MM-DD HH:MM" (seconds and an offset '
            "such as +01:00 or Z are optional)",
        )
    try:
        year, month, day = (int(p) for p in found["date"].split("-"))
        wall = datetime(year, month, day, int(found["h"]), int(found["m"]), int(found["s"] or 0))
    except ValueError as exc:
        raise _at_problem(raw, f"is not a real date and time ({exc})") from None
    off = found["off"]
    try:  # the first and last days of datetime's range cannot be moved between zones
        return _instant(wall, off, tz, raw)
    except OverflowError:
        raise _out_of_range(raw) from None


def _out_of_range(raw: str) -> ValueError:
    return _at_problem(raw, "is too close to the year 1 or the year 9999 to be converted between time zones")


def _instant(wall: datetime, off: str | None, tz: ZoneInfo, raw: str) -> datetime:
    """The instant of a naive `wall` read with the offset text `off` (None: wall time in `tz`)."""
    if off is None:
        return _wall_at(wall, tz, raw)
    if off in ("Z", "z"):
        offset = timedelta(0)
    else:
        digits = off[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise _at_problem(raw, f"has an impossible offset {off}")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if off[0] == "-" else 1)
    return wall.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _fail_date_only(text: str) -> NoReturn:
    raise ValueError(f'at: "{text}" is a date without a time; write the time too, e.g. at: "{text} 18:00"')


def _wall_at(wall: datetime, tz: ZoneInfo, raw: str) -> datetime:
    """A naive wall time in `tz` -> its first instant, or the gap error."""
    if _exists(wall, tz):
        return _first(wall, tz)
    before = _valid_minute(wall, tz, step=-1)
    after = _valid_minute(wall, tz, step=+1)
    jump_from = before + _MINUTE
    raise ValueError(
        f'at: "{raw}" does not exist in {tz.key}: clocks jump from {jump_from:%H:%M} to '
        f"{after:%H:%M} that night. The nearest valid times are "
        f'"{_local_text(_first(before, tz), tz)}" and "{_local_text(_first(after, tz), tz)}"; '
        "write one of them"
    )


# ------------------------------------------------------------------------------ queues


@dataclass(frozen=True)
class Settled:
    """What `CronQueues.settle` decided: pairs that may start now, pairs given new slots."""

    due: tuple[str, ...] = ()
    moved: Mapping[str, datetime] = field(default_factory=dict)


class CronQueues:
    """Slots per canonical cron line; one pair per slot.

    * Start-up: the pairs of a queue take its slots from now on, in file-name order
      (code-point order of the relative path: the service assigns them in that order).
    * A pair keeps its slot while the process runs (`assign` again returns it); a later
      pair takes the earliest free slot from now on.
    * A slot freed by `release` is free again only while it is in the future: a slot
      released at or after it passed is spent and never handed out again, even if the
      wall clock is later stepped back.
    * No bursts (`settle`): of the pairs of one queue whose slots have passed, the one with
      the earliest slot still within the grace may publish late; every other passed pair
      moves to the next free slots after now, keeping its order. Pairs whose slot just
      came (within `on_time`) are not late and always may start.
    Not thread-safe (the service holds its lock); time is always an argument.
    """

    def __init__(self) -> None:
        self._slot: dict[str, tuple[str, datetime]] = {}   # pair -> (key, slot)
        self._spec: dict[str, CronSpec] = {}
        self._taken: dict[str, dict[datetime, str]] = {}   # key -> slot -> pair
        self._spent: dict[str, set[datetime]] = {}         # key -> slots used or given up
        self._tz: dict[str, ZoneInfo] = {}                 # key -> zone its slots were made in

    # -- queries
    def slot_of(self, pair: str) -> datetime | None:
        held = self._slot.get(pair)
        return held[1] if held else None

    def pairs(self) -> dict[str, datetime]:
        """Every pair with its slot."""
        return {pair: slot for pair, (_key, slot) in self._slot.items()}

    # -- changes
    def assign(self, pair: str, spec: CronSpec, *, now: datetime, tz: ZoneInfo) -> datetime:
        """The pair's slot: the one it holds in this queue, else the earliest free one from now."""
        held = self._slot.get(pair)
        if held and held[0] == spec.key:
            return held[1]
        if held:
            self.release(pair, now=now)
        self._prune(now)
        return self._take(pair, spec, cron_slots(spec, now - timedelta(microseconds=1), tz), tz)

    def release(self, pair: str, *, now: datetime | None = None) -> None:
        """Forget the pair (published, cancelled, removed, or its sidecar changed).

        With `now`, a slot that has already come is marked spent so it is never reused.
        """
        held = self._slot.pop(pair, None)
        self._spec.pop(pair, None)
        if held is None:
            return
        key, slot = held
        self._taken.get(key, {}).pop(slot, None)
        if now is not None and slot <= now:
            self._spent.setdefault(key, set()).add(slot)

    def advance(self, pair: str, *, now: datetime, tz: ZoneInfo) -> datetime:
        """The pair gives up its slot (passed beyond the grace, or a failed try) and takes the
        next free slot strictly after both now and its old slot."""
        held = self._slot.get(pair)
        if held is None:
            raise KeyError(f"{pair} holds no cron slot; assign it first")
        spec = self._spec[pair]
        after = max(now, held[1])
        self.release(pair, now=now)
        return self._take(pair, spec, cron_slots(spec, after, tz), tz)

    def settle(
        self,
        *,
        now: datetime,
        grace: timedelta,
        tz: ZoneInfo,
        busy: Collection[str] = (),
        on_time: timedelta = ON_TIME,
    ) -> Settled:
        """Decide, for every queue, which pairs with a passed slot may start now.

        Call it when publishing can start (not while paused or logged out: passed slots
        simply wait and are settled on resume). `busy` are pairs already publishing; they
        are left alone. Per queue:
        * a pair whose slot came within `on_time` is on time and may start;
        * at most one pair per queue publishes late at a time: the waiting pair with the
          earliest slot still within `grace`, and none while a busy pair of that queue
          is itself late;
        * every other passed pair takes the next free slot after now, in slot order.
        So slots that passed while paused give one late publish per queue, not a burst.
        """
        due: list[str] = []
        moved: dict[str, datetime] = {}
        for key, taken in sorted(self._taken.items()):
            passed = sorted((slot, pair) for slot, pair in taken.items() if slot <= now)
            late_taken = any(
                pair in busy and late_decision(slot, now, grace, on_time=on_time) is not Lateness.NOW
                for slot, pair in passed
            )
            for slot, pair in passed:
                if pair in busy:
                    continue
                decision = late_decision(slot, now, grace, on_time=on_time)
                if decision is Lateness.NOW:
                    due.append(pair)
                elif decision is Lateness.LATE and not late_taken:
                    late_taken = True
                    due.append(pair)
                else:
                    moved[pair] = self.advance(pair, now=now, tz=self._tz.get(key, tz))
        return Settled(due=tuple(due), moved=moved)

    # -- internals
    def _take(self, pair: str, spec: CronSpec, slots: Iterator[datetime], tz: ZoneInfo) -> datetime:
        taken = self._taken.setdefault(spec.key, {})
        spent = self._spent.get(spec.key, set())
        for slot in slots:
            if slot not in taken and slot not in spent:
                taken[slot] = pair
                self._slot[pair] = (spec.key, slot)
                self._spec[pair] = spec
                self._tz[spec.key] = tz
                return slot
        raise AssertionError("cron slots never end")  # pragma: no cover

    def _prune(self, now: datetime) -> None:
        """Spent slots matter only near now (a clock stepped back); forget old ones."""
        horizon = now - timedelta(days=7)
        for spent in self._spent.values():
            spent.difference_update({slot for slot in spent if slot < horizon})


# --------------------------------------------------------------------------- lateness


class Lateness(str, enum.Enum):
    WAIT = "wait"            # not due yet
    NOW = "now"              # due, on time
    LATE = "late"            # passed, still within the grace: publish now, late
    TOO_LATE = "too_late"    # beyond the grace: `at` -> missed, cron -> next free slot


def late_decision(due: datetime, now: datetime, grace: timedelta, *, on_time: timedelta = ON_TIME) -> Lateness:
    """What to do with something due at `due`, at `now`, given the late grace."""
    behind = now - due
    if behind < timedelta(0):
        return Lateness.WAIT
    if behind <= on_time:
        return Lateness.NOW
    if behind <= grace:
        return Lateness.LATE
    return Lateness.TOO_LATE


def at_verdict(at: datetime, at_text: str, *, now: datetime, grace: timedelta) -> tuple[str | None, str]:
    """What the service does with a past `at`: ("missed", sentence), ("late", sentence) or (None, "").

    The service and `ralph-watch check` both ask this, so they cannot disagree."""
    if at > now:
        return None, ""
    if now - at > grace:
        return "missed", (f"`at: {at_text}` is more than {grace.total_seconds() / 3600:g} h in the past. Edit `at:` "
                          "to a future time, or press Retry to publish it now.")
    return "late", (f"`at: {at_text}` is in the past but within the late grace "
                    f"({grace.total_seconds() / 3600:g} h): it is published as soon as the pair is complete")


class Due(str, enum.Enum):
    """What the due-loop does with a `scheduled` pair in one pass (`due_decision`)."""

    WAIT = "wait"        # leave it scheduled: its time has not come, its queue moved it, or paused
    START = "start"      # publish it now
    LOGIN = "login"      # due, but nobody is logged in: needs_login until someone is
    MOVE = "move"        # a cron slot passed beyond the grace: the pair takes the next free slot
    MISSED = "missed"    # an `at` time passed beyond the grace


def due_decision(
    kind: str,
    due: datetime,
    now: datetime,
    grace: timedelta,
    *,
    pinned: bool = False,
    paused: bool = False,
    logged_in: bool = True,
    queue_allows: bool = True,
) -> Due:
    """When a scheduled pair goes out: the scheduler's one decision per pair and pass.

    `kind` is what the sidecar says: "at", "cron", or "now" (neither: as soon as complete).
    `pinned`: its `due` no longer comes from the sidecar, because the user pressed Publish
    now or Retry, or TikTok's limits or a back-off set it. A pinned pair goes out as a "now"
    pair does: never `missed`, never moved to another slot, never held back by a queue (it
    gave its slot up). `queue_allows`: for a cron pair whose slot came, whether its queue lets
    it start (`CronQueues.settle`: one late pair per queue; the others were moved on).
    """
    if due > now:
        return Due.WAIT
    if pinned:
        kind = "now"
    if kind == "cron" and not queue_allows:
        return Due.WAIT
    if late_decision(due, now, grace) is Lateness.TOO_LATE:
        if kind == "cron":
            return Due.MOVE
        if kind == "at":
            return Due.MISSED
    if paused:
        return Due.WAIT
    return Due.START if logged_in else Due.LOGIN


# ------------------------------------------------------------------------------ quotas


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{seconds:g} seconds"


def _first_overflow(
    times: Sequence[tuple[datetime, bool]], *, window: timedelta, limit: int
) -> tuple[datetime, int] | None:
    """The first scheduled time at which more than `limit` times fall in the window ending
    there (a time t counts for the instants in [t, t + window)), with that count."""
    lo = 0
    for hi, (instant, scheduled) in enumerate(times):
        while times[lo][0] <= instant - window:
            lo += 1
        if scheduled and hi - lo + 1 > limit:
            return instant, hi - lo + 1
    return None


def quota_warnings(
    dues: Iterable[datetime],
    *,
    limits: Limits,
    tz: ZoneInfo,
    now: datetime,
    posted: Iterable[datetime] = (),
) -> list[str]:
    """Sentences warning ahead of time that the direct posts as scheduled (`dues`, plus those
    already `posted`) exceed TikTok's rolling daily cap or its init rate; each names the
    local date and time where it first happens. Past dues count as due now."""
    day = timedelta(seconds=limits.day_seconds)
    scheduled = [(max(due, now), True) for due in dues]
    done = [(p, False) for p in posted if p > now - day]
    times = sorted(done + scheduled)
    warnings: list[str] = []
    over = _first_overflow(times, window=day, limit=limits.daily_posts)
    if over:
        instant, count = over
        warnings.append(
            f"The queue as scheduled has {count} direct posts in the {_span(limits.day_seconds)} up to "
            f"{instant.astimezone(tz):%Y-%m-%d %H:%M %Z (%a)}, but TikTok allows {limits.daily_posts} per "
            f"rolling {_span(limits.day_seconds)}: that post and later ones will wait for the cap. "
            "Spread the times out or move some pairs to another day."
        )
    window = timedelta(seconds=limits.window_seconds)
    burst = _first_overflow(sorted(scheduled), window=window, limit=limits.init_per_window)
    if burst:
        instant, count = burst
        warnings.append(
            f"{count} posts are due within {_span(limits.window_seconds)} up to "
            f"{instant.astimezone(tz):%Y-%m-%d %H:%M %Z (%a)}, but TikTok accepts "
            f"{limits.init_per_window} per {_span(limits.window_seconds)}: some will start a little later."
        )
    return warnings
