"""What a TikTok answer means for a task (ralph_watch/outcomes.py), as tables: one row per branch
of what the publisher's `_prepare`, `_failed_attempt`, `_apply_status` and `_upload_interrupted`
(with `_resolve`) decided. No threads, no sockets, no clock: the time is T0.

- TestPostSettings: creator_info + the sidecar -> post_info and notes, a hold, or a refusal.
- TestAfterError: a TikTokError before any byte was posted -> the next state.
- TestAfterStatus: a status answer -> the next state (None: still processing).
- TestAfterInterruption: reinit's verdict on an interrupted/restored/waiting upload -> the next state.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.outcomes import (MAX_RETRIES, Next, PostSettings, Then, after_error, after_interruption,
                                  after_status, backoff, local_time, post_settings)
from ralph_watch.record import PublishRecord
from ralph_watch.reinit import Decision, Verdict
from ralph_watch.sidecar import Sidecar
from ralph_watch.tasks import State as S
from ralph_watch.tiktok.client import CreatorInfo, PublishStatus
from ralph_watch.tiktok.errors import classify_fail_reason

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
LIMITS = Limits()
UTC_TEXT = "2026-03-01 12:00 UTC"
LIVE = frozenset({S.UPLOADING})
ATTEMPT = frozenset({S.UPLOADING, S.PROCESSING})
ANSWERED = frozenset({S.PROCESSING, S.NEEDS_LOGIN})
BOTH = frozenset({"video.publish", "video.upload"})


@dataclass(frozen=True)
class Video:
    duration: float | None


def creator(**kw: Any) -> CreatorInfo:
    base: dict[str, Any] = dict(nickname="n", username="u", avatar_url="", comment_disabled=False,
                                duet_disabled=False, stitch_disabled=False, max_video_post_duration_sec=600,
                                privacy_level_options=("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "SELF_ONLY"))
    return CreatorInfo(**{**base, **kw})


PUBLIC = Sidecar(title="hi", privacy="PUBLIC_TO_EVERYONE", allow_comments=True, lines={"title": 1, "privacy": 2})
PRIVATE = replace(PUBLIC, privacy="SELF_ONLY")
DRAFT = Sidecar(title="hi", mode="draft", lines={"title": 1})
PUBLIC_INFO = {"privacy_level": "PUBLIC_TO_EVERYONE", "disable_comment": False, "disable_duet": True,
               "disable_stitch": True, "video_cover_timestamp_ms": 0, "brand_content_toggle": False,
               "brand_organic_toggle": False, "is_aigc": False, "title": "hi"}
DRAFT_NOTE = ("TikTok ignores privacy for an inbox draft (mode: draft): choose those in the TikTok app when you "
              "post the draft; only the title is sent, and TikTok may not pre-fill even that")


class TestPostSettings:
    @pytest.mark.parametrize("sc, video, info, scopes, audited, cap_wait, want", [
        pytest.param(PUBLIC, Video(601.0), creator(), BOTH, None, 0.0,
                     (S.FAILED, "The video is 601 s long, but this TikTok account may post at most 600 s."),
                     id="longer_than_creator_allows"),
        pytest.param(PUBLIC, Video(None), creator(), BOTH, None, 0.0, PostSettings(PUBLIC_INFO, []),
                     id="duration_unknown_is_no_refusal"),
        pytest.param(DRAFT, None, creator(), frozenset({"video.publish"}), None, 0.0,
                     (S.NEEDS_LOGIN, "Drafts need the video.upload permission"), id="draft_without_upload_scope"),
        pytest.param(DRAFT, None, creator(), BOTH, None, 90.0,
                     (S.SCHEDULED, "TikTok allows 5 drafts waiting in the TikTok inbox per day; this one waits "
                                   "until 2026-03-01 12:01 UTC."), id="draft_cap_holds"),
        pytest.param(DRAFT, None, creator(), BOTH, False, 0.0, PostSettings({}, []), id="draft_goes"),
        pytest.param(replace(DRAFT, lines={"title": 1, "privacy": 2}), None, creator(), BOTH, None, 0.0,
                     PostSettings({}, [DRAFT_NOTE]), id="draft_notes_ignored_keys"),
        pytest.param(PUBLIC, None, creator(), frozenset({"video.upload"}), None, 0.0,
                     (S.NEEDS_LOGIN, "Direct posts need the video.publish permission"),
                     id="direct_without_publish_scope"),
        pytest.param(PUBLIC, None, creator(privacy_level_options=("FOLLOWER_OF_CREATOR", "SELF_ONLY")), BOTH,
                     False, 0.0, (S.INVALID, "This TikTok app is unaudited"), id="unaudited_refused_public"),
        pytest.param(PRIVATE, None, creator(), BOTH, False, 0.0,
                     (S.INVALID, "the TikTok account is public"), id="unaudited_refused_public_account"),
        pytest.param(PUBLIC, None, creator(privacy_level_options=("SELF_ONLY",)), BOTH, None, 0.0,
                     (S.FAILED, "does not allow privacy PUBLIC_TO_EVERYONE right now (it allows: SELF_ONLY)"),
                     id="privacy_not_offered"),
        pytest.param(PUBLIC, None, creator(privacy_level_options=()), BOTH, None, 0.0,
                     (S.FAILED, "(it allows: nothing)"), id="no_privacy_offered"),
        pytest.param(PUBLIC, None, creator(comment_disabled=True), BOTH, True, 0.0,
                     PostSettings({**PUBLIC_INFO, "disable_comment": True},
                                  ["comments are turned off in your TikTok settings, so this post has comments off"]),
                     id="creator_turned_comments_off"),
        pytest.param(PUBLIC, None, creator(duet_disabled=True), BOTH, None, 0.0, PostSettings(PUBLIC_INFO, []),
                     id="creator_off_and_not_asked_no_note"),
        pytest.param(PUBLIC, None, creator(), BOTH, None, 30.0,
                     (S.SCHEDULED, "TikTok allows about 15 direct posts a day; this one waits until "
                                   "2026-03-01 12:00 UTC."), id="daily_cap_holds"),
        pytest.param(replace(PRIVATE, cover_ms=1500, lines={"cover_ms": 3}), None, creator(), BOTH, None, 0.0,
                     PostSettings({**PUBLIC_INFO, "privacy_level": "SELF_ONLY", "video_cover_timestamp_ms": 1500},
                                  ["TikTok is reported to use cover_ms only for public posts; this one is private, "
                                   "so TikTok may show its first frame instead"]), id="cover_note_for_private"),
        pytest.param(PUBLIC, Video(30.0), creator(), BOTH, True, 0.0, PostSettings(PUBLIC_INFO, []),
                     id="direct_goes"),
    ])
    def test_it_decides_the_post_settings(self, sc, video, info, scopes, audited, cap_wait, want):
        got = post_settings(sc, video, info, scopes=scopes, audited=audited, cap_wait=cap_wait, limits=LIMITS,
                            now=T0, tz=None)
        if isinstance(want, PostSettings):
            assert got == want
            return
        state, text = want
        assert isinstance(got, Next) and got.state is state and text in got.values["error"]
        if state is S.SCHEDULED:   # a hold: never `missed` for waiting on TikTok, at least 1 s ahead
            assert got.values["held"] and got.wake and got.expect == ATTEMPT
            assert got.values["due"] == T0 + timedelta(seconds=max(1.0, cap_wait))
        else:
            assert got.expect == LIVE and not got.wake


def err(action: Action, code: str = "boom", retry_after: float | None = None) -> TikTokError:
    return TikTokError(code, "it broke", action=action, hint=f"It broke ({code}).", retry_after=retry_after)


class TestAfterError:
    @pytest.mark.parametrize("exc, retries, state, due_in, values, error", [
        pytest.param(err(Action.RETRY_LATER, retry_after=600), 0, S.SCHEDULED, 600, {"held": True},
                     "It broke (boom). Trying again at 2026-03-01 12:10 UTC.", id="retry_later_after"),
        pytest.param(err(Action.RETRY_LATER), 3, S.SCHEDULED, 60, {"held": True},
                     "It broke (boom). Trying again at 2026-03-01 12:01 UTC.", id="retry_later_window"),
        pytest.param(err(Action.RETRY_LATER, retry_after=0.2), 0, S.SCHEDULED, 1, {"held": True},
                     "Trying again at", id="retry_later_at_least_a_second"),
        pytest.param(err(Action.RETRY_NOW), 0, S.SCHEDULED, 30, {"held": True, "retries": 1},
                     "It broke (boom). Trying again at 2026-03-01 12:00 UTC.", id="retry_now_backs_off"),
        pytest.param(err(Action.RESTART), 2, S.SCHEDULED, 300, {"held": True, "retries": 3},
                     "Trying again at 2026-03-01 12:05 UTC.", id="restart_backs_off"),
        pytest.param(err(Action.RETRY_NOW), MAX_RETRIES - 1, S.SCHEDULED, 1800, {"retries": MAX_RETRIES},
                     "Trying again", id="last_retry"),
        pytest.param(err(Action.NEEDS_LOGIN), 0, S.NEEDS_LOGIN, None, {}, "It broke (boom).", id="needs_login"),
        pytest.param(err(Action.RETRY_NOW), MAX_RETRIES, S.FAILED, None, {},
                     "Gave up after 6 tries: It broke (boom). The files are kept; press Retry.", id="gave_up"),
        pytest.param(err(Action.RESTART), MAX_RETRIES, S.FAILED, None, {}, "It broke (boom).",
                     id="restart_gave_up"),
        pytest.param(err(Action.USER_FIX), 0, S.FAILED, None, {}, "It broke (boom).", id="user_fix"),
        pytest.param(err(Action.PERMANENT), 0, S.FAILED, None, {}, "It broke (boom).", id="permanent"),
    ])
    def test_it_decides_by_the_action(self, exc, retries, state, due_in, values, error):
        got = after_error(exc, retries=retries, now=T0, limits=LIMITS, tz=None)
        assert got.state is state and got.expect == ATTEMPT and got.values["progress"] is None
        assert error in got.values["error"]
        assert {k: got.values[k] for k in values} == values
        assert got.values.get("due") == (T0 + timedelta(seconds=due_in) if due_in is not None else None)
        assert got.wake is (state is S.SCHEDULED) and not got.discard_record

    @pytest.mark.parametrize("retries, seconds", [(0, 30), (1, 120), (2, 300), (3, 900), (4, 1800), (9, 1800)])
    def test_the_backoff_grows_from_retry_seconds(self, retries, seconds):
        assert backoff(retries, LIMITS) == seconds
        assert backoff(retries, Limits(retry_seconds=1)) == seconds / 30

    def test_it_shows_times_in_the_configured_zone(self):
        assert local_time(T0, None) == UTC_TEXT
        assert local_time(T0, ZoneInfo("Europe/Riga")) == "2026-03-01 14:00 EET"


def status(name: str, reason: str | None = None, post_ids: tuple[str, ...] = ()) -> PublishStatus:
    return PublishStatus(status=name, fail_reason=reason, post_ids=list(post_ids), uploaded_bytes=None)


class TestAfterStatus:
    @pytest.mark.parametrize("name", ["PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD", "SOMETHING_NEW"])
    def test_it_keeps_processing_until_an_end(self, name):
        assert after_status(status(name), retries=0, now=T0, limits=LIMITS, tz=None) is None

    @pytest.mark.parametrize("st, retries, want", [
        pytest.param(status("PUBLISH_COMPLETE", post_ids=("7",)), 0, Next(None, then=Then.PUBLISHED),
                     id="published"),
        pytest.param(status("SEND_TO_USER_INBOX"), 0,
                     Next(S.IN_INBOX, expect=ANSWERED, outcome="in_inbox",
                          values=dict(progress=None, error=None, followup=T0 + timedelta(seconds=60),
                                      followup_kind="status")), id="draft_in_inbox"),
        pytest.param(status("FAILED", "spam_risk_too_many_posts"), 0, "retry_later", id="failed_cap_waits"),
        pytest.param(status("FAILED", "internal"), 1,
                     Next(S.SCHEDULED, expect=ANSWERED, discard_record=True, wake=True,
                          values=dict(progress=None, retries=2, due=T0 + timedelta(seconds=120),
                                      error="TIKTOK_TEXT Trying again.")), id="failed_transient_retries"),
        pytest.param(status("FAILED", "internal"), MAX_RETRIES, "failed", id="failed_transient_gave_up"),
        pytest.param(status("FAILED", "auth_removed"), 0, "failed", id="failed_auth_removed"),
        pytest.param(status("FAILED", "duration_check_failed"), 0, "failed", id="failed_user_fix"),
        pytest.param(status("FAILED", "never_heard_of_it"), 0, "failed", id="failed_unknown_reason"),
        pytest.param(status("FAILED"), 0, "failed", id="failed_without_reason"),
    ])
    def test_it_decides_by_the_answer(self, st, retries, want):
        got = after_status(st, retries=retries, now=T0, limits=LIMITS, tz=None)
        # TikTok's sentence for a FAILED answer comes from the error table (tested on its own).
        sentence = classify_fail_reason(st.fail_reason or "unknown", limits=LIMITS).sentence()
        if want == "retry_later":   # the daily cap: nothing was posted; the record goes, wait a day
            assert got == Next(S.SCHEDULED, expect=ANSWERED, discard_record=True, wake=True, values=dict(
                due=T0 + timedelta(seconds=LIMITS.day_seconds), progress=None, held=True,
                error=f"{sentence} Trying again at 2026-03-02 12:00 UTC."))
        elif want == "failed":
            assert got == Next(S.FAILED, expect=ANSWERED | {S.IN_INBOX}, outcome="failed",
                               outcome_detail=sentence, values=dict(progress=None, error=sentence))
        else:
            if want.values.get("error") == "TIKTOK_TEXT Trying again.":
                want = replace(want, values={**want.values, "error": f"{sentence} Trying again."})
            assert got == want


def record(outcome: str = "uploading") -> PublishRecord:
    return PublishRecord(pair="clip", video="clip.mp4", size=1000, mtime_ns=1, head_tail="h", publish_id="p1",
                         account="a", mode="direct", init_time=T0.isoformat(), outcome=outcome, final_sent=True)


UNTIL = T0 + timedelta(hours=1)
CHANGED = TikTokError("file_changed", action=Action.PERMANENT, hint="clip.mp4 was replaced.")
NETWORK = TikTokError("network_error", action=Action.RETRY_NOW, hint="No answer.")
FORGOTTEN = TikTokError("invalid_publish_id", action=Action.PERMANENT, hint="Unknown publish_id.")
CLEARED = dict(settle=False, followup=None, followup_kind=None)
WAIT_TEXT = ("The final bytes of this video were on their way to TikTok at {cause}, so TikTok may still post it. "
             "ralph-watch asks TikTok how it ends and publishes it anew only once TikTok reports it failed or its "
             "upload link has expired (at 2026-03-01 13:00 UTC at the latest).")


class TestAfterInterruption:
    @pytest.mark.parametrize("verdict, after, outcome, st, upload_error, status_error, want", [
        pytest.param(Verdict.FOLLOW, "upload", "uploading", status("PROCESSING_UPLOAD"), NETWORK, None,
                     Next(S.PROCESSING, expect=LIVE, outcome="processing", then=Then.POLL, values=dict(
                         progress=1.0, error=None, **CLEARED, publish_id="p1")), id="follow_live_polls"),
        pytest.param(Verdict.FOLLOW, "restart", "processing", status("PUBLISH_COMPLETE"), None, None,
                     Next(S.PROCESSING, then=Then.STATUS, values=dict(
                         progress=None, error=None, **CLEARED, publish_id="p1")), id="follow_restored_done"),
        pytest.param(Verdict.FOLLOW, "wait", "uploading", status("SEND_TO_USER_INBOX"), None, None,
                     Next(S.PROCESSING, outcome="processing", then=Then.STATUS, values=dict(
                         progress=None, error=None, **CLEARED, publish_id="p1")), id="follow_waiting_in_inbox"),
        pytest.param(Verdict.WAIT, "wait", "uploading", status("PROCESSING_UPLOAD"), None, None,
                     Next(None, values=dict(followup=T0 + timedelta(seconds=60), followup_kind="verdict")),
                     id="wait_still_undecided"),
        pytest.param(Verdict.WAIT, "upload", "uploading", None, NETWORK, NETWORK,
                     Next(S.PROCESSING, expect=LIVE, values=dict(
                         settle=False, publish_id="p1", progress=None, followup=T0 + timedelta(seconds=60),
                         followup_kind="verdict", error=WAIT_TEXT.format(cause="the interruption")),
                          log="TikTok may complete publish_id p1 on its own; waiting for its verdict (decided by "
                              "2026-03-01 13:00 UTC at the latest)"), id="wait_after_interruption"),
        pytest.param(Verdict.WAIT, "restart", "uploading", status("PROCESSING_UPLOAD"), None, None,
                     "the restart", id="wait_after_restart"),
        pytest.param(Verdict.FAILED, "restart", "uploading", status("FAILED", "internal"), None, None,
                     Next(S.PROCESSING, then=Then.STATUS, values=dict(
                         **CLEARED, error=None, publish_id="p1")), id="failed_answer_restored"),
        pytest.param(Verdict.FAILED, "upload", "uploading", None, NETWORK, FORGOTTEN,
                     Next(S.FAILED, expect=LIVE, values=dict(progress=None, error=(
                         "The upload was interrupted (No answer. (TikTok network_error)) and TikTok could not be "
                         "asked whether it arrived. Check your TikTok profile; if the video is not there, press "
                         "Retry."))), id="failed_unknown_live"),
        pytest.param(Verdict.FAILED, "upload", "uploading", None, None, FORGOTTEN,
                     Next(S.FAILED, expect=LIVE, values=dict(progress=None, error=(
                         "The upload was interrupted (no answer) and TikTok could not be asked whether it "
                         "arrived. Check your TikTok profile; if the video is not there, press Retry."))),
                     id="failed_unknown_live_no_error"),
        pytest.param(Verdict.FAILED, "restart", "uploading", None, None, FORGOTTEN,
                     Next(S.FAILED, outcome="failed", outcome_detail="Unknown publish_id. (TikTok invalid_publish_id)",
                          values=dict(**CLEARED, error=(
                              "TikTok no longer knows how this post ended (Unknown publish_id. (TikTok "
                              "invalid_publish_id)). Check your TikTok profile; if the video is not there, press "
                              "Retry."))), id="failed_forgotten_restored"),
        pytest.param(Verdict.FAILED, "wait", "uploading", None, None, None,
                     Next(S.FAILED, outcome="failed", outcome_detail="no answer", values=dict(**CLEARED, error=(
                         "TikTok no longer knows how this post ended (no answer). Check your TikTok profile; if "
                         "the video is not there, press Retry."))), id="failed_no_answer_waiting"),
        pytest.param(Verdict.FAILED, "upload", "uploading", status("FAILED", "internal"), NETWORK, None,
                     "after_error", id="failed_answer_live_is_a_failed_attempt"),
        pytest.param(Verdict.PUBLISH_ANEW, "upload", "uploading", status("PROCESSING_UPLOAD"), NETWORK, None,
                     "after_error", id="anew_live_is_a_failed_attempt"),
        pytest.param(Verdict.PUBLISH_ANEW, "upload", "uploading", status("PROCESSING_UPLOAD"), CHANGED, None,
                     Next(S.WAITING, expect=LIVE, discard_record=True, revalidate=True, values=dict(
                         progress=None, publish_id=None, error=(
                             "clip.mp4 changed while it was being uploaded, so the upload was stopped (nothing was "
                             "published); checking the new file."))), id="anew_live_file_changed"),
        pytest.param(Verdict.PUBLISH_ANEW, "upload", "uploading", None, None, None, "changed",
                     id="anew_live_without_error"),
        pytest.param(Verdict.PUBLISH_ANEW, "restart", "uploading", None, None, NETWORK,
                     Next(S.WAITING, discard_record=True, revalidate=True, wake=True,
                          log="the upload was cut off by a restart; publishing anew", values=dict(
                              **CLEARED, progress=None, publish_id=None,
                              error="The upload was cut off by a restart; checking the files, then publishing "
                                    "again.")), id="anew_restored"),
        pytest.param(Verdict.PUBLISH_ANEW, "wait", "uploading", status("PROCESSING_UPLOAD"), None, None,
                     Next(S.WAITING, discard_record=True, revalidate=True, wake=True,
                          log="TikTok cannot complete the earlier upload any more; publishing anew", values=dict(
                              **CLEARED, progress=None, publish_id=None,
                              error="TikTok did not complete the earlier upload; checking the files, then "
                                    "publishing again.")), id="anew_after_waiting"),
    ])
    def test_it_acts_on_the_verdict(self, verdict, after, outcome, st, upload_error, status_error, want):
        decision = Decision(verdict, UNTIL if verdict is Verdict.WAIT else None)
        got = after_interruption(decision, after=after, rec=record(outcome), status=st, upload_error=upload_error,
                                 status_error=status_error, video="clip.mp4", retries=1, now=T0, limits=LIMITS,
                                 tz=None)
        if want == "after_error":   # nothing was posted: the record goes, the error's action decides
            attempt = after_error(upload_error, retries=1, now=T0, limits=LIMITS, tz=None)
            assert got == replace(attempt, discard_record=True)
            assert got.state is S.SCHEDULED and got.values["retries"] == 2
        elif want == "changed":
            assert got.state is S.WAITING and got.revalidate and got.discard_record and not got.wake
            assert got.values["error"].startswith("clip.mp4 changed while it was being uploaded")
        elif want == "the restart":
            assert got.state is S.PROCESSING and got.expect is None
            assert got.values["error"] == WAIT_TEXT.format(cause="the restart")
        else:
            assert got == want
