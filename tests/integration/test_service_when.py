"""The service's Publish now and Retry on cron pairs (issue 12, item 4), in this process.

Both used to leave a cron pair `scheduled` for ever: the pair gave its slot back to the queue,
yet the due-loop still waited for the queue to let it start. Now both pin the pair
(`held`: due now, never missed or moved, no queue), and its slot is free for the next pair.
"""
from __future__ import annotations

import os

from ralph_watch.inbox import FileState, PairSnapshot
from ralph_watch.schedule import Due
from ralph_watch.service import Service
from ralph_watch.tasks import State
from tests.support.videos import small_mp4

YEARLY = 'privacy: private\ncron: "0 4 1 1 *"\n'


def add_pair(svc: Service, name: str) -> str:
    small_mp4(svc.inbox, f"{name}.mp4")
    (svc.inbox / f"{name}.yaml").write_text(YEARLY)

    def state(rel: str) -> FileState:
        st = os.stat(svc.inbox / rel)
        return FileState(rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, stable=True, regular=True, symlink=False)
    snap = PairSnapshot(key=name, videos=(state(f"{name}.mp4"),), sidecars=(state(f"{name}.yaml"),), inflight=None)
    svc.primary.pairs.snapshots[name] = snap
    svc.primary.pairs.apply(snap)
    task = svc.board.by_key(name)
    assert task is not None and task.state is State.SCHEDULED, task
    return task.id


def decision(svc: Service, task_id: str) -> Due:
    task = svc.board.get(task_id)
    assert task is not None
    may_start = svc.primary.planner.settle(svc.clock.now(), svc.scheduler.grace)
    return svc.scheduler._decide(task, svc.clock.now(), paused=False, logged_in=True, may_start=may_start)


def test_publish_now_pins_a_cron_pair_and_frees_its_slot(service: Service) -> None:
    a = add_pair(service, "a")
    slot = service.primary.planner.slot_of("a")
    service.publish_now(a)
    task = service.board.get(a)
    assert task is not None and task.held and task.due is not None and task.due <= service.clock.now()
    assert service.primary.planner.slot_of("a") is None
    assert decision(service, a) is Due.START
    add_pair(service, "b")
    assert service.primary.planner.slot_of("b") == slot  # the next pair of the queue takes the freed slot


def test_retry_of_a_failed_cron_pair_publishes_it_now(service: Service) -> None:
    a = add_pair(service, "a")
    service.board.transition(a, State.UPLOADING)
    service.board.transition(a, State.FAILED, error="TikTok refused it")
    service.retry(a)
    task = service.board.get(a)
    assert task is not None and task.state is State.SCHEDULED and task.held
    assert service.primary.planner.slot_of("a") is None
    assert decision(service, a) is Due.START


def test_a_sidecar_edit_after_publish_now_puts_the_pair_back_in_its_queue(service: Service) -> None:
    a = add_pair(service, "a")
    service.publish_now(a)
    (service.inbox / "a.yaml").write_text(YEARLY + "title: edited\n")
    st = os.stat(service.inbox / "a.yaml")
    side = FileState(rel="a.yaml", size=st.st_size, mtime_ns=st.st_mtime_ns, stable=True, regular=True,
                     symlink=False)
    service.primary.pairs.apply(PairSnapshot(key="a", videos=service.primary.pairs.snapshots["a"].videos, sidecars=(side,), inflight=None))
    task = service.board.get(a)
    assert task is not None and task.title == "edited" and not task.held
    assert task.due is not None and task.due == service.primary.planner.slot_of("a")
