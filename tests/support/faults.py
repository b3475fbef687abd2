"""Helpers for crash and fault tests: what the emulator posted, the publish records on disk,
and local faults that stop even root (an immutable file or folder: `chattr +i`)."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

from tests.support.wait import wait_until

# Fast enough for tests, slow enough to keep every limit meaningful.
FAST_LIMITS = {"window_seconds": 2, "retry_seconds": 1, "followup_seconds": 2, "delete_retry_seconds": 2}


def complete_posts(emulator: Any) -> list[dict]:
    """Posts TikTok finished (PUBLISH_COMPLETE): what a viewer could see. Inits that never got
    their last byte or that failed are not posts."""
    return [p for p in emulator.posts() if p["status"] == "PUBLISH_COMPLETE"]


def inits(emulator: Any) -> int:
    stats = emulator.stats()
    return int(stats["inits"]) + int(stats.get("draft_inits", 0))


def records(state_dir: Path) -> list[dict]:
    """The publish records the service wrote (state_dir/records/<account folder>/*.json)."""
    folder = Path(state_dir) / "records"
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("*/*.json")):
        if p.name == "published.json":
            continue
        try:
            out.append(json.loads(p.read_bytes()))
        except (OSError, ValueError):
            pass  # being replaced right now: the caller polls again
    return out


def wait_record(state_dir: Path, outcome: str, *, timeout: float = 30) -> dict:
    def found() -> dict | None:
        return next((r for r in records(state_dir) if r.get("outcome") == outcome), None)
    return wait_until(found, timeout, f"a publish record with outcome {outcome!r} in {state_dir}")


def wait_faults_applied(emulator: Any, n: int, *, timeout: float = 60) -> None:
    """The emulator has taken `n` injected faults: a delayed request is now inside its delay."""
    wait_until(lambda: emulator.stats()["faults_applied"] >= n, timeout, f"{n} injected fault(s) to be taken")


def set_immutable(path: Path, on: bool) -> None:
    """`chattr +i` (or -i): the one way to make unlink fail for root on ext4/xfs/btrfs.

    Tests run as root, which ignores permissions; an immutable file (or folder) refuses
    unlink even to root. Needs CAP_LINUX_IMMUTABLE and e2fsprogs' chattr."""
    flag = "+i" if on else "-i"
    try:
        done = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise AssertionError("this test needs chattr: install e2fsprogs (apt-get install e2fsprogs)") from None
    if done.returncode != 0:
        raise AssertionError(f"chattr {flag} {path} failed: {done.stderr.strip()} (the test needs a file system "
                             "with the immutable attribute, e.g. ext4, and CAP_LINUX_IMMUTABLE)")


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """Make `path` undeletable (and a folder unchangeable) for the duration; always undone."""
    set_immutable(path, True)
    try:
        yield path
    finally:
        set_immutable(path, False)


def files_in(folder: Path) -> set[str]:
    """Names of the files in a folder (not the NAME.error.txt feedback files)."""
    return {n for n in os.listdir(folder) if not n.endswith(".error.txt")}


def sha256(path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (videos can be large)."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def drop_pair(inbox, name: str = "clip", *, big: bool = False, privacy: str = "private",
              title: str | None = None):
    """Write the sidecar, then rename the video in (the way sync tools finish a file).

    Returns (video, sidecar, sha256 of the video)."""
    from tests.support.videos import big_mp4, small_mp4
    staging = inbox.parent / "staging"
    staging.mkdir(exist_ok=True)
    src = big_mp4(staging, name + ".mp4") if big else small_mp4(staging, name + ".mp4")
    digest = sha256(src)
    (inbox / f"{name}.yaml").write_text(f"title: {title or 'test ' + name}\nprivacy: {privacy}\n", encoding="utf-8")
    video = inbox / f"{name}.mp4"
    src.replace(video)
    return video, inbox / f"{name}.yaml", digest
