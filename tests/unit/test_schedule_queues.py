"""schedule.CronQueues, late_decision and the quota helpers: pure, time injected."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.limits import Limits
from ralph_watch.schedule import (
    CronQueues,
    CronSpec,
    Lateness,
    late_decision,
    parse_cron,
    quota_warnings,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
HOURLY = parse_cron("0 * * * *")
DAILY = parse_cron("0 18 * * *")
GRACE = timedelta(hours=6)


def at(text: str) -> datetime:
    """`"2026-12-01 10:20"` -> that UTC instant (every instant in these tests is UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso(slots: dict[str, datetime]) -> dict[str, str]:
    return {pair: slot.astimezone(BERLIN).isoformat(timespec="minutes") for pair, slot in slots.items()}


def startup(queues: CronQueues, pairs: list[tuple[str, CronSpec]], *, now: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    """What the service does with the start-up scan: pairs assigned one by one in file-name order."""
    return {pair: queues.assign(pair, spec, now=now, tz=tz) for pair, spec in sorted(pairs, key=lambda p: p[0])}


@pytest.fixture
def four_hourly() -> CronQueues:
    """p1..p4 on the hourly queue at 11:00, 12:00, 13:00, 14:00 UTC on 2026-12-01."""
    queues = CronQueues()
    got = startup(queues, [(f"p{i}", HOURLY) for i in (4, 2, 3, 1)], now=at("2026-12-01 10:20"), tz=BERLIN)
    assert got == {f"p{i}": at(f"2026-12-01 {10 + i}:00") for i in (1, 2, 3, 4)}
    return queues


class TestStartup:
    def test_it_hands_out_slots_in_file_name_order_by_code_point(self) -> None:
        queues = CronQueues()
        names = ["b", "a/z", "a-z", "B", "ä"]
        got = startup(queues, [(name, HOURLY) for name in names], now=at("2026-12-01 10:20"), tz=BERLIN)
        assert iso(got) == {
            "B": "2026-12-01T12:00+01:00",
            "a-z": "2026-12-01T13:00+01:00",   # '-' (U+002D) sorts before '/' (U+002F)
            "a/z": "2026-12-01T14:00+01:00",
            "b": "2026-12-01T15:00+01:00",
            "ä": "2026-12-01T16:00+01:00",
        }

    def test_it_takes_a_slot_that_is_exactly_now(self) -> None:
        got = startup(CronQueues(), [("a", HOURLY)], now=at("2026-12-01 11:00"), tz=BERLIN)
        assert got == {"a": at("2026-12-01 11:00")}

    def test_it_puts_lines_that_mean_the_same_in_one_queue(self) -> None:
        queues = CronQueues()
        got = startup(
            queues,
            [("a", parse_cron("0 18 * * FRI")), ("b", parse_cron("0 18 * * 5")), ("c", parse_cron("0 18 * * fri"))],
            now=at("2027-01-01 00:00"),
            tz=BERLIN,
        )
        assert iso(got) == {
            "a": "2027-01-01T18:00+01:00",
            "b": "2027-01-08T18:00+01:00",
            "c": "2027-01-15T18:00+01:00",
        }

    def test_it_keeps_separate_queues_apart(self) -> None:
        got = startup(CronQueues(), [("a", HOURLY), ("b", DAILY)], now=at("2026-12-01 10:20"), tz=BERLIN)
        assert iso(got) == {"a": "2026-12-01T12:00+01:00", "b": "2026-12-01T18:00+01:00"}

    def test_it_lines_up_many_pairs_across_a_fall_back_night(self) -> None:
        queues = CronQueues()
        pairs = [(f"clip-{i:03d}", HOURLY) for i in range(300)]
        got = startup(queues, pairs, now=at("2027-10-30 21:30"), tz=BERLIN)  # 23:30 CEST
        ordered = [got[f"clip-{i:03d}"] for i in range(300)]
        # Real-time cadence: one hour apart everywhere, including the repeated 02:00.
        assert all(b - a == timedelta(hours=1) for a, b in zip(ordered, ordered[1:]))
        assert [s.astimezone(BERLIN).isoformat(timespec="minutes") for s in ordered[2:5]] == [
            "2027-10-31T02:00+02:00",
            "2027-10-31T02:00+01:00",
            "2027-10-31T03:00+01:00",
        ]

    def test_it_assigns_from_now_after_a_restart(self) -> None:
        before = startup(CronQueues(), [("a", DAILY), ("b", DAILY)], now=at("2026-12-01 10:00"), tz=BERLIN)
        assert iso(before) == {"a": "2026-12-01T18:00+01:00", "b": "2026-12-02T18:00+01:00"}
        # Down for three days: those slots are simply gone; a new process starts from now.
        after = startup(CronQueues(), [("a", DAILY), ("b", DAILY)], now=at("2026-12-04 20:00"), tz=BERLIN)
        assert iso(after) == {"a": "2026-12-05T18:00+01:00", "b": "2026-12-06T18:00+01:00"}


class TestAssign:
    def test_it_lets_a_pair_keep_its_slot(self, four_hourly: CronQueues) -> None:
        assert four_hourly.assign("p2", HOURLY, now=at("2026-12-01 10:50"), tz=BERLIN) == at("2026-12-01 12:00")
        assert four_hourly.assign("p2", parse_cron("@hourly"), now=at("2026-12-01 12:30"), tz=BERLIN) == at("2026-12-01 12:00")
        assert four_hourly.slot_of("p2") == at("2026-12-01 12:00")

    def test_it_gives_a_later_pair_the_earliest_free_slot(self, four_hourly: CronQueues) -> None:
        assert four_hourly.assign("p5", HOURLY, now=at("2026-12-01 10:30"), tz=BERLIN) == at("2026-12-01 15:00")
        four_hourly.release("p2", now=at("2026-12-01 10:40"))
        assert four_hourly.slot_of("p2") is None
        assert four_hourly.assign("p6", HOURLY, now=at("2026-12-01 10:45"), tz=BERLIN) == at("2026-12-01 12:00")

    def test_it_does_not_reuse_a_freed_slot_that_has_passed(self, four_hourly: CronQueues) -> None:
        four_hourly.release("p1", now=at("2026-12-01 11:02"))  # published at its slot
        assert four_hourly.assign("p5", HOURLY, now=at("2026-12-01 11:03"), tz=BERLIN) == at("2026-12-01 15:00")

    def test_it_does_not_reuse_a_spent_slot_after_the_clock_steps_back(self, four_hourly: CronQueues) -> None:
        four_hourly.release("p1", now=at("2026-12-01 11:02"))  # published at 11:00
        # NTP steps the clock back to 10:30: 11:00 is "in the future" again but already used.
        assert four_hourly.assign("p5", HOURLY, now=at("2026-12-01 10:30"), tz=BERLIN) == at("2026-12-01 15:00")

    def test_it_moves_a_pair_whose_line_changed_to_the_other_queue(self, four_hourly: CronQueues) -> None:
        assert four_hourly.assign("p1", DAILY, now=at("2026-12-01 10:30"), tz=BERLIN) == at("2026-12-01 17:00")
        assert four_hourly.assign("p5", HOURLY, now=at("2026-12-01 10:31"), tz=BERLIN) == at("2026-12-01 11:00")

    def test_it_forgets_unknown_pairs_quietly(self) -> None:
        CronQueues().release("nobody")

    def test_it_lists_pairs_and_slots(self, four_hourly: CronQueues) -> None:
        assert sorted(four_hourly.pairs()) == ["p1", "p2", "p3", "p4"]


class TestAdvance:
    def test_it_moves_a_pair_to_the_next_free_slot_after_now(self, four_hourly: CronQueues) -> None:
        # p1's 11:00 slot passed beyond the grace: the next free slot after now (p2-p4 hold 12-14).
        assert four_hourly.advance("p1", now=at("2026-12-01 11:30"), tz=BERLIN) == at("2026-12-01 15:00")

    def test_it_moves_strictly_past_the_old_slot_after_a_failed_try(self, four_hourly: CronQueues) -> None:
        # A publish-now of p4 (slot 14:00) failed at 10:40: it goes to the next free slot after 14:00.
        assert four_hourly.advance("p4", now=at("2026-12-01 10:40"), tz=BERLIN) == at("2026-12-01 15:00")

    def test_it_refuses_a_pair_without_a_slot(self) -> None:
        with pytest.raises(KeyError, match="ghost holds no cron slot"):
            CronQueues().advance("ghost", now=at("2026-12-01 10:40"), tz=BERLIN)


class TestSettle:
    def test_it_lets_a_slot_that_just_came_start(self, four_hourly: CronQueues) -> None:
        settled = four_hourly.settle(now=at("2026-12-01 11:00:30"), grace=GRACE, tz=BERLIN)
        assert settled.due == ("p1",) and dict(settled.moved) == {}

    def test_it_does_nothing_before_the_first_slot(self, four_hourly: CronQueues) -> None:
        settled = four_hourly.settle(now=at("2026-12-01 10:59"), grace=GRACE, tz=BERLIN)
        assert settled.due == () and dict(settled.moved) == {}

    def test_it_publishes_one_pair_late_and_moves_the_rest_after_a_pause(self, four_hourly: CronQueues) -> None:
        # Paused from 10:50 to 13:30: the slots of p1, p2 and p3 passed.
        settled = four_hourly.settle(now=at("2026-12-01 13:30"), grace=GRACE, tz=BERLIN)
        assert settled.due == ("p1",)
        assert dict(settled.moved) == {"p2": at("2026-12-01 15:00"), "p3": at("2026-12-01 16:00")}
        assert four_hourly.slot_of("p4") == at("2026-12-01 14:00")
        # Settling again changes nothing: p1 still may go, nobody else moves.
        again = four_hourly.settle(now=at("2026-12-01 13:31"), grace=GRACE, tz=BERLIN)
        assert again.due == ("p1",) and dict(again.moved) == {}

    def test_it_gives_up_slots_beyond_the_grace(self, four_hourly: CronQueues) -> None:
        settled = four_hourly.settle(now=at("2026-12-01 13:30"), grace=timedelta(hours=1), tz=BERLIN)
        assert settled.due == ("p3",)  # the only one within the grace
        assert dict(settled.moved) == {"p1": at("2026-12-01 15:00"), "p2": at("2026-12-01 16:00")}

    def test_it_moves_everyone_when_nothing_is_within_the_grace(self, four_hourly: CronQueues) -> None:
        settled = four_hourly.settle(now=at("2026-12-01 13:30"), grace=timedelta(0), tz=BERLIN)
        assert settled.due == ()
        assert dict(settled.moved) == {
            "p1": at("2026-12-01 15:00"),
            "p2": at("2026-12-01 16:00"),
            "p3": at("2026-12-01 17:00"),
        }

    def test_it_lets_each_queue_have_its_own_late_pair(self) -> None:
        queues = CronQueues()
        startup(
            queues,
            [("h1", HOURLY), ("h2", HOURLY), ("q1", parse_cron("30 * * * *")), ("q2", parse_cron("30 * * * *"))],
            now=at("2026-12-01 10:20"),
            tz=BERLIN,
        )
        settled = queues.settle(now=at("2026-12-01 12:45"), grace=GRACE, tz=BERLIN)
        assert sorted(settled.due) == ["h1", "q1"]
        assert dict(settled.moved) == {"h2": at("2026-12-01 13:00"), "q2": at("2026-12-01 13:30")}

    def test_it_leaves_busy_pairs_alone_and_starts_no_second_late_one(self, four_hourly: CronQueues) -> None:
        # p1 started on time at 11:00 and is still uploading at 12:00:20; p2 is on time.
        settled = four_hourly.settle(now=at("2026-12-01 12:00:20"), grace=GRACE, tz=BERLIN, busy={"p1"})
        assert settled.due == ("p2",) and dict(settled.moved) == {}
        # At 13:05 p1 is still busy and now late: p3 (late by 5 minutes) must not join it.
        settled = four_hourly.settle(now=at("2026-12-01 13:05"), grace=GRACE, tz=BERLIN, busy={"p1", "p2"})
        assert settled.due == ()
        assert dict(settled.moved) == {"p3": at("2026-12-01 15:00")}

    def test_it_treats_a_forward_clock_step_like_a_pause(self, four_hourly: CronQueues) -> None:
        # The wall clock jumps from 10:20 to 15:30 (NTP correction): four slots passed at once.
        settled = four_hourly.settle(now=at("2026-12-01 15:30"), grace=GRACE, tz=BERLIN)
        assert settled.due == ("p1",)
        assert dict(settled.moved) == {
            "p2": at("2026-12-01 16:00"),
            "p3": at("2026-12-01 17:00"),
            "p4": at("2026-12-01 18:00"),
        }

    def test_it_waits_through_a_backward_clock_step(self, four_hourly: CronQueues) -> None:
        # The clock steps back from 10:20 to 08:00: everyone keeps their slot and waits.
        settled = four_hourly.settle(now=at("2026-12-01 08:00"), grace=GRACE, tz=BERLIN)
        assert settled.due == () and dict(settled.moved) == {}
        assert four_hourly.slot_of("p1") == at("2026-12-01 11:00")
        assert late_decision(at("2026-12-01 11:00"), at("2026-12-01 08:00"), GRACE) is Lateness.WAIT
        # A newcomer takes the earliest free slot from the (new) now.
        assert four_hourly.assign("p5", HOURLY, now=at("2026-12-01 08:00"), tz=BERLIN) == at("2026-12-01 08:00")


class TestLateDecision:
    @pytest.mark.parametrize(
        "now, grace, expected",
        [
            ("2026-12-01 11:59:59", GRACE, "wait"),
            ("2026-12-01 12:00:00", GRACE, "now"),
            ("2026-12-01 12:01:00", GRACE, "now"),
            ("2026-12-01 12:01:01", GRACE, "late"),
            ("2026-12-01 18:00:00", GRACE, "late"),
            ("2026-12-01 18:00:01", GRACE, "too_late"),
            ("2026-12-01 12:00:30", timedelta(0), "now"),
            ("2026-12-01 12:02:00", timedelta(0), "too_late"),
        ],
        ids=["before", "at-due", "end-of-on-time", "just-late", "end-of-grace", "beyond-grace",
             "no-grace-on-time", "no-grace-late"],
    )
    def test_it_decides_by_how_far_behind_the_due_time_we_are(self, now: str, grace: timedelta, expected: str) -> None:
        decision = late_decision(at("2026-12-01 12:00"), at(now), grace)
        assert decision == expected and decision is Lateness(expected)


SMALL = Limits(daily_posts=3, init_per_window=2, window_seconds=60.0)


class TestQuota:
    def test_it_warns_where_the_daily_cap_is_first_exceeded(self) -> None:
        dues = [at(f"2026-12-24 {h:02d}:00") for h in (9, 11, 13, 15, 17)]  # 10:00 ... 18:00 CET
        assert quota_warnings(dues, limits=SMALL, tz=BERLIN, now=at("2026-12-20 00:00")) == [
            "The queue as scheduled has 4 direct posts in the 24 hours up to 2026-12-24 16:00 CET (Thu), but "
            "TikTok allows 3 per rolling 24 hours: that post and later ones will wait for the cap. Spread the "
            "times out or move some pairs to another day."
        ]

    def test_it_counts_posts_already_made(self) -> None:
        dues = [at("2026-12-24 17:00")]
        posted = [at("2026-12-24 08:00"), at("2026-12-24 09:00"), at("2026-12-23 18:00"), at("2026-12-23 12:00")]
        warnings = quota_warnings(dues, limits=SMALL, tz=BERLIN, now=at("2026-12-24 10:00"), posted=posted)
        assert len(warnings) == 1 and "4 direct posts" in warnings[0] and "2026-12-24 18:00 CET (Thu)" in warnings[0]

    def test_it_is_quiet_when_the_posts_are_spread_out(self) -> None:
        dues = [at(f"2026-12-{d:02d} 17:00") for d in range(20, 31)]
        assert quota_warnings(dues, limits=SMALL, tz=BERLIN, now=at("2026-12-19 00:00")) == []

    def test_it_treats_a_full_day_apart_as_a_new_window(self) -> None:
        dues = [at("2026-12-24 17:00")] * 1 + [at("2026-12-24 18:00"), at("2026-12-24 19:00"), at("2026-12-25 17:00")]
        assert quota_warnings(dues, limits=SMALL, tz=BERLIN, now=at("2026-12-19 00:00")) == []

    def test_it_warns_about_bursts_above_the_init_rate(self) -> None:
        dues = [at("2026-12-24 17:00:00"), at("2026-12-24 17:00:00"), at("2026-12-24 17:00:30")]
        assert quota_warnings(dues, limits=SMALL, tz=BERLIN, now=at("2026-12-19 00:00")) == [
            "3 posts are due within 60 seconds up to 2026-12-24 18:00 CET (Thu), but TikTok accepts 2 per "
            "60 seconds: some will start a little later."
        ]
