"""The status polling cadence (`polling`): one row per case of the publisher's poll steps."""
from __future__ import annotations

import pytest

from ralph_watch.errors import Action, TikTokError
from ralph_watch.polling import ERROR_TRIES, Poll, after_answer, after_error


def err(action: Action, retry_after: float | None = None) -> TikTokError:
    return TikTokError("some_error", action=action, retry_after=retry_after)


@pytest.mark.parametrize("poll, wait, then", [
    pytest.param(Poll(), 1.0, Poll(1.5, 0), id="first_check_after_1s"),
    pytest.param(Poll(1.5, 0), 1.5, Poll(2.25, 0), id="grows_1_5x"),
    pytest.param(Poll(8.0, 0), 8.0, Poll(10.0, 0), id="capped_at_10s"),
    pytest.param(Poll(10.0, 0), 10.0, Poll(10.0, 0), id="stays_at_10s"),
    pytest.param(Poll(2.0, 3), 2.0, Poll(3.0, 3), id="errors_are_not_forgotten"),
])
def test_while_tiktok_processes_the_checks_slow_down(poll: Poll, wait: float, then: Poll) -> None:
    assert after_answer(poll) == (wait, then)


@pytest.mark.parametrize("poll, exc, expected", [
    pytest.param(Poll(), err(Action.RETRY_NOW), (1.0, Poll(2.0, 1)), id="retry_now_doubles"),
    pytest.param(Poll(), err(Action.RETRY_LATER, 7.0), (7.0, Poll(2.0, 1)), id="waits_its_retry_after"),
    pytest.param(Poll(4.0, 1), err(Action.RETRY_LATER, 1.0), (4.0, Poll(8.0, 2)), id="at_least_the_delay"),
    pytest.param(Poll(20.0, 2), err(Action.RETRY_NOW), (20.0, Poll(30.0, 3)), id="capped_at_30s"),
    pytest.param(Poll(1.0, ERROR_TRIES - 2), err(Action.RETRY_NOW), (1.0, Poll(2.0, ERROR_TRIES - 1)),
                 id="the_last_error_tolerated"),
    pytest.param(Poll(1.0, ERROR_TRIES - 1), err(Action.RETRY_NOW), None, id="gives_up_after_30_errors"),
    pytest.param(Poll(), err(Action.PERMANENT), None, id="permanent_gives_up"),
    pytest.param(Poll(), err(Action.RESTART), None, id="restart_gives_up"),
])
def test_after_an_error_the_checks_back_off_or_give_up(poll: Poll, exc: TikTokError,
                                                       expected: tuple[float, Poll] | None) -> None:
    assert after_error(poll, exc) == expected
