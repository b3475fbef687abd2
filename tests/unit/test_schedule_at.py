"""schedule.parse_at: the `at:` sidecar value -> an instant, with messages that say what to write.

Transitions used (tz database, 2027):
  Europe/Berlin        spring 2027-03-28 01:00Z (02:00 CET -> 03:00 CEST), fall 2027-10-31 01:00Z (03:00 -> 02:00)
  America/New_York     spring 2027-03-14 07:00Z (02:00 EST -> 03:00 EDT), fall 2027-11-07 06:00Z (02:00 -> 01:00)
  Australia/Lord_Howe  fall 2027-04-03 15:00Z (02:00 +11 -> 01:30 +10:30), spring 2027-10-02 15:30Z (02:00 -> 02:30)
  America/Santiago     fall 2027-04-04 03:00Z (24:00 -03 -> 23:00 -04), spring 2027-09-05 04:00Z (00:00 -04 -> 01:00 -03)
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.schedule import parse_at

BERLIN = ZoneInfo("Europe/Berlin")


def utc_iso(text: object, zone: str = "Europe/Berlin") -> str:
    return parse_at(text, ZoneInfo(zone)).isoformat()


class TestAccepted:
    @pytest.mark.parametrize(
        "text, zone, expected",
        [
            ("2026-12-24 18:00", "Europe/Berlin", "2026-12-24T17:00:00+00:00"),
            ("2026-12-24T18:00", "Europe/Berlin", "2026-12-24T17:00:00+00:00"),
            ("2026-12-24 18:00:30", "Europe/Berlin", "2026-12-24T17:00:30+00:00"),
            ("  2026-12-24 18:00  ", "Europe/Berlin", "2026-12-24T17:00:00+00:00"),
            ("2026-07-01 09:05", "Europe/Berlin", "2026-07-01T07:05:00+00:00"),
            ("2026-12-24 9:00", "Europe/Berlin", "2026-12-24T08:00:00+00:00"),
            ("2026-12-24 18:00Z", "Europe/Berlin", "2026-12-24T18:00:00+00:00"),
            ("2026-12-24T18:00:00z", "Europe/Berlin", "2026-12-24T18:00:00+00:00"),
            ("2026-12-24 18:00+05:30", "Europe/Berlin", "2026-12-24T12:30:00+00:00"),
            ("2026-12-24 18:00 -0800", "Europe/Berlin", "2026-12-25T02:00:00+00:00"),
            ("2026-12-24 18:00+01", "America/New_York", "2026-12-24T17:00:00+00:00"),
            ("2026-12-24 18:00", "America/New_York", "2026-12-24T23:00:00+00:00"),
            # with an offset, a wall time inside the local gap is still a real instant
            ("2027-03-28 02:30+01:00", "Europe/Berlin", "2027-03-28T01:30:00+00:00"),
        ],
        ids=[
            "space", "T", "seconds", "surrounding-blanks", "summer", "one-digit-hour", "Z",
            "lowercase-z", "offset-colon", "offset-no-colon", "offset-hours-only", "new-york",
            "offset-wins-over-gap",
        ],
    )
    def test_it_reads_the_instant(self, text: str, zone: str, expected: str) -> None:
        assert utc_iso(text, zone) == expected

    @pytest.mark.parametrize(
        "text, zone, expected",
        [
            ("2027-10-31 02:30", "Europe/Berlin", "2027-10-31T00:30:00+00:00"),        # 02:30 CEST, not CET
            ("2027-11-07 01:30", "America/New_York", "2027-11-07T05:30:00+00:00"),     # 01:30 EDT, not EST
            ("2027-04-04 01:45", "Australia/Lord_Howe", "2027-04-03T14:45:00+00:00"),  # +11:00, not +10:30
            ("2027-04-03 23:30", "America/Santiago", "2027-04-04T02:30:00+00:00"),     # -03:00, not -04:00
        ],
        ids=["berlin", "new-york", "lord-howe", "santiago"],
    )
    def test_it_takes_the_first_occurrence_of_a_repeated_wall_time(self, text: str, zone: str, expected: str) -> None:
        assert utc_iso(text, zone) == expected

    def test_it_takes_aware_datetimes_as_they_are(self) -> None:
        when = datetime(2026, 12, 24, 18, 0, tzinfo=timezone.utc)
        assert parse_at(when, BERLIN) == when

    def test_it_reads_naive_datetimes_as_wall_time(self) -> None:
        assert parse_at(datetime(2026, 12, 24, 18, 0), BERLIN).isoformat() == "2026-12-24T17:00:00+00:00"


class TestGap:
    @pytest.mark.parametrize(
        "text, zone, message",
        [
            (
                "2027-03-28 02:30", "Europe/Berlin",
                'at: "2027-03-28 02:30" does not exist in Europe/Berlin: clocks jump from 02:00 to 03:00 '
                'that night. The nearest valid times are "2027-03-28 01:59+01:00" and '
                '"2027-03-28 03:00+02:00"; write one of them',
            ),
            (
                "2027-03-28T02:00:00", "Europe/Berlin",
                'at: "2027-03-28T02:00:00" does not exist in Europe/Berlin: clocks jump from 02:00 to 03:00 '
                'that night. The nearest valid times are "2027-03-28 01:59+01:00" and '
                '"2027-03-28 03:00+02:00"; write one of them',
            ),
            (
                "2027-03-14 02:15:30", "America/New_York",
                'at: "2027-03-14 02:15:30" does not exist in America/New_York: clocks jump from 02:00 to '
                '03:00 that night. The nearest valid times are "2027-03-14 01:59-05:00" and '
                '"2027-03-14 03:00-04:00"; write one of them',
            ),
            (
                "2027-10-03 02:15", "Australia/Lord_Howe",
                'at: "2027-10-03 02:15" does not exist in Australia/Lord_Howe: clocks jump from 02:00 to '
                '02:30 that night. The nearest valid times are "2027-10-03 01:59+10:30" and '
                '"2027-10-03 02:30+11:00"; write one of them',
            ),
            (
                "2027-09-05 00:00", "America/Santiago",
                'at: "2027-09-05 00:00" does not exist in America/Santiago: clocks jump from 00:00 to '
                '01:00 that night. The nearest valid times are "2027-09-04 23:59-04:00" and '
                '"2027-09-05 01:00-03:00"; write one of them',
            ),
        ],
        ids=["berlin", "berlin-gap-start", "new-york-seconds", "lord-howe-30-minutes", "santiago-midnight"],
    )
    def test_it_refuses_a_wall_time_that_does_not_exist_naming_the_nearest_valid_times(
        self, text: str, zone: str, message: str
    ) -> None:
        with pytest.raises(ValueError) as info:
            parse_at(text, ZoneInfo(zone))
        assert str(info.value) == message

    def test_it_suggests_times_that_parse_back(self) -> None:
        for suggestion in ("2027-03-28 01:59+01:00", "2027-03-28 03:00+02:00"):
            assert parse_at(suggestion, BERLIN) > datetime(2027, 3, 28, tzinfo=timezone.utc)

    def test_it_refuses_a_naive_datetime_in_the_gap(self) -> None:
        with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
            parse_at(datetime(2027, 3, 28, 2, 30), BERLIN)


class TestRefused:
    @pytest.mark.parametrize(
        "value, message",
        [
            ("2026-12-24", 'at: "2026-12-24" is a date without a time; write the time too, e.g. at: "2026-12-24 18:00"'),
            (date(2026, 12, 24), 'at: "2026-12-24" is a date without a time; write the time too, e.g. at: "2026-12-24 18:00"'),
            ("18:00", 'at: "18:00" is a time without a date; write the date too, e.g. at: "2026-12-24 18:00"'),
            ("9:30", 'at: "9:30" is a time without a date; write the date too, e.g. at: "2026-12-24 09:30"'),
            (
                1080,
                "at: 1080 is a number, not a date and time (YAML 1.1 reads an unquoted 18:00 as the number 1080); "
                'write the date and time in quotes, e.g. at: "2026-12-24 18:00"',
            ),
            (
                570,
                "at: 570 is a number, not a date and time (YAML 1.1 reads an unquoted 9:30 as the number 570); "
                'write the date and time in quotes, e.g. at: "2026-12-24 18:00"',
            ),
            (
                20261224,
                'at: 20261224 is a number, not a date and time; write the date and time in quotes, e.g. at: "2026-12-24 18:00"',
            ),
            (
                18.5,
                'at: 18.5 is a number, not a date and time; write the date and time in quotes, e.g. at: "2026-12-24 18:00"',
            ),
            (
                True,
                'at: True is not a date and time; write the date and time in quotes, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "2026-02-30 18:00",
                'at: "2026-02-30 18:00" is not a real date and time (day is out of range for month); '
                'write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "2026-12-24 24:00",
                'at: "2026-12-24 24:00" is not a real date and time (hour must be in 0..23); '
                'write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "2026-12-24 18:00+25:00",
                'at: "2026-12-24 18:00+25:00" has an impossible offset +25:00; write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "next friday",
                'at: "next friday" is not a date and time in the form "YYYY-MM-DD HH:MM" (seconds and an offset '
                'such as +01:00 or Z are optional); write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "2026-12-24 18:00 Europe/Paris",
                'at: "2026-12-24 18:00 Europe/Paris" is not a date and time in the form "YYYY-MM-DD HH:MM" (seconds '
                'and an offset such as +01:00 or Z are optional); write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
            (
                "",
                'at: "" is not a date and time in the form "YYYY-MM-DD HH:MM" (seconds and an offset such as '
                '+01:00 or Z are optional); write the date and time, e.g. at: "2026-12-24 18:00"',
            ),
        ],
        ids=[
            "date-only", "date-object", "bare-time", "bare-time-one-digit", "yaml-sexagesimal-1080",
            "yaml-sexagesimal-570", "big-int", "float", "bool", "no-such-day", "hour-24", "bad-offset",
            "words", "zone-name", "empty",
        ],
    )
    def test_it_says_what_to_write_instead(self, value: object, message: str) -> None:
        with pytest.raises(ValueError) as info:
            parse_at(value, BERLIN)
        assert str(info.value) == message
