"""Each account's publish records in its own folder of state_dir, and the move from the flat
layout of earlier versions (issue 15)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ralph_watch.record_layout import migrate, records_dir, remember_path
from ralph_watch.tasks import TaskBoard


def _flat(state: Path, name: str, video: str) -> None:
    (state / "records").mkdir(parents=True, exist_ok=True)
    (state / "records" / f"{name}.json").write_text(json.dumps({"pair": video.rsplit(".", 1)[0], "video": video}))


@pytest.mark.parametrize("present_in, owner", [
    ("main", "main"),       # the inbox holding the video owns the record
    ("brand", "brand"),
    (None, "main"),         # no inbox holds it (published and deleted): the first account
])
def test_a_flat_record_moves_to_the_account_whose_inbox_holds_its_video(tmp_path, present_in, owner) -> None:
    inboxes = {n: tmp_path / n for n in ("main", "brand")}
    for folder in inboxes.values():
        folder.mkdir()
    if present_in:
        (inboxes[present_in] / "clip.mp4").write_bytes(b"x")
    _flat(tmp_path / "state", "abc", "clip.mp4")
    assert migrate(tmp_path / "state", list(inboxes.values())) == 1
    assert [p.name for p in records_dir(tmp_path / "state", inboxes[owner]).iterdir()] == ["abc.json"]
    assert not list((tmp_path / "state" / "records").glob("*.json"))
    assert migrate(tmp_path / "state", list(inboxes.values())) == 0, "once"


def test_the_folder_follows_the_resolved_inbox_not_the_name(tmp_path) -> None:
    assert records_dir(tmp_path, tmp_path / "inbox") == records_dir(tmp_path, tmp_path / "x" / ".." / "inbox")
    assert records_dir(tmp_path, tmp_path / "a") != records_dir(tmp_path, tmp_path / "b")


@pytest.mark.parametrize("several, where", [(False, "top"), (True, "folder")])
def test_the_remember_file_stays_in_state_dir_with_one_account(tmp_path, several, where) -> None:
    inboxes = [tmp_path / "main", tmp_path / "brand"][: 2 if several else 1]
    state = tmp_path / "state"
    state.mkdir()
    (state / "published.json").write_text("{}")
    migrate(state, inboxes)
    expect = remember_path(state, inboxes[0], several=several)
    assert expect.exists() and (expect == state / "published.json") is (where == "top")


@pytest.mark.parametrize("account, key, found", [
    ("main", "clip", "1"),
    ("brand", "clip", "2"),
    ("other", "clip", None),
    (None, "clip", "1"),      # no account: the board's first account
])
def test_the_board_keeps_keys_apart_per_account(account, key, found) -> None:
    board = TaskBoard(now=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc), default_account="main")
    board.for_account("main").create("clip")
    board.for_account("brand").create("clip")
    t = board.by_key(key, account=account)
    assert (t.id if t else None) == found
    assert [t.account for t in board.for_account("brand").all()] == ["brand"]
