"""The steps after an upload, each one short and run when due (a follow-up the scheduler
dispatches on the step pool), so no worker waits for TikTok: the status checks of a task
`processing` (`polling` decides the cadence), in_inbox drafts, late post ids, failed
deletions and waits for TikTok's verdict. A mixin of `Publisher`, which owns the state.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, tzinfo
from typing import Any, Callable, Protocol

from . import outcomes, polling
from .clock import Clock
from .errors import Action, TikTokError
from .limits import Limits
from .outcomes import StatusAnswer
from .polling import Poll
from .ports import PublishClient
from .record import PublishRecord, RecordStore
from .tasks import State, Task, TaskBoard

__all__ = ["Following", "POST_ID_TRIES"]

S = State
POST_ID_TRIES = 10         # follow-ups asking for a public post's id before giving up on the link


class _Wakes(Protocol):
    @property
    def wake(self) -> Callable[[], None]: ...


class Following:
    # What the publisher provides (see Publisher.__init__).
    board: TaskBoard
    records: RecordStore
    client: PublishClient
    clock: Clock
    limits: Limits
    tz: tzinfo | None
    hooks: _Wakes
    _polls: dict[str, Poll]
    _polls_lock: threading.Lock

    def _to(self, t: Task, state: State, *, expect: set[State] | None = None, **values: Any) -> Task | None:
        raise NotImplementedError

    def _recheck(self, t: Task) -> None:
        raise NotImplementedError

    def _delete_after_publish(self, t: Task) -> None:
        raise NotImplementedError

    def _followup(self) -> datetime:
        raise NotImplementedError

    def _set_outcome(self, rec: PublishRecord, outcome: str, detail: str | None = None) -> None:
        raise NotImplementedError

    def _apply(self, t: Task, nxt: outcomes.Next, *, rec: PublishRecord | None = None,
               status: StatusAnswer | None = None) -> None:
        raise NotImplementedError

    def poll(self, task_id: str) -> None:
        """Start following a task that is `processing`: its first status check is due now. Each
        check is one short step (`_poll_step`, a "poll" follow-up), so no worker waits."""
        with self._polls_lock:
            self._polls[task_id] = Poll()
        self.board.update(task_id, followup=self.clock.now(), followup_kind="poll")
        self.hooks.wake()

    def _poll_step(self, t: Task) -> None:
        """One status check of a task `processing` after its upload; the next one is scheduled."""
        with self._polls_lock:
            poll = self._polls.pop(t.id, Poll())
        if t.state is not S.PROCESSING:
            return
        assert t.publish_id is not None   # `processing` always has one
        try:
            st = self.client.fetch_status(t.publish_id)
        except TikTokError as exc:
            if exc.action is Action.NEEDS_LOGIN:
                self._to(t, S.NEEDS_LOGIN, expect={S.PROCESSING}, settle=True,
                         error="TikTok needs a new login before ralph-watch can learn how this post ended.")
                return
            again = polling.after_error(poll, exc)
            if again is None:
                self._to(t, S.FAILED, expect={S.PROCESSING},
                         error=f"TikTok could not tell how this post ended: {exc.sentence()} Check your TikTok "
                               "profile; if the video is not there, press Retry.")
                return
        else:
            if self._apply_status(t, st):
                return
            again = polling.after_answer(poll)
        wait, poll = again
        with self._polls_lock:
            self._polls[t.id] = poll
        self.board.update(t.id, followup=self.clock.now() + timedelta(seconds=wait), followup_kind="poll")

    def _apply_status(self, t: Task, st: StatusAnswer) -> bool:
        """Act on a status answer; True when the task left `processing`."""
        nxt = outcomes.after_status(st, retries=t.retries, now=self.clock.now(), limits=self.limits, tz=self.tz)
        if nxt is None:
            return False
        self._apply(t, nxt, status=st)
        return True

    def follow(self, task_id: str) -> None:
        """One follow-up step for in_inbox drafts, late post ids and failed deletions."""
        t = self.board.get(task_id)
        if t is None or t.followup is None:
            return
        kind = t.followup_kind
        self.board.update(t.id, followup=None, followup_kind=None)
        if kind == "delete":
            self._delete_after_publish(t)
            return
        if kind == "verdict":
            self._recheck(t)
            return
        if kind == "poll":
            self._poll_step(t)
            return
        assert t.publish_id is not None   # status and post_id follow-ups come after an init
        try:
            st = self.client.fetch_status(t.publish_id)
        except TikTokError as exc:
            if exc.action is Action.NEEDS_LOGIN:
                if t.state is S.IN_INBOX:
                    self._to(t, S.NEEDS_LOGIN, expect={S.IN_INBOX}, settle=True,
                             error="TikTok needs a new login before ralph-watch can check this draft.")
                return
            self.board.update(t.id, followup=self._followup(), followup_kind=kind)
            return
        if kind == "post_id":
            if st.post_ids:
                self.board.update(t.id, post_id=str(st.post_ids[0]))
            elif t.retries < POST_ID_TRIES:
                self.board.update(t.id, retries=t.retries + 1, followup_kind="post_id", followup=self._followup())
            return
        if t.state is S.IN_INBOX:
            self._follow_draft(t, st)

    def _follow_draft(self, t: Task, st: StatusAnswer) -> None:
        """A draft in the creator's TikTok inbox: posted, failed, waited too long, or ask again later."""
        if st.status in ("PUBLISH_COMPLETE", "FAILED"):
            self._apply_status(t, st)
            return
        rec = self.records.get(t.key)
        start = rec.init_at if rec else self.clock.now()
        if self.clock.now() - start >= timedelta(hours=self.limits.draft_wait_hours):
            if rec is not None:
                self._set_outcome(rec, "failed", "draft not posted in time")
            self._to(t, S.FAILED, expect={S.IN_INBOX},
                     error=f"The draft waited {self.limits.draft_wait_hours:g} h in your TikTok inbox without "
                           "being posted. Post it from the TikTok app (the files are kept), or press Retry "
                           "to send it again.")
            return
        self.board.update(t.id, followup=self._followup(), followup_kind="status")

