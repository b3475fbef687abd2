""""When" has one owner: the due-loop and the cron planner of an account.

It decides which tasks start, wait, go late or are missed: `at` times, cron queue slots, the
late grace, Publish now, pause, and (through `due`, which the publisher moves) waiting for
TikTok's rate limits and daily caps. The pure rules are in `schedule.py` (`due_decision`,
`CronQueues`, `late_decision`); this module carries them out on the board.

One `step()` is one bounded pass that returns how long to sleep; `run()` sleeps on an Event
(woken early when the board changes) and never longer than a minute, so a wall-clock step
(NTP, suspend) is noticed within a minute. Tests call `step()` with a FakeClock.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import ContextManager, Protocol
from zoneinfo import ZoneInfo

from .clock import Clock
from .schedule import CronQueues, Due, due_decision, parse_cron
from .tasks import State, Task, TaskBoard

__all__ = ["Scheduler", "Planner", "Runner", "Slots", "MAX_SLEEP", "describe"]

log = logging.getLogger(__name__)
S = State
MAX_SLEEP = 60.0


def describe(when: datetime, tz: ZoneInfo) -> str:
    """An instant in the configured zone, for messages."""
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


class Runner(Protocol):
    """What the due-loop needs from the service: the login and the publish workers."""

    def logged_in(self) -> bool: ...

    def submit(self, kind: str, task_id: str) -> bool:
        """Run `kind` (publish, settle, follow) for the task; False if not accepted."""

    def capacity(self) -> int:
        """Free publish workers."""


class Slots(Protocol):
    """The cron slots as the due-loop sees them (`Planner`)."""

    def advance(self, task: Task, now: datetime) -> datetime | None:
        """A cron task whose slot is gone: its next slot (None: not a cron task)."""

    def settle(self, now: datetime, grace: timedelta) -> set[str] | None:
        """Which cron pairs with passed slots may start (no bursts); None: no queues."""

    def release(self, pair: str, now: datetime) -> None:
        """The pair gives its slot up."""


class Planner:
    """The cron queues of one account (`schedule.CronQueues`), used under the lock that guards
    the account's task decisions (CronQueues is not thread-safe)."""

    def __init__(self, *, board: TaskBoard, lock: ContextManager[object], tz: ZoneInfo) -> None:
        self.board = board
        self.lock = lock
        self.tz = tz
        self.queues = CronQueues()

    def slot_of(self, pair: str) -> datetime | None:
        with self.lock:
            return self.queues.slot_of(pair)

    def slot_for(self, pair: str, cron: str, *, keep: bool, now: datetime) -> datetime:
        """The pair's slot in the queue of `cron`: the one it holds if `keep`, else the earliest free."""
        with self.lock:
            slot = self.queues.slot_of(pair) if keep else None
            if slot is None:
                self.queues.release(pair, now=now)
                slot = self.queues.assign(pair, parse_cron(cron), now=now, tz=self.tz)
            return slot

    def release(self, pair: str, now: datetime) -> None:
        """The pair gives its slot up (a passed one is spent: never handed out twice)."""
        with self.lock:
            self.queues.release(pair, now=now)

    def advance(self, task: Task, now: datetime) -> datetime | None:
        sc = task.sidecar_data
        if sc is None or not sc.cron:
            return None
        with self.lock:
            return self.queues.advance(task.key, now=now, tz=self.tz)

    def settle(self, now: datetime, grace: timedelta) -> set[str]:
        """Cron slots that passed: one late publish per queue, the others move on (no bursts)."""
        with self.lock:
            busy = {t.key for t in self.board.select(lambda t: bool(t.cron_key) and (t.state is not S.SCHEDULED
                                                                                   or t.held))}
            settled = self.queues.settle(now=now, grace=grace, tz=self.tz, busy=busy)
            for pair, slot in settled.moved.items():
                t = self.board.by_key(pair)
                if t is not None and t.state is S.SCHEDULED:
                    self.board.update(t.id, due=slot, error=f"Its slot passed while another pair of the queue was "
                                                            f"published late; moved to {describe(slot, self.tz)}.")
            return set(settled.due)


