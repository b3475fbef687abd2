"""Where each account's publish records live in the shared `state_dir` (issue 15).

Each account keeps its records in `state_dir/records/<folder>/`, the folder named from a hash
of the account's resolved inbox path, not from its name: renaming an account, or going from
the top-level `inbox: X` (account `default`) to `accounts: {main: {inbox: X}}`, keeps them.
Versions before several accounts kept one flat `state_dir/records/*.json`; `migrate` moves
each of those into the folder of the account whose inbox holds its video (the first account's
when no inbox does), once, at start-up under the instance lock.

The duplicate guard's remember file stays `state_dir/published.json` while there is one
account (as before) and moves into the account's folder with several.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Sequence

from .errors import RecordError

__all__ = ["records_dir", "remember_path", "migrate", "REMEMBER_NAME"]

log = logging.getLogger(__name__)
REMEMBER_NAME = "published.json"


def _folder(inbox: Path) -> str:
    resolved = os.path.realpath(inbox)   # not strict: an unmounted share still names its folder
    return hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]


def records_dir(state_dir: Path, inbox: Path) -> Path:
    return Path(state_dir) / "records" / _folder(inbox)


def remember_path(state_dir: Path, inbox: Path, *, several: bool) -> Path:
    return records_dir(state_dir, inbox) / REMEMBER_NAME if several else Path(state_dir) / REMEMBER_NAME


def migrate(state_dir: Path, inboxes: Sequence[Path]) -> int:
    """Move the flat layout's records (and the remember file) into the accounts' folders.
    Returns how many records moved. Raises RecordError when a move fails."""
    flat = Path(state_dir) / "records"
    moved, owners = 0, set()
    if flat.is_dir() and inboxes:
        for path in sorted(flat.glob("*.json")):
            inbox = _owner(path, inboxes)
            _move(path, records_dir(state_dir, inbox) / path.name)
            owners.add(inbox)
            moved += 1
    if moved:
        log.info("publish records: moved %d records of the single-inbox layout into the folders of their accounts",
                 moved)
    _place_remember_file(Path(state_dir), inboxes, owners)
    return moved


def _owner(path: Path, inboxes: Sequence[Path]) -> Path:
    """The inbox holding the record's video now, else the first one."""
    try:
        video = json.loads(path.read_bytes()).get("video")
    except (OSError, ValueError, AttributeError):
        video = None
    if isinstance(video, str) and video:
        for inbox in inboxes:
            if os.path.lexists(Path(inbox) / video):
                return inbox
    return inboxes[0]


def _place_remember_file(state_dir: Path, inboxes: Sequence[Path], owners: set[Path]) -> None:
    if not inboxes:
        return
    several = len(inboxes) > 1
    top = state_dir / REMEMBER_NAME
    first = next((i for i in inboxes if i in owners), inboxes[0])
    if several and top.exists():
        target = remember_path(state_dir, first, several=True)
        if not target.exists():
            _move(top, target)
    elif not several and not top.exists():
        inner = records_dir(state_dir, inboxes[0]) / REMEMBER_NAME
        if inner.exists():
            _move(inner, top)


def _move(src: Path, dst: Path) -> None:
    try:
        dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(src, dst)
        for folder in {src.parent, dst.parent}:   # both renames survive a power cut
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise RecordError(f"cannot move {src} to {dst}: {exc.strerror}") from exc
