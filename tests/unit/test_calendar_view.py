"""The calendar of the next 14 days (pure, as tables) and GET /calendar without JavaScript."""
from __future__ import annotations

from itertools import islice
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import webtest

from ralph_watch.calendar_view import DENSE, Item, build
from ralph_watch.limits import Limits
from ralph_watch.schedule import cron_slots, parse_cron
from ralph_watch.tasks import State
from ralph_watch.web import make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 24, 11, 0, tzinfo=timezone.utc)   # 12:00 in Berlin, a Thursday
UTC = timezone.utc


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ).astimezone(UTC)


def test_it_has_fourteen_local_days_from_today():
    days = build([], now=NOW, tz=TZ, limits=Limits())
    assert len(days) == 14 and days[0].label == "Thu 24 Dec 2026" and days[-1].label == "Wed 06 Jan 2027"
    assert all(d.empty for d in days)


def test_at_pairs_are_listed_on_their_local_day_in_time_order():
    items = [Item("2", "b.mp4", "scheduled", local(2026, 12, 25, 0, 30)),
             Item("1", "a.mp4", "scheduled", local(2026, 12, 24, 23, 30)),
             Item("3", "far.mp4", "scheduled", local(2027, 2, 1, 10))]       # beyond the 14 days
    days = build(items, now=NOW, tz=TZ, limits=Limits())
    assert [(s.time, s.item.name) for s in days[0].items] == [("23:30", "a.mp4")]
    assert [(s.time, s.item.name) for s in days[1].items] == [("00:30", "b.mp4")]
    assert sum(len(d.items) for d in days) == 2


def test_a_cron_queue_shows_each_slot_with_its_pair_or_free():
    line = parse_cron("0 18 * * *").key
    slots = list(islice(cron_slots(parse_cron(line), NOW, TZ), 3))
    items = [Item("1", "a.mp4", "scheduled", slots[0], cron_key=line),
             Item("2", "b.mp4", "scheduled", slots[2], cron_key=line)]
    days = build(items, now=NOW, tz=TZ, limits=Limits())
    rows = [[(s.time, s.item.name if s.item else "free") for s in q.slots] for d in days[:3] for q in d.queues]
    assert rows == [[("18:00", "a.mp4")], [("18:00", "free")], [("18:00", "b.mp4")]]
    assert all(len(d.queues) == 1 and not d.queues[0].dense for d in days)
    assert not days[0].items, "a held slot is not listed twice"


def test_todays_passed_slots_are_not_drawn():
    line = parse_cron("0 9,18 * * *").key
    days = build([Item("1", "a.mp4", "scheduled", local(2026, 12, 24, 18), cron_key=line)],
                 now=NOW, tz=TZ, limits=Limits())
    assert [s.time for s in days[0].queues[0].slots] == ["18:00"]
    assert [s.time for s in days[1].queues[0].slots] == ["09:00", "18:00"]


@pytest.mark.parametrize("text", ["* * * * *", "@hourly", "*/5 * * * *"])
def test_dense_queues_are_one_line_per_day(text):
    line = parse_cron(text).key
    held = [Item(str(i), f"v{i}.mp4", "scheduled", s, cron_key=line)
            for i, s in enumerate(islice(cron_slots(parse_cron(line), NOW, TZ), 30))]
    days = build(held, now=NOW, tz=TZ, limits=Limits(daily_posts=1000))
    for d in days:
        (q,) = d.queues
        assert q.dense and q.slots == ()
    assert sum(len(d.queues[0].held) + d.queues[0].more_held for d in days) == 30
    assert len(days[0].queues[0].held) <= 20
    assert days[1].queues[0].first == "00:00"


def test_a_queue_with_few_slots_a_day_is_not_dense():
    line = parse_cron("0 */2 * * *").key    # 12 a day: the limit, still drawn
    days = build([Item("1", "a.mp4", "scheduled", local(2026, 12, 25, 2), cron_key=line)],
                 now=NOW, tz=TZ, limits=Limits())
    assert not days[1].queues[0].dense and len(days[1].queues[0].slots) == DENSE