class Scheduler:
    def __init__(self, *, board: TaskBoard, clock: Clock, late_grace: timedelta, runner: Runner, slots: Slots,
                 tz: ZoneInfo, stop: threading.Event) -> None:
        self.board = board
        self.clock = clock
        self.grace = late_grace
        self.runner = runner
        self.slots = slots
        self.tz = tz
        self.stop = stop
        self._paused = False
        self.pause_reason: str | None = None   # a sentence when paused by a fault, not by the page
        self.wake = threading.Event()
        self.last_step: datetime | None = None

    # -- what the service and the page change ---------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self, reason: str | None = None) -> None:
        self._paused = True
        self.pause_reason = reason

    def resume(self) -> None:
        self._paused = False
        self.pause_reason = None
        self.wake.set()

    def set_late_grace(self, grace: timedelta) -> None:
        self.grace = grace

    def describe(self, when: datetime) -> str:
        return describe(when, self.tz)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.stop.is_set():
            try:
                timeout = self.step()
            except Exception:  # one bad pass must not end scheduling
                log.exception("scheduler step failed")
                timeout = 5.0
            self.wake.wait(timeout)
            self.wake.clear()

    def step(self) -> float:
        now = self.clock.now()
        self.last_step = now
        logged_in = self.runner.logged_in()
        paused = self._paused
        wakes: list[datetime] = []
        candidates = self.board.select(lambda t: t.state in (S.SCHEDULED, S.NEEDS_LOGIN) or t.settle
                                       or t.followup is not None)
        due_now: list[Task] = []
        may_start = self.slots.settle(now, self.grace) if (logged_in and not paused) else None
        for t in sorted(candidates, key=lambda t: (t.due or now, t.key)):
            if self._look_at(t, now, wakes, logged_in=logged_in, paused=paused, may_start=may_start):
                due_now.append(t)
        free = self.runner.capacity()
        for t in due_now[:max(0, free)]:
            # The error of the last try (a retry note, a limit) is stale once publishing starts.
            claimed = self.board.transition(t.id, S.UPLOADING, expect={S.SCHEDULED}, progress=0.0, error=None)
            if claimed is not None and not self.runner.submit("publish", t.id):
                self.board.transition(t.id, S.SCHEDULED, expect={S.UPLOADING}, progress=None)
        if len(due_now) > free:
            wakes.append(now + timedelta(seconds=0.5))  # a worker frees up soon; look again
        if not wakes:
            return MAX_SLEEP
        soonest = min(wakes)
        return max(0.0, min(MAX_SLEEP, (soonest - self.clock.now()).total_seconds()))

    def _look_at(self, t: Task, now: datetime, wakes: list[datetime], *, logged_in: bool, paused: bool,
                 may_start: set[str] | None) -> bool:
        """One candidate in one pass: True when it should start now."""
        if t.settle:
            if logged_in:
                self.runner.submit("settle", t.id)
            return False
        if t.followup is not None:
            if t.followup <= now:
                # a status check finds out about a logout itself, as a delete needs no login
                if logged_in or t.followup_kind in ("delete", "poll"):
                    self.runner.submit("follow", t.id)
            else:
                wakes.append(t.followup)
        if t.state is S.NEEDS_LOGIN:
            if logged_in:
                self.board.transition(t.id, S.SCHEDULED, expect={S.NEEDS_LOGIN}, error=None)
                wakes.append(now)
            elif t.due is not None:
                self._apply_late(t, now, self._decide(t, now, paused=paused, logged_in=False, may_start=None))
            return False
        if t.state is not S.SCHEDULED or t.due is None:
            return False
        if t.due > now:
            wakes.append(t.due)
            return False
        decision = self._decide(t, now, paused=paused, logged_in=logged_in, may_start=may_start)
        if self._apply_late(t, now, decision) or decision is Due.WAIT:
            return False  # moved on, or paused, or its queue moved it to a later slot
        if decision is Due.LOGIN:
            self.board.transition(t.id, S.NEEDS_LOGIN, expect={S.SCHEDULED},
                                  error=f"Due at {self.describe(t.due)}: log in with TikTok on the page to publish it.")
            return False
        return True

    def _decide(self, t: Task, now: datetime, *, paused: bool, logged_in: bool,
                may_start: set[str] | None) -> Due:
        """schedule.due_decision for a task: its kind from the sidecar, pinned when its due was
        set by Publish now, Retry or TikTok's limits (`held`)."""
        sc = t.sidecar_data
        kind = "cron" if sc is not None and sc.cron else "at" if sc is not None and sc.at is not None else "now"
        assert t.due is not None
        return due_decision(kind, t.due, now, self.grace, pinned=t.held, paused=paused, logged_in=logged_in,
                            queue_allows=may_start is None or not t.cron_key or t.key in may_start)

    def _apply_late(self, t: Task, now: datetime, decision: Due) -> bool:
        """Carry out MOVE (next free cron slot) or MISSED; True when the task was moved on."""
        if decision is Due.MOVE:
            assert t.due is not None
            slot = self.slots.advance(t, now)
            if slot is not None:
                self.board.transition(t.id, S.SCHEDULED, expect={S.SCHEDULED, S.NEEDS_LOGIN}, due=slot,
                                      error=f"The slot {self.describe(t.due)} passed without a publish; "
                                            f"moved to the next free slot.")
            return True
        if decision is Due.MISSED:
            assert t.due is not None
            self.board.transition(t.id, S.MISSED, expect={S.SCHEDULED, S.NEEDS_LOGIN},
                                  error=f"The time {self.describe(t.due)} passed more than "
                                        f"{self.grace.total_seconds() / 3600:g} h ago while ralph-watch could not "
                                        "publish (down, logged out or paused). Edit `at:` in the sidecar to a new "
                                        "time, or press Retry to publish it now.")
            return True
        return False

    # -- Publish now ----------------------------------------------------------------------------
    def publish_now(self, task: Task) -> None:
        """The pair gives its cron slot up (free again for the next pair of the queue) and is
        pinned: due now, never missed or moved, not held back by a queue (due_decision)."""
        now = self.clock.now()
        self.slots.release(task.key, now)
        self.board.update(task.id, due=now, held=True, error=None)
        self.wake.set()
