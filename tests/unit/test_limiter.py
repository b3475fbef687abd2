"""tiktok/limiter.py at TikTok's real numbers, on a FakeClock."""
from __future__ import annotations


import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.limits import Limits
from ralph_watch.tiktok.limiter import AccountLimiter, SlidingWindow


@pytest.fixture
def clock():
    return FakeClock()


class TestSlidingWindow:
    def test_it_allows_the_limit_then_says_how_long_to_wait(self, clock):
        w = SlidingWindow(6, 60.0, clock)
        for i in range(6):
            assert w.try_acquire() == 0.0
            clock.advance(5)
        # first event at t=0, now t=30: the oldest leaves at t=60.
        assert w.try_acquire() == pytest.approx(30.0)
        assert w.count() == 6

    def test_it_slides_rather_than_resetting_per_minute(self, clock):
        w = SlidingWindow(2, 60.0, clock)
        assert w.try_acquire() == 0.0
        clock.advance(50)
        assert w.try_acquire() == 0.0
        clock.advance(10)            # the first leaves at exactly 60 s
        assert w.try_acquire() == 0.0
        assert w.try_acquire() == pytest.approx(50.0)

    def test_it_frees_a_slot_on_release(self, clock):
        w = SlidingWindow(1, 60.0, clock)
        assert w.try_acquire() == 0.0
        w.release()
        assert w.try_acquire() == 0.0

    def test_it_waits_a_whole_window_after_saturate(self, clock):
        w = SlidingWindow(30, 60.0, clock)
        w.try_acquire()
        clock.advance(59)
        w.saturate()
        assert w.wait_time() == pytest.approx(60.0)
        clock.advance(60)
        assert w.wait_time() == 0.0

    def test_it_ignores_wall_clock_steps(self, clock):
        from datetime import datetime, timezone
        w = SlidingWindow(1, 60.0, clock)
        w.try_acquire()
        clock.set(datetime(2030, 1, 1, tzinfo=timezone.utc))
        assert w.wait_time() == pytest.approx(60.0)


class TestAccountLimiter:
    @pytest.mark.parametrize("kind, limit", [("init", 6), ("creator_info", 20), ("status", 30)],
                             ids=["init-6", "creator_info-20", "status-30"])
    def test_it_enforces_tiktoks_per_minute_limits(self, clock, kind, limit):
        lim = AccountLimiter(Limits(), clock)
        assert all(lim.try_acquire(kind) == 0.0 for _ in range(limit))
        assert lim.try_acquire(kind) == pytest.approx(60.0)
        clock.advance(60)
        assert lim.try_acquire(kind) == 0.0

    def test_it_keeps_the_kinds_apart(self, clock):
        lim = AccountLimiter(Limits(), clock)
        for _ in range(6):
            lim.try_acquire("init")
        assert lim.try_acquire("status") == 0.0

    def test_it_counts_15_posts_per_rolling_day(self, clock):
        lim = AccountLimiter(Limits(), clock)
        for _ in range(15):
            assert lim.post_wait() == 0.0
            lim.record_post()
            clock.advance(3600)
        # first post at t=0, now t=15 h: the first leaves the rolling day at 24 h.
        assert lim.post_wait() == pytest.approx(9 * 3600)
        assert lim.init_wait(mode="direct") == pytest.approx(9 * 3600)
        clock.advance(9 * 3600)
        assert lim.post_wait() == 0.0

    def test_it_counts_5_pending_drafts_per_rolling_day(self, clock):
        lim = AccountLimiter(Limits(), clock)
        for _ in range(5):
            lim.record_draft()
        assert lim.draft_wait() == pytest.approx(86400.0)
        assert lim.post_wait() == 0.0

    def test_it_uses_the_configured_day_length(self, clock):
        lim = AccountLimiter(Limits(daily_posts=2, day_seconds=10.0), clock)
        lim.record_post(), lim.record_post()
        assert lim.post_wait() == pytest.approx(10.0)

    def test_it_refuses_an_unknown_kind_by_name(self, clock):
        with pytest.raises(ValueError, match="unknown limiter kind 'upload'"):
            AccountLimiter(Limits(), clock).try_acquire("upload")


