"""What a SIGHUP changes (reload.py): live keys, restart keys, and which pairs are checked again."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ralph_watch.config import default_config
from ralph_watch.reload import changed_keys, decided_by_config
from ralph_watch.tasks import State, Task

S = State


@pytest.mark.parametrize(("task", "checked_again"), [
    pytest.param(None, True, id="no-task-yet"),
    pytest.param(Task(id="1", key="k", state=S.INVALID), True, id="invalid"),
    pytest.param(Task(id="1", key="k", state=S.WAITING), True, id="waiting"),
    pytest.param(Task(id="1", key="k", state=S.MISSED), True, id="missed"),
    pytest.param(Task(id="1", key="k", state=S.SCHEDULED), True, id="scheduled"),
    pytest.param(Task(id="1", key="k", state=S.SCHEDULED, held=True), False, id="scheduled-held-by-limits"),
    pytest.param(Task(id="1", key="k", state=S.SCHEDULED, retries=2), False, id="scheduled-in-back-off"),
    pytest.param(Task(id="1", key="k", state=S.NEEDS_LOGIN, settle=True), False, id="being-settled"),
    pytest.param(Task(id="1", key="k", state=S.FAILED), False, id="failed-retry-is-the-users-call"),
    pytest.param(Task(id="1", key="k", state=S.UPLOADING), False, id="at-tiktok"),
])
def test_it_checks_again_only_pairs_whose_validity_the_config_decides(task: Task | None, checked_again: bool) -> None:
    assert decided_by_config(task) is checked_again


def test_it_splits_changed_keys_into_live_and_restart() -> None:
    base = Path("/srv/ralph-watch")   # never touched: the config is built, not read
    old = default_config(base)
    new = replace(old, schedule=replace(old.schedule, late_grace_minutes=5), inbox=base / "elsewhere")
    assert changed_keys(old, new) == (["schedule.late_grace_minutes"], ["inbox"])
    assert changed_keys(old, old) == ([], [])
