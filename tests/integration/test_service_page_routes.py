"""The service's side of the page's edit and preview routes (issue 16): built in this process,
not started, fed one snapshot of real files as the watcher would."""
from __future__ import annotations

import os

import pytest

from ralph_watch.service import Service
from ralph_watch.sidecar_edit import EditRefused
from ralph_watch.tasks import State
from ralph_watch.web.backend import ActionError
from tests.support.inprocess import snapshot
from tests.support.videos import small_mp4

SIDE = 'title: "Before"  # keep me\nprivacy: private\nat: "2030-01-01 12:00"\n'


@pytest.fixture
def pair(service: Service):
    small_mp4(service.inbox, "clip.mp4")
    (service.inbox / "clip.yaml").write_text(SIDE)
    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    task = service.board.by_key("clip")
    assert task is not None and task.state is State.SCHEDULED, task
    return task


def test_an_edit_rewrites_the_sidecar_and_the_next_snapshot_applies_it(service, pair):
    assert service.edit_sidecar(pair.id, {"title": "After", "privacy": "private", "at": "2030-01-01 12:00"})
    text = (service.inbox / "clip.yaml").read_text()
    assert 'title: "After"' in text and "# keep me" in text
    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    assert service.board.get(pair.id).title == "After"


def test_a_refused_edit_changes_nothing(service, pair):
    with pytest.raises(EditRefused):
        service.edit_sidecar(pair.id, {"title": "x", "privacy": "nobody", "at": "2030-01-01 12:00"})
    assert (service.inbox / "clip.yaml").read_text() == SIDE


@pytest.mark.parametrize("state", [State.UPLOADING, State.PROCESSING, State.IN_INBOX, State.PUBLISHED])
def test_edits_wait_while_tiktok_has_the_pair(service, pair, state):
    service.board._tasks[pair.id].state = state   # the state itself, not the path there
    with pytest.raises(ActionError) as err:
        service.edit_sidecar(pair.id, {"title": "x", "privacy": "private"})
    assert err.value.status == 409 and (service.inbox / "clip.yaml").read_text() == SIDE


def test_edits_wait_while_the_pair_is_settled_with_tiktok(service, pair):
    service.board.update(pair.id, settle=True)
    with pytest.raises(ActionError, match="asking TikTok") as err:
        service.edit_sidecar(pair.id, {"title": "x", "privacy": "private"})
    assert err.value.status == 409


def test_the_video_is_opened_without_links_and_published_tasks_have_none(service, pair, tmp_path):
    fd, st, rel = service.open_video(pair.id)
    os.close(fd)
    assert rel == "clip.mp4" and st.st_size == (service.inbox / "clip.mp4").stat().st_size
    os.replace(service.inbox / "clip.mp4", tmp_path / "real.mp4")
    (service.inbox / "clip.mp4").symlink_to(tmp_path / "real.mp4")
    with pytest.raises(ActionError) as err:
        service.open_video(pair.id)
    assert err.value.status == 404
    with pytest.raises(ActionError):
        service.open_video("404")


def test_a_cancelled_task_leaves_the_pages_thumbnail_cache(service, pair):
    forgotten: list[str] = []
    service.primary.feedback.forget_media = forgotten.append
    service.cancel(pair.id)
    assert forgotten == [pair.id]
