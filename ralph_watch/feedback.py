"""What each transition tells the world: the log line, the pair's error file, notifications,
a freed cron slot, the page's thumbnail cache and the duplicate claim. The board calls
`on_transition` outside its lock after every transition, and `on_detach` when a finished
task's files are gone.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol

from .clock import Clock
from .inbox import shown_name
from .pairfiles import remove_error_file, write_error_file
from .tasks import State, Task

__all__ = ["Feedback", "Notify", "NOTIFY_STATES", "PROBLEM_STATES"]

log = logging.getLogger(__name__)
S = State
PROBLEM_STATES = (S.INVALID, S.FAILED, S.MISSED)
NOTIFY_STATES = {S.PUBLISHED: "published", S.FAILED: "failed", S.INVALID: "invalid", S.MISSED: "missed",
                 S.NEEDS_LOGIN: "needs_login", S.IN_INBOX: "in_inbox"}
# A cron slot is free again once its pair leaves the queue (a passed one is never handed out twice).
SLOT_ENDS = (S.PUBLISHED, S.FAILED, S.CANCELLED, S.INVALID, S.WAITING, S.MISSED)
ERROR_FILE_GOES = (S.SCHEDULED, S.UPLOADING, S.PROCESSING, S.IN_INBOX, S.WAITING)


class Notify(Protocol):
    """The part of `notify.Notifier` the service uses."""

    def send(self, event: str, *, video: str, state: str, message: str, title: str | None = None,
             task_id: str | None = None, account: str | None = None) -> Any: ...

    def reset_episode(self, event: str, *, account: str | None = None) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5) -> None: ...


class Slots(Protocol):
    def slot_of(self, pair: str) -> datetime | None: ...

    def release(self, pair: str, now: datetime) -> None: ...


class Feedback:
    def __init__(self, *, inbox: Path, clock: Clock, slots: Slots, notifier: Callable[[], Notify | None],
                 end_claim: Callable[[Task], None], probe_cache: dict[Any, Any], account: str | None = None) -> None:
        self.inbox = inbox
        self.account = account          # named in log lines and notifications (None: the only account)
        self.clock = clock
        self.slots = slots
        self.notifier = notifier        # read at each transition: SIGHUP may replace it
        self.end_claim = end_claim
        self.probe_cache = probe_cache
        self.forget_media: Callable[[str], None] | None = None  # the page's thumbnails, once it serves

    def on_transition(self, task: Task, old: State | None, note: str) -> None:
        if task.cron_key and task.state in SLOT_ENDS and self.slots.slot_of(task.key) is not None:
            self.slots.release(task.key, self.clock.now())
        if self.forget_media is not None and task.state in (S.PUBLISHED, S.CANCELLED):
            self.forget_media(task.id)  # its thumbnail leaves memory with it
        err = f": {task.error}" if task.error else ""
        level = logging.WARNING if task.state in (S.INVALID, S.MISSED, S.FAILED) else logging.INFO
        log.log(level, "task %s %s%s: %s -> %s%s", task.id, f"{self.account}:" if self.account else "",
                shown_name(task.video or task.sidecar or task.key),
                old.value if old else "new", task.state.value, err.replace("\n", " / "))
        self._error_file(task, old)
        event = NOTIFY_STATES.get(task.state)
        notifier = self.notifier()
        if event and notifier is not None and old is not task.state:
            notifier.send(event, video=task.video or task.key, state=task.state.value,
                          message=task.error or "", title=task.title, task_id=task.id, **self.named())
        if old is not None and task.state is not S.PUBLISHED:
            self.end_claim(task)  # last: copies checked again come after this transition

    def named(self) -> dict[str, str]:
        """The account keyword, only with several accounts: notifiers written for one need none."""
        return {"account": self.account} if self.account else {}

    def _error_file(self, task: Task, old: State | None) -> None:
        try:
            if task.state in PROBLEM_STATES and task.error:
                write_error_file(self.inbox, task.key, video=task.video, state=task.state.value, message=task.error,
                                 when=self.clock.now())
            elif task.state in ERROR_FILE_GOES and old in PROBLEM_STATES:
                remove_error_file(self.inbox, task.key)
        except Exception:
            log.exception("error file for %s", task.key)

    def on_detach(self, task: Task) -> None:
        """A finished task's files are gone: so goes its probe answer (validate_pair's cache key)."""
        ident = task.identity
        if ident is not None:
            self.probe_cache.pop(ident.probe_key, None)
