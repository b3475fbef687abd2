"""What a TikTok answer means for a task, decided in one place. Pure: no I/O, no threads, and
the time is a parameter.

- `post_settings`: creator_info plus the sidecar (plus the login's scopes, whether the app is
  audited and the wait the daily cap asks for) give the init's post settings and notes, a hold,
  or a refusal with a sentence.
- `after_error`: a TikTokError before any byte was posted gives the task's next state, by the
  error's action (retry later, retry now with a growing wait, log in again, or failed).
- `after_status`: a status answer gives the next state (None: TikTok is still processing).
- `after_interruption`: `reinit.decide`'s verdict on an upload that was interrupted
  (`after="upload"`), restored after a restart (`"restart"`) or waiting for TikTok's verdict
  (`"wait"`) gives the next state.

Each returns a `Next`; the publisher performs the I/O and applies it, effects in this order:
the publish record, the task's transition (or update), revalidate, wake, then `then`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Mapping, Protocol, Sequence

from . import postplan
from .errors import Action, TikTokError
from .limits import Limits
from .record import PublishRecord
from .reinit import Decision, Verdict
from .sidecar import Sidecar
from .tasks import State
from .tiktok.errors import classify_fail_reason

__all__ = ["Next", "Then", "PostSettings", "StatusAnswer", "CreatorFacts", "VideoFacts", "MAX_RETRIES",
           "BACKOFF_STEPS", "backoff", "local_time", "hold", "post_settings", "after_error", "after_status",
           "after_interruption"]

S = State
MAX_RETRIES = 5                       # transient failures in a row before a task is `failed`
BACKOFF_STEPS = (1, 4, 10, 30, 60)    # times `Limits.retry_seconds`: 30 s, 2, 5, 15, 30 min by default
LIVE = frozenset({S.UPLOADING})
ATTEMPT = frozenset({S.UPLOADING, S.PROCESSING})
ANSWERED = frozenset({S.PROCESSING, S.NEEDS_LOGIN})


class StatusAnswer(Protocol):
    """TikTok's status/fetch answer (the client's PublishStatus)."""

    @property
    def status(self) -> str: ...
    @property
    def fail_reason(self) -> str | None: ...
    @property
    def post_ids(self) -> Sequence[str]: ...
    @property
    def uploaded_bytes(self) -> int | None: ...
    @property
    def log_id(self) -> str | None: ...


class CreatorFacts(Protocol):
    """What creator_info says about the account right now (the client's CreatorInfo)."""

    @property
    def privacy_level_options(self) -> Sequence[str]: ...
    @property
    def comment_disabled(self) -> bool: ...
    @property
    def duet_disabled(self) -> bool: ...
    @property
    def stitch_disabled(self) -> bool: ...
    @property
    def max_video_post_duration_sec(self) -> int: ...


class VideoFacts(Protocol):
    """The probe's VideoInfo, as far as the post settings care."""

    @property
    def duration(self) -> float | None: ...


class Then(enum.Enum):
    """What the publisher does once the task has moved (only if the transition took place)."""

    NOTHING = "nothing"
    POLL = "poll"             # follow it like any finished upload: poll its status
    STATUS = "status"         # act on the status answer already in hand (`after_status`)
    PUBLISHED = "published"   # PUBLISH_COMPLETE: delete the files, then `published`


@dataclass(frozen=True)
class Next:
    """A task's next state, the values it gets, and the effects around them."""

    state: State | None                       # None: the task keeps its state, only `values` change
    values: Mapping[str, Any] = field(default_factory=dict)
    expect: frozenset[State] | None = None    # the states it may move from (None: any)
    discard_record: bool = False              # nothing was posted: the publish record goes
    outcome: str | None = None                # else the publish record's new outcome (if there is one)
    outcome_detail: str | None = None
    revalidate: bool = False                  # check the pair's files again
    wake: bool = False                        # something is due: wake the scheduler
    then: Then = Then.NOTHING
    log: str | None = None                    # a log line (info) about the task


@dataclass(frozen=True)
class PostSettings:
    """What the init sends: the direct post's post_info ({} for a draft) and the notes for the page."""

    post_info: dict[str, Any]
    notes: list[str]


def backoff(retries: int, limits: Limits) -> float:
    """Seconds to wait before the next try after `retries` transient failures in a row."""
    return limits.retry_seconds * BACKOFF_STEPS[min(retries, len(BACKOFF_STEPS) - 1)]


def local_time(when: datetime, tz: tzinfo | None) -> str:
    """A time as the page and the sentences show it."""
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if tz else when.strftime("%Y-%m-%d %H:%M UTC")


def hold(seconds: float, template: str, *, now: datetime, tz: tzinfo | None) -> Next:
    """Keep the task `scheduled` with a new due (limits, caps): never `missed` for waiting on TikTok.
    `template` names the new due as `{when}`."""
    due = now + timedelta(seconds=max(1.0, seconds))
    return Next(S.SCHEDULED, expect=ATTEMPT, wake=True,
                values=dict(due=due, progress=None, held=True, error=template.format(when=local_time(due, tz))))


# -- before the init -------------------------------------------------------------------------------
def post_settings(sc: Sidecar, video: VideoFacts | None, creator: CreatorFacts, *, scopes: frozenset[str],
                  audited: bool | None, cap_wait: float, limits: Limits, now: datetime,
                  tz: tzinfo | None) -> PostSettings | Next:
    """Check the sidecar against a fresh creator_info. `cap_wait`: what the mode's rolling-day cap
    (pending drafts, or daily direct posts) asks to wait, in seconds (0: none)."""
    max_dur = creator.max_video_post_duration_sec
    if max_dur and video is not None and video.duration and video.duration > max_dur:
        return Next(S.FAILED, expect=LIVE, values=dict(
            error=f"The video is {video.duration:.0f} s long, but this TikTok account may post at most "
                  f"{max_dur} s. Shorten it, then edit the sidecar (or press Retry)."))
    if sc.mode == "draft":
        if "video.upload" not in scopes:
            return Next(S.NEEDS_LOGIN, expect=LIVE, values=dict(
                error="Drafts need the video.upload permission, which this login did not grant. "
                      "Log out and log in again, allowing it."))
        if cap_wait > 0:
            return hold(cap_wait, f"TikTok allows {limits.pending_drafts} drafts waiting in the TikTok inbox "
                                  "per day; this one waits until {when}.", now=now, tz=tz)
        return PostSettings({}, postplan.draft_notes(sc.lines))
    if "video.publish" not in scopes:
        return Next(S.NEEDS_LOGIN, expect=LIVE, values=dict(
            error="Direct posts need the video.publish permission, which this login did not grant. "
                  "Log out and log in again, allowing it (or use mode: draft)."))
    options = list(creator.privacy_level_options or [])
    refusal = postplan.audit_refusal(mode=sc.mode, privacy=sc.privacy, audited=audited,
                                     public_account=postplan.account_is_public(options))
    if refusal:  # TikTok would refuse it: no init, and the fix is the user's (never a silent SELF_ONLY)
        return Next(S.INVALID, expect=LIVE, values=dict(error=refusal))
    if sc.privacy not in options:
        return Next(S.FAILED, expect=LIVE, values=dict(
            error=f"This TikTok account does not allow privacy {sc.privacy} right now (it allows: "
                  f"{', '.join(options) or 'nothing'}). Change `privacy` in the sidecar to one of those."))
    disable, notes = _interactions(sc, creator)
    if cap_wait > 0:
        return hold(cap_wait, f"TikTok allows about {limits.daily_posts} direct posts a day; "
                              "this one waits until {when}.", now=now, tz=tz)
    cover = postplan.cover_note(mode=sc.mode, privacy=sc.privacy, cover_ms=int(sc.cover_ms), given=sc.lines)
    return PostSettings(postplan.post_info(sc, disable=disable), notes + ([cover] if cover else []))


def _interactions(sc: Sidecar, creator: CreatorFacts) -> tuple[dict[str, bool], list[str]]:
    """Which interactions the post turns off: those the sidecar does not allow, and those the
    creator turned off in TikTok (with a note, when the sidecar asked for them)."""
    disable: dict[str, bool] = {}
    notes: list[str] = []
    for key, wanted, off_by_creator, label in (
            ("allow_comments", sc.allow_comments, creator.comment_disabled, "comments"),
            ("allow_duet", sc.allow_duet, creator.duet_disabled, "duets"),
            ("allow_stitch", sc.allow_stitch, creator.stitch_disabled, "stitches")):
        disable[key] = (not wanted) or bool(off_by_creator)
        if wanted and off_by_creator:
            notes.append(f"{label} are turned off in your TikTok settings, so this post has {label} off")
    return disable, notes


# -- TikTok's answers ------------------------------------------------------------------------------
def after_error(exc: TikTokError, *, retries: int, now: datetime, limits: Limits, tz: tzinfo | None) -> Next:
    """A TikTok error before any byte was posted: decide by the error's action."""
    if exc.action is Action.RETRY_LATER:
        return hold(exc.retry_after or limits.window_seconds, exc.sentence() + " Trying again at {when}.",
                    now=now, tz=tz)
    if exc.action in (Action.RETRY_NOW, Action.RESTART) and retries < MAX_RETRIES:
        due = now + timedelta(seconds=backoff(retries, limits))
        return Next(S.SCHEDULED, expect=ATTEMPT, wake=True, values=dict(
            due=due, retries=retries + 1, progress=None, held=True,
            error=f"{exc.sentence()} Trying again at {local_time(due, tz)}."))
    if exc.action is Action.NEEDS_LOGIN:
        return Next(S.NEEDS_LOGIN, expect=ATTEMPT, values=dict(progress=None, error=exc.sentence()))
    if exc.action is Action.RETRY_NOW:
        msg = f"Gave up after {retries + 1} tries: {exc.sentence()} The files are kept; press Retry."
    else:
        msg = exc.sentence()
    return Next(S.FAILED, expect=ATTEMPT, values=dict(progress=None, error=msg))


def after_status(st: StatusAnswer, *, retries: int, now: datetime, limits: Limits,
                 tz: tzinfo | None) -> Next | None:
    """A status answer: the task's next state, or None while TikTok is still processing."""
    if st.status == "PUBLISH_COMPLETE":
        return Next(None, then=Then.PUBLISHED)
    if st.status == "SEND_TO_USER_INBOX":
        return Next(S.IN_INBOX, expect=ANSWERED, outcome="in_inbox", values=dict(
            progress=None, error=None, followup=now + timedelta(seconds=limits.followup_seconds),
            followup_kind="status"))
    if st.status != "FAILED":
        return None
    exc = classify_fail_reason(st.fail_reason or "unknown", log_id=st.log_id, limits=limits)
    if exc.action is Action.RETRY_LATER:  # e.g. the daily cap: nothing was posted; wait, then again
        due = now + timedelta(seconds=max(1.0, exc.retry_after or limits.window_seconds))
        return Next(S.SCHEDULED, expect=ANSWERED, discard_record=True, wake=True, values=dict(
            due=due, progress=None, held=True, error=f"{exc.sentence()} Trying again at {local_time(due, tz)}."))
    if exc.action is Action.RETRY_NOW and retries < MAX_RETRIES:  # TikTok failed it: nothing was posted
        return Next(S.SCHEDULED, expect=ANSWERED, discard_record=True, wake=True, values=dict(
            progress=None, retries=retries + 1, due=now + timedelta(seconds=backoff(retries, limits)),
            error=f"{exc.sentence()} Trying again."))
    return Next(S.FAILED, expect=ANSWERED | {S.IN_INBOX}, outcome="failed", outcome_detail=exc.sentence(),
                values=dict(progress=None, error=exc.sentence()))


def after_interruption(decision: Decision, *, after: str, rec: PublishRecord, status: StatusAnswer | None,
                       upload_error: TikTokError | None, status_error: TikTokError | None, video: str | None,
                       retries: int, now: datetime, limits: Limits, tz: tzinfo | None) -> Next:
    """Act on `reinit.decide` for a pair with a publish record whose upload was interrupted
    (`after="upload"`: the task is still `uploading`), restored after a restart (`"restart"`) or
    waiting for TikTok's verdict (`"wait"`)."""
    live = after == "upload"
    expect = LIVE if live else None
    verdict = decision.verdict
    if verdict is Verdict.FOLLOW:   # every byte arrived after all: follow it like any upload
        done = status is not None and status.status in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")
        return Next(S.PROCESSING, expect=expect, outcome="processing" if rec.outcome == "uploading" else None,
                    then=Then.STATUS if done else Then.POLL, values=dict(
                        progress=1.0 if live else None, error=None, settle=False, followup=None,
                        followup_kind=None, publish_id=rec.publish_id))
    if verdict is Verdict.WAIT:
        assert decision.until is not None
        return _await_verdict(rec, decision.until, expect=expect, after=after, now=now, limits=limits, tz=tz)
    if verdict is Verdict.FAILED and status is not None and not live:
        # TikTok said FAILED: its fail_reason decides (retry now, later, or failed for good).
        return Next(S.PROCESSING, then=Then.STATUS, values=dict(
            settle=False, followup=None, followup_kind=None, error=None, publish_id=rec.publish_id))
    if verdict is Verdict.FAILED and status is None:
        if live:
            return Next(S.FAILED, expect=expect, values=dict(progress=None, error=(
                f"The upload was interrupted ({upload_error.sentence() if upload_error else 'no answer'}) and "
                "TikTok could not be asked whether it arrived. Check your TikTok profile; if the video is not "
                "there, press Retry.")))
        why = status_error.sentence() if status_error else "no answer"
        return Next(S.FAILED, outcome="failed", outcome_detail=why, values=dict(
            settle=False, followup=None, followup_kind=None,
            error=f"TikTok no longer knows how this post ended ({why}). Check your TikTok profile; if the "
                  "video is not there, press Retry."))
    return _publish_anew(after=after, upload_error=upload_error, video=video, retries=retries, now=now,
                         limits=limits, tz=tz)


def _await_verdict(rec: PublishRecord, until: datetime, *, expect: frozenset[State] | None, after: str,
                   now: datetime, limits: Limits, tz: tzinfo | None) -> Next:
    """TikTok may still complete the old upload: stay `processing`, ask it again regularly."""
    followup = now + timedelta(seconds=limits.followup_seconds)
    if after == "wait":   # still undecided: ask again later, the sentence stands
        return Next(None, values=dict(followup=followup, followup_kind="verdict"))
    when = local_time(until, tz)
    cause = "the restart" if after == "restart" else "the interruption"
    return Next(S.PROCESSING, expect=expect, values=dict(
        settle=False, publish_id=rec.publish_id, progress=None, followup=followup, followup_kind="verdict",
        error=f"The final bytes of this video were on their way to TikTok at {cause}, so TikTok may still "
              "post it. ralph-watch asks TikTok how it ends and publishes it anew only once TikTok reports "
              f"it failed or its upload link has expired (at {when} at the latest)."),
        log=f"TikTok may complete publish_id {rec.publish_id} on its own; waiting for its verdict "
            f"(decided by {when} at the latest)")


def _publish_anew(*, after: str, upload_error: TikTokError | None, video: str | None, retries: int,
                  now: datetime, limits: Limits, tz: tzinfo | None) -> Next:
    """PUBLISH_ANEW (or FAILED while uploading): nothing was posted, and nothing can be any more."""
    live = after == "upload"
    if live and upload_error is not None and upload_error.code != "file_changed":
        nxt = after_error(upload_error, retries=retries, now=now, limits=limits, tz=tz)
        return Next(nxt.state, nxt.values, nxt.expect, discard_record=True, wake=nxt.wake)
    if live:
        # The file was truncated, rewritten or replaced while being sent: nothing was posted,
        # and the new file gets the same checks as any new file (it may be invalid now).
        return Next(S.WAITING, expect=LIVE, discard_record=True, revalidate=True, values=dict(
            progress=None, publish_id=None,
            error=f"{video} changed while it was being uploaded, so the upload was stopped "
                  "(nothing was published); checking the new file."))
    if after == "restart":
        line = "the upload was cut off by a restart; publishing anew"
        error = "The upload was cut off by a restart; checking the files, then publishing again."
    else:
        line = "TikTok cannot complete the earlier upload any more; publishing anew"
        error = "TikTok did not complete the earlier upload; checking the files, then publishing again."
    # Check the pair again before it is scheduled (its sidecar may have changed meanwhile),
    # rather than letting the scheduler take it with what was restored.
    return Next(S.WAITING, discard_record=True, revalidate=True, wake=True, log=line, values=dict(
        settle=False, followup=None, followup_kind=None, progress=None, publish_id=None, error=error))
