"""Promises played out by the whole service in this process (tests/support/inprocess.py's
builder): the real reconciler, scheduler, publisher, client, records and files, the emulator
behind an in-process transport, and simulated time on one FakeClock."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

from ralph_watch.tasks import State
from ralph_watch.web.views import task_json
from tests.support.inprocess import InProcess
from tests.support.videos import small_mp4


@pytest.fixture
def world(tmp_path: Path) -> Iterator[InProcess]:
    w = InProcess(tmp_path / "svc")
    yield w
    w.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return small_mp4(tmp_path_factory.mktemp("video")).read_bytes()


def test_a_pair_is_published_once_and_its_link_carries_the_creators_handle(world: InProcess, clip: bytes) -> None:
    world.login()
    world.drop("clip", clip, "privacy: public\ntitle: Sunset\n")
    done = world.run_until("clip", State.PUBLISHED, also=lambda t: t.post_id is not None)
    assert not (world.inbox / "clip.mp4").exists() and not (world.inbox / "clip.yaml").exists()
    account = world.service.account()
    assert account is not None and account["username"] == "ralph.emulator"
    url = task_json(done, username=account["username"])["post_url"]
    assert url is not None and url.startswith("https://www.tiktok.com/@ralph.emulator/video/")


def test_an_at_pair_waits_for_its_time_in_simulated_time(world: InProcess, clip: bytes) -> None:
    world.login()
    due = world.clock.now() + timedelta(hours=2)
    at = due.astimezone(world.service.config.tz).strftime("%Y-%m-%d %H:%M")
    world.drop("later", clip, f'privacy: private\nat: "{at}"\n')
    assert world.task("later").state is State.SCHEDULED
    world.service.scheduler.step()
    assert world.task("later").state is State.SCHEDULED
    world.clock.advance(2 * 3600 - 60)
    world.service.scheduler.step()
    assert world.task("later").state is State.SCHEDULED
    done = world.run_until("later", State.PUBLISHED, step=timedelta(seconds=30))
    assert done.published_at is not None and done.published_at >= due.replace(second=0, microsecond=0)


def test_a_pair_due_while_logged_out_waits_for_the_login(world: InProcess, clip: bytes) -> None:
    world.drop("clip", clip, "privacy: private\n")
    world.service.scheduler.step()
    assert world.task("clip").state is State.NEEDS_LOGIN
    world.login()
    world.run_until("clip", State.PUBLISHED)
