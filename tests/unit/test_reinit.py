"""The one rule for publishing a pair anew after an interrupted upload, as a table (issue 12.1).

Each row: what the record says (did the final bytes start to go out?), what TikTok answers
(status, or the error asking for it), the upload's own error, the age of the init, and the
decision. The publisher's re-init path, its interrupted-upload path and the restart settling
all act on this one function.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ralph_watch.errors import Action, TikTokError
from ralph_watch.record import PublishRecord
from ralph_watch.reinit import Decision, Verdict, decidable_at, decide
from ralph_watch.tiktok.client import PublishStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
HOUR = 3600.0
SIZE = 1000


def rec(final_sent: bool | None) -> PublishRecord:
    return PublishRecord(pair="clip", video="clip.mp4", size=SIZE, mtime_ns=1, head_tail="h", publish_id="p1",
                         account="a", mode="direct", init_time=T0.isoformat(), outcome="uploading",
                         final_sent=final_sent)


def st(status: str, uploaded: int | None = None, reason: str | None = None) -> PublishStatus:
    return PublishStatus(status=status, fail_reason=reason, post_ids=[], uploaded_bytes=uploaded)


TRANSIENT = TikTokError("internal_error", action=Action.RETRY_NOW)
UNKNOWN_ID = TikTokError("invalid_publish_id", action=Action.PERMANENT)
EXPIRED = TikTokError("upload_url_expired", action=Action.RESTART, http_status=403)
GONE = TikTokError("upload_task_not_found", action=Action.RESTART, http_status=404)
STALLED = TikTokError("upload_stalled", action=Action.RETRY_NOW)
DEADLINE = T0 + timedelta(seconds=HOUR)
WAIT = Decision(Verdict.WAIT, DEADLINE)
ANEW, FOLLOW, FAILED = Decision(Verdict.PUBLISH_ANEW), Decision(Verdict.FOLLOW), Decision(Verdict.FAILED)

ROWS = [
    # final_sent, status, status_error, upload_error, minutes since init, decision
    (False, st("PROCESSING_UPLOAD", 0), None, None, 1, ANEW),                 # final bytes never went out
    (False, st("PROCESSING_UPLOAD", 400), None, STALLED, 1, ANEW),
    (False, None, TRANSIENT, None, 1, ANEW),                                  # no need to ask
    (False, None, UNKNOWN_ID, None, 1, ANEW),
    (False, st("PUBLISH_COMPLETE"), None, None, 1, FOLLOW),                   # TikTok's word wins anyway
    (True, st("PROCESSING_UPLOAD", 0), None, None, 1, WAIT),                  # the case: not proof
    (True, st("PROCESSING_UPLOAD", None), None, None, 1, WAIT),               # no uploaded_bytes: not proof
    (True, st("PROCESSING_UPLOAD", SIZE - 1), None, STALLED, 59, WAIT),
    (True, st("PROCESSING_UPLOAD", 0), None, GONE, 1, WAIT),                  # a 404 proves nothing
    (True, st("PROCESSING_UPLOAD", 0), None, EXPIRED, 1, ANEW),               # TikTok: the URL is dead
    (True, st("PROCESSING_UPLOAD", 0), None, None, 60, ANEW),                 # the URL's lifetime passed
    (True, st("PROCESSING_UPLOAD", 0), None, None, 61, ANEW),
    (True, st("PROCESSING_UPLOAD", SIZE), None, None, 1, FOLLOW),             # every byte in
    (True, st("PROCESSING_DOWNLOAD"), None, None, 1, FOLLOW),
    (True, st("SEND_TO_USER_INBOX"), None, None, 1, FOLLOW),
    (True, st("PUBLISH_COMPLETE"), None, None, 90, FOLLOW),
    (True, st("FAILED", reason="internal"), None, None, 1, FAILED),
    (True, st("FAILED", reason="internal"), None, None, 90, FAILED),
    (True, None, TRANSIENT, None, 1, WAIT),                                   # ask again later
    (True, None, TRANSIENT, None, 90, WAIT),                                  # still unknown: never guess
    (True, None, UNKNOWN_ID, None, 1, FAILED),
    (None, st("PROCESSING_UPLOAD", 0), None, None, 1, WAIT),                  # an old record: the safe side
    (None, st("PROCESSING_UPLOAD", 0), None, None, 60, ANEW),
]


@pytest.mark.parametrize("final_sent, status, status_error, upload_error, minutes, want", ROWS)
def test_the_decision_table(final_sent, status, status_error, upload_error, minutes, want):
    got = decide(rec(final_sent), status=status, status_error=status_error, upload_error=upload_error,
                 now=T0 + timedelta(minutes=minutes), url_seconds=HOUR)
    assert got == want, (f"final_sent={final_sent}, status={status}, error={status_error or upload_error}, "
                         f"{minutes} min after the init: expected {want}, got {got} (ralph_watch/reinit.py decide)")


def test_the_wait_ends_at_the_url_lifetime_from_the_init():
    assert decidable_at(rec(True), 120.0) == T0 + timedelta(seconds=120)
