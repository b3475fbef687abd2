"""Status polling as steps on the FakeClock (issue 15): after its last chunk a task waits
`processing` with its next check time and holds no worker; each check is one step."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ralph_watch.tasks import State
from tests.support.inprocess import InProcess
from tests.support.videos import small_mp4
from tests.support.wait import wait_until


@pytest.fixture
def world(tmp_path: Path) -> Iterator[InProcess]:
    w = InProcess(tmp_path / "svc")
    yield w
    w.close()


def status_calls(world: InProcess) -> int:
    requests = world.emulator.state.stats_view()["requests"]
    return sum(n for endpoint, n in requests.items() if "status" in endpoint)


def test_a_processing_task_holds_no_worker_between_its_status_checks(world: InProcess, tmp_path: Path) -> None:
    world.login()
    world.drop("clip", small_mp4(tmp_path).read_bytes(), "privacy: private\n")
    world.service.scheduler.step()
    wait_until(lambda: world.service.workers.busy() == 0, 10, "the publish and upload jobs to end")
    t = world.task("clip")
    assert t.state is State.PROCESSING and t.followup_kind == "poll" and t.followup == world.clock.now()
    world.service.scheduler.step()   # the first check is due at once; TikTok is still processing
    wait_until(lambda: world.service.workers.busy() == 0, 10, "the status check to end")
    t = world.task("clip")
    assert status_calls(world) == 1 and t.state is State.PROCESSING
    assert t.followup is not None and (t.followup - world.clock.now()).total_seconds() == 1.0
    world.service.scheduler.step()   # not due yet: no call
    assert world.service.workers.busy() == 0 and status_calls(world) == 1
    done = world.run_until("clip", State.PUBLISHED)
    assert done.followup_kind is None and status_calls(world) >= 2
