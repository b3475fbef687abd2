"""The publish use case: claim → creator_info → init → record → upload → poll → delete.

The steps up to the record run on a step worker; the upload on the upload pool (`uploader`);
each status check afterwards is a follow-up step of its own (`following.py`).

Every step that talks to TikTok can fail; each failure ends in a task state and a sentence
(never an exception escaping to a thread). The ordering carries the promises:
- the publish record is written right after init and before the first byte, so a crash at
  any later point is settled through TikTok's status endpoint instead of a second publish;
- files are deleted only after PUBLISH_COMPLETE, and only if the video is still the one sent;
- an init is repeated only when TikTok shows that the old upload cannot complete
  (`reinit.decide`): the record says the final bytes never went out, TikTok reports FAILED,
  or the upload URL's lifetime has passed. Until then the task waits `processing`.
"""
from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import outcomes
from .clock import Clock
from .errors import Action, RecordError, TikTokError
from .limits import Limits
from .outcomes import MAX_RETRIES, Next, PostSettings, StatusAnswer, Then
from .polling import Poll
from .following import Following
from .pairfiles import delete_files, remove_error_file, resolve
from .ports import PublishClient
from .progress import PROGRESS_MIN_BYTES, ProgressLog, progress_reporter
from .record import Identity, PublishRecord, RecordStore, account_hash, file_identity
from .reinit import Decision, Verdict, decidable_at, decide
from .sentfile import FinalMark, changed_since_sent
from .sidecar import Sidecar
from .tasks import State, Task, TaskBoard
from .constants import MIME_TYPES

if TYPE_CHECKING:
    from .tiktok.client import InitResult

__all__ = ["Publisher", "Hooks", "MAX_RETRIES", "ProgressLog", "PROGRESS_MIN_BYTES"]  # the last two moved to progress

log = logging.getLogger(__name__)
S = State
MAX_RESTARTS = 2           # new inits after an expired/unknown upload URL, per attempt


@dataclass
class Hooks:
    """What the publisher needs from the service, as plain callables."""

    revalidate: Callable[[str], None]              # the pair's files changed: check them again
    mark_published: Callable[[str, datetime], None]  # content key published at
    record_failed: Callable[[str], None]           # state_dir unwritable: pause publishing
    wake: Callable[[], None]                       # something is due: wake the scheduler
    # claim (content key, pair) before the init: None, or the sentence refusing a duplicate
    claim: Callable[[str, str], str | None] = lambda content_key, pair: None


# Submits fn(task_id) as the task's upload job; False when not accepted (shutting down).
Uploader = Callable[[str, Callable[[str], None]], bool]


def _inline(task_id: str, fn: Callable[[str], None]) -> bool:
    fn(task_id)
    return True


