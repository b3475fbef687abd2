"""The status polling cadence after an upload, as a pure decision: when to ask TikTok again.

Each status check is one short step (the publisher's `poll` follow-up); between steps the task
waits `processing` with its next check time and holds no worker. The cadence: 1 s, growing
1.5x up to 10 s while TikTok is processing; after a transient error asking for it, 2x up to
30 s (at least its retry_after), giving up after 30 errors.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Action, TikTokError

__all__ = ["Poll", "after_answer", "after_error",
           "POLL_FIRST", "POLL_GROWTH", "POLL_MAX", "ERROR_GROWTH", "ERROR_MAX", "ERROR_TRIES"]

POLL_FIRST, POLL_GROWTH, POLL_MAX = 1.0, 1.5, 10.0    # seconds between status calls while processing
ERROR_GROWTH, ERROR_MAX, ERROR_TRIES = 2.0, 30.0, 30   # ... and after transient errors asking for it


@dataclass(frozen=True)
class Poll:
    """Where a task's polling stands: the next wait, and the errors so far (never reset)."""

    delay: float = POLL_FIRST
    errors: int = 0


def after_answer(poll: Poll) -> tuple[float, Poll]:
    """TikTok is still processing: (seconds until the next check, the new state)."""
    return poll.delay, Poll(min(poll.delay * POLL_GROWTH, POLL_MAX), poll.errors)


def after_error(poll: Poll, exc: TikTokError) -> tuple[float, Poll] | None:
    """A status call failed (not for the login): (seconds until the next check, the new state),
    or None when polling gives up (an error not worth repeating, or too many)."""
    errors = poll.errors + 1
    if exc.action not in (Action.RETRY_NOW, Action.RETRY_LATER) or errors >= ERROR_TRIES:
        return None
    wait = max(poll.delay, exc.retry_after or 0)
    return wait, Poll(min(poll.delay * ERROR_GROWTH, ERROR_MAX), errors)
