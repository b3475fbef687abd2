"""Cron lines: parsing, canonical keys, and their slots as instants (DST rules). Pure.

DST semantics for cron (Debian cron(8), as cronsim copies it, with one deliberate change):

* A line whose hour field is restricted (not every hour) is "fixed-time": each listed wall
  time gives one slot per day. A repeated (fall-back) wall time runs once, at its first
  occurrence; a wall time inside a spring-forward gap runs right after the jump. Several
  listed times inside one gap go out one second apart from the jump on, in wall order (one
  second later still when the wall time right after the gap is listed too, so each keeps a
  slot of its own); so `0,30 2 * * *` has two slots on both DST nights, never four or none.
* A line that fires every hour (hour field `*`, `*/1` or `0-23`) keeps its real-time
  cadence: every instant whose local wall time matches is a slot, so the repeated
  fall-back hour fires twice and the skipped spring-forward hour does not fire at all.
* Debian decides between the two by the *text* (a minute or hour field starting with `*`);
  here only the hour field's value set decides, so that lines which mean the same
  (`*/30 2 * * *` and `0,30 2 * * *`) behave the same and can share one queue.

croniter (7.0.0, pinned) only enumerates naive wall times from canonical numeric fields;
the mapping of wall times to instants (and its DST rules) is ours, because croniter
double-fires fixed-time jobs in the repeated hour.
"""
from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]  # croniter 7 ships no type hints

from .clock import utc

__all__ = ["CronSpec", "parse_cron", "cron_slots", "describe_slots"]

UTC = timezone.utc
_MINUTE = timedelta(minutes=1)
# The longest stretch of wall time any tz database zone skips or repeats is a day (Samoa
# 2011); searches for the edge of a gap or fold never look further than this.
_MAX_SHIFT_MINUTES = 2 * 24 * 60


# ---------------------------------------------------------------------------- wall time


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    """Whether the naive local `wall` is shown by a clock in `tz` at some instant."""
    back = wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == wall


