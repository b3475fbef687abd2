"""The due-loop: decides, at each step, which tasks start, wait, go late or are missed.

One `step()` is one bounded pass that returns how long to sleep; `run()` sleeps on an Event
(woken early when the board changes) and never longer than a minute, so a wall-clock step
(NTP, suspend) is noticed within a minute. Tests call `step()` with a FakeClock.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from .clock import Clock
from .schedule import Due, due_decision
from .tasks import State, Task, TaskBoard

__all__ = ["Scheduler", "MAX_SLEEP"]

log = logging.getLogger(__name__)
S = State
MAX_SLEEP = 60.0


class Scheduler:
    def __init__(self, *, board: TaskBoard, clock: Clock, late_grace: timedelta,
                 paused: Callable[[], bool], logged_in: Callable[[], bool],
                 submit: Callable[[str, str], bool], capacity: Callable[[], int],
                 reslot: Callable[[Task, datetime], datetime | None], describe: Callable[[datetime], str],
                 stop: threading.Event, settle_cron: Callable[[datetime], set[str]] | None = None) -> None:
        self.board = board
        self.clock = clock
        self.grace = late_grace
        self.paused = paused
        self.logged_in = logged_in
        self.submit = submit          # (kind, task_id) -> accepted; kinds: publish, settle, follow
        self.capacity = capacity      # free publish workers
        self.reslot = reslot          # a cron task whose slot is gone -> its next slot (None: not cron)
        self.describe = describe      # an instant in the configured zone, for messages
        self.stop = stop
        self.settle_cron = settle_cron  # which cron pairs with passed slots may start (no bursts)
        self.wake = threading.Event()
        self.last_step: datetime | None = None

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
        logged_in = self.logged_in()
        paused = self.paused()
        wakes: list[datetime] = []
        candidates = self.board.select(lambda t: t.state in (S.SCHEDULED, S.NEEDS_LOGIN) or t.settle
                                       or t.followup is not None)
        due_now: list[Task] = []
        may_start = self.settle_cron(now) if (self.settle_cron and logged_in and not paused) else None
        for t in sorted(candidates, key=lambda t: (t.due or now, t.key)):
            if t.settle:
                if logged_in:
                    self.submit("settle", t.id)
                continue
            if t.followup is not None:
                if t.followup <= now:
                    if logged_in or t.followup_kind == "delete":
                        self.submit("follow", t.id)
                else:
                    wakes.append(t.followup)
            if t.state is S.NEEDS_LOGIN:
                if logged_in:
                    self.board.transition(t.id, S.SCHEDULED, expect={S.NEEDS_LOGIN}, error=None)
                    wakes.append(now)
                elif t.due is not None:
                    self._apply_late(t, now, self._decide(t, now, paused=paused, logged_in=False, may_start=None))
                continue
            if t.state is not S.SCHEDULED or t.due is None:
                continue
            if t.due > now:
                wakes.append(t.due)
                continue
            decision = self._decide(t, now, paused=paused, logged_in=logged_in, may_start=may_start)
            if self._apply_late(t, now, decision) or decision is Due.WAIT:
                continue  # moved on, or paused, or its queue moved it to a later slot
            if decision is Due.LOGIN:
                self.board.transition(t.id, S.NEEDS_LOGIN, expect={S.SCHEDULED},
                                      error=f"Due at {self.describe(t.due)}: log in with TikTok on the page to publish it.")
                continue
            due_now.append(t)
        free = self.capacity()
        for t in due_now[:max(0, free)]:
            # The error of the last try (a retry note, a limit) is stale once publishing starts.
            claimed = self.board.transition(t.id, S.UPLOADING, expect={S.SCHEDULED}, progress=0.0, error=None)
            if claimed is not None and not self.submit("publish", t.id):
                self.board.transition(t.id, S.SCHEDULED, expect={S.UPLOADING}, progress=None)
        if len(due_now) > free:
            wakes.append(now + timedelta(seconds=0.5))  # a worker frees up soon; look again
        if not wakes:
            return MAX_SLEEP
        soonest = min(wakes)
        return max(0.0, min(MAX_SLEEP, (soonest - self.clock.now()).total_seconds()))

    def _decide(self, t: Task, now: datetime, *, paused: bool, logged_in: bool,
                may_start: set[str] | None) -> Due:
        """schedule.due_decision for a task: its kind from the sidecar, pinned when its due was
        set by Publish now, Retry or TikTok's limits (`held`)."""
        sc = t.sidecar_data
        kind = "cron" if sc is not None and sc.cron else "at" if sc is not None and sc.at is not None else "now"
        assert t.due is not None
        return due_decision(kind, t.due, now, self.grace, pinned=bool(getattr(t, "held", False)), paused=paused,
                            logged_in=logged_in,
                            queue_allows=may_start is None or not t.cron_key or t.key in may_start)

    def _apply_late(self, t: Task, now: datetime, decision: Due) -> bool:
        """Carry out MOVE (next free cron slot) or MISSED; True when the task was moved on."""
        if decision is Due.MOVE:
            assert t.due is not None
            slot = self.reslot(t, now)
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
