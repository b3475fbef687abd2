"""The page's actions on one task: Cancel, Retry, Publish now, the sidecar edit and the
preview. Each says in an `ActionError` (status, sentence) why it is refused; what a task then
does next is the reconciler's and the scheduler's business.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Protocol
from zoneinfo import ZoneInfo

from .duplicates import Duplicates
from .inboxfd import UnsafePath, edit_sidecar_file, open_regular, read_limited
from .pairfiles import delete_files, remove_error_file
from .pairsync import PairSync
from .record import RecordStore
from .scheduler import Planner, Scheduler, describe
from .strictyaml import SIDECAR_MAX_BYTES
from .tasks import ACTIVE, EDITABLE, State, Task, TaskBoard
from .web.backend import ActionError

__all__ = ["Actions", "Verdicts"]

log = logging.getLogger(__name__)
S = State


class Verdicts(Protocol):
    """The publisher's answer to "may TikTok still post the earlier upload?"."""

    def verdict_due(self, t: Task) -> datetime | None: ...


class Actions:
    def __init__(self, *, inbox: Path, board: TaskBoard, lock: ContextManager[object], planner: Planner,
                 scheduler: Scheduler, pairs: PairSync, duplicates: Duplicates, records: RecordStore,
                 verdicts: Verdicts, tz: ZoneInfo, defaults: Callable[[], Mapping[str, Any]]) -> None:
        self.inbox = inbox
        self.board = board
        self.lock = lock
        self.planner = planner
        self.scheduler = scheduler
        self.pairs = pairs
        self.duplicates = duplicates
        self.records = records
        self.verdicts = verdicts
        self.tz = tz
        self.defaults = defaults      # read live: SIGHUP may change them

    def _task(self, task_id: str) -> Task:
        t = self.board.get(task_id)
        if t is None:
            raise ActionError(404, "There is no such task.")
        return t

    def cancel(self, task_id: str) -> None:
        with self.lock:
            t = self._task(task_id)
            if t.state in ACTIVE:
                raise ActionError(409, f"{t.video} is {t.state.value}: TikTok already has it, so it cannot be "
                                       "cancelled now. Wait until it is done.")
            if t.state in (S.PUBLISHED, S.CANCELLED):
                raise ActionError(409, f"{t.video or t.key} is already {t.state.value}.")
            moved = self.board.transition(t.id, S.CANCELLED, expect={t.state}, progress=None, followup=None,
                                          settle=False, error=None)
            if moved is None:
                raise ActionError(409, "The task changed meanwhile; look again.")
            self.planner.release(t.key, self.scheduler.clock.now())
            problems = delete_files(self.inbox, [t.video, t.sidecar])
            remove_error_file(self.inbox, t.key)
            self.records.discard(t.key)
            self.duplicates.pair_gone(t.key)
            self.pairs.forget(t.key)
            if problems:
                self.board.update(t.id, error="Cancelled, but " + "; ".join(problems) + ".")
            self.board.detach_key(t.id)
        self.scheduler.wake.set()

    def retry(self, task_id: str) -> None:
        with self.lock:
            t = self._task(task_id)
            due = self.verdicts.verdict_due(t)
            if due is not None:   # TikTok may still post the earlier upload: a new one could be a second post
                raise ActionError(409, f"TikTok may still post the earlier upload of {t.video}, so it cannot be "
                                       f"sent again yet. It can be decided at {describe(due, self.tz)} at the "
                                       "latest, when its upload link expires; ralph-watch decides it then by itself.")
            if not (t.state in (S.FAILED, S.MISSED) or (t.state is S.PUBLISHED and t.files_kept)
                    or (t.state is S.NEEDS_LOGIN and t.settle)):
                raise ActionError(409, f"Retry is for failed or missed tasks; this one is {t.state.value}.")
            self.records.discard(t.key)
            self.pairs.retry(t.key)
            if t.identity is not None and t.identity.hashed:   # else pairs.retry hashed it if needed
                self.duplicates.forget_published(t.identity.content_key)
            self.board.transition(t.id, S.WAITING, progress=None, settle=False, files_kept=False, followup=None,
                                  error="Checking the files again before publishing.", publish_id=None, post_id=None)
            snap = self.pairs.snapshots.get(t.key)
            if snap is not None:
                self.pairs.apply(snap)
        self.scheduler.wake.set()

    def publish_now(self, task_id: str) -> None:
        with self.lock:
            t = self.board.get(task_id)
            if t is None or t.state is not S.SCHEDULED:
                raise ActionError(409, "Publish now is for scheduled tasks.")
            self.scheduler.publish_now(t)

    def open_video(self, task_id: str) -> tuple[int, os.stat_result, str]:
        """For the page's preview and thumbnail: the video, never through a link."""
        t = self.board.get(task_id)
        if t is None or t.state in (S.PUBLISHED, S.CANCELLED) or not t.video:
            raise ActionError(404, "This task has no video in the inbox (it may be published, cancelled or gone).")
        try:
            fd, st = open_regular(self.inbox, t.video)
        except UnsafePath as exc:
            raise ActionError(404, f"{t.video} cannot be shown: {exc.strerror or exc}.") from None
        return fd, st, t.video

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        t = self._task(task_id)
        rel = t.sidecar or f"{t.key}.yaml"
        try:
            return read_limited(self.inbox, rel, SIDECAR_MAX_BYTES), rel
        except UnsafePath as exc:
            raise ActionError(409, f"{rel} cannot be opened: {exc.strerror or exc}. Fix it in the folder.") from None

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        """The page's edit: the sidecar is rewritten in the folder (the one source of truth); the
        watcher applies it like any edit. Refused where the contract says edits wait."""
        with self.lock:
            t = self._task(task_id)
            if t.state not in EDITABLE or t.settle:
                why = "ralph-watch is asking TikTok how it ended" if t.settle else f"it is {t.state.value}"
                raise ActionError(409, f"{t.video or t.key} cannot be edited now: {why}.")
            changed = edit_sidecar_file(self.inbox, t.sidecar or f"{t.key}.yaml", form, tz=self.tz,
                                        defaults=self.defaults())
        if changed:
            log.info("task %s: sidecar edited from the page", task_id)
        return changed

