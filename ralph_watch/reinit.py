"""The one owner of "may this pair be published anew?" for a pair with a publish record.

TikTok's init has no idempotency key, and a chunk whose bytes arrived completes at TikTok even
when nobody hears the answer. So an init is repeated only once TikTok shows that the old
publish_id cannot complete:
- the final bytes never started to go out (the record says so: TikTok cannot complete an
  upload that is missing bytes), or
- TikTok reports FAILED, or
- the upload URL's lifetime (`tiktok.limits.upload_url_seconds`) has passed since the init
  (or TikTok answered that the URL expired) while the upload is still not complete.
`PROCESSING_UPLOAD` with fewer `uploaded_bytes` than the video is no such proof: the last chunk
may still be on its way in. Until then the pair waits for TikTok's verdict.

Pure: the publisher's live re-init path, its interrupted-upload path and the settling after a
restart all ask `decide` and act on its answer.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import Action, TikTokError
from .record import PublishRecord

__all__ = ["Verdict", "Decision", "decide", "decidable_at"]

DONE_OR_PAST_UPLOAD = ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "PROCESSING_DOWNLOAD")


class Verdict(enum.Enum):
    PUBLISH_ANEW = "publish_anew"   # the old publish_id cannot complete: a new init is safe
    WAIT = "wait"                   # it may still complete: ask TikTok again, decide by `until` at the latest
    FOLLOW = "follow"               # TikTok has every byte (or is past the upload): follow it as processing
    FAILED = "failed"               # TikTok ended it (FAILED), or no longer knows it: act on that answer


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    until: datetime | None = None   # WAIT: when the URL's lifetime ends and it can be decided


def decidable_at(rec: PublishRecord, url_seconds: float) -> datetime:
    """When the old upload URL is dead: from then on TikTok cannot complete the upload."""
    return rec.init_at + timedelta(seconds=url_seconds)


def decide(rec: PublishRecord, *, status: Any = None, status_error: TikTokError | None = None,
           upload_error: TikTokError | None = None, now: datetime, url_seconds: float) -> Decision:
    """Given the record, TikTok's status answer (or the error asking for it), the upload's own
    error if the upload just failed, the time and the URL lifetime: what to do with the pair."""
    if status is not None:
        if status.status == "FAILED":
            return Decision(Verdict.FAILED)
        if status.status in DONE_OR_PAST_UPLOAD:
            return Decision(Verdict.FOLLOW)
        if status.uploaded_bytes is not None and status.uploaded_bytes >= rec.size:
            return Decision(Verdict.FOLLOW)   # every byte is in: it completes without us
    if not rec.may_complete:
        return Decision(Verdict.PUBLISH_ANEW)  # the final bytes never went out
    if status is None:
        if status_error is not None and status_error.action not in (Action.RETRY_NOW, Action.RETRY_LATER):
            return Decision(Verdict.FAILED)   # e.g. TikTok no longer knows the publish_id
        return Decision(Verdict.WAIT, decidable_at(rec, url_seconds))
    if upload_error is not None and upload_error.code == "upload_url_expired":
        return Decision(Verdict.PUBLISH_ANEW)  # TikTok itself says the URL is dead: nothing more can arrive
    deadline = decidable_at(rec, url_seconds)
    if now >= deadline:
        return Decision(Verdict.PUBLISH_ANEW)
    return Decision(Verdict.WAIT, deadline)
