"""schedule.due_decision: when a scheduled pair goes out, as one table (issue 12, item 4).

Rows: `at`, `cron` and "now" pairs (neither key) × not yet / on time / within the grace /
beyond it / paused / logged out / its queue moved it, and the same pinned by Publish now (or
Retry, or TikTok's limits). A pinned pair goes out as a "now" pair: never missed, never moved,
never held back by a queue it gave its slot up to. Before the fix a published-now cron pair
was held back by its queue for ever (it had no slot there any more) and stayed `scheduled`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ralph_watch.schedule import Due, due_decision

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=timezone.utc)
GRACE = timedelta(hours=6)
SOON, ON_TIME, LATE, TOO_LATE = timedelta(minutes=-5), timedelta(0), timedelta(hours=1), timedelta(hours=7)
W, GO, LOGIN, MOVE, MISSED = Due.WAIT, Due.START, Due.LOGIN, Due.MOVE, Due.MISSED

# (situation, how far behind `due` is, pinned, paused, logged_in, queue_allows, {kind: decision})
TABLE = [
    ("not yet", SOON, False, False, True, True, {"at": W, "cron": W, "now": W}),
    ("on time", ON_TIME, False, False, True, True, {"at": GO, "cron": GO, "now": GO}),
    ("within grace", LATE, False, False, True, True, {"at": GO, "cron": GO, "now": GO}),
    ("within grace, queue moved it", LATE, False, False, True, False, {"at": GO, "cron": W, "now": GO}),
    ("beyond grace", TOO_LATE, False, False, True, True, {"at": MISSED, "cron": MOVE, "now": GO}),
    ("paused, on time", ON_TIME, False, True, True, True, {"at": W, "cron": W, "now": W}),
    ("paused, within grace", LATE, False, True, True, True, {"at": W, "cron": W, "now": W}),
    ("paused, beyond grace", TOO_LATE, False, True, True, True, {"at": MISSED, "cron": MOVE, "now": W}),
    ("logged out, on time", ON_TIME, False, False, False, True, {"at": LOGIN, "cron": LOGIN, "now": LOGIN}),
    ("logged out, beyond grace", TOO_LATE, False, False, False, True, {"at": MISSED, "cron": MOVE, "now": LOGIN}),
    # Publish now: due = now, pinned; a cron pair has released its slot, so its queue never lets it start.
    ("publish now", ON_TIME, True, False, True, False, {"at": GO, "cron": GO, "now": GO}),
    ("publish now, still waiting within grace", LATE, True, False, True, False, {"at": GO, "cron": GO, "now": GO}),
    ("publish now, resumed beyond grace", TOO_LATE, True, False, True, False, {"at": GO, "cron": GO, "now": GO}),
    ("publish now, paused", ON_TIME, True, True, True, False, {"at": W, "cron": W, "now": W}),
    ("publish now, paused beyond grace", TOO_LATE, True, True, True, False, {"at": W, "cron": W, "now": W}),
    ("publish now, logged out", ON_TIME, True, False, False, False, {"at": LOGIN, "cron": LOGIN, "now": LOGIN}),
    ("publish now, logged out beyond grace", TOO_LATE, True, False, False, False,
     {"at": LOGIN, "cron": LOGIN, "now": LOGIN}),
    ("held by TikTok's limits, not yet", SOON, True, False, True, True, {"at": W, "cron": W, "now": W}),
]
ROWS = [(situation, kind, behind, pinned, paused, logged_in, queue, want)
        for situation, behind, pinned, paused, logged_in, queue, wants in TABLE for kind, want in wants.items()]


@pytest.mark.parametrize(
    "situation, kind, behind, pinned, paused, logged_in, queue_allows, expected",
    ROWS,
    ids=[f"{row[1]}: {row[0]}" for row in ROWS],
)
def test_when_a_scheduled_pair_goes_out(situation: str, kind: str, behind: timedelta, pinned: bool, paused: bool,
                                        logged_in: bool, queue_allows: bool, expected: Due) -> None:
    got = due_decision(kind, NOW - behind, NOW, GRACE, pinned=pinned, paused=paused, logged_in=logged_in,
                       queue_allows=queue_allows)
    assert got is expected, f"{kind} pair, {situation}: {got.value}, expected {expected.value}"


def test_the_grace_edge_counts_as_within() -> None:
    assert due_decision("at", NOW - GRACE, NOW, GRACE) is Due.START
    assert due_decision("at", NOW - GRACE - timedelta(seconds=1), NOW, GRACE) is Due.MISSED


def test_a_scheduler_that_wakes_a_little_late_is_on_time_even_with_no_grace() -> None:
    # The same on-time minute as CronQueues.settle, so a 0 grace does not miss every pair.
    assert due_decision("at", NOW - timedelta(seconds=2), NOW, timedelta(0)) is Due.START