class Publisher(Following):
    hooks: Hooks

    def __init__(self, *, board: TaskBoard, records: RecordStore, client: PublishClient, clock: Clock,
                 inbox: Path, limits: Limits, stop: threading.Event, hooks: Hooks,
                 lock: AbstractContextManager[Any] | None = None, tz: tzinfo | None = None,
                 uploader: Uploader | None = None) -> None:
        self.board = board
        self.records = records
        self.client = client
        self.clock = clock
        self.inbox = inbox
        self.limits = limits
        self.stop = stop
        self.hooks = hooks
        # Held while deleting a pair's files, so inbox reconciliation never sees half a deletion.
        self.lock: AbstractContextManager[Any] = lock if lock is not None else threading.RLock()
        self.tz = tz
        # Runs an upload job (the upload pool); without one, the upload runs in this worker.
        self.uploader: Uploader = uploader if uploader is not None else _inline
        # Where each task's status polling stands between its steps (in memory: a restart
        # settles `processing` tasks through their publish records anyway).
        self._polls: dict[str, Poll] = {}
        self._polls_lock = threading.Lock()

    # -- the publish -------------------------------------------------------------------------
    def publish(self, task_id: str) -> None:
        """Publish a task the scheduler has claimed (state `uploading`)."""
        t = self.board.get(task_id)
        if t is None or t.state is not S.UPLOADING:
            return
        self._guarded(t, lambda: self._publish(t))

    def _guarded(self, t: Task, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # a bug must not kill the worker or lose the task
            log.exception("task %s (%s): unexpected error while publishing", t.id, t.video)
            self._to(t, S.FAILED, expect={S.UPLOADING, S.PROCESSING},
                     error=f"An unexpected error stopped publishing ({exc.__class__.__name__}); "
                           "the files are kept. Retry from the page; if it happens again, please report it.")

    def _publish(self, t: Task) -> None:
        """The checks before the init: login, the file as validated, creator_info, the claim."""
        if not self.client.logged_in:
            self._to(t, S.NEEDS_LOGIN, expect={S.UPLOADING}, error="Log in with TikTok on the page to publish this.")
            return
        assert t.video is not None   # the scheduler claims complete pairs only
        path = resolve(self.inbox, t.video)
        try:
            ident = file_identity(path)
        except OSError:
            self._to(t, S.WAITING, expect={S.UPLOADING}, error=f"{t.video} disappeared just before publishing.")
            self.hooks.revalidate(t.key)
            return
        if not ident.same_file(t.identity):   # fstat stamp (a rewrite in place changes ctime), hash if known
            self._to(t, S.WAITING, expect={S.UPLOADING}, error=f"{t.video} changed just before publishing; checking it again.")
            self.hooks.revalidate(t.key)
            return
        settings = self._prepare(t)
        if settings is None:
            return
        # Claim the content before the init: a copy of this video (another name, same content)
        # may be on its way to TikTok right now. The service releases the claim when this
        # attempt ends without a post.
        t = self.board.update(t.id, identity=ident) or t   # the first hash of a lazily checked pair
        refused = self.hooks.claim(ident.content_key, t.key)
        if refused is not None:
            self._to(t, S.INVALID, expect={S.UPLOADING}, progress=None, error=refused)
            return
        try:  # a state_dir that cannot hold a record must stop us before an init, not after
            self.records.ensure_dir()
        except RecordError as exc:
            self._pause_for_records(t, exc)
            return
        self._send(t, path, ident, settings)

    def _prepare(self, t: Task) -> PostSettings | None:
        """A fresh creator_info against the sidecar: the post settings (None: the task has moved)."""
        try:
            creator = self.client.creator_info()
        except TikTokError as exc:
            self._failed_attempt(t, exc)
            return None
        sc = t.sidecar_data
        if sc is None or t.video_info is None:   # a scheduled task always has both; a bug if not
            raise RuntimeError(f"task {t.id} is due without its checked sidecar and video")
        account = self.client.account
        limiter = self.client.limiter
        decided = outcomes.post_settings(
            sc, t.video_info, creator, scopes=account.scopes if account is not None else frozenset(),
            audited=self.client.audited, cap_wait=limiter.draft_wait() if sc.mode == "draft" else limiter.post_wait(),
            limits=self.limits, now=self.clock.now(), tz=self.tz)
        if isinstance(decided, Next):
            self._apply(t, decided)
            return None
        return decided

    def _send(self, t: Task, path: Path, ident: Identity, settings: PostSettings) -> None:
        """The init and its record here; the upload on the upload pool (bounded by bandwidth),
        so this worker is free for the next due pair's init."""
        sc = t.sidecar_data   # as checked by _prepare, for every init of this attempt
        assert sc is not None   # _prepare refused a task without it
        started = self._init(t, sc, ident, settings)
        if started is None:
            return

        def upload(task_id: str) -> None:
            self._guarded(t, lambda: self._upload(started, path, ident, settings, sc))
        if not self.uploader(t.id, upload):
            # Shutting down: the record (final bytes not sent) lets the next start publish it anew.
            log.info("task %s: upload not started for shutdown; the next start settles it", t.id)

    def _upload(self, started: tuple[Task, PublishRecord, InitResult], path: Path, ident: Identity,
                settings: PostSettings, sc: Sidecar) -> None:
        """Upload; a new init only when TikTok shows the old upload cannot complete."""
        for restart in range(MAX_RESTARTS + 1):
            t, rec, init = started
            marker = FinalMark(self.records, rec, ident)
            try:
                mime = MIME_TYPES.get(path.suffix.lower().lstrip("."), "video/mp4")
                self.client.upload(init, path, mime=mime, progress=self._progress(t.id), cancel=self.stop,
                                   before_final=marker)
            except TikTokError as exc:
                if not self._upload_failed(t, marker, exc, last=restart >= MAX_RESTARTS):
                    return
                again = self._init(t, sc, ident, settings)
                if again is None:
                    return
                started = again
                continue
            self._set_outcome(marker.rec, "processing")
            moved = self._to(t, S.PROCESSING, expect={S.UPLOADING}, progress=1.0, error=None)
            if moved is not None:
                self.poll(moved.id)
            return

    def _init(self, t: Task, sc: Sidecar, ident: Identity,
              settings: PostSettings) -> tuple[Task, PublishRecord, InitResult] | None:
        """The init, then the publish record before the first byte (None: the task has moved)."""
        try:
            if sc.mode == "draft":
                init = self.client.init_draft(video_size=ident.size, title=sc.title or None)
            else:
                init = self.client.init_direct(post_info=settings.post_info, video_size=ident.size)
        except TikTokError as exc:
            self._failed_attempt(t, exc)
            return None
        t = self.board.update(t.id, publish_id=init.publish_id, attempts=t.attempts + 1, progress=0.0,
                              error=None, notes=settings.notes) or t
        account = self.client.account
        assert account is not None and t.video is not None   # logged in, a complete pair
        rec = PublishRecord(
            pair=t.key, video=t.video, size=ident.size, mtime_ns=ident.mtime_ns, head_tail=ident.digest,
            publish_id=init.publish_id, account=account_hash(account.open_id), mode=sc.mode,
            init_time=self.clock.now().isoformat(), outcome="uploading", final_sent=False)
        try:
            self.records.put(rec)
        except RecordError as exc:
            # Nothing uploaded yet, so nothing will be posted: give the init up and pause.
            self._pause_for_records(t, exc)
            return None
        log.info("task %s (%s): uploading %s bytes in %s chunk(s), publish_id %s", t.id, t.video, ident.size,
                 init.total_chunk_count, init.publish_id)
        return t, rec, init

    def _upload_failed(self, t: Task, marker: FinalMark, exc: TikTokError, *, last: bool) -> bool:
        """The upload raised: True when a new init may go (the old URL is gone, nothing can complete)."""
        rec = marker.rec
        if marker.failed is not None:
            # The mark could not be written, so the final bytes were kept back: nothing can be
            # posted. Give the init up and pause, as when the first record fails.
            self.records.discard(t.key)
            self._pause_for_records(t, marker.failed)
            return False
        if self.stop.is_set():
            log.info("task %s: upload abandoned for shutdown; the next start settles it", t.id)
            return False
        status, status_error = self._ask(rec)
        decision = self._decide(rec, status, status_error, exc)
        if exc.action is Action.RESTART and not last and decision.verdict is Verdict.PUBLISH_ANEW:
            log.warning("task %s: upload URL gone (%s); starting over with a new init", t.id, exc.code)
            self.records.discard(t.key)
            return True
        # The upload failed. Publishing again is safe only once TikTok shows the old one cannot complete.
        self._resolve(t, rec, decision, status, exc, after="upload", status_error=status_error)
        return False

    def _progress(self, task_id: str) -> Callable[[int, int], None]:
        task = self.board.get(task_id)
        video = task.video if task else None
        self.board.update(task_id, bytes_sent=None)   # a new upload: no bytes of an earlier one

        def update(progress: float, bytes_sent: int) -> None:
            self.board.update(task_id, progress=progress, bytes_sent=bytes_sent)   # the page's MB/s

        def say(line: str) -> None:
            log.info("task %s (%s): uploaded %s", task_id, video, line)
        return progress_reporter(update, self.clock.monotonic, say)

    def _ask(self, rec: PublishRecord) -> tuple[StatusAnswer | None, TikTokError | None]:
        try:
            return self.client.fetch_status(rec.publish_id), None
        except TikTokError as exc:
            return None, exc

    def _decide(self, rec: PublishRecord, status: StatusAnswer | None, status_error: TikTokError | None,
                upload_error: TikTokError | None = None) -> Decision:
        return decide(rec, status=status, status_error=status_error, upload_error=upload_error,
                      now=self.clock.now(), url_seconds=self.limits.upload_url_seconds)

    def _resolve(self, t: Task, rec: PublishRecord, decision: Decision, status: StatusAnswer | None,
                 exc: TikTokError | None, *, after: str, status_error: TikTokError | None = None) -> None:
        """Act on `reinit.decide` for a pair whose upload was interrupted (`after="upload"`), restored
        after a restart (`"restart"`) or waiting for TikTok's verdict (`"wait"`)."""
        nxt = outcomes.after_interruption(decision, after=after, rec=rec, status=status, upload_error=exc,
                                          status_error=status_error, video=t.video, retries=t.retries,
                                          now=self.clock.now(), limits=self.limits, tz=self.tz)
        self._apply(t, nxt, rec=rec, status=status)

    def verdict_due(self, t: Task) -> datetime | None:
        """When a task waiting for TikTok's verdict can be decided (None: it is not waiting)."""
        rec = self.records.get(t.key)
        waiting = t.state is S.PROCESSING and t.followup_kind == "verdict"
        restored = t.settle and rec is not None and rec.outcome == "uploading" and rec.may_complete
        if rec is None or not (waiting or restored):
            return None
        due = decidable_at(rec, self.limits.upload_url_seconds)
        return due if due > self.clock.now() else None

    def _recheck(self, t: Task) -> None:
        """A follow-up of a task waiting for TikTok's verdict on its old upload."""
        rec = self.records.get(t.key)
        if rec is None:
            self._to(t, S.WAITING, followup=None, followup_kind=None, error=None)
            self.hooks.revalidate(t.key)
            return
        status, status_error = self._ask(rec)
        if status_error is not None and status_error.action is Action.NEEDS_LOGIN:
            self._to(t, S.NEEDS_LOGIN, settle=True, followup=None, followup_kind=None,
                     error="TikTok needs a new login before ralph-watch can learn how this upload ended.")
            return
        self._resolve(t, rec, self._decide(rec, status, status_error), status, None, after="wait",
                      status_error=status_error)

    def settle(self, task_id: str) -> None:
        """A task restored from a publish record after a restart: ask TikTok how it ended."""
        t = self.board.get(task_id)
        if t is None or not t.settle:
            return
        rec = self.records.get(t.key)
        if rec is None:
            self.board.update(t.id, settle=False)
            self.hooks.revalidate(t.key)
            return
        account = self.client.account
        if account is None:
            return
        if account_hash(account.open_id) != rec.account:
            self._to(t, S.FAILED, settle=False,
                     error="This video was sent to TikTok from another account before a restart. Log in with "
                           "that account to learn how it ended, or press Retry to publish it with this one.")
            return
        st, status_error = self._ask(rec)
        if status_error is not None and status_error.action in (Action.RETRY_NOW, Action.RETRY_LATER) \
                and rec.may_complete:
            return  # try again on the next scheduler pass
        self.board.update(t.id, publish_id=rec.publish_id)
        self._resolve(t, rec, self._decide(rec, st, status_error), st, None, after="restart",
                      status_error=status_error)

    # -- the end -------------------------------------------------------------------------------
    def finish_published(self, t: Task, post_ids: Sequence[str] | None) -> None:
        rec = self.records.get(t.key)
        if rec is not None:
            self._set_outcome(rec, "published")
            self.hooks.mark_published(rec.identity.content_key, self.clock.now())
        elif t.identity is not None:
            self.hooks.mark_published(t.identity.content_key, self.clock.now())
        post_id = str(post_ids[0]) if post_ids else None
        with self.lock:  # files first, then the state: "published" means the files are handled
            self.board.update(t.id, error=None, progress=None, post_id=post_id, settle=False)
            self._delete_locked(t)
            t = self._to(t, S.PUBLISHED) or t
        log.info("task %s (%s): published (publish_id %s)", t.id, t.video, t.publish_id)
        if post_id is None and t.privacy == "PUBLIC_TO_EVERYONE":
            self.board.update(t.id, followup=self._followup(), followup_kind="post_id", retries=0)

    def _delete_after_publish(self, t: Task) -> None:
        with self.lock:
            self._delete_locked(t)

    def _delete_locked(self, t: Task) -> None:
        if t.video and changed_since_sent(resolve(self.inbox, t.video), self.records.get(t.key), t.identity):
            self.board.update(t.id, files_kept=True,
                              error=f"Published, but {t.video} changed after it was sent, so it was kept. "
                                    "Delete it yourself, or press Retry to publish the new version.")
            return
        # The video first; the sidecar only once the video is gone, so a refused deletion leaves
        # the pair whole (its record and a restart still see a complete, already published pair).
        problems = delete_files(self.inbox, [t.video])
        if not problems:
            problems = delete_files(self.inbox, [t.sidecar])
        if problems:
            self.board.update(t.id, files_kept=True, followup_kind="delete",
                              followup=self.clock.now() + timedelta(seconds=self.limits.delete_retry_seconds),
                              error="Published, but " + "; ".join(problems) + ". ralph-watch keeps trying.")
            return
        remove_error_file(self.inbox, t.key)
        try:
            self.records.delete(t.key)
        except RecordError as exc:
            log.warning("%s", exc)
        self.board.update(t.id, files_kept=False, error=None)
        self.board.detach_key(t.id)

    # -- helpers ------------------------------------------------------------------------------
    def _apply(self, t: Task, nxt: Next, *, rec: PublishRecord | None = None,
               status: StatusAnswer | None = None) -> None:
        """Carry out a decision of `outcomes`: the record, the task, the hooks, then what follows."""
        if nxt.log:
            log.info("task %s (%s): %s", t.id, t.video, nxt.log)
        if nxt.discard_record:
            self.records.discard(t.key)
        if nxt.outcome is not None:
            rec = rec if rec is not None else self.records.get(t.key)
            if rec is not None:
                self._set_outcome(rec, nxt.outcome, nxt.outcome_detail)
        moved: Task | None = t
        if nxt.state is not None:
            moved = self._to(t, nxt.state, expect=set(nxt.expect) if nxt.expect is not None else None,
                             **nxt.values)
        elif nxt.values:
            self.board.update(t.id, **nxt.values)
        if nxt.revalidate:
            self.hooks.revalidate(t.key)
        if nxt.wake:
            self.hooks.wake()
        if moved is None or nxt.then is Then.NOTHING:
            return
        if nxt.then is Then.POLL:
            self.poll(moved.id)
        elif status is not None and nxt.then is Then.STATUS:
            self._apply_status(moved, status)
        elif status is not None and nxt.then is Then.PUBLISHED:
            self.finish_published(t, status.post_ids)

    def _failed_attempt(self, t: Task, exc: TikTokError) -> None:
        """A TikTok error before any byte was posted: `outcomes.after_error` decides."""
        self._apply(t, outcomes.after_error(exc, retries=t.retries, now=self.clock.now(), limits=self.limits,
                                            tz=self.tz))

    def _pause_for_records(self, t: Task, exc: RecordError) -> None:
        """state_dir cannot hold a publish record: pause publishing; the task waits, due as before."""
        self.hooks.record_failed(str(exc))
        # Due now: the pause is what holds it, so Resume publishes it at once.
        self._to(t, S.SCHEDULED, expect={S.UPLOADING}, due=self.clock.now(), progress=None,
                 error=f"Publishing is paused: {exc}. Free space or fix the permissions of state_dir, "
                       "then press Resume.")

    def _local(self, when: datetime) -> str:
        return outcomes.local_time(when, self.tz)

    def _followup(self) -> datetime:
        # Slow: a draft can wait days; one status call per follow-up is far inside the budget.
        return self.clock.now() + timedelta(seconds=self.limits.followup_seconds)

    def _set_outcome(self, rec: PublishRecord, outcome: str, detail: str | None = None) -> None:
        try:
            self.records.put(rec.with_outcome(outcome, detail))
        except RecordError as exc:
            log.error("%s", exc)
            self.hooks.record_failed(str(exc))

    def _to(self, t: Task, state: State, *, expect: set[State] | None = None, **values: Any) -> Task | None:
        return self.board.transition(t.id, state, expect=expect, **values)
