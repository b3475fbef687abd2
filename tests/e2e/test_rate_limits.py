"""TikTok's rate limits, scaled down alike on both sides: a burst of due tasks earns no 429.

The emulator enforces the same sliding windows TikTok documents (6 inits, 20 creator_info,
30 status per window per token); the window here is 3 s instead of 60 s and the daily cap
is raised so that only the per-window pacing is exercised.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from ralph_watch.emulator import EmulatorServer, load_profile
from tests.support.service import ServiceProcess
from tests.support.videos import small_mp4
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

LIMITS = dict(window_seconds=3, init_per_window=6, creator_info_per_window=20, status_per_window=30,
              daily_posts=100, processing_seconds=0.3, moderation_seconds=0.2,
              retry_seconds=1.5, followup_seconds=3, delete_retry_seconds=3)


@pytest.fixture
def scaled(tmp_path):
    profile = load_profile(None)
    profile = replace(profile, limits=replace(profile.limits, **LIMITS))
    emu = EmulatorServer(profile).start()
    svc = ServiceProcess(tmp_path, emu, limits=LIMITS, settle=0.2)
    yield emu, svc
    svc.kill()
    svc.close()
    emu.stop()


def test_twenty_tasks_due_at_once_all_publish_without_a_429(scaled):
    emu, svc = scaled
    svc.start()
    for i in range(20):
        small_mp4(svc.inbox, f"burst{i:02}.mp4")
        (svc.inbox / f"burst{i:02}.yaml").write_text(f'title: "burst {i}"\nprivacy: private\n')
    # Logged out, all 20 become due at the same moment and wait for the login.
    wait_until(lambda: sum(t["state"] == "needs_login" for t in svc.tasks()) == 20, 60, "20 tasks needing login")
    svc.login()
    wait_until(lambda: sum(t["state"] == "published" for t in svc.tasks()) == 20, 150,
               "all 20 tasks published")
    stats = emu.stats()
    assert stats["rate_limited"] == {}, stats["rate_limited"]
    assert stats["requests"].get("init", 0) >= 20
    posts = emu.posts()
    assert len(posts) == 20 and len({p["sha256"] for p in posts}) == 20
    assert not any(svc.inbox.glob("burst*"))
