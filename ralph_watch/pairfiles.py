"""The files of a pair inside the inbox: deleting them and the NAME.error.txt feedback file.

Error files reach people who only see the synced folder (a phone, a NAS share): they say
what is wrong and how to fix it, and they disappear once the problem is gone.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path, PurePosixPath

__all__ = ["error_file", "write_error_file", "remove_error_file", "delete_files", "resolve"]

log = logging.getLogger(__name__)


def resolve(inbox: Path, rel: str) -> Path:
    """The absolute path of an inbox-relative path (which the watcher produced; never '..')."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts:
        raise ValueError(f"not a path inside the inbox: {rel!r}")
    return inbox.joinpath(*p.parts)


def error_file(inbox: Path, key: str) -> Path:
    return resolve(inbox, key + ".error.txt")


def write_error_file(inbox: Path, key: str, *, video: str | None, state: str, message: str, when: datetime) -> None:
    text = (
        f"ralph-watch could not publish {video or key} ({state}).\n\n"
        f"{message}\n\n"
        "Fix the problem (usually by editing the .yaml file next to the video) and this file\n"
        "disappears by itself. Nothing was deleted.\n"
        f"\n-- {when.isoformat(timespec='seconds')}\n"
    )
    path = error_file(inbox, key)
    try:
        if path.is_symlink():
            return
        if path.exists() and path.read_text(errors="replace").split("\n-- ")[0] == text.split("\n-- ")[0]:
            return  # same message: don't rewrite (sync clients would upload it again)
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc.strerror)


def remove_error_file(inbox: Path, key: str) -> None:
    path = error_file(inbox, key)
    try:
        if path.is_file() and not path.is_symlink():
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc.strerror)


def delete_files(inbox: Path, rels: list[str | None]) -> list[str]:
    """Delete the given files (missing ones are fine). Returns the problems, one sentence each."""
    problems = []
    for rel in rels:
        if not rel:
            continue
        path = resolve(inbox, rel)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"{rel} could not be deleted ({exc.strerror}); check the folder's permissions")
    return problems
