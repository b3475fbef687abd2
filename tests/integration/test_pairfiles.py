"""Files of a pair in the inbox: nothing is ever written, deleted or read through a symlink,
nothing but a regular file is opened, and a file name cannot forge a line of what is written."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ralph_watch.pairfiles import (NotRegularFile, delete_files, open_in_inbox, open_regular, remove_error_file,
                                   write_error_file)

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("precious\n")
    return inbox, outside


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def write(inbox: Path, key: str, message: str = "privacy: no is not a privacy level") -> None:
    write_error_file(inbox, key, video=f"{key}.mp4", state="invalid", message=message, when=WHEN)


class TestNoSymlinkFollowed:
    def test_a_symlink_planted_at_the_old_temp_name_changes_nothing_outside(self, world) -> None:
        inbox, outside = world
        before = snapshot(outside)
        os.symlink(outside / "victim", inbox / ".x.error.txt.tmp")
        write(inbox, "x")
        assert snapshot(outside) == before, "a file outside the inbox was written through the planted symlink"
        assert "privacy: no" in (inbox / "x.error.txt").read_text()
        assert os.path.islink(inbox / ".x.error.txt.tmp"), "the planted link is left as it was"

    def test_a_symlink_at_the_error_file_itself_is_neither_read_nor_replaced(self, world) -> None:
        inbox, outside = world
        before = snapshot(outside)
        os.symlink(outside / "victim", inbox / "x.error.txt")
        write(inbox, "x")
        remove_error_file(inbox, "x")
        assert snapshot(outside) == before
        assert os.path.islink(inbox / "x.error.txt")

    def test_a_symlinked_folder_is_never_entered_for_writing_or_deleting(self, world) -> None:
        inbox, outside = world
        (outside / "x.mp4").write_bytes(b"video")
        (outside / "x.error.txt").write_text("theirs\n")
        os.symlink(outside, inbox / "sub")
        before = snapshot(outside)
        write(inbox, "sub/x")
        remove_error_file(inbox, "sub/x")
        problems = delete_files(inbox, ["sub/x.mp4"])
        assert snapshot(outside) == before, "a file outside the inbox changed"
        assert problems and "sub/x.mp4" in problems[0]

    def test_delete_removes_a_symlink_not_its_target(self, world) -> None:
        inbox, outside = world
        os.symlink(outside / "victim", inbox / "x.mp4")
        assert delete_files(inbox, ["x.mp4"]) == []
        assert not os.path.lexists(inbox / "x.mp4") and (outside / "victim").read_text() == "precious\n"

    def test_reading_through_a_symlinked_folder_is_refused(self, world) -> None:
        inbox, outside = world
        os.symlink(outside, inbox / "sub")
        with pytest.raises(OSError):
            open_in_inbox(inbox, "sub/victim")

    def test_writes_are_atomic_and_leave_no_temp_file(self, world) -> None:
        inbox, _ = world
        write(inbox, "x", "first")
        write(inbox, "x", "second")
        assert "second" in (inbox / "x.error.txt").read_text()
        assert sorted(p.name for p in inbox.iterdir()) == ["x.error.txt"]


    def test_the_same_message_is_not_rewritten(self, world) -> None:
        inbox, _ = world
        write(inbox, "x", "same")
        first = (inbox / "x.error.txt").stat()
        write_error_file(inbox, "x", video="x.mp4", state="invalid", message="same",
                         when=WHEN.replace(hour=13))   # only the time differs
        again = (inbox / "x.error.txt").stat()
        assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns), "sync clients re-upload it"


class TestOnlyRegularFilesAreOpened:
    def test_a_fifo_at_the_error_file_name_does_not_block_and_is_left_alone(self, world) -> None:
        inbox, _ = world
        os.mkfifo(inbox / "x.error.txt")
        t = threading.Thread(target=write, args=(inbox, "x"), daemon=True)
        t.start()
        t.join(30)  # a guard against a hang, not a timing assertion
        assert not t.is_alive(), "write_error_file blocked on a FIFO named x.error.txt"
        assert (inbox / "x.error.txt").is_fifo()

    @pytest.mark.parametrize("kind", ["fifo", "dir", "symlink"])
    def test_open_regular_refuses_anything_but_a_regular_file(self, world, kind: str) -> None:
        inbox, outside = world
        path = inbox / "thing.mp4"
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            path.mkdir()
        else:
            os.symlink(outside / "victim", path)
        with pytest.raises(OSError) as exc:
            open_regular(path)
        assert kind == "symlink" or isinstance(exc.value, NotRegularFile)


class TestNamesCannotForgeLines:
    def test_a_newline_in_the_name_is_escaped_in_the_error_file(self, world) -> None:
        inbox, _ = world
        key = "x\nFix nothing: this line was injected"
        write(inbox, key)
        text = (inbox / f"{key}.error.txt").read_text()
        assert not any(line.startswith("Fix nothing") for line in text.splitlines()), text
        assert "x\\nFix nothing" in text.splitlines()[0]

    def test_a_name_that_is_not_utf8_is_written_with_escapes(self, world) -> None:
        inbox, _ = world
        key = os.fsdecode(b"h12\xff")
        write(inbox, key)
        text = (inbox / f"{key}.error.txt").read_text(encoding="utf-8")
        assert "h12\\xff.mp4" in text
