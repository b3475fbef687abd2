"""/healthz notices a loop that is alive but stuck: the heartbeat ages, as a table."""
from __future__ import annotations

import pytest

from ralph_watch.service import HEARTBEAT_STALE_SECONDS, stale_loops


@pytest.mark.parametrize("ages, stuck", [
    ({"watcher_worker": 1.0, "watcher_supervisor": 0.5, "scheduler": 30.0}, []),
    ({"watcher_worker": None, "scheduler": None}, []),                        # not started yet
    ({"watcher_worker": HEARTBEAT_STALE_SECONDS}, []),                         # at the limit: fine
    ({"watcher_worker": HEARTBEAT_STALE_SECONDS + 1}, ["the inbox watcher"]),
    ({"watcher_supervisor": 999.0, "scheduler": 999.0}, ["the inbox supervisor", "the scheduler"]),
])
def test_a_loop_without_progress_for_too_long_is_a_health_reason(ages, stuck) -> None:
    reasons = stale_loops(ages, HEARTBEAT_STALE_SECONDS)
    assert [r.split(" has made")[0] for r in reasons] == stuck
    assert all("no progress for" in r and "restart" in r for r in reasons)


