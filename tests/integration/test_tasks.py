"""The task board: states, allowed transitions, compare-and-set claims, ordering, JSON shape."""
from __future__ import annotations

import threading

from tests.unit.test_tasks import S  # the unit half's helpers, shared
from tests.unit import test_tasks as unit_half

# The unit half's fixtures, used here too.
board = unit_half.board


class TestTransitions:
    def test_it_claims_once_under_contention(self, board):
        t = board.create("clip", state=S.SCHEDULED)
        wins = []
        barrier = threading.Barrier(8)

        def claim():
            barrier.wait()
            if board.transition(t.id, S.UPLOADING, expect={S.SCHEDULED}):
                wins.append(1)
        threads = [threading.Thread(target=claim) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(wins) == 1
        assert board.get(t.id).state is S.UPLOADING


class TestWaiting:
    def test_wait_for_returns_when_the_condition_holds(self, board):
        t = board.create("clip")
        threading.Timer(0.05, lambda: board.transition(t.id, S.SCHEDULED)).start()
        assert board.wait_for(lambda b: b.get(t.id).state is S.SCHEDULED, timeout=5)
