"""The publish use case: claim → creator_info → init → record → upload → poll → delete.

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
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from .clock import Clock
from .errors import Action, RecordError, TikTokError
from .limits import Limits
from . import postplan
from .pairfiles import delete_files, remove_error_file, resolve
from .record import PublishRecord, RecordStore, account_hash, file_identity
from .reinit import Decision, Verdict, decidable_at, decide
from .tasks import State, Task, TaskBoard
from .tiktok.errors import LOCAL_ERRORS
from .constants import MIME_TYPES

__all__ = ["Publisher", "Hooks", "MAX_RETRIES"]

log = logging.getLogger(__name__)
S = State
MAX_RETRIES = 5            # transient failures in a row before a task is `failed`
MAX_RESTARTS = 2           # new inits after an expired/unknown upload URL, per attempt
BACKOFF = (30, 120, 300, 900, 1800)  # seconds at TikTok's 60 s rate window (tests shrink the window)


@dataclass
class Hooks:
    """What the publisher needs from the service, as plain callables."""

    revalidate: Callable[[str], None]              # the pair's files changed: check them again
    mark_published: Callable[[str, datetime], None]  # content key published at
    record_failed: Callable[[str], None]           # state_dir unwritable: pause publishing
    wake: Callable[[], None]                       # something is due: wake the scheduler
    # claim (content key, pair) before the init: None, or the sentence refusing a duplicate
    claim: Callable[[str, str], str | None] = lambda content_key, pair: None


PROGRESS_STEP = 0.10            # a progress line at every 10 % of a long upload ...
PROGRESS_SECONDS = 10.0         # ... and at least every 10 s while it lasts
PROGRESS_MIN_BYTES = 8_000_000  # smaller uploads take a moment: no progress lines


class ProgressLog:
    """When an upload deserves a log line and what it says: percent, megabytes, MB/s.
    Pure: the caller passes monotonic seconds."""

    def __init__(self, *, total: int, first: int = 0, started: float) -> None:
        self.total = total
        self.first = first          # an upload resumed by TikTok's 416 starts past 0
        self.started = started
        self.logged_at = started
        self.step = 0               # the last 10 % step logged
        self.done = False

    def line(self, sent: int, now: float) -> str | None:
        if self.done or self.total <= 0:
            return None
        step = int(sent / self.total / PROGRESS_STEP + 1e-9)
        big = self.total >= PROGRESS_MIN_BYTES
        due = (big and step > self.step) or now - self.logged_at >= PROGRESS_SECONDS
        if sent >= self.total:
            due = big or self.logged_at != self.started  # close what was opened
            self.done = True
        if not due:
            return None
        self.step = max(self.step, step)
        self.logged_at = now
        elapsed = max(now - self.started, 1e-6)
        rate = (sent - self.first) / elapsed / 1e6
        return (f"{sent * 100 // self.total}% ({sent / 1e6:.1f} of {self.total / 1e6:.1f} MB) "
                f"at {rate:.2f} MB/s")


class _FinalMark:
    """The client's `before_final`: right before the final bytes go out, check that the file the
    upload opened is the one checked before the init, then mark the record durably. Raising
    keeps those bytes back, so TikTok never completes the upload."""

    def __init__(self, records: RecordStore, rec: PublishRecord, ident: Any) -> None:
        self.records = records
        self.rec = rec
        self.ident = ident
        self.failed: RecordError | None = None
        self._lock = threading.Lock()   # a PUT worker left behind and its retry never write at once

    def __call__(self, st: os.stat_result) -> None:
        with self._lock:
            self._mark(st)

    def _mark(self, st: os.stat_result) -> None:
        if st.st_size != self.ident.size or st.st_mtime_ns != self.ident.mtime_ns:
            rule = LOCAL_ERRORS["file_changed"]
            raise TikTokError("file_changed", f"{self.rec.video} was replaced between its check and its upload",
                              action=rule.action, hint=rule.hint)
        sent = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if self.rec.final_sent and self.rec.sent_file == sent:
            return   # a retry of the last chunk: already marked
        marked = self.rec.with_final_sent(sent)
        try:
            self.records.put(marked)
        except RecordError as exc:
            self.failed = exc
            raise TikTokError("record_unwritable", str(exc), action=Action.PERMANENT,
                              hint=f"Publishing is paused: {exc}.") from None
        self.rec = marked


class Publisher:
    def __init__(self, *, board: TaskBoard, records: RecordStore, client: Any, clock: Clock,
                 inbox: Path, limits: Limits, stop: threading.Event, hooks: Hooks,
                 lock: Any = None, tz: Any = None) -> None:
        self.board = board
        self.records = records
        self.client = client
        self.clock = clock
        self.inbox = inbox
        self.limits = limits
        self.stop = stop
        self.hooks = hooks
        # Held while deleting a pair's files, so inbox reconciliation never sees half a deletion.
        self.lock = lock if lock is not None else threading.RLock()
        self.tz = tz

    # -- the publish -------------------------------------------------------------------------
    def publish(self, task_id: str) -> None:
        """Publish a task the scheduler has claimed (state `uploading`)."""
        t = self.board.get(task_id)
        if t is None or t.state is not S.UPLOADING:
            return
        try:
            self._publish(t)
        except Exception as exc:  # a bug must not kill the worker or lose the task
            log.exception("task %s (%s): unexpected error while publishing", t.id, t.video)
            self._to(t, S.FAILED, expect={S.UPLOADING, S.PROCESSING},
                     error=f"An unexpected error stopped publishing ({exc.__class__.__name__}); "
                           "the files are kept. Retry from the page; if it happens again, please report it.")

    def _publish(self, t: Task) -> None:
        sc, info = t.sidecar_data, t.video_info
        if not self.client.logged_in:
            self._to(t, S.NEEDS_LOGIN, expect={S.UPLOADING}, error="Log in with TikTok on the page to publish this.")
            return
        path = resolve(self.inbox, t.video)
        try:
            ident = file_identity(path)
        except OSError:
            self._to(t, S.WAITING, expect={S.UPLOADING}, error=f"{t.video} disappeared just before publishing.")
            self.hooks.revalidate(t.key)
            return
        if t.identity is None or ident.size != t.identity.size or ident.mtime_ns != t.identity.mtime_ns \
                or ident.head_tail != t.identity.head_tail:
            self._to(t, S.WAITING, expect={S.UPLOADING}, error=f"{t.video} changed just before publishing; checking it again.")
            self.hooks.revalidate(t.key)
            return
        try:
            creator = self.client.creator_info()
        except TikTokError as exc:
            self._failed_attempt(t, exc)
            return
        prepared = self._prepare(t, sc, info, creator)
        if prepared is None:
            return
        post_info, notes = prepared
        # Claim the content before the init: a copy of this video (another name, same content)
        # may be on its way to TikTok right now. The service releases the claim when this
        # attempt ends without a post.
        refused = self.hooks.claim(ident.content_key, t.key)
        if refused is not None:
            self._to(t, S.INVALID, expect={S.UPLOADING}, progress=None, error=refused)
            return
        mime = MIME_TYPES.get(Path(t.video).suffix.lower().lstrip("."), "video/mp4")
        try:  # a state_dir that cannot hold a record must stop us before an init, not after
            self.records.ensure_dir()
        except RecordError as exc:
            self._pause_for_records(t, exc)
            return
        for restart in range(MAX_RESTARTS + 1):
            try:
                if sc.mode == "draft":
                    init = self.client.init_draft(video_size=ident.size, title=sc.title or None)
                else:
                    init = self.client.init_direct(post_info=post_info, video_size=ident.size)
            except TikTokError as exc:
                self._failed_attempt(t, exc)
                return
            t = self.board.update(t.id, publish_id=init.publish_id, attempts=t.attempts + 1, progress=0.0,
                                  error=None, notes=notes) or t
            account = self.client.account
            rec = PublishRecord(
                pair=t.key, video=t.video, size=ident.size, mtime_ns=ident.mtime_ns, head_tail=ident.head_tail,
                publish_id=init.publish_id, account=account_hash(account.open_id), mode=sc.mode,
                init_time=self.clock.now().isoformat(), outcome="uploading", final_sent=False)
            try:
                self.records.put(rec)
            except RecordError as exc:
                # Nothing uploaded yet, so nothing will be posted: give the init up and pause.
                self._pause_for_records(t, exc)
                return
            log.info("task %s (%s): uploading %s bytes in %s chunk(s), publish_id %s", t.id, t.video, ident.size,
                     init.total_chunk_count, init.publish_id)
            marker = _FinalMark(self.records, rec, ident)
            try:
                self.client.upload(init, path, mime=mime, progress=self._progress(t.id), cancel=self.stop,
                                   before_final=marker)
            except TikTokError as exc:
                rec = marker.rec
                if marker.failed is not None:
                    # The mark could not be written, so the final bytes were kept back: nothing
                    # can be posted. Give the init up and pause, as when the first record fails.
                    self.records.discard(t.key)
                    self._pause_for_records(t, marker.failed)
                    return
                if self.stop.is_set():
                    log.info("task %s: upload abandoned for shutdown; the next start settles it", t.id)
                    return
                if exc.action is Action.RESTART and restart < MAX_RESTARTS:
                    status, status_error = self._ask(rec)
                    decision = self._decide(rec, status, status_error, exc)
                    if decision.verdict is Verdict.PUBLISH_ANEW:
                        log.warning("task %s: upload URL gone (%s); starting over with a new init", t.id, exc.code)
                        self.records.discard(t.key)
                        continue
                    self._resolve(t, rec, decision, status, exc, after="upload")
                    return
                self._upload_interrupted(t, rec, exc)
                return
            rec = marker.rec
            break
        self._set_outcome(rec, "processing")
        t = self._to(t, S.PROCESSING, expect={S.UPLOADING}, progress=1.0, error=None)
        if t is not None:
            self.poll(t.id)

    def _prepare(self, t: Task, sc: Any, info: Any, creator: Any) -> tuple[dict, list[str]] | None:
        """Check the sidecar against a fresh creator_info; build post_info (None: task already moved)."""
        scopes = getattr(self.client.account, "scopes", frozenset())
        notes: list[str] = []
        max_dur = getattr(creator, "max_video_post_duration_sec", None)
        if max_dur and info is not None and info.duration and info.duration > max_dur:
            self._to(t, S.FAILED, expect={S.UPLOADING},
                     error=f"The video is {info.duration:.0f} s long, but this TikTok account may post at most "
                           f"{max_dur} s. Shorten it, then edit the sidecar (or press Retry).")
            return None
        if sc.mode == "draft":
            if "video.upload" not in scopes:
                self._to(t, S.NEEDS_LOGIN, expect={S.UPLOADING},
                         error="Drafts need the video.upload permission, which this login did not grant. "
                               "Log out and log in again, allowing it.")
                return None
            wait = self.client.limiter.draft_wait()
            if wait > 0:
                self._hold(t, wait, f"TikTok allows {self.limits.pending_drafts} drafts waiting in the TikTok inbox "
                                    "per day; this one waits until {when}.")
                return None
            return {}, notes + postplan.draft_notes(getattr(sc, "lines", {}))
        if "video.publish" not in scopes:
            self._to(t, S.NEEDS_LOGIN, expect={S.UPLOADING},
                     error="Direct posts need the video.publish permission, which this login did not grant. "
                           "Log out and log in again, allowing it (or use mode: draft).")
            return None
        options = list(getattr(creator, "privacy_level_options", []) or [])
        refusal = postplan.audit_refusal(mode=sc.mode, privacy=sc.privacy,
                                         audited=getattr(self.client, "audited", None),
                                         public_account=postplan.account_is_public(options))
        if refusal:  # TikTok would refuse it: no init, and the fix is the user's (never a silent SELF_ONLY)
            self._to(t, S.INVALID, expect={S.UPLOADING}, error=refusal)
            return None
        if sc.privacy not in options:
            self._to(t, S.FAILED, expect={S.UPLOADING},
                     error=f"This TikTok account does not allow privacy {sc.privacy} right now (it allows: "
                           f"{', '.join(options) or 'nothing'}). Change `privacy` in the sidecar to one of those.")
            return None
        disable = {}
        for key, flag, label in (("allow_comments", "comment_disabled", "comments"),
                                 ("allow_duet", "duet_disabled", "duets"),
                                 ("allow_stitch", "stitch_disabled", "stitches")):
            wanted = bool(getattr(sc, key))
            off_by_creator = bool(getattr(creator, flag, False))
            disable[key] = (not wanted) or off_by_creator
            if wanted and off_by_creator:
                notes.append(f"{label} are turned off in your TikTok settings, so this post has {label} off")
        wait = self.client.limiter.post_wait()
        if wait > 0:
            self._hold(t, wait, f"TikTok allows about {self.limits.daily_posts} direct posts a day; "
                                "this one waits until {when}.")
            return None
        cover = postplan.cover_note(mode=sc.mode, privacy=sc.privacy, cover_ms=int(sc.cover_ms),
                                    given=getattr(sc, "lines", {}))
        return postplan.post_info(sc, disable=disable), notes + ([cover] if cover else [])

    def _progress(self, task_id: str) -> Callable[[int, int], None]:
        last = [0.0]
        lines: list[ProgressLog] = []
        task = self.board.get(task_id)
        video = task.video if task else None

        self.board.update(task_id, bytes_sent=None)   # a new upload: no bytes of an earlier one

        def report(sent: int, total: int) -> None:
            frac = sent / total if total else 1.0
            if frac - last[0] >= 0.01 or sent >= total:
                last[0] = frac
                self.board.update(task_id, progress=round(frac, 4), bytes_sent=int(sent))  # the page's MB/s
            if not lines:
                lines.append(ProgressLog(total=total, first=sent, started=self.clock.monotonic()))
            line = lines[0].line(sent, self.clock.monotonic())
            if line:
                log.info("task %s (%s): uploaded %s", task_id, video, line)
        return report

    def _upload_interrupted(self, t: Task, rec: PublishRecord, exc: TikTokError) -> None:
        """The upload failed. Publishing again is safe only once TikTok shows the old one cannot complete."""
        status, status_error = self._ask(rec)
        self._resolve(t, rec, self._decide(rec, status, status_error, exc), status, exc, after="upload",
                      status_error=status_error)

    def _ask(self, rec: PublishRecord) -> tuple[Any, TikTokError | None]:
        try:
            return self.client.fetch_status(rec.publish_id), None
        except TikTokError as exc:
            return None, exc

    def _decide(self, rec: PublishRecord, status: Any, status_error: TikTokError | None,
                upload_error: TikTokError | None = None) -> Decision:
        return decide(rec, status=status, status_error=status_error, upload_error=upload_error,
                      now=self.clock.now(), url_seconds=self.limits.upload_url_seconds)

    def _resolve(self, t: Task, rec: PublishRecord, decision: Decision, status: Any, exc: TikTokError | None, *,
                 after: str, status_error: TikTokError | None = None) -> None:
        """Act on `reinit.decide` for a pair whose upload was interrupted (`after="upload"`), restored
        after a restart (`"restart"`) or waiting for TikTok's verdict (`"wait"`)."""
        verdict = decision.verdict
        live = after == "upload"
        expect = {S.UPLOADING} if live else None
        if verdict is Verdict.FOLLOW:   # every byte arrived after all: follow it like any upload
            if rec.outcome == "uploading":
                self._set_outcome(rec, "processing")
            t2 = self._to(t, S.PROCESSING, expect=expect, progress=1.0 if live else None, error=None,
                          settle=False, followup=None, followup_kind=None, publish_id=rec.publish_id)
            if t2 is None:
                return
            if status is not None and status.status in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
                self._apply_status(t2, status)
            else:
                self.poll(t2.id)
            return
        if verdict is Verdict.WAIT:
            assert decision.until is not None
            self._await_verdict(t, rec, decision.until, expect=expect, after=after)
            return
        if verdict is Verdict.FAILED and status is not None and not live:
            # TikTok said FAILED: its fail_reason decides (retry now, later, or failed for good).
            t2 = self._to(t, S.PROCESSING, settle=False, followup=None, followup_kind=None, error=None,
                          publish_id=rec.publish_id)
            if t2 is not None:
                self._apply_status(t2, status)
            return
        if verdict is Verdict.FAILED and status is None:
            if live:
                self._to(t, S.FAILED, expect=expect, progress=None,
                         error=f"The upload was interrupted ({exc.sentence() if exc else 'no answer'}) and TikTok "
                               "could not be asked whether it arrived. Check your TikTok profile; if the video is "
                               "not there, press Retry.")
            else:
                why = status_error.sentence() if status_error else "no answer"
                self._set_outcome(rec, "failed", why)
                self._to(t, S.FAILED, settle=False, followup=None, followup_kind=None,
                         error=f"TikTok no longer knows how this post ended ({why}). Check your TikTok "
                               "profile; if the video is not there, press Retry.")
            return
        # PUBLISH_ANEW (or FAILED while uploading): nothing was posted, and nothing can be any more.
        self.records.discard(t.key)
        if live and exc is not None and exc.code != "file_changed":
            self._failed_attempt(t, exc)
            return
        if live:
            # The file was truncated, rewritten or replaced while being sent: nothing was posted,
            # and the new file gets the same checks as any new file (it may be invalid now).
            self._to(t, S.WAITING, expect=expect, progress=None, publish_id=None,
                     error=f"{t.video} changed while it was being uploaded, so the upload was stopped "
                           "(nothing was published); checking the new file.")
            self.hooks.revalidate(t.key)
            return
        if after == "restart":
            log.info("task %s (%s): the upload was cut off by a restart; publishing anew", t.id, t.video)
            error = "The upload was cut off by a restart; checking the files, then publishing again."
        else:
            log.info("task %s (%s): TikTok cannot complete the earlier upload any more; publishing anew",
                     t.id, t.video)
            error = "TikTok did not complete the earlier upload; checking the files, then publishing again."
        # Check the pair again before it is scheduled (its sidecar may have changed meanwhile),
        # rather than letting the scheduler take it with what was restored.
        self._to(t, S.WAITING, settle=False, followup=None, followup_kind=None, progress=None, publish_id=None,
                 error=error)
        self.hooks.revalidate(t.key)
        self.hooks.wake()

    def _await_verdict(self, t: Task, rec: PublishRecord, until: datetime, *, expect: set[State] | None,
                       after: str) -> None:
        """TikTok may still complete the old upload: stay `processing`, ask it again regularly."""
        if after == "wait":   # still undecided: ask again later, the sentence stands
            self.board.update(t.id, followup=self.clock.now() + self._draft_poll(), followup_kind="verdict")
            return
        when = self._local(until)
        cause = "the restart" if after == "restart" else "the interruption"
        log.info("task %s (%s): TikTok may complete publish_id %s on its own; waiting for its verdict "
                 "(decided by %s at the latest)", t.id, t.video, rec.publish_id, when)
        self._to(t, S.PROCESSING, expect=expect, settle=False, publish_id=rec.publish_id, progress=None,
                 followup=self.clock.now() + self._draft_poll(), followup_kind="verdict",
                 error=f"The final bytes of this video were on their way to TikTok at {cause}, so TikTok may "
                       "still post it. ralph-watch asks TikTok how it ends and publishes it anew only once "
                       f"TikTok reports it failed or its upload link has expired (at {when} at the latest).")

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

    # -- after the upload ----------------------------------------------------------------------
    def poll(self, task_id: str) -> None:
        """Poll status until a terminal answer, within the status rate budget."""
        delay = 1.0
        errors = 0
        while not self.stop.is_set():
            t = self.board.get(task_id)
            if t is None or t.state not in (S.PROCESSING,):
                return
            try:
                st = self.client.fetch_status(t.publish_id)
            except TikTokError as exc:
                if exc.action is Action.NEEDS_LOGIN:
                    self._to(t, S.NEEDS_LOGIN, expect={S.PROCESSING}, settle=True,
                             error="TikTok needs a new login before ralph-watch can learn how this post ended.")
                    return
                errors += 1
                if exc.action in (Action.RETRY_NOW, Action.RETRY_LATER) and errors < 30:
                    self.stop.wait(max(delay, exc.retry_after or 0))
                    delay = min(delay * 2, 30.0)
                    continue
                self._to(t, S.FAILED, expect={S.PROCESSING},
                         error=f"TikTok could not tell how this post ended: {exc.sentence()} Check your TikTok "
                               "profile; if the video is not there, press Retry.")
                return
            if self._apply_status(t, st):
                return
            self.stop.wait(delay)
            delay = min(delay * 1.5, 10.0)

    def _apply_status(self, t: Task, st: Any) -> bool:
        """Act on a status answer; True when the task left `processing`."""
        if st.status == "PUBLISH_COMPLETE":
            self.finish_published(t, st.post_ids)
            return True
        if st.status == "SEND_TO_USER_INBOX":
            rec = self.records.get(t.key)
            if rec is not None:
                self._set_outcome(rec, "in_inbox")
            self._to(t, S.IN_INBOX, expect={S.PROCESSING, S.NEEDS_LOGIN}, progress=None, error=None,
                     followup=self.clock.now() + self._draft_poll(), followup_kind="status")
            return True
        if st.status == "FAILED":
            from .tiktok.errors import classify_fail_reason
            exc = classify_fail_reason(st.fail_reason or "unknown", log_id=st.log_id, limits=self.limits)
            rec = self.records.get(t.key)
            if exc.action is Action.RETRY_LATER:  # e.g. the daily cap: nothing was posted; wait, then again
                self.records.discard(t.key)
                due = self.clock.now() + timedelta(seconds=max(1.0, exc.retry_after or self.limits.window_seconds))
                self._to(t, S.SCHEDULED, expect={S.PROCESSING, S.NEEDS_LOGIN}, due=due, progress=None, held=True,
                         error=f"{exc.sentence()} Trying again at {self._local(due)}.")
                self.hooks.wake()
                return True
            if exc.action is Action.RETRY_NOW and t.retries < MAX_RETRIES:
                self.records.discard(t.key)  # TikTok failed it: nothing was posted
                self._to(t, S.SCHEDULED, expect={S.PROCESSING, S.NEEDS_LOGIN}, progress=None, retries=t.retries + 1,
                         due=self.clock.now() + timedelta(seconds=self._backoff(t.retries)),
                         error=f"{exc.sentence()} Trying again.")
                self.hooks.wake()
                return True
            if rec is not None:
                self._set_outcome(rec, "failed", exc.sentence())
            self._to(t, S.FAILED, expect={S.PROCESSING, S.NEEDS_LOGIN, S.IN_INBOX}, progress=None, error=exc.sentence())
            return True
        return False

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
        try:
            st = self.client.fetch_status(t.publish_id)
        except TikTokError as exc:
            if exc.action is Action.NEEDS_LOGIN:
                if t.state is S.IN_INBOX:
                    self._to(t, S.NEEDS_LOGIN, expect={S.IN_INBOX}, settle=True,
                             error="TikTok needs a new login before ralph-watch can check this draft.")
                return
            self.board.update(t.id, followup=self.clock.now() + self._draft_poll(), followup_kind=kind)
            return
        if kind == "post_id":
            if st.post_ids:
                self.board.update(t.id, post_id=str(st.post_ids[0]))
            elif t.retries < 10:
                self.board.update(t.id, retries=t.retries + 1, followup_kind="post_id",
                                  followup=self.clock.now() + self._draft_poll())
            return
        if t.state is S.IN_INBOX:
            if st.status == "PUBLISH_COMPLETE":
                self.finish_published(t, st.post_ids)
                return
            if st.status == "FAILED":
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
            self.board.update(t.id, followup=self.clock.now() + self._draft_poll(), followup_kind="status")

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
    def finish_published(self, t: Task, post_ids: list | None) -> None:
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
            self.board.update(t.id, followup=self.clock.now() + self._draft_poll(), followup_kind="post_id", retries=0)

    def _delete_after_publish(self, t: Task) -> None:
        with self.lock:
            self._delete_locked(t)

    def _delete_locked(self, t: Task) -> None:
        rec = self.records.get(t.key)
        if t.video:
            video = resolve(self.inbox, t.video)
            changed = False
            try:
                st = os.lstat(video)
            except FileNotFoundError:
                st = None
            except OSError:
                st = None   # the deletion below reports (and retries) what stands in the way
            if st is not None and not stat.S_ISREG(st.st_mode):
                changed = True   # a symlink (or anything else) now stands there: not what was sent
            elif st is not None and rec is not None and rec.sent_file is not None:
                # Same first and last MiB is no proof for the middle: the file must still be the
                # one the upload read (device, inode, size, mtime), else it is kept.
                changed = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != tuple(rec.sent_file)
            try:
                now_ident = file_identity(video) if st is not None and not changed else None
            except OSError:
                now_ident = None
            want = rec.identity if rec is not None else t.identity
            if now_ident is not None and not now_ident.same_content(want):
                changed = True
            if changed:
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
            self.board.update(t.id, files_kept=True, followup=self.clock.now() + self._delete_retry(),
                              followup_kind="delete",
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
    def _failed_attempt(self, t: Task, exc: TikTokError) -> None:
        """A TikTok error before any byte was posted: decide by the error's action."""
        now = self.clock.now()
        expect = {S.UPLOADING, S.PROCESSING}
        if exc.action is Action.RETRY_LATER:
            wait = exc.retry_after or self.limits.window_seconds
            self._hold(t, wait, exc.sentence() + " Trying again at {when}.")
        elif exc.action in (Action.RETRY_NOW, Action.RESTART) and t.retries < MAX_RETRIES:
            wait = self._backoff(t.retries)
            self._to(t, S.SCHEDULED, expect=expect, due=now + timedelta(seconds=wait), retries=t.retries + 1,
                     progress=None, held=True, error=f"{exc.sentence()} Trying again at {self._local(now + timedelta(seconds=wait))}.")
            self.hooks.wake()
        elif exc.action is Action.NEEDS_LOGIN:
            self._to(t, S.NEEDS_LOGIN, expect=expect, progress=None, error=exc.sentence())
        else:
            if exc.action is Action.RETRY_NOW:
                msg = f"Gave up after {t.retries + 1} tries: {exc.sentence()} The files are kept; press Retry."
            else:
                msg = exc.sentence()
            self._to(t, S.FAILED, expect=expect, progress=None, error=msg)

    def _pause_for_records(self, t: Task, exc: RecordError) -> None:
        """state_dir cannot hold a publish record: pause publishing; the task waits, due as before."""
        self.hooks.record_failed(str(exc))
        # Due now: the pause is what holds it, so Resume publishes it at once.
        self._to(t, S.SCHEDULED, expect={S.UPLOADING}, due=self.clock.now(), progress=None,
                 error=f"Publishing is paused: {exc}. Free space or fix the permissions of state_dir, "
                       "then press Resume.")


    def _backoff(self, retries: int) -> float:
        # Scaled by the rate window (60 s at TikTok), so tests that shrink the window shrink this too.
        return BACKOFF[min(retries, len(BACKOFF) - 1)] * min(1.0, self.limits.window_seconds / 60.0)

    def _hold(self, t: Task, seconds: float, template: str) -> None:
        """Keep the task `scheduled` with a new due (limits, caps): never `missed` for waiting on TikTok."""
        due = self.clock.now() + timedelta(seconds=max(1.0, seconds))
        self._to(t, S.SCHEDULED, expect={S.UPLOADING, S.PROCESSING}, due=due, progress=None, held=True,
                 error=template.format(when=self._local(due)))
        self.hooks.wake()

    def _local(self, when: datetime) -> str:
        tz = self.tz
        return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if tz else when.strftime("%Y-%m-%d %H:%M UTC")

    def _delete_retry(self) -> timedelta:
        # Once a minute at TikTok's 60 s window; tests shrink the window (and so this) to seconds.
        return timedelta(seconds=max(1.0, min(60.0, self.limits.window_seconds)))

    def _draft_poll(self) -> timedelta:
        # Slow: a draft can wait days; one status call per window is far inside the 30/min budget.
        return timedelta(seconds=max(1.0, self.limits.window_seconds))

    def _set_outcome(self, rec: PublishRecord, outcome: str, detail: str | None = None) -> None:
        try:
            self.records.put(rec.with_outcome(outcome, detail))
        except RecordError as exc:
            log.error("%s", exc)
            self.hooks.record_failed(str(exc))

    def _to(self, t: Task, state: State, *, expect: set[State] | None = None, **values: Any) -> Task | None:
        return self.board.transition(t.id, state, expect=expect, **values)