def _first(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first (UTC) instant at which clocks in `tz` show `wall` (which must exist)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _second(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The second instant showing `wall` when it falls in a repeated (fall-back) stretch."""
    first = _first(wall, tz)
    again = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if again != first and again.astimezone(tz).replace(tzinfo=None) == wall:
        return again
    return None


def _valid_minute(wall: datetime, tz: ZoneInfo, *, step: int) -> datetime:
    """Walk whole minutes from `wall` (exclusive) in direction `step` to the first that exists."""
    probe = wall.replace(second=0, microsecond=0)
    if step > 0 or probe == wall:
        probe += step * _MINUTE
    for _ in range(_MAX_SHIFT_MINUTES):
        if _exists(probe, tz):
            return probe
        probe += step * _MINUTE
    raise ValueError(f"no valid time near {wall:%Y-%m-%d %H:%M} in {tz.key}")


def _offset_text(dt: datetime) -> str:
    """`+01:00` style offset of an aware datetime."""
    text = dt.strftime("%z")
    return f"{text[:3]}:{text[3:5]}"


def _local_text(instant: datetime, tz: ZoneInfo) -> str:
    """`2027-03-28 03:00+02:00`: unambiguous and accepted back by `parse_at`."""
    local = instant.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M}{_offset_text(local)}"


# -------------------------------------------------------------------------------- cron

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 happens


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    name_base: int = 0

    @property
    def hint(self) -> str:
        text = f"{self.lo}-{self.hi}"
        if self.names:
            text += f" or {self.names[0]}-{self.names[-1]}"
        return text


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 7, _DAYS, 0),
)
_FULL = (
    frozenset(range(60)),
    frozenset(range(24)),
    frozenset(range(1, 32)),
    frozenset(range(1, 13)),
    frozenset(range(7)),
)
# Vixie cron's macros; @midnight and @annually are aliases it accepts too.
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ITEM_RE = re.compile(r"^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:/([A-Za-z0-9]+))?$")
_SUPPORTED = "numbers, names (MON, JAN), *, ranges (1-5), steps (*/15, 0-30/10) and lists (1,15)"


@dataclass(frozen=True)
class CronSpec:
    """A validated five-field cron line.

    `key` is canonical: two lines that fire at the same wall times (`0 18 * * FRI` and
    `0 18 * * 5`, `@daily` and `0 0 * * *`, `*/15` and `0,15,30,45`, Sunday as 0 or 7)
    have the same key and so share one queue; `parse_cron(spec.key).key == spec.key`.
    Equality and hashing go by the meaning, not by how the line was written.
    """

    text: str = field(compare=False)
    key: str
    minutes: frozenset[int] = field(repr=False)
    hours: frozenset[int] = field(repr=False)
    days: frozenset[int] = field(repr=False)        # day of month, 1-31
    months: frozenset[int] = field(repr=False)
    weekdays: frozenset[int] = field(repr=False)    # 0 = Sunday ... 6 = Saturday
    day_or: bool = field(repr=False)                # Vixie: both day fields restricted -> either may match
    fixed_time: bool = False                        # Debian's fixed-time DST handling (module docstring)

    @property
    def croniter_expr(self) -> str:
        """The numeric line handed to croniter (explicit lists, so no version quirks)."""
        sets = (self.minutes, self.hours, self.days, self.months, self.weekdays)
        return " ".join("*" if s == full else ",".join(map(str, sorted(s))) for s, full in zip(sets, _FULL))


def _cron_problem(text: str, what: str) -> ValueError:
    return ValueError(f'cron: "{text}" {what}')


def _value(tok: str, fld: _Field, text: str) -> int:
    if tok.isdigit():
        value = int(tok)
        if fld.lo <= value <= fld.hi:
            return value
        raise _cron_problem(text, f"has {value} in the {fld.name} field; use {fld.hint}")
    upper = tok.upper()
    if upper in fld.names:
        return fld.names.index(upper) + fld.name_base
    if upper == "H" or upper.startswith("H("):
        raise _cron_problem(text, f'uses "H" (a hashed value) in the {fld.name} field, which only some schedulers know; write a number ({fld.hint})')
    if re.fullmatch(r"\d*[LW]|LW?", upper):
        raise _cron_problem(text, f'uses "{tok}" in the {fld.name} field, which standard cron does not know; use {_SUPPORTED}')
    if fld.names and len(upper) > 3 and upper[:3] in fld.names:
        raise _cron_problem(text, f'has "{tok}" in the {fld.name} field; write the three-letter name {upper[:3]}')
    other = "day-of-week" if upper in _DAYS else "month" if upper in _MONTHS else None
    if other:
        raise _cron_problem(text, f'has "{tok}" in the {fld.name} field, but that is a {other} name; the five fields are minute hour day-of-month month day-of-week')
    raise _cron_problem(text, f'has "{tok}" in the {fld.name} field; use {fld.hint}')


def _parse_field(part: str, fld: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in part.split(","):
        found = _ITEM_RE.match(item)
        if not found:
            raise _special(item, fld, text)
        first, last, step_text = found.groups()
        step = 1
        if step_text is not None:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _cron_problem(text, f'has the step "/{step_text}" in the {fld.name} field; a step is a whole number from 1, e.g. */15')
            step = int(step_text)
        if first == "*":
            if last is not None:
                raise _cron_problem(text, f'has "{item}" in the {fld.name} field; write * or a range such as {fld.lo}-{fld.hi}, not both')
            lo, hi = fld.lo, fld.hi
        else:
            lo = _value(first, fld, text)
            if last is None:
                if step_text is not None:
                    # croniter and cronsim disagree on "5/15": refuse rather than guess.
                    raise _cron_problem(text, f'has "{item}" in the {fld.name} field, which schedulers read differently; write {lo}-{fld.hi}/{step} for every {step} from {lo}, or {lo} alone')
                hi = lo
            else:
                hi = _value(last, fld, text)
                if hi < lo:
                    top = 6 if fld.name == "day-of-week" else fld.hi
                    raise _cron_problem(text, f'has the range "{item}" in the {fld.name} field, which runs backwards and ranges do not wrap around; write {lo}-{top},{fld.lo}-{hi} to wrap, or {hi}-{lo}')
        values.update(range(lo, hi + 1, step))
    if fld.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)  # 0 and 7 are both Sunday
    return frozenset(values)


def _special(item: str, fld: _Field, text: str) -> ValueError:
    """The best message for an item outside the Vixie grammar."""
    if item == "":
        return _cron_problem(text, f"has an empty item in the {fld.name} field (two commas in a row, or a trailing comma)")
    if item == "?":
        return _cron_problem(text, f'uses "?" (Quartz syntax) in the {fld.name} field; write * instead')
    if "#" in item or item.upper().endswith("L") or item.upper().endswith("W") or item.upper() == "L":
        return _cron_problem(text, f'uses "{item}" in the {fld.name} field, which standard cron does not know; use {_SUPPORTED}')
    if item.upper().startswith("H"):
        return _cron_problem(text, f'uses "{item}" (a hashed value) in the {fld.name} field, which only some schedulers know; write a number ({fld.hint})')
    return _cron_problem(text, f'has "{item}" in the {fld.name} field; use {_SUPPORTED}')


def _compress(values: frozenset[int], full: frozenset[int]) -> str:
    """`*`, or the sorted values with runs of three or more written as ranges."""
    if values == full:
        return "*"
    ordered = sorted(values)
    parts: list[str] = []
    start = prev = ordered[0]
    nexts: list[int | None] = [*ordered[1:], None]
    for v in nexts:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(f"{start}-{prev}" if prev - start >= 2 else ",".join(map(str, range(start, prev + 1))))
        if v is not None:
            start = prev = v
    return ",".join(parts)


def _star_step(values: frozenset[int], fld: _Field, text: str) -> str:
    """A day field written with a leading star, written again with one (so the AND reading
    survives): `*/n` for the smallest step whose whole span is in the set, then the values
    it leaves out (`*/5,8`). The parser put some `*/n` span in, so one always fits."""
    for step in range(1, fld.hi - fld.lo + 2):
        span = set(range(fld.lo, fld.hi + 1, step))
        if fld.name == "day-of-week" and 7 in span:
            span = (span - {7}) | {0}
        if span <= values:
            rest = values - span
            return f"*/{step}," + _compress(frozenset(rest), frozenset()) if rest else f"*/{step}"
    raise _cron_problem(text, f"cannot be read in the {fld.name} field; use {_SUPPORTED}")  # pragma: no cover


def _cron_fields(line: str) -> list[str]:
    """The five fields of a cron line (a macro written out); ValueError(sentence) otherwise."""
    if not line:
        raise ValueError('cron: is empty; write five fields, e.g. cron: "0 18 * * FRI"')
    if line.startswith("@"):
        macro = line.lower()
        if macro == "@reboot":
            raise _cron_problem(line, "runs once at boot, which is no publishing time; use a five-field line or at:")
        if macro not in _MACROS:
            raise _cron_problem(line, f"is not a known macro; use one of {', '.join(_MACROS)} or five fields")
        parts = _MACROS[macro].split()
    else:
        parts = line.split(" ")
    if len(parts) != 5:
        extra = " (no seconds or year field)" if len(parts) in (6, 7) else ""
        raise _cron_problem(
            line,
            f"has {len(parts)} field{'s' if len(parts) != 1 else ''}; write exactly five{extra}: "
            'minute hour day-of-month month day-of-week, e.g. cron: "0 18 * * FRI"',
        )
    return parts


def parse_cron(text: object) -> CronSpec:
    """Validate a cron line and canonicalise it; ValueError(sentence) if it cannot be used.

    Five fields (minute hour day-of-month month day-of-week), names (MON, JAN), `0` and `7`
    for Sunday, and the macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
    Day-of-month and day-of-week follow Vixie cron: when both are restricted and neither
    starts with `*`, a day matching either one fires. Refused: six or seven fields (seconds
    or years), `H`, `L`, `W`, `#`, `?`, `@reboot`, and lines that never fire (`0 0 30 2 *`).
    """
    if not isinstance(text, str):
        raise ValueError(f'cron: {text!r} is not a cron line; write it in quotes, e.g. cron: "0 18 * * FRI"')
    line = " ".join(text.split())
    parts = _cron_fields(line)
    sets = [_parse_field(part, fld, line) for part, fld in zip(parts, _FIELDS)]
    minutes, hours, days, months, weekdays = sets
    dom_star, dow_star = parts[2].startswith("*"), parts[4].startswith("*")
    dom_full, dow_full = days == _FULL[2], weekdays == _FULL[4]

    day_or = False
    dom_text, dow_text = _compress(days, _FULL[2]), _compress(weekdays, _FULL[4])
    if not dom_star and not dow_star:
        if dom_full or dow_full:  # "1-31 ... MON" fires every day in Vixie cron
            days, weekdays, dom_text, dow_text = _FULL[2], _FULL[4], "*", "*"
        else:
            day_or = True
    elif not dom_full and not dow_full:
        # Both restricted, read with AND: keep the leading star so the key reads the same.
        if dom_star:
            dom_text = _star_step(days, _FIELDS[2], line)
        if dow_star:
            dow_text = _star_step(weekdays, _FIELDS[4], line)

    if not day_or:  # with OR, the weekday always matches some day
        longest = max(_DAYS_IN_MONTH[m - 1] for m in months)
        if min(days) > longest:
            names = ", ".join(_MONTH_NAMES[m - 1] for m in sorted(months))
            raise _cron_problem(
                line,
                f"never runs: day-of-month {_compress(days, _FULL[2])} does not occur in {names}; "
                f"pick a day from 1 to {longest}",
            )

    key = " ".join([_compress(minutes, _FULL[0]), _compress(hours, _FULL[1]), dom_text, _compress(months, _FULL[3]), dow_text])
    spec = CronSpec(
        text=line,
        key=key,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        day_or=day_or,
        fixed_time=hours != _FULL[1],  # restricted hours: fixed-time (module docstring)
    )
    try:  # backstop: whatever croniter cannot satisfy is refused here, not at publish time
        _walls(spec, datetime(2000, 1, 1)).__next__()
    except Exception as exc:  # noqa: BLE001 - croniter raises several ValueError kinds
        raise _cron_problem(line, f"cannot be evaluated ({exc}); use {_SUPPORTED}") from None
    return spec


def _walls(spec: CronSpec, start: datetime) -> Iterator[datetime]:
    """Naive wall times matching `spec`, strictly after naive `start` (no DST involved)."""
    it = croniter(spec.croniter_expr, start, day_or=spec.day_or, max_years_between_matches=60)
    while True:
        yield it.get_next(datetime)


def _slot_events(spec: CronSpec, after: datetime, tz: ZoneInfo) -> Iterator[tuple[datetime, str]]:
    """(UTC slot, DST note) strictly after `after`, strictly increasing.

    Walls come in wall order; their instants are merged through a heap, because in a
    repeated hour the second 02:15 comes after the first 02:45. `bound` (the first instant
    of the current wall) is a lower bound for every instant still to come, since the first
    instant of a wall time never decreases as the wall time grows.
    """
    after = utc(after)  # a naive `after` is a bug in the caller: refused
    # Start early enough that a wall time repeated around `after` is not missed, nor one of a
    # gap that ended shortly before it (its slot lies right after the jump); hence the offsets
    # of the day before too.
    offsets = [(after + timedelta(hours=6 * k)).astimezone(tz).utcoffset() or timedelta(0) for k in range(-5, 9)]
    start = (after + min(offsets)).replace(tzinfo=None) - timedelta(hours=1)
    heap: list[tuple[datetime, str]] = []
    skipped: list[tuple[datetime, datetime]] = []  # (jump instant, wall) of wildcard slots in a gap
    gaps: dict[datetime, tuple[list[datetime], int]] = {}  # jump -> (listed walls in the gap, shift)
    last = after
    for wall in _walls(spec, start):
        if _exists(wall, tz):
            bound = _first(wall, tz)
            again = _second(wall, tz)
            if again is None:
                entries = [(bound, "")]
            elif spec.fixed_time:
                entries = [(bound, f"DST: {wall:%H:%M} happens twice; runs once, at the first")]
            else:
                entries = [
                    (bound, f"DST: first {wall:%H:%M} of the repeated hour"),
                    (again, f"DST: second {wall:%H:%M} of the repeated hour (clocks went back)"),
                ]
        else:
            after_gap = _valid_minute(wall, tz, step=+1)
            jump = _first(after_gap, tz)
            bound = jump
            if spec.fixed_time:
                if jump not in gaps:
                    gaps[jump] = _gap_walls(spec, wall, after_gap, tz)
                slot = jump + _gap_offset(gaps[jump], wall)
                entries = [(slot, f"DST: {wall:%H:%M} does not exist; runs right after the jump")]
            else:
                entries = []
                skipped.append((jump, wall))
        while heap and heap[0][0] < bound:
            instant, note = heapq.heappop(heap)
            if instant > last:
                note = _with_skips(note, instant, skipped)
                last = instant
                yield instant, note
        for entry in entries:
            heapq.heappush(heap, entry)


def _gap_walls(spec: CronSpec, wall: datetime, after_gap: datetime, tz: ZoneInfo) -> tuple[list[datetime], int]:
    """The listed wall times of the gap that `wall` falls in, and 1 if `after_gap` (the first
    wall time after the gap, a real slot at the jump itself) is listed too, else 0."""
    walls = _walls(spec, _valid_minute(wall, tz, step=-1))  # from the gap's first minute on
    listed: list[datetime] = []
    probe = next(walls)
    while probe < after_gap:
        listed.append(probe)
        probe = next(walls)
    return listed, 1 if probe == after_gap else 0


def _gap_offset(gap: tuple[list[datetime], int], wall: datetime) -> timedelta:
    """How long after the jump the fixed-time wall time `wall`, lost in a gap, goes out.

    A pure function of the line, the zone and `wall` (not of where the walk started), so every
    `cron_slots` call agrees on each slot: the n-th listed wall time of the gap (from 0) goes
    out n seconds after the jump, n + 1 when the wall time right after the gap is listed too.
    More than 60 of them share the minute evenly, so none reaches the next minute's slot.
    """
    listed, shift = gap
    top = len(listed) - 1 + shift
    step = timedelta(seconds=1) if top <= 59 else timedelta(seconds=59) / top
    return step * (listed.index(wall) + shift)


def _with_skips(note: str, instant: datetime, skipped: list[tuple[datetime, datetime]]) -> str:
    """Attach 'DST: 02:00 skipped' to the first slot after wildcard slots lost in a gap."""
    lost = [wall for jump, wall in skipped if jump <= instant]
    if not lost:
        return note
    skipped[:] = [(jump, wall) for jump, wall in skipped if jump > instant]
    if len(lost) == 1:
        text = f"DST: {lost[0]:%H:%M} skipped"
    else:
        text = f"DST: {len(lost)} slots {lost[0]:%H:%M}–{lost[-1]:%H:%M} skipped"
    return f"{text}; {note}" if note else text


def cron_slots(spec: CronSpec, after: datetime, tz: ZoneInfo) -> Iterator[datetime]:
    """The slots of `spec` in `tz`, strictly after `after`, as strictly increasing UTC instants.

    DST per Debian cron (see the module docstring): a fixed-time line (restricted hour field)
    has one slot per listed wall time a day: in a gap right after the jump (several a second
    apart), in a repeated hour at the first occurrence; an every-hour line fires at every real
    instant whose wall time matches.
    """
    for instant, _note in _slot_events(spec, after, tz):
        yield instant


def describe_slots(spec: CronSpec, *, after: datetime, tz: ZoneInfo, n: int) -> list[str]:
    """The next `n` slots for `ralph-watch check --next N`, e.g.
    `2027-03-28 03:00 CEST (Sun) — DST: 02:30 does not exist; runs right after the jump`."""
    lines: list[str] = []
    for instant, note in _slot_events(spec, after, tz):
        if len(lines) >= n:
            break
        local = instant.astimezone(tz)
        text = f"{local:%Y-%m-%d %H:%M %Z (%a)}"
        lines.append(f"{text} — {note}" if note else text)
    return lines
