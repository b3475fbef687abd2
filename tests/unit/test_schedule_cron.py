"""schedule.parse_cron / cron_slots / describe_slots: Vixie syntax, canonical keys, Debian DST.

Transitions used (tz database, 2027; local wall times):
  Europe/Berlin        spring 2027-03-28 01:00Z  02:00 CET  -> 03:00 CEST  (02:00-03:00 skipped)
                       fall   2027-10-31 01:00Z  03:00 CEST -> 02:00 CET   (02:00-03:00 twice)
  America/New_York     spring 2027-03-14 07:00Z  02:00 EST  -> 03:00 EDT   (02:00-03:00 skipped)
                       fall   2027-11-07 06:00Z  02:00 EDT  -> 01:00 EST   (01:00-02:00 twice)
  Australia/Lord_Howe  fall   2027-04-03 15:00Z  02:00 +11  -> 01:30 +1030 (01:30-02:00 twice)
                       spring 2027-10-02 15:30Z  02:00 +1030 -> 02:30 +11  (02:00-02:30 skipped)
  Australia/Sydney     fall   2027-04-03 16:00Z  03:00 AEDT -> 02:00 AEST  (02:00-03:00 twice)
                       spring 2027-10-02 16:00Z  02:00 AEST -> 03:00 AEDT  (02:00-03:00 skipped)
  America/Santiago     fall   2027-04-04 03:00Z  24:00 -03  -> 23:00 -04   (04-03 23:00-24:00 twice)
                       spring 2027-09-05 04:00Z  00:00 -04  -> 01:00 -03   (09-05 00:00-01:00 skipped)
"""
from __future__ import annotations

import ast
import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ralph_watch.cron as schedule  # the cron half of what was schedule.py
from ralph_watch.schedule import CronSpec, cron_slots, describe_slots, parse_cron

UTC = timezone.utc


def slots(expr: str, zone: str, after: str, n: int) -> list[str]:
    """The next n slots after `after` (ISO with offset) as local ISO strings with offsets
    (to the minute; with seconds for a slot that is not on a whole minute, after a DST gap)."""
    tz = ZoneInfo(zone)
    found = itertools.islice(cron_slots(parse_cron(expr), datetime.fromisoformat(after), tz), n)
    return [s.astimezone(tz).isoformat(timespec="minutes" if s.second == s.microsecond == 0 else "seconds")
            for s in found]


