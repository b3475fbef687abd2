"""The due-loop, one step at a time with a FakeClock: starts, late publishes, missed, logins, pauses."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.scheduler import MAX_SLEEP, Scheduler
from ralph_watch.tasks import State, TaskBoard

S = State
T0 = datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
GRACE = timedelta(hours=6)


class World:
    def __init__(self):
        self.clock = FakeClock(T0)
        self.board = TaskBoard(now=self.clock.now)
        self.logged_in = True
        self.free = 4
        self.submitted: list[tuple[str, str]] = []
        self.reslotted: list[str] = []
        self.settle_cron = None
        self.sched = Scheduler(board=self.board, clock=self.clock, late_grace=GRACE, runner=_Runner(self),
                               slots=_Slots(self), tz=ZoneInfo("UTC"), stop=threading.Event())

    @property
    def paused(self):
        return self.sched.paused

    @paused.setter
    def paused(self, value):
        if value:
            self.sched.pause()
        else:
            self.sched.resume()

    def submit(self, kind, tid):
        self.submitted.append((kind, tid))
        return True

    def reslot(self, task, now):
        self.reslotted.append(task.id)
        return now + timedelta(days=1)

    def task(self, key, *, due, at=None, cron=None, state=S.SCHEDULED, **kw):
        sc = SimpleNamespace(at=at, cron=cron)
        return self.board.create(key, state=state, due=due, sidecar_data=sc, **kw)


class _Runner:
    def __init__(self, world):
        self.w = world

    def logged_in(self):
        return self.w.logged_in

    def submit(self, kind, tid):
        return self.w.submit(kind, tid)

    def capacity(self):
        return self.w.free


class _Slots:
    def __init__(self, world):
        self.w = world

    def advance(self, task, now):
        return self.w.reslot(task, now)

    def settle(self, now, grace):
        return self.w.settle_cron(now) if self.w.settle_cron else None

    def release(self, pair, now):
        pass


@pytest.fixture
def w():
    return World()


class TestStarting:
    def test_it_claims_and_submits_a_due_task(self, w):
        t = w.task("a", due=T0)
        w.sched.step()
        assert w.submitted == [("publish", t.id)]
        assert w.board.get(t.id).state is S.UPLOADING

    def test_it_sleeps_until_the_next_due(self, w):
        w.task("a", due=T0 + timedelta(seconds=42))
        assert w.sched.step() == pytest.approx(42)
        assert w.submitted == []

    def test_it_never_sleeps_more_than_a_minute(self, w):
        w.task("a", due=T0 + timedelta(days=3))
        assert w.sched.step() == MAX_SLEEP

    def test_it_starts_no_more_than_the_free_workers(self, w):
        w.free = 2
        for i in range(5):
            w.task(f"k{i}", due=T0)
        assert w.sched.step() == pytest.approx(0.5)
        assert len(w.submitted) == 2
        assert w.board.counts() == {"uploading": 2, "scheduled": 3}

    def test_it_starts_nothing_while_paused(self, w):
        w.paused = True
        t = w.task("a", due=T0, at=T0)
        w.sched.step()
        assert w.submitted == [] and w.board.get(t.id).state is S.SCHEDULED


class TestLogin:
    def test_a_due_task_without_login_needs_login(self, w):
        w.logged_in = False
        t = w.task("a", due=T0, at=T0)
        w.sched.step()
        assert w.board.get(t.id).state is S.NEEDS_LOGIN

    def test_it_resumes_after_login_within_the_grace(self, w):
        w.logged_in = False
        t = w.task("a", due=T0, at=T0)
        w.sched.step()
        w.clock.advance(3600)
        w.logged_in = True
        w.sched.step()
        w.sched.step()
        assert w.submitted == [("publish", t.id)]

    def test_settling_waits_for_login(self, w):
        w.logged_in = False
        t = w.task("a", due=None, state=S.NEEDS_LOGIN, settle=True)
        w.sched.step()
        assert w.submitted == []
        w.logged_in = True
        w.sched.step()
        assert w.submitted == [("settle", t.id)]


class TestGrace:
    def test_an_at_task_beyond_the_grace_is_missed(self, w):
        w.paused = True
        t = w.task("a", due=T0, at=T0)
        w.clock.advance(GRACE.total_seconds() + 1)
        w.sched.step()
        got = w.board.get(t.id)
        assert got.state is S.MISSED and "Edit `at:`" in got.error

    def test_an_at_task_within_the_grace_is_published_late(self, w):
        t = w.task("a", due=T0, at=T0)
        w.clock.advance(GRACE.total_seconds() - 1)
        w.sched.step()
        assert w.submitted == [("publish", t.id)]

    def test_a_cron_task_beyond_the_grace_moves_to_its_next_slot_never_missed(self, w):
        w.logged_in = False
        t = w.task("a", due=T0, cron="0 18 * * 5")
        w.sched.step()
        w.clock.advance(GRACE.total_seconds() + 60)
        w.sched.step()
        got = w.board.get(t.id)
        assert got.state is S.SCHEDULED and got.due > w.clock.now() and w.reslotted == [t.id]

    def test_a_task_held_by_tiktok_limits_is_never_missed(self, w):
        w.paused = True
        t = w.task("a", due=T0, at=T0, held=True)
        w.clock.advance(GRACE.total_seconds() * 3)
        w.sched.step()
        assert w.board.get(t.id).state is S.SCHEDULED

    def test_a_published_now_cron_pair_starts_though_its_queue_no_longer_knows_it(self, w):
        # Issue 12, item 4: Publish now released its slot; the queue's settle never names it.
        w.settle_cron = lambda now: set()
        t = w.task("a", due=T0, cron="0 18 * * 5", cron_key="0 18 * * 5", held=True)
        w.sched.step()
        assert w.submitted == [("publish", t.id)] and w.reslotted == []

    def test_a_published_now_cron_pair_waits_out_a_pause_and_is_never_moved(self, w):
        w.paused = True
        w.settle_cron = lambda now: set()
        t = w.task("a", due=T0, cron="0 18 * * 5", cron_key="0 18 * * 5", held=True)
        w.clock.advance(GRACE.total_seconds() * 2)
        w.sched.step()
        assert w.board.get(t.id).state is S.SCHEDULED and w.reslotted == []
        w.paused = False
        w.sched.step()
        assert w.submitted == [("publish", t.id)]

    def test_a_pair_without_a_time_waits_for_login_forever(self, w):
        w.logged_in = False
        t = w.task("a", due=T0)
        w.sched.step()
        w.clock.advance(GRACE.total_seconds() * 10)
        w.sched.step()
        assert w.board.get(t.id).state is S.NEEDS_LOGIN

    def test_a_wall_clock_step_back_does_not_start_a_task_twice(self, w):
        t = w.task("a", due=T0)
        w.sched.step()
        w.clock.set(T0 - timedelta(hours=1))
        w.sched.step()
        assert w.submitted == [("publish", t.id)]


class TestFollowups:
    def test_it_submits_a_due_followup(self, w):
        t = w.task("a", due=None, state=S.IN_INBOX, followup=T0)
        w.sched.step()
        assert w.submitted == [("follow", t.id)]

    def test_it_wakes_for_a_future_followup(self, w):
        w.task("a", due=None, state=S.IN_INBOX, followup=T0 + timedelta(seconds=9))
        assert w.sched.step() == pytest.approx(9)
