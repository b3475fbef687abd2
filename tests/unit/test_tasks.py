"""The task board: states, allowed transitions, compare-and-set claims, ordering, JSON shape."""
from __future__ import annotations

from types import SimpleNamespace
from datetime import datetime, timedelta, timezone

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.record import Identity
from ralph_watch.tasks import ALLOWED, State, TaskBoard
from ralph_watch.tasks import TransitionError

S = State
T0 = datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)


@pytest.fixture
def board():
    return TaskBoard(now=FakeClock(T0).now)


class TestStates:
    def test_it_has_exactly_the_contract_states(self):
        assert {s.value for s in State} == {"waiting", "invalid", "scheduled", "needs_login", "uploading",
                                            "processing", "in_inbox", "published", "failed", "missed", "cancelled"}

    def test_it_never_leaves_cancelled(self):
        assert ALLOWED[S.CANCELLED] == frozenset()

    @pytest.mark.parametrize("state", [S.UPLOADING, S.PROCESSING])
    def test_it_cannot_cancel_active_tasks(self, state):
        assert S.CANCELLED not in ALLOWED[state]


class TestTransitions:

    def test_it_refuses_a_disallowed_transition_when_expecting(self, board):
        t = board.create("clip", state=S.CANCELLED)
        with pytest.raises(TransitionError):
            board.transition(t.id, S.SCHEDULED, expect={S.CANCELLED})

    def test_it_returns_none_for_a_disallowed_transition_without_expect(self, board):
        t = board.create("clip", state=S.CANCELLED)
        assert board.transition(t.id, S.SCHEDULED) is None

    def test_it_records_history_and_bumps_the_version(self, board):
        t = board.create("clip")
        v = board.version
        board.transition(t.id, S.SCHEDULED, note="valid")
        assert board.version > v
        assert [h[1] for h in board.get(t.id).history] == ["waiting", "scheduled"]

    def test_it_calls_the_transition_hook_outside_the_lock(self):
        seen = []
        b = TaskBoard(now=FakeClock(T0).now, on_transition=lambda t, old, note: seen.append((old, t.state, b.get(t.id))))
        t = b.create("clip")
        b.transition(t.id, S.INVALID)
        assert seen[-1][:2] == (S.WAITING, S.INVALID)

    def test_it_refuses_state_in_update(self, board):
        t = board.create("clip")
        with pytest.raises(TransitionError):
            board.update(t.id, state=S.PUBLISHED)


class TestListing:
    def test_it_orders_by_due_then_path_with_null_due_last(self, board):
        a = board.create("b", video="b.mp4", due=T0 + timedelta(hours=1))
        b = board.create("a", video="a.mp4", due=T0 + timedelta(hours=1))
        c = board.create("c", video="c.mp4")
        d = board.create("d", video="d.mp4", due=T0)
        assert [t.id for t in board.listing()] == [d.id, b.id, a.id, c.id]

    def test_it_filters_and_pages(self, board):
        for i in range(5):
            board.create(f"k{i}", video=f"k{i}.mp4", state=S.SCHEDULED if i % 2 else S.WAITING,
                         due=T0 + timedelta(minutes=i))
        assert [t.key for t in board.listing(state="scheduled")] == ["k1", "k3"]
        assert [t.key for t in board.listing(limit=2, offset=1)] == ["k1", "k2"]

    def test_ids_are_never_reused(self, board):
        a = board.create("clip")
        board.remove(a.id)
        b = board.create("clip")
        assert a.id != b.id

    def test_the_json_shape_is_the_contract(self, board):
        t = board.create("sub/clip", video="sub/clip.mp4", sidecar="sub/clip.yaml", due=T0, title="x",
                         privacy="SELF_ONLY", mode="direct")
        j = t.to_json()
        assert list(j) == ["id", "video", "sidecar", "state", "title", "privacy", "mode", "due", "progress",
                           "error", "publish_id", "post_id", "attempts"]
        assert j["due"] == "2026-12-24T17:00:00+00:00" and isinstance(j["id"], str)


class TestWaiting:

    def test_wait_for_times_out(self, board):
        assert not board.wait_for(lambda b: False, timeout=0.1)


class TestFinishedTasks:
    """Issue 12 item 16: a finished task whose files are gone keeps only what the page and the
    API show (RSS grew by ~37 KB per published task). The figure is in BENCHMARKS.md."""

    def published(self, board, on_detach=None):
        t = board.create("clip", state=S.SCHEDULED, video="clip.mp4", sidecar="clip.yaml", title="Sunset",
                         privacy="SELF_ONLY", mode="direct", due=T0, sidecar_data=SimpleNamespace(cron=None, at=None),
                         video_info=object(), identity=Identity(size=1, mtime_ns=1, head_tail="x"),
                         notes=["comments off"])
        board.transition(t.id, S.UPLOADING)
        board.transition(t.id, S.PROCESSING, publish_id="p-1")
        board.detach_key(t.id)  # the publisher deletes the files first, then says published
        return board.transition(t.id, S.PUBLISHED, post_id="42")

    def test_it_drops_the_working_data_and_keeps_what_is_shown(self, board):
        t = board.create("clip", state=S.SCHEDULED, video="clip.mp4", sidecar="clip.yaml", title="Sunset", due=T0)
        shown_before = t.to_json()
        done = self.published(TaskBoard(now=FakeClock(T0).now))
        assert (done.sidecar_data, done.video_info, done.identity) == (None, None, None)
        assert done.notes == ["comments off"]
        assert {k: v for k, v in done.to_json().items() if k not in ("id", "state", "publish_id", "post_id",
                                                                       "attempts", "privacy", "mode")} == \
            {k: v for k, v in shown_before.items() if k not in ("id", "state", "publish_id", "post_id", "attempts",
                                                               "privacy", "mode")}
        assert (done.state, done.publish_id, done.post_id, done.privacy, done.mode) == (
            S.PUBLISHED, "p-1", "42", "SELF_ONLY", "direct")

    def test_it_keeps_only_the_latest_history_entry(self, board):
        done = self.published(board)
        assert [h[1] for h in done.history] == ["published"]

    def test_a_live_task_keeps_everything(self, board):
        t = board.create("clip", state=S.SCHEDULED, sidecar_data="sc", video_info="vi", identity="id")
        board.transition(t.id, S.UPLOADING)
        live = board.get(t.id)
        assert (live.sidecar_data, live.video_info, live.identity) == ("sc", "vi", "id")
        assert [h[1] for h in live.history] == ["scheduled", "uploading"]

    def test_it_shows_the_task_as_it_was_to_on_detach(self):
        seen = []
        board = TaskBoard(now=FakeClock(T0).now, on_detach=seen.append)
        self.published(board)
        [before] = seen
        assert before.identity is not None and before.state is S.PROCESSING
        assert [h[1] for h in before.history] == ["scheduled", "uploading", "processing"]

    def test_a_finished_task_has_no_instance_dict(self, board):
        # slots: thousands of finished tasks each save the dict an instance would carry
        assert not hasattr(board.create("clip"), "__dict__")