class TestParse:
    @pytest.mark.parametrize(
        "a, b",
        [
            ("0 18 * * FRI", "0 18 * * 5"),
            ("0 18 * * fri", "0 18 * * 5"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
            ("@weekly", "0 0 * * 0"),
            ("@monthly", "0 0 1 * *"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 JAN *"),
            ("0 0 * * 7", "0 0 * * 0"),
            ("0 0 * * SUN", "0 0 * * 7"),
            ("*/15 * * * *", "0,15,30,45 * * * *"),
            ("0-59/15 * * * *", "0,15,30,45 * * * *"),
            ("0 9-17 * * MON-FRI", "0 9,10,11,12,13,14,15,16,17 * * 1,2,3,4,5"),
            ("0 0 * * 0-6", "0 0 * * *"),
            ("0 0 * * 1-7", "0 0 * * *"),
            ("0 0 * * 5-7", "0 0 * * 0,5,6"),
            ("0 0 1-31 * *", "0 0 * * *"),
            ("0 0 1-31 * 1", "0 0 * * *"),         # Vixie: both restricted -> OR -> every day
            ("0 0 */1 * 1", "0 0 * * MON"),         # leading star -> AND -> Mondays
            ("0 0 * 1-12 *", "0 0 * * *"),
            ("0   18 *  * 5", "0 18 * * 5"),
            ("0 12 * JAN,jul *", "0 12 * 1,7 *"),
            ("*/30 2 * * *", "0,30 2 * * *"),
        ],
        ids=lambda v: v,
    )
    def test_it_gives_lines_that_mean_the_same_one_key(self, a: str, b: str) -> None:
        assert parse_cron(a).key == parse_cron(b).key
        assert parse_cron(a) == parse_cron(b)
        assert hash(parse_cron(a)) == hash(parse_cron(b))

    @pytest.mark.parametrize(
        "a, b",
        [
            ("0 0 1 * 1", "0 0 1 * *"),          # OR: also every Monday
            ("0 0 */2 * 1", "0 0 1-31/2 * 1"),  # AND (Mondays on odd days) vs OR (odd days or Mondays)
            ("0 18 * * 5", "0 18 * * 6"),
            ("0 18 * * *", "0 6 * * *"),
        ],
        ids=lambda v: v,
    )
    def test_it_keeps_lines_that_differ_apart(self, a: str, b: str) -> None:
        assert parse_cron(a).key != parse_cron(b).key

    @pytest.mark.parametrize(
        "text, key",
        [
            ("0 18 * * FRI", "0 18 * * 5"),
            ("@daily", "0 0 * * *"),
            ("*/15 * * * *", "0,15,30,45 * * * *"),
            ("0 9-17 * * mon-fri", "0 9-17 * * 1-5"),
            ("0,1,2,5 0 * * *", "0-2,5 0 * * *"),
            ("0 0 1,15 * SUN,7", "0 0 1,15 * 0"),
            ("0 0 */2 * 1", "0 0 */2 * 1"),
            ("0 0 13 * */2", "0 0 13 * */2"),
            ("0 0 29 2 *", "0 0 29 2 *"),
        ],
        ids=lambda v: v,
    )
    def test_it_writes_the_canonical_key(self, text: str, key: str) -> None:
        spec = parse_cron(text)
        assert spec.key == key
        assert spec.text == " ".join(text.split())
        assert parse_cron(spec.key).key == key  # the key reads back to itself

    @pytest.mark.parametrize(
        "text, fixed",
        [
            ("30 2 * * *", True),
            ("0 18 * * FRI", True),
            ("0 1-5 * * *", True),
            ("0 */2 * * *", True),        # granularity above one hour
            ("@daily", True),
            # Issue 12, item 11: a restricted hour field is fixed-time even with several minutes
            # (these two were hourly before, which gave four slots on the fall-back night).
            ("*/30 2 * * *", True),
            ("0,30 2 * * *", True),       # the same set, the same behaviour
            ("*/15 1-5 * * *", True),
            ("0 * * * *", False),         # every hour
            ("0 */1 * * *", False),
            ("0 0-23 * * *", False),
            ("30 * * * *", False),
            ("*/15 * * * *", False),
            ("0,30 * * * *", False),
        ],
        ids=lambda v: str(v),
    )
    def test_it_tells_fixed_time_lines_from_hourly_ones(self, text: str, fixed: bool) -> None:
        assert parse_cron(text).fixed_time is fixed

    def test_it_reads_day_of_month_and_day_of_week_with_or_when_both_are_restricted(self) -> None:
        # Vixie: "0 9 13 * 5" fires every Friday and on every 13th.
        assert slots("0 9 13 * 5", "UTC", "2027-08-01T00:00+00:00", 4) == [
            "2027-08-06T09:00+00:00",  # Fri
            "2027-08-13T09:00+00:00",  # Fri the 13th: once
            "2027-08-20T09:00+00:00",
            "2027-08-27T09:00+00:00",
        ]
        assert slots("0 9 1 * 0", "UTC", "2027-08-01T12:00+00:00", 3) == [
            "2027-08-08T09:00+00:00",  # Sun
            "2027-08-15T09:00+00:00",
            "2027-08-22T09:00+00:00",
        ]
        assert slots("0 9 1 * 0", "UTC", "2027-08-25T00:00+00:00", 2) == ["2027-08-29T09:00+00:00", "2027-09-01T09:00+00:00"]

    def test_it_reads_a_leading_star_in_a_day_field_as_and(self) -> None:
        # "*/2" days AND Monday: Mondays on odd days of the month.
        assert slots("0 0 */2 * MON", "UTC", "2027-08-01T00:00+00:00", 3) == [
            "2027-08-09T00:00+00:00",
            "2027-08-23T00:00+00:00",
            "2027-09-13T00:00+00:00",
        ]

    def test_it_finds_february_29th(self) -> None:
        assert slots("0 0 29 2 *", "UTC", "2027-01-01T00:00+00:00", 2) == ["2028-02-29T00:00+00:00", "2032-02-29T00:00+00:00"]

    @pytest.mark.parametrize(
        "text, message",
        [
            ("0 0 30 2 *", 'cron: "0 0 30 2 *" never runs: day-of-month 30 does not occur in February; pick a day from 1 to 29'),
            ("0 0 31 4,6 *", 'cron: "0 0 31 4,6 *" never runs: day-of-month 31 does not occur in April, June; pick a day from 1 to 30'),
            (
                "* * * * * *",
                'cron: "* * * * * *" has 6 fields; write exactly five (no seconds or year field): minute hour '
                'day-of-month month day-of-week, e.g. cron: "0 18 * * FRI"',
            ),
            (
                "0 18 * * 5 2027",
                'cron: "0 18 * * 5 2027" has 6 fields; write exactly five (no seconds or year field): minute hour '
                'day-of-month month day-of-week, e.g. cron: "0 18 * * FRI"',
            ),
            ("0 18", 'cron: "0 18" has 2 fields; write exactly five: minute hour day-of-month month day-of-week, e.g. cron: "0 18 * * FRI"'),
            ("", 'cron: is empty; write five fields, e.g. cron: "0 18 * * FRI"'),
            (5, 'cron: 5 is not a cron line; write it in quotes, e.g. cron: "0 18 * * FRI"'),
            ("@reboot", 'cron: "@reboot" runs once at boot, which is no publishing time; use a five-field line or at:'),
            (
                "@fortnightly",
                'cron: "@fortnightly" is not a known macro; use one of @yearly, @annually, @monthly, @weekly, '
                "@daily, @midnight, @hourly or five fields",
            ),
            ("H 18 * * *", 'cron: "H 18 * * *" uses "H" (a hashed value) in the minute field, which only some schedulers know; write a number (0-59)'),
            ("H(0-29) 18 * * *", 'cron: "H(0-29) 18 * * *" uses "H(0-29)" (a hashed value) in the minute field, which only some schedulers know; write a number (0-59)'),
            ("0 18 ? * FRI", 'cron: "0 18 ? * FRI" uses "?" (Quartz syntax) in the day-of-month field; write * instead'),
            (
                "0 0 L * *",
                'cron: "0 0 L * *" uses "L" in the day-of-month field, which standard cron does not know; use numbers, '
                "names (MON, JAN), *, ranges (1-5), steps (*/15, 0-30/10) and lists (1,15)",
            ),
            (
                "0 0 * * 5#3",
                'cron: "0 0 * * 5#3" uses "5#3" in the day-of-week field, which standard cron does not know; use '
                "numbers, names (MON, JAN), *, ranges (1-5), steps (*/15, 0-30/10) and lists (1,15)",
            ),
            ("0 25 * * *", 'cron: "0 25 * * *" has 25 in the hour field; use 0-23'),
            ("60 * * * *", 'cron: "60 * * * *" has 60 in the minute field; use 0-59'),
            ("0 0 0 * *", 'cron: "0 0 0 * *" has 0 in the day-of-month field; use 1-31'),
            ("0 0 * 13 *", 'cron: "0 0 * 13 *" has 13 in the month field; use 1-12 or JAN-DEC'),
            ("0 0 * * 8", 'cron: "0 0 * * 8" has 8 in the day-of-week field; use 0-7 or SUN-SAT'),
            ("0 18 * * FRIDAY", 'cron: "0 18 * * FRIDAY" has "FRIDAY" in the day-of-week field; write the three-letter name FRI'),
            (
                "0 18 * FRI *",
                'cron: "0 18 * FRI *" has "FRI" in the month field, but that is a day-of-week name; the five fields '
                "are minute hour day-of-month month day-of-week",
            ),
            (
                "0 18 * * 5-1",
                'cron: "0 18 * * 5-1" has the range "5-1" in the day-of-week field, which runs backwards and ranges '
                "do not wrap around; write 5-6,0-1 to wrap, or 1-5",
            ),
            (
                "5/15 * * * *",
                'cron: "5/15 * * * *" has "5/15" in the minute field, which schedulers read differently; write '
                "5-59/15 for every 15 from 5, or 5 alone",
            ),
            ("*/0 * * * *", 'cron: "*/0 * * * *" has the step "/0" in the minute field; a step is a whole number from 1, e.g. */15'),
            ("*-5 * * * *", 'cron: "*-5 * * * *" has "*-5" in the minute field; write * or a range such as 0-59, not both'),
            ("0,,5 * * * *", 'cron: "0,,5 * * * *" has an empty item in the minute field (two commas in a row, or a trailing comma)'),
            (
                "0 18 * * %",
                'cron: "0 18 * * %" has "%" in the day-of-week field; use numbers, names (MON, JAN), *, ranges (1-5), '
                "steps (*/15, 0-30/10) and lists (1,15)",
            ),
        ],
        ids=[
            "feb-30", "31st-of-short-months", "six-fields-seconds", "six-fields-year", "two-fields", "empty",
            "not-text", "reboot", "unknown-macro", "hash-H", "hash-H-range", "quartz-question-mark", "L", "nth-weekday",
            "hour-25", "minute-60", "dom-0", "month-13", "dow-8", "full-day-name", "name-in-wrong-field",
            "backwards-range", "number-with-step", "step-0", "star-range", "empty-item", "junk",
        ],
    )
    def test_it_refuses_lines_it_cannot_run_saying_why(self, text: object, message: str) -> None:
        with pytest.raises(ValueError) as info:
            parse_cron(text)
        assert str(info.value) == message


# (id, expression, zone, after, expected next slots as local ISO strings)
DST_CASES = [
    # --- Europe/Berlin
    ("berlin-fixed-spring", "30 2 * * *", "Europe/Berlin", "2027-03-27T12:00+01:00",
     ["2027-03-28T03:00+02:00", "2027-03-29T02:30+02:00"]),
    ("berlin-fixed-fall", "30 2 * * *", "Europe/Berlin", "2027-10-30T12:00+02:00",
     ["2027-10-31T02:30+02:00", "2027-11-01T02:30+01:00"]),
    ("berlin-hourly-spring", "0 * * * *", "Europe/Berlin", "2027-03-28T00:30+01:00",
     ["2027-03-28T01:00+01:00", "2027-03-28T03:00+02:00", "2027-03-28T04:00+02:00"]),
    ("berlin-hourly-fall", "0 * * * *", "Europe/Berlin", "2027-10-31T01:30+02:00",
     ["2027-10-31T02:00+02:00", "2027-10-31T02:00+01:00", "2027-10-31T03:00+01:00"]),
    ("berlin-half-past-spring", "30 * * * *", "Europe/Berlin", "2027-03-28T00:45+01:00",
     ["2027-03-28T01:30+01:00", "2027-03-28T03:30+02:00"]),
    ("berlin-half-past-fall", "30 * * * *", "Europe/Berlin", "2027-10-31T01:45+02:00",
     ["2027-10-31T02:30+02:00", "2027-10-31T02:30+01:00", "2027-10-31T03:30+01:00"]),
    ("berlin-15min-spring", "*/15 * * * *", "Europe/Berlin", "2027-03-28T01:40+01:00",
     ["2027-03-28T01:45+01:00", "2027-03-28T03:00+02:00", "2027-03-28T03:15+02:00"]),
    ("berlin-15min-fall", "*/15 * * * *", "Europe/Berlin", "2027-10-31T02:40+02:00",
     ["2027-10-31T02:45+02:00", "2027-10-31T02:00+01:00", "2027-10-31T02:15+01:00",
      "2027-10-31T02:30+01:00", "2027-10-31T02:45+01:00", "2027-10-31T03:00+01:00"]),
    # Issue 12, item 11: 02:00 no longer vanishes into the 03:00 slot (one slot per listed time).
    ("berlin-range-spring", "0 1-5 * * *", "Europe/Berlin", "2027-03-28T00:30+01:00",
     ["2027-03-28T01:00+01:00", "2027-03-28T03:00+02:00", "2027-03-28T03:00:01+02:00", "2027-03-28T04:00+02:00"]),
    # Issue 12, item 11: a restricted hour is fixed-time; before, this line had no slot that night.
    ("berlin-15min-in-2h-spring", "*/15 2 * * *", "Europe/Berlin", "2027-03-27T12:00+01:00",
     ["2027-03-28T03:00+02:00", "2027-03-28T03:00:01+02:00", "2027-03-28T03:00:02+02:00",
      "2027-03-28T03:00:03+02:00", "2027-03-29T02:00+02:00"]),
    ("berlin-fixed-from-second-pass", "30 2 * * *", "Europe/Berlin", "2027-10-31T02:10+01:00",
     ["2027-11-01T02:30+01:00"]),
    ("berlin-hourly-from-first-pass", "0,15 * * * *", "Europe/Berlin", "2027-10-31T02:20+02:00",
     ["2027-10-31T02:00+01:00", "2027-10-31T02:15+01:00", "2027-10-31T03:00+01:00"]),
    # --- America/New_York
    ("new-york-fixed-spring", "30 2 * * *", "America/New_York", "2027-03-13T12:00-05:00",
     ["2027-03-14T03:00-04:00", "2027-03-15T02:30-04:00"]),
    ("new-york-fixed-fall", "30 1 * * *", "America/New_York", "2027-11-06T12:00-04:00",
     ["2027-11-07T01:30-04:00", "2027-11-08T01:30-05:00"]),
    ("new-york-hourly-spring", "0 * * * *", "America/New_York", "2027-03-14T00:30-05:00",
     ["2027-03-14T01:00-05:00", "2027-03-14T03:00-04:00", "2027-03-14T04:00-04:00"]),
    ("new-york-hourly-fall", "0 * * * *", "America/New_York", "2027-11-07T00:30-04:00",
     ["2027-11-07T01:00-04:00", "2027-11-07T01:00-05:00", "2027-11-07T02:00-05:00"]),
    ("new-york-half-past-spring", "30 * * * *", "America/New_York", "2027-03-14T00:45-05:00",
     ["2027-03-14T01:30-05:00", "2027-03-14T03:30-04:00"]),
    ("new-york-half-past-fall", "30 * * * *", "America/New_York", "2027-11-07T00:45-04:00",
     ["2027-11-07T01:30-04:00", "2027-11-07T01:30-05:00", "2027-11-07T02:30-05:00"]),
    ("new-york-15min-fall", "*/15 * * * *", "America/New_York", "2027-11-07T01:40-04:00",
     ["2027-11-07T01:45-04:00", "2027-11-07T01:00-05:00", "2027-11-07T01:15-05:00",
      "2027-11-07T01:30-05:00", "2027-11-07T01:45-05:00", "2027-11-07T02:00-05:00"]),
    # --- Australia/Lord_Howe (30-minute shift)
    ("lord-howe-fixed-spring", "15 2 * * *", "Australia/Lord_Howe", "2027-10-02T12:00+10:30",
     ["2027-10-03T02:30+11:00", "2027-10-04T02:15+11:00"]),
    ("lord-howe-fixed-spring-after-gap", "30 2 * * *", "Australia/Lord_Howe", "2027-10-02T12:00+10:30",
     ["2027-10-03T02:30+11:00", "2027-10-04T02:30+11:00"]),
    ("lord-howe-fixed-fall", "45 1 * * *", "Australia/Lord_Howe", "2027-04-03T12:00+11:00",
     ["2027-04-04T01:45+11:00", "2027-04-05T01:45+10:30"]),
    ("lord-howe-hourly-spring", "0 * * * *", "Australia/Lord_Howe", "2027-10-03T00:30+10:30",
     ["2027-10-03T01:00+10:30", "2027-10-03T03:00+11:00", "2027-10-03T04:00+11:00"]),
    ("lord-howe-hourly-fall", "0 * * * *", "Australia/Lord_Howe", "2027-04-04T00:30+11:00",
     ["2027-04-04T01:00+11:00", "2027-04-04T02:00+10:30", "2027-04-04T03:00+10:30"]),
    ("lord-howe-half-past-spring", "30 * * * *", "Australia/Lord_Howe", "2027-10-03T00:45+10:30",
     ["2027-10-03T01:30+10:30", "2027-10-03T02:30+11:00", "2027-10-03T03:30+11:00"]),
    ("lord-howe-half-past-fall", "30 * * * *", "Australia/Lord_Howe", "2027-04-04T00:15+11:00",
     ["2027-04-04T00:30+11:00", "2027-04-04T01:30+11:00", "2027-04-04T01:30+10:30", "2027-04-04T02:30+10:30"]),
    ("lord-howe-15min-spring", "*/15 * * * *", "Australia/Lord_Howe", "2027-10-03T01:40+10:30",
     ["2027-10-03T01:45+10:30", "2027-10-03T02:30+11:00", "2027-10-03T02:45+11:00"]),
    ("lord-howe-15min-fall", "*/15 * * * *", "Australia/Lord_Howe", "2027-04-04T01:40+11:00",
     ["2027-04-04T01:45+11:00", "2027-04-04T01:30+10:30", "2027-04-04T01:45+10:30", "2027-04-04T02:00+10:30"]),
    # --- Australia/Sydney (southern hemisphere: fall in April, spring in October)
    ("sydney-fixed-fall", "30 2 * * *", "Australia/Sydney", "2027-04-03T12:00+11:00",
     ["2027-04-04T02:30+11:00", "2027-04-05T02:30+10:00"]),
    ("sydney-fixed-spring", "30 2 * * *", "Australia/Sydney", "2027-10-02T12:00+10:00",
     ["2027-10-03T03:00+11:00", "2027-10-04T02:30+11:00"]),
    ("sydney-hourly-fall", "0 * * * *", "Australia/Sydney", "2027-04-04T01:30+11:00",
     ["2027-04-04T02:00+11:00", "2027-04-04T02:00+10:00", "2027-04-04T03:00+10:00"]),
    ("sydney-hourly-spring", "0 * * * *", "Australia/Sydney", "2027-10-03T00:30+10:00",
     ["2027-10-03T01:00+10:00", "2027-10-03T03:00+11:00"]),
    ("sydney-half-past-fall", "30 * * * *", "Australia/Sydney", "2027-04-04T01:45+11:00",
     ["2027-04-04T02:30+11:00", "2027-04-04T02:30+10:00", "2027-04-04T03:30+10:00"]),
    ("sydney-15min-spring", "*/15 * * * *", "Australia/Sydney", "2027-10-03T01:40+10:00",
     ["2027-10-03T01:45+10:00", "2027-10-03T03:00+11:00", "2027-10-03T03:15+11:00"]),
    # --- America/Santiago (transitions at midnight)
    ("santiago-daily-spring", "@daily", "America/Santiago", "2027-09-04T12:00-04:00",
     ["2027-09-05T01:00-03:00", "2027-09-06T00:00-03:00"]),
    ("santiago-daily-fall", "@daily", "America/Santiago", "2027-04-03T12:00-03:00",
     ["2027-04-04T00:00-04:00", "2027-04-05T00:00-04:00"]),
    ("santiago-fixed-fall", "30 23 * * *", "America/Santiago", "2027-04-03T12:00-03:00",
     ["2027-04-03T23:30-03:00", "2027-04-04T23:30-04:00"]),
    ("santiago-hourly-spring", "0 * * * *", "America/Santiago", "2027-09-04T22:30-04:00",
     ["2027-09-04T23:00-04:00", "2027-09-05T01:00-03:00", "2027-09-05T02:00-03:00"]),
    ("santiago-hourly-fall", "0 * * * *", "America/Santiago", "2027-04-03T22:30-03:00",
     ["2027-04-03T23:00-03:00", "2027-04-03T23:00-04:00", "2027-04-04T00:00-04:00"]),
]


# Issue 12, item 11: lines with a restricted hour field and several minutes are fixed-time.
# Each listed wall time gives one slot per day: a repeated one runs at its first occurrence, one
# in a gap right after the jump (one second apart, in wall order; one second later still when
# the wall time right after the gap is a slot of its own). `0,30 H` and `*/30 H` are one line.
FIXED_SEVERAL_CASES = [
    # --- Europe/Berlin: spring 02:00-03:00 skipped, fall 02:00-03:00 twice
    ("berlin-spring", "Europe/Berlin", "2027-03-27T12:00+01:00", 2,
     ["2027-03-28T03:00:00+02:00", "2027-03-28T03:00:01+02:00", "2027-03-29T02:00:00+02:00",
      "2027-03-29T02:30:00+02:00"]),
    ("berlin-fall", "Europe/Berlin", "2027-10-30T12:00+02:00", 2,
     ["2027-10-31T02:00:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:00:00+01:00",
      "2027-11-01T02:30:00+01:00"]),
    ("berlin-fall-from-the-second-pass", "Europe/Berlin", "2027-10-31T02:10:00+01:00", 2,
     ["2027-11-01T02:00:00+01:00", "2027-11-01T02:30:00+01:00"]),
    ("berlin-spring-from-inside-the-burst", "Europe/Berlin", "2027-03-28T03:00:00+02:00", 2,
     ["2027-03-28T03:00:01+02:00", "2027-03-29T02:00:00+02:00"]),
    # --- America/New_York: spring 02:00-03:00 skipped, fall 01:00-02:00 twice
    ("new-york-spring", "America/New_York", "2027-03-13T12:00-05:00", 2,
     ["2027-03-14T03:00:00-04:00", "2027-03-14T03:00:01-04:00", "2027-03-15T02:00:00-04:00",
      "2027-03-15T02:30:00-04:00"]),
    ("new-york-fall", "America/New_York", "2027-11-06T12:00-04:00", 1,
     ["2027-11-07T01:00:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:00:00-05:00",
      "2027-11-08T01:30:00-05:00"]),
    # --- Australia/Lord_Howe (30-minute shift): spring 02:00-02:30 skipped, fall 01:30-02:00 twice
    ("lord-howe-spring-after-gap-listed", "Australia/Lord_Howe", "2027-10-02T12:00+10:30", 2,
     ["2027-10-03T02:30:00+11:00", "2027-10-03T02:30:01+11:00", "2027-10-04T02:00:00+11:00",
      "2027-10-04T02:30:00+11:00"]),
    ("lord-howe-fall", "Australia/Lord_Howe", "2027-04-03T12:00+11:00", 1,
     ["2027-04-04T01:00:00+11:00", "2027-04-04T01:30:00+11:00", "2027-04-05T01:00:00+10:30",
      "2027-04-05T01:30:00+10:30"]),
    # --- Australia/Sydney: spring 02:00-03:00 skipped (October), fall 02:00-03:00 twice (April)
    ("sydney-spring", "Australia/Sydney", "2027-10-02T12:00+10:00", 2,
     ["2027-10-03T03:00:00+11:00", "2027-10-03T03:00:01+11:00", "2027-10-04T02:00:00+11:00",
      "2027-10-04T02:30:00+11:00"]),
    ("sydney-fall", "Australia/Sydney", "2027-04-03T12:00+11:00", 2,
     ["2027-04-04T02:00:00+11:00", "2027-04-04T02:30:00+11:00", "2027-04-05T02:00:00+10:00",
      "2027-04-05T02:30:00+10:00"]),
    # --- America/Santiago (at midnight): spring 09-05 00:00-01:00 skipped, fall 04-03 23:00-24:00 twice
    ("santiago-spring", "America/Santiago", "2027-09-04T12:00-04:00", 0,
     ["2027-09-05T01:00:00-03:00", "2027-09-05T01:00:01-03:00", "2027-09-06T00:00:00-03:00",
      "2027-09-06T00:30:00-03:00"]),
    ("santiago-fall", "America/Santiago", "2027-04-03T12:00-03:00", 23,
     ["2027-04-03T23:00:00-03:00", "2027-04-03T23:30:00-03:00", "2027-04-04T23:00:00-04:00",
      "2027-04-04T23:30:00-04:00"]),
]


def full_slots(expr: str, zone: str, after: str, n: int) -> list[str]:
    tz = ZoneInfo(zone)
    found = itertools.islice(cron_slots(parse_cron(expr), datetime.fromisoformat(after), tz), n)
    return [s.astimezone(tz).isoformat(timespec="seconds") for s in found]


class TestFixedTimeWithSeveralMinutes:
    @pytest.mark.parametrize("form", ["0,30 {h} * * *", "*/30 {h} * * *"])
    @pytest.mark.parametrize(
        "zone, after, hour, expected",
        [case[1:] for case in FIXED_SEVERAL_CASES],
        ids=[case[0] for case in FIXED_SEVERAL_CASES],
    )
    def test_each_listed_wall_time_gives_one_slot_a_day_across_dst(
        self, form: str, zone: str, after: str, hour: int, expected: list[str]
    ) -> None:
        assert full_slots(form.format(h=hour), zone, after, len(expected)) == expected

    @pytest.mark.parametrize(
        "expr, zone, after, expected",
        [
            # Both listed times fall into Lord Howe's 30-minute gap: right after it, one second apart.
            ("0,15 2 * * *", "Australia/Lord_Howe", "2027-10-02T12:00+10:30",
             ["2027-10-03T02:30:00+11:00", "2027-10-03T02:30:01+11:00", "2027-10-04T02:00:00+11:00"]),
            # A repeated 01:45 runs once, at the first; 01:15 is not repeated.
            ("15,45 1 * * *", "Australia/Lord_Howe", "2027-04-03T12:00+11:00",
             ["2027-04-04T01:15:00+11:00", "2027-04-04T01:45:00+11:00", "2027-04-05T01:15:00+10:30"]),
            # The real 03:00 keeps the jump instant; the skipped 02:00 follows a second later.
            ("0 2,3 * * *", "Europe/Berlin", "2027-03-27T12:00+01:00",
             ["2027-03-28T03:00:00+02:00", "2027-03-28T03:00:01+02:00", "2027-03-29T02:00:00+02:00"]),
        ],
        ids=["lord-howe-both-in-gap", "lord-howe-fold", "berlin-jump-wall-listed"],
    )
    def test_more_cases(self, expr: str, zone: str, after: str, expected: list[str]) -> None:
        assert full_slots(expr, zone, after, len(expected)) == expected

    @pytest.mark.parametrize(
        "zone, hour, days",
        [
            ("Europe/Berlin", 2, ["2027-03-27", "2027-03-28", "2027-03-29", "2027-10-30", "2027-10-31", "2027-11-01"]),
            ("America/New_York", 1, ["2027-03-14", "2027-11-06", "2027-11-07", "2027-11-08"]),
            ("America/New_York", 2, ["2027-03-13", "2027-03-14", "2027-03-15", "2027-11-07"]),
            ("Australia/Lord_Howe", 1, ["2027-04-03", "2027-04-04", "2027-04-05"]),
            ("Australia/Lord_Howe", 2, ["2027-10-02", "2027-10-03", "2027-10-04"]),
            ("Australia/Sydney", 2, ["2027-04-04", "2027-10-03"]),
            ("America/Santiago", 23, ["2027-04-03", "2027-04-04"]),
            ("America/Santiago", 0, ["2027-09-05", "2027-09-06"]),
        ],
    )
    def test_a_dst_night_neither_adds_nor_drops_slots(self, zone: str, hour: int, days: list[str]) -> None:
        # Count the slots from local noon to local noon: always two, DST night or not.
        tz = ZoneInfo(zone)
        for day in days:
            noon = datetime.fromisoformat(f"{day}T12:00").replace(tzinfo=tz) - timedelta(days=1)
            end = noon + timedelta(days=1)
            found = itertools.takewhile(lambda s: s < end, cron_slots(parse_cron(f"0,30 {hour} * * *"), noon, tz))
            assert len(list(found)) == 2, f"{zone} the night before {day} noon"

    def test_every_hour_lines_keep_their_real_time_cadence(self) -> None:
        assert full_slots("0,30 * * * *", "Europe/Berlin", "2027-10-31T01:45+02:00", 5) == [
            "2027-10-31T02:00:00+02:00", "2027-10-31T02:30:00+02:00", "2027-10-31T02:00:00+01:00",
            "2027-10-31T02:30:00+01:00", "2027-10-31T03:00:00+01:00"]
        assert full_slots("0,30 */1 * * *", "Europe/Berlin", "2027-03-28T01:15+01:00", 2) == [
            "2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00"]

    def test_describe_names_each_skipped_time(self) -> None:
        lines = describe_slots(parse_cron("0,30 2 * * *"), after=datetime.fromisoformat("2027-03-27T12:00+01:00"),
                               tz=ZoneInfo("Europe/Berlin"), n=3)
        assert lines == [
            "2027-03-28 03:00 CEST (Sun) — DST: 02:00 does not exist; runs right after the jump",
            "2027-03-28 03:00 CEST (Sun) — DST: 02:30 does not exist; runs right after the jump",
            "2027-03-29 02:00 CEST (Mon)",
        ]

    def test_a_slot_holder_advancing_inside_the_burst_gets_the_next_one(self) -> None:
        # Each cron_slots call agrees on the burst, wherever it starts (queues call it from slots).
        spec, tz = parse_cron("*/15 2 * * *"), ZoneInfo("Europe/Berlin")
        walk = list(itertools.islice(cron_slots(spec, datetime.fromisoformat("2027-03-27T12:00+01:00"), tz), 5))
        for a, b in zip(walk, walk[1:]):
            assert next(cron_slots(spec, a, tz)) == b


class TestDstTransitions:
    @pytest.mark.parametrize(
        "expr, zone, after, expected",
        [case[1:] for case in DST_CASES],
        ids=[case[0] for case in DST_CASES],
    )
    def test_it_follows_debian_cron_across_dst(self, expr: str, zone: str, after: str, expected: list[str]) -> None:
        assert slots(expr, zone, after, len(expected)) == expected

    def test_it_corrects_croniters_double_fire_in_the_repeated_hour(self) -> None:
        # croniter 7.0.0 alone gives 02:30+02:00 and 02:30+01:00 on 2027-10-31 (environment.md).
        assert slots("30 2 31 10 *", "Europe/Berlin", "2027-10-30T00:00+02:00", 2) == [
            "2027-10-31T02:30+02:00",
            "2028-10-31T02:30+01:00",
        ]

    def test_it_takes_the_after_instant_exclusively(self) -> None:
        assert slots("0 18 * * *", "Europe/Berlin", "2027-01-05T18:00+01:00", 1) == ["2027-01-06T18:00+01:00"]
        assert slots("0 18 * * *", "Europe/Berlin", "2027-01-05T17:59:59+01:00", 1) == ["2027-01-05T18:00+01:00"]

    def test_it_gives_utc_instants(self) -> None:
        first = next(cron_slots(parse_cron("0 18 * * *"), datetime(2027, 1, 5, tzinfo=UTC), ZoneInfo("Europe/Berlin")))
        assert first.tzinfo is UTC and first.isoformat() == "2027-01-05T17:00:00+00:00"


class TestDescribe:
    @pytest.mark.parametrize(
        "expr, zone, after, n, lines",
        [
            (
                "30 2 * * *", "Europe/Berlin", "2027-03-27T12:00+01:00", 2,
                [
                    "2027-03-28 03:00 CEST (Sun) — DST: 02:30 does not exist; runs right after the jump",
                    "2027-03-29 02:30 CEST (Mon)",
                ],
            ),
            (
                "0 * * * *", "Europe/Berlin", "2027-03-28T00:30+01:00", 2,
                ["2027-03-28 01:00 CET (Sun)", "2027-03-28 03:00 CEST (Sun) — DST: 02:00 skipped"],
            ),
            (
                "*/15 * * * *", "Europe/Berlin", "2027-03-28T01:50+01:00", 1,
                ["2027-03-28 03:00 CEST (Sun) — DST: 4 slots 02:00–02:45 skipped"],
            ),
            (
                "30 2 * * *", "Europe/Berlin", "2027-10-30T12:00+02:00", 1,
                ["2027-10-31 02:30 CEST (Sun) — DST: 02:30 happens twice; runs once, at the first"],
            ),
            (
                "0 * * * *", "Europe/Berlin", "2027-10-31T01:30+02:00", 3,
                [
                    "2027-10-31 02:00 CEST (Sun) — DST: first 02:00 of the repeated hour",
                    "2027-10-31 02:00 CET (Sun) — DST: second 02:00 of the repeated hour (clocks went back)",
                    "2027-10-31 03:00 CET (Sun)",
                ],
            ),
            ("0 18 * * FRI", "America/New_York", "2027-01-01T00:00-05:00", 2, ["2027-01-01 18:00 EST (Fri)", "2027-01-08 18:00 EST (Fri)"]),
        ],
        ids=["fixed-gap", "hourly-gap", "15min-gap", "fixed-fold", "hourly-fold", "plain"],
    )
    def test_it_describes_the_next_slots_with_dst_notes(
        self, expr: str, zone: str, after: str, n: int, lines: list[str]
    ) -> None:
        assert describe_slots(parse_cron(expr), after=datetime.fromisoformat(after), tz=ZoneInfo(zone), n=n) == lines


# Every zone of the tz database; starts from 1990 on, biased towards DST transitions.
ZONES = sorted(available_timezones())
FIXED_EXPRS = st.builds(
    lambda minute, hours, dom: f"{minute} {','.join(map(str, sorted(hours)))} {dom} * *",
    st.integers(0, 59),
    st.sets(st.integers(0, 23), min_size=1, max_size=23),
    st.sampled_from(["*", "1,15", "*/3"]),
)
HOURLY_EXPRS = st.builds(
    lambda minutes: f"{','.join(map(str, sorted(minutes)))} * * * *",
    st.sets(st.integers(0, 59), min_size=1, max_size=6),
)
ANY_START = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)).map(lambda d: d.replace(tzinfo=UTC))


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """Instants (to the hour) in `year` at which the zone's UTC offset changes."""
    found, probe = [], datetime(year, 1, 1, tzinfo=UTC)
    before = probe.astimezone(tz).utcoffset()
    while probe.year == year:
        probe += timedelta(hours=1)
        now = probe.astimezone(tz).utcoffset()
        if now != before:
            found.append(probe)
        before = now
    return found


