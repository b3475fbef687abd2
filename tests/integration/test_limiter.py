"""tiktok/limiter.py at TikTok's real numbers, on a FakeClock."""
from __future__ import annotations

import threading

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.tiktok.limiter import SlidingWindow


@pytest.fixture
def clock():
    return FakeClock()


class TestSlidingWindow:
    def test_it_never_hands_out_more_than_the_limit_to_racing_threads(self, clock):
        w = SlidingWindow(20, 60.0, clock)
        got = []
        barrier = threading.Barrier(8)

        def grab():
            barrier.wait()
            got.extend(1 for _ in range(10) if w.try_acquire() == 0.0)

        threads = [threading.Thread(target=grab) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(got) == 20


class TestRestampAcrossThreads:
    def test_each_thread_restamps_its_own_event(self):
        # Worker A sends at t=0, worker B at t=1; A's answer comes back at t=5. A's event must
        # move to 5 (TikTok counted it on arrival), B's must stay at 1. Re-dating "the newest
        # event" instead moved B's and left A's slot freeing early: a 429 under load.
        import threading as _t
        clock = FakeClock()
        win = SlidingWindow(2, 10, clock)
        a_took, b_took, a_restamp = _t.Event(), _t.Event(), _t.Event()

        def worker_a():
            win.try_acquire()
            a_took.set()
            a_restamp.wait(5)
            win.restamp()

        def worker_b():
            a_took.wait(5)
            clock.advance(1)
            win.try_acquire()
            b_took.set()

        ta, tb = _t.Thread(target=worker_a), _t.Thread(target=worker_b)
        ta.start(); tb.start()
        b_took.wait(5)
        clock.advance(4)          # t = 5: A's answer arrives
        a_restamp.set()
        ta.join(5); tb.join(5)
        clock.advance(5.5)        # t = 10.5: TikTok still counts both (A arrived ~5, B at 1)
        assert win.count() == 2
        assert win.wait_time() == pytest.approx(0.5)   # B's slot frees at 11, not A's at 10