def test_posts_and_free_slots_beyond_the_rolling_cap_are_marked():
    limits = Limits(daily_posts=2)
    line = parse_cron("0 * * * *").key   # dense, but held slots are shown
    items = [Item("1", "a.mp4", "scheduled", local(2026, 12, 24, 14)),
             Item("2", "b.mp4", "scheduled", local(2026, 12, 24, 15)),
             Item("3", "c.mp4", "scheduled", local(2026, 12, 24, 16)),           # third in 24 h: over
             Item("4", "d.mp4", "scheduled", local(2026, 12, 24, 17), direct=False),  # a draft: never
             Item("5", "e.mp4", "scheduled", local(2026, 12, 26, 16))]           # two days later: fine
    days = build(items, now=NOW, tz=TZ, limits=limits)
    assert [(s.item.name, s.over_cap) for s in days[0].items] == [
        ("a.mp4", False), ("b.mp4", False), ("c.mp4", True), ("d.mp4", False)]
    assert [(s.item.name, s.over_cap) for s in days[2].items] == [("e.mp4", False)]
    # A free slot is marked too when a post there would wait for the cap.
    days = build([*items[:2], Item("9", "q.mp4", "scheduled", local(2026, 12, 25, 18), cron_key=parse_cron(
        "0 13,18 * * *").key)], now=NOW, tz=TZ, limits=limits)
    (q,) = [q for q in days[0].queues]
    assert [(s.time, s.item, s.over_cap) for s in q.slots] == [("13:00", None, False), ("18:00", None, True)]
    assert [(s.time, s.over_cap) for s in days[1].queues[0].slots] == [("13:00", True), ("18:00", False)]
    del line


def test_posts_already_made_count_for_the_cap():
    limits = Limits(daily_posts=1)
    days = build([Item("1", "a.mp4", "scheduled", local(2026, 12, 24, 14))], now=NOW, tz=TZ, limits=limits,
                 posted=[NOW - timedelta(hours=1)])
    assert days[0].items[0].over_cap


class TestCalendarRoute:
    def test_it_renders_without_javascript_and_is_linked_from_the_header(self):
        clock = FakeClock(START)
        config = web_config()
        backend = FakeBackend(clock=clock, config=config)
        app = webtest.TestApp(make_app(backend, config, clock=clock),
                              extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})
        line = parse_cron("0 18 * * FRI").key
        slot = next(cron_slots(parse_cron(line), START, config.tz))
        backend.board.create("weekly", state=State.SCHEDULED, video="weekly.mp4", sidecar="weekly.yaml",
                             due=slot, cron_key=line, mode="direct")
        backend.board.create("once", state=State.SCHEDULED, video="once.mp4", sidecar="once.yaml",
                             due=START + timedelta(hours=3), mode="direct")
        backend.board.create("minutely", state=State.SCHEDULED, video="m.mp4", sidecar="m.yaml",
                             due=next(cron_slots(parse_cron("* * * * *"), START, config.tz)),
                             cron_key=parse_cron("* * * * *").key, mode="direct")
        page = app.get("/calendar")
        assert page.headers["Cache-Control"] == "no-store"
        text = page.text
        assert "weekly.mp4" in text and "once.mp4" in text and "free" in text and "Europe/Berlin" in text
        assert text.count("<li") < 200, "the every-minute queue is one line a day"
        assert "Slots all day" in text
        assert 'href="/calendar"' in app.get("/").text
        assert "<script" not in text.split("</head>")[1]


def test_a_crowded_day_lists_its_first_pairs_and_counts_the_rest():
    from ralph_watch.calendar_view import SHOWN_AT
    items = [Item(str(i), f"v{i:03}.mp4", "scheduled", local(2026, 12, 25, 8) + timedelta(seconds=i))
             for i in range(SHOWN_AT + 7)]
    day = build(items, now=NOW, tz=TZ, limits=Limits(daily_posts=1000))[1]
    assert len(day.items) == SHOWN_AT and day.more_items == 7 and day.items[0].item.name == "v000.mp4"