@st.composite
def zone_and_start(draw: st.DrawFn) -> tuple[str, datetime]:
    """Mostly a start a few hours before one of the zone's DST transitions, where it matters."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        changes = _transitions(ZoneInfo(zone), draw(st.integers(1990, 2060)))
        if changes:
            return zone, draw(st.sampled_from(changes)) - timedelta(minutes=draw(st.integers(0, 26 * 60)))
    return zone, draw(ANY_START)


def _wall_matches(spec: CronSpec, wall: datetime) -> bool:
    dow = (wall.weekday() + 1) % 7
    return (
        wall.minute in spec.minutes
        and wall.hour in spec.hours
        and wall.month in spec.months
        and (wall.day in spec.days or (spec.day_or and dow in spec.weekdays))
        and (spec.day_or or dow in spec.weekdays)
    )


class TestProperties:
    @settings(deadline=None, max_examples=150)
    @given(expr=FIXED_EXPRS, where=zone_and_start())
    def test_it_never_repeats_a_wall_time_for_fixed_time_lines(self, expr: str, where: tuple[str, datetime]) -> None:
        zone, start = where
        tz, spec = ZoneInfo(zone), parse_cron(expr)
        assert spec.fixed_time
        found = list(itertools.islice(cron_slots(spec, start, tz), 30))
        assert found[0] > start
        assert all(a < b for a, b in zip(found, found[1:])), "strictly increasing in UTC"
        walls = [s.astimezone(tz).replace(tzinfo=None) for s in found]
        assert len(set(walls)) == len(walls), "no wall-clock time twice"
        for instant, wall in zip(found, walls):
            # Either the wall time matches, or it is the first minute after a gap.
            jumped = not schedule._exists(wall - timedelta(minutes=1), tz)
            assert _wall_matches(spec, wall) or jumped, f"{instant.isoformat()} = {wall} local"

    @settings(deadline=None, max_examples=100)
    @given(expr=HOURLY_EXPRS, where=zone_and_start())
    def test_it_fires_hourly_lines_at_every_real_matching_instant(self, expr: str, where: tuple[str, datetime]) -> None:
        zone, start = where
        tz, spec = ZoneInfo(zone), parse_cron(expr)
        found = list(itertools.islice(cron_slots(spec, start, tz), 20))
        assert all(a < b for a, b in zip(found, found[1:]))
        # Oracle: walk real minutes in UTC and keep those whose local wall time matches.
        expected = []
        probe = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while len(expected) < len(found):
            if probe > start and _wall_matches(spec, probe.astimezone(tz).replace(tzinfo=None)):
                expected.append(probe)
            probe += timedelta(minutes=1)
        assert found == expected


SEVERAL_FIXED_EXPRS = st.builds(
    lambda minutes, hours: f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * *",
    st.sets(st.integers(0, 59), min_size=2, max_size=5),
    st.sets(st.integers(0, 23), min_size=1, max_size=4),
)


class TestFixedTimeProperties:
    @settings(deadline=None, max_examples=150)
    @given(expr=SEVERAL_FIXED_EXPRS, where=zone_and_start())
    def test_each_listed_wall_time_of_a_day_gives_exactly_one_slot(self, expr: str, where: tuple[str, datetime]) -> None:
        # Issue 12, item 11. Oracle: the listed wall times from local noon to local noon three days
        # later, counted on the naive clock; DST nights neither add nor drop any.
        zone, start = where
        tz, spec = ZoneInfo(zone), parse_cron(expr)
        first_noon = start.astimezone(tz).replace(tzinfo=None, hour=12, minute=0, second=0, microsecond=0)
        last_noon = first_noon + timedelta(days=3)
        for noon in (first_noon, last_noon):  # the two ends must be plain times, away from any shift
            assume(schedule._exists(noon, tz) and schedule._second(noon, tz) is None)
            around = [(schedule._first(noon, tz) + timedelta(hours=h)).utcoffset() for h in (-26, 0, 26)]
            assume(len(set(around)) == 1)
        begin, end = schedule._first(first_noon, tz), schedule._first(last_noon, tz)
        found = list(itertools.takewhile(lambda s: s < end, cron_slots(spec, begin - timedelta(microseconds=1), tz)))
        listed = sum(1 for m in range(int((last_noon - first_noon) / timedelta(minutes=1)))
                     if _wall_matches(spec, first_noon + timedelta(minutes=m)))
        assert len(found) == listed
        assert all(a < b for a, b in zip(found, found[1:]))


# Random lines from the Vixie grammar, valid or not: parse_cron gives a spec or a sentence,
# and a spec always yields slots (the service assigns them right after the check).
_cron_item = st.one_of(
    st.just("*"),
    st.integers(0, 60).map(str),
    st.builds(lambda s: f"*/{s}", st.integers(1, 32)),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 31), st.integers(0, 31)),
    st.builds(lambda a, b, s: f"{a}-{b}/{s}", st.integers(0, 31), st.integers(0, 31), st.integers(1, 10)),
    st.sampled_from(["MON", "fri", "JAN", "dec", "SUN"]),
)
CRON_LINES = st.lists(st.lists(_cron_item, min_size=1, max_size=3).map(",".join), min_size=5, max_size=5).map(" ".join)


class TestAnyLine:
    @settings(deadline=None, max_examples=300)
    @given(line=CRON_LINES, zone=st.sampled_from(["Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia", "UTC"]))
    def test_a_line_parses_to_slots_or_is_refused_with_a_sentence(self, line: str, zone: str) -> None:
        try:
            spec = parse_cron(line)
        except ValueError as exc:
            assert str(exc).startswith(f'cron: "{line}"'), exc
            return
        assert parse_cron(spec.key) == spec and parse_cron(spec.key).key == spec.key
        tz = ZoneInfo(zone)
        found = list(itertools.islice(cron_slots(spec, datetime(2027, 3, 1, tzinfo=UTC), tz), 3))
        assert len(found) == 3 and all(a < b for a, b in zip(found, found[1:]))


class TestPurity:
    def test_it_imports_only_the_stdlib_croniter_and_core_modules(self) -> None:
        tree = ast.parse(Path(schedule.__file__).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add((node.module or "").split(".")[0])
        assert imported <= {"__future__", "enum", "heapq", "re", "dataclasses", "datetime", "typing", "zoneinfo", "croniter"}
        assert "now(" not in Path(schedule.__file__).read_text()
