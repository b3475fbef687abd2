"""watcher.py with real files, real inotify and real threads (no sleeps to synchronise).

TestDetectNetworkFs - recorded /proc/self/mountinfo lines decide auto mode
TestStartup         - the first scan is reported synchronously; old files count at once
TestCompleteness    - settle, slow writers, renames, sidecar-first, subfolders (events and polling)
TestSafety          - symlinks, FIFOs, directories with pair names; odd file names
TestSafetyNets      - sink failures, overflow rescans, 20,000 files, dead observers
TestMount           - inbox deleted/re-created or moved away: reported, nothing withdrawn
TestModes           - auto picks polling on a share, and switches when events miss files
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ralph_watch.clock import SystemClock
from ralph_watch.inbox import PairSnapshot
from ralph_watch.watcher import Watcher, detect_network_fs
from tests.support.wait import wait_until

# watchdog warns when it re-adds a watch for a folder created and scanned at once (harmless)
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")
SETTLE = 0.4
MODES = [pytest.param("events", id="events"), pytest.param("polling", id="polling")]


class Recorder:
    """The sink: keeps every call and the latest snapshot per pair, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[list[PairSnapshot]] = []
        self.latest: dict[str, PairSnapshot] = {}
        self.threads: set[str] = set()
        self.fail_next = 0

    def __call__(self, snaps: list[PairSnapshot]) -> None:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("the service had a bad moment")
            self.calls.append(list(snaps))
            for s in snaps:
                self.latest[s.key] = s

    def get(self, key: str) -> PairSnapshot | None:
        with self.lock:
            return self.latest.get(key)

    def all_snaps(self) -> list[PairSnapshot]:
        with self.lock:
            return [s for call in self.calls for s in call]

    def complete(self, key: str, *, video_size: int | None = None) -> bool:
        s = self.get(key)
        return bool(s and len(s.videos) == 1 and len(s.sidecars) == 1
                    and all(f.stable for f in s.videos + s.sidecars)
                    and (video_size is None or s.videos[0].size == video_size))

    def stable_video(self, key: str) -> bool:
        s = self.get(key)
        return bool(s and s.videos and all(f.stable for f in s.videos))

    def gone(self, key: str) -> bool:
        s = self.get(key)
        return bool(s and not s.videos and not s.sidecars)


class OffsetClock(SystemClock):
    """The real clock with its wall time moved forward (monotonic time untouched)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self):  # type: ignore[override]
        return super().now() + self.offset


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    p = tmp_path / "inbox"
    p.mkdir()
    return p


@pytest.fixture
def make_watcher(tmp_path: Path) -> Iterator[Callable[..., tuple[Watcher, Recorder]]]:
    started: list[Watcher] = []

    def make(inbox: Path, *, mode: str = "events", settle: float = SETTLE, poll: float = 0.1,
             rescan: float = 3600, clock=None, supervise: float = 0.1, recorder: Recorder | None = None,
             mountinfo: Path | None = None, **extra) -> tuple[Watcher, Recorder]:
        rec = recorder or Recorder()
        kwargs = {"mountinfo_path": mountinfo} if mountinfo else {}
        kwargs.update(extra)
        w = Watcher(inbox, mode=mode, settle_seconds=settle, poll_seconds=poll, rescan_seconds=rescan,
                    clock=clock or SystemClock(), sink=rec, stop=threading.Event(),
                    supervise_seconds=supervise, **kwargs)
        started.append(w)
        w.start()
        return w, rec

    yield make
    for w in started:
        w.stop_and_join(5)
        assert not w.alive(), "watcher threads still running 5 s after stop_and_join"


def write_pair(folder: Path, stem: str, *, video: bytes = b"\0" * 100, ext: str = "mp4") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.{ext}").write_bytes(video)
    (folder / f"{stem}.yaml").write_text("title: hi\n")


def age(path: Path, seconds: float = 3600) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


class TestDetectNetworkFs:
    LINES = {
        "ext4": "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro",
        "overlay": "540 480 0:51 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w",
        "cifs": "101 29 0:60 / /mnt/nas rw,relatime shared:60 - cifs //nas/videos rw,vers=3.1.1,cache=strict",
        "nfs4": "102 29 0:61 / /mnt/nfs rw,relatime shared:61 - nfs4 server:/export rw,vers=4.2,rsize=1048576",
        "fuse.rclone": "103 29 0:62 / /mnt/gdrive rw,nosuid,nodev,relatime shared:62 - fuse.rclone gdrive: rw,user_id=0",
        "fuse.sshfs": "104 29 0:63 / /mnt/ssh rw,nosuid,nodev,relatime shared:63 - fuse.sshfs me@host:/v rw,user_id=0",
        "9p": "105 29 0:64 / /mnt/c rw,noatime - 9p drvfs rw,dirsync,aname=drvfs;path=C:\\",
        "space": r"106 29 0:65 / /mnt/my\040share rw,relatime - cifs //nas/x rw",
    }

    @pytest.mark.parametrize(("path", "expected"), [
        pytest.param("/home/me/inbox", (False, "ext4"), id="ext4"),
        pytest.param("/mnt/nas/inbox/sub", (True, "cifs"), id="cifs"),
        pytest.param("/mnt/nas", (True, "cifs"), id="cifs_mountpoint_itself"),
        pytest.param("/mnt/nasty/inbox", (False, "ext4"), id="prefix_is_not_a_parent"),
        pytest.param("/mnt/nfs/in", (True, "nfs4"), id="nfs4"),
        pytest.param("/mnt/gdrive/in", (True, "fuse.rclone"), id="fuse_rclone"),
        pytest.param("/mnt/ssh/in", (True, "fuse.sshfs"), id="fuse_sshfs"),
        pytest.param("/mnt/c/Users/me/inbox", (True, "9p"), id="wsl_9p"),
        pytest.param("/mnt/my share/inbox", (True, "cifs"), id="escaped_space"),
    ])
    def test_it_finds_the_mount_holding_the_inbox(self, path: str, expected: tuple[bool, str]) -> None:
        text = "\n".join(v for k, v in self.LINES.items() if k != "overlay")
        assert detect_network_fs(Path(path), text) == expected

    def test_it_treats_overlay_as_local(self) -> None:
        assert detect_network_fs(Path("/app/inbox"), self.LINES["overlay"]) == (False, "overlay")

    def test_it_lets_the_later_mount_on_the_same_point_win(self) -> None:
        text = self.LINES["ext4"] + "\n" + "200 29 0:70 / / rw - nfs4 srv:/ rw"
        assert detect_network_fs(Path("/x"), text) == (True, "nfs4")

    def test_it_survives_garbage(self) -> None:
        assert detect_network_fs(Path("/x"), "garbage\n\n1 2 3") == (False, "unknown")

    def test_it_reads_this_machines_mountinfo(self, tmp_path: Path) -> None:
        network, fstype = detect_network_fs(tmp_path.resolve(), Path("/proc/self/mountinfo").read_text())
        assert fstype != "unknown"


class TestStartup:
    def test_it_reports_old_files_as_stable_during_start(self, inbox: Path, make_watcher) -> None:
        write_pair(inbox, "old")
        for p in inbox.iterdir():
            age(p)
        write_pair(inbox, "new")
        w, rec = make_watcher(inbox, settle=30)
        assert rec.complete("old"), "start() returns after reporting the start-up snapshot"
        assert rec.get("new") is not None and not rec.stable_video("new")
        assert rec.threads == {threading.current_thread().name}

    def test_it_calls_the_sink_from_its_own_thread_later(self, inbox: Path, make_watcher) -> None:
        w, rec = make_watcher(inbox)
        write_pair(inbox, "clip")
        wait_until(lambda: rec.complete("clip"), 10, "clip complete")
        assert any(name.startswith("ralph-watch-") for name in rec.threads)

    def test_it_reports_status(self, inbox: Path, make_watcher) -> None:
        w, _ = make_watcher(inbox)
        st = w.status()
        assert st["mode"] == "events" and st["inbox_ok"] and st["error"] is None and st["alive"]
        assert st["last_scan"] and "T" in st["last_scan"]


@pytest.mark.parametrize("mode", MODES)
class TestCompleteness:
    def test_it_waits_for_a_slow_writer_to_go_quiet(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode, settle=0.6)
        (inbox / "slow.yaml").write_text("title: slow\n")
        chunks = 6
        with open(inbox / "slow.mp4", "wb") as f:
            for i in range(chunks):
                f.write(b"\1" * 1000)
                f.flush()
                wrote, size = time.monotonic(), (i + 1) * 1000

                # The writer pauses longer than half the settle time, but shorter than settle, and
                # goes on only once the watcher has reported this size (so every step was seen).
                def seen_and_paused(size: int = size, wrote: float = wrote) -> bool:
                    s = rec.get("slow")
                    return bool(s and any(v.size == size for v in s.videos)) and time.monotonic() - wrote >= 0.35
                wait_until(seen_and_paused, 10, f"slow.mp4 reported at {size} bytes")
        wait_until(lambda: rec.complete("slow", video_size=chunks * 1000), 10, "slow.mp4 stable at full size")
        early = [v for s in rec.all_snaps() for v in s.videos if v.stable and v.size != chunks * 1000]
        assert early == [], f"reported stable while still growing: {early}"

    def test_it_finds_a_file_moved_in_with_mv(self, inbox: Path, tmp_path: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        outside = tmp_path / "staging"
        write_pair(outside, "moved")
        subprocess.run(["mv", str(outside / "moved.mp4"), str(outside / "moved.yaml"), str(inbox)], check=True)
        wait_until(lambda: rec.complete("moved"), 10, "moved pair complete")

    def test_it_finds_a_file_moved_in_with_os_rename(self, inbox: Path, tmp_path: Path, make_watcher,
                                                     mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        outside = tmp_path / "staging"
        write_pair(outside, "renamed")
        os.rename(outside / "renamed.yaml", inbox / "renamed.yaml")
        os.rename(outside / "renamed.mp4", inbox / "renamed.mp4")
        wait_until(lambda: rec.complete("renamed"), 10, "renamed pair complete")

    def test_it_takes_a_file_renamed_into_place_after_the_quick_period(self, inbox: Path, make_watcher,
                                                                       mode: str) -> None:
        # rsync style: written under a temp name inside the inbox, then renamed. The settle time
        # is long, so only the quick path (min(1, settle) s) can make it stable in time.
        w, rec = make_watcher(inbox, mode=mode, settle=30)
        (inbox / ".clip.mp4.Ab12Cd").write_bytes(b"\0" * 500)
        (inbox / ".clip.yaml.Xy98Zz").write_text("title: x\n")
        wait_until(lambda: ".clip.yaml.Xy98Zz" in w._tree.get("", {}), 5, "the temp files listed")
        os.rename(inbox / ".clip.mp4.Ab12Cd", inbox / "clip.mp4")
        os.rename(inbox / ".clip.yaml.Xy98Zz", inbox / "clip.yaml")
        wait_until(lambda: rec.complete("clip"), 10, "renamed-in pair complete long before settle_seconds")

    def test_it_takes_a_rename_early_and_then_confirms_it(self, inbox: Path, make_watcher, mode: str) -> None:
        # issue 18 item 4: stable (early) at the first look after the rename; early=False is
        # reported once the full settle has passed too (the service refuses only then)
        w, rec = make_watcher(inbox, mode=mode, settle=1.0)
        (inbox / ".r.mp4.Ab12Cd").write_bytes(b"\0" * 500)
        (inbox / ".r.yaml.Xy98Zz").write_text("title: x\n")
        wait_until(lambda: ".r.yaml.Xy98Zz" in w._tree.get("", {}), 5, "the temp files listed")
        os.rename(inbox / ".r.mp4.Ab12Cd", inbox / "r.mp4")
        os.rename(inbox / ".r.yaml.Xy98Zz", inbox / "r.yaml")
        wait_until(lambda: rec.complete("r"), 10, "renamed-in pair stable")
        first = next(s for s in rec.all_snaps() if s.key == "r" and s.videos and s.videos[0].stable)
        assert first.videos[0].early, f"the first stable report of r.mp4 should be early: {first}"
        wait_until(lambda: (s := rec.get("r")) is not None and s.videos and not s.videos[0].early
                   and s.videos[0].stable, 10, "r.mp4 confirmed by the full settle (early=False)")

    def test_it_never_takes_a_file_written_in_place_early(self, inbox: Path, make_watcher, mode: str) -> None:
        # an SMB upload or `cp -p` under the final name: a new inode, its mtime set to long ago,
        # at full size on first sight - still the full settle (30 s here: never within the test)
        w, rec = make_watcher(inbox, mode=mode, settle=30)
        write_pair(inbox, "inplace")
        age(inbox / "inplace.mp4")
        age(inbox / "inplace.yaml")
        wait_until(lambda: (s := rec.get("inplace")) is not None and s.videos and s.sidecars
                   and s.videos[0].mtime_ns == (inbox / "inplace.mp4").stat().st_mtime_ns, 10, "inplace reported")
        w.rescan_now("test")
        wait_until(lambda: w.status()["last_scan"] is not None, 5, "a rescan")
        stable = [f for s in rec.all_snaps() for f in s.videos + s.sidecars if f.stable]
        assert stable == [], f"a file written in place was taken as stable before the settle: {stable}"

    def test_it_reports_a_sidecar_first_and_the_video_much_later(self, inbox: Path, make_watcher,
                                                                 mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        (inbox / "late.yaml").write_text("title: late\n")
        wait_until(lambda: (s := rec.get("late")) and s.sidecars and s.sidecars[0].stable and not s.videos,
                   10, "a stable lone sidecar")
        (inbox / "late.mp4").write_bytes(b"\0" * 10)
        wait_until(lambda: rec.complete("late"), 10, "late pair complete")

    def test_it_watches_subfolders_made_after_start(self, inbox: Path, tmp_path: Path, make_watcher,
                                                    mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        write_pair(inbox / "a" / "b", "deep")
        staged = tmp_path / "whole"
        write_pair(staged / "inner", "carried")
        os.rename(staged, inbox / "whole")  # a folder moved in with its content: no file events
        wait_until(lambda: rec.complete("a/b/deep") and rec.complete("whole/inner/carried"), 10, "nested pairs")

    def test_it_reports_a_pair_gone_when_both_files_are_removed(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        write_pair(inbox / "sub", "bye")
        wait_until(lambda: rec.complete("sub/bye"), 10, "pair complete")
        (inbox / "sub" / "bye.mp4").unlink()
        wait_until(lambda: (s := rec.get("sub/bye")) and not s.videos and s.sidecars, 10, "video gone")
        shutil.rmtree(inbox / "sub")
        wait_until(lambda: rec.gone("sub/bye"), 10, "pair gone")

    def test_it_reports_zero_byte_videos(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        write_pair(inbox, "empty", video=b"")
        wait_until(lambda: rec.complete("empty", video_size=0), 10, "zero-byte pair reported")

    def test_it_names_an_inflight_sibling_until_it_is_renamed(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        (inbox / "sync.yaml").write_text("title: x\n")
        (inbox / ".syncthing.sync.mp4.tmp").write_bytes(b"\0" * 10)
        wait_until(lambda: (s := rec.get("sync")) and s.inflight == ".syncthing.sync.mp4.tmp", 10, "marker seen")
        os.rename(inbox / ".syncthing.sync.mp4.tmp", inbox / "sync.mp4")
        wait_until(lambda: rec.complete("sync") and rec.get("sync").inflight is None, 10, "pair complete")

    def test_it_ignores_temporary_and_system_files(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode)
        for name in [".DS_Store", "Thumbs.db", "clip.mp4.part", "x.error.txt", "._x.mp4"]:
            (inbox / name).write_bytes(b"junk")
        (inbox / "@eaDir").mkdir()
        (inbox / "@eaDir" / "hidden.mp4").write_bytes(b"x")
        write_pair(inbox, "real")
        wait_until(lambda: rec.complete("real"), 10, "real pair")
        assert {s.key for s in rec.all_snaps()} == {"real"}


class TestSafety:
    @pytest.mark.parametrize("mode", MODES)
    def test_it_reports_non_regular_entries_without_opening_them(self, inbox: Path, tmp_path: Path,
                                                                 make_watcher, mode: str) -> None:
        target = tmp_path / "elsewhere.mp4"
        target.write_bytes(b"\0" * 10)
        w, rec = make_watcher(inbox, mode=mode)
        (inbox / "link.mp4").symlink_to(target)
        os.mkfifo(inbox / "fifo.mp4")  # opening this would block forever
        (inbox / "dir.mp4").mkdir()
        (inbox / "dirlink.yaml").symlink_to(tmp_path)
        write_pair(inbox, "after")
        wait_until(lambda: rec.complete("after"), 10, "the watcher keeps going")
        wait_until(lambda: all(rec.get(k) for k in ("link", "fifo", "dir", "dirlink")), 10, "odd entries reported")
        assert rec.get("link").videos[0].symlink and not rec.get("link").videos[0].regular
        assert not rec.get("fifo").videos[0].regular and not rec.get("fifo").videos[0].symlink
        assert not rec.get("dir").videos[0].regular
        assert rec.get("dirlink").sidecars[0].symlink

    def test_it_never_follows_a_symlinked_folder(self, inbox: Path, tmp_path: Path, make_watcher) -> None:
        write_pair(tmp_path / "other", "outside")
        (inbox / "linked").symlink_to(tmp_path / "other")
        w, rec = make_watcher(inbox, mode="polling")
        write_pair(inbox, "inside")
        wait_until(lambda: rec.complete("inside"), 10, "inside pair")
        assert rec.get("linked/outside") is None

    @pytest.mark.parametrize("stem", [
        pytest.param("Sonnenuntergang über der Bucht 🌅", id="unicode_emoji"),
        pytest.param("two\nlines", id="newline"),
        pytest.param("-rf --all", id="leading_dashes"),
        pytest.param("  spaced  ", id="spaces"),
        pytest.param("日本語", id="cjk"),
    ])
    def test_it_handles_odd_names(self, inbox: Path, make_watcher, stem: str) -> None:
        w, rec = make_watcher(inbox)
        write_pair(inbox, stem)
        wait_until(lambda: rec.complete(stem), 10, f"pair {stem!r}")


class TestSafetyNets:
    def test_it_survives_a_sink_that_raises_and_reports_again(self, inbox: Path, make_watcher) -> None:
        rec = Recorder()
        w, _ = make_watcher(inbox, recorder=rec)
        rec.fail_next = 1
        write_pair(inbox, "first")
        wait_until(lambda: rec.complete("first"), 10, "first pair reported after the failure")
        write_pair(inbox, "second")
        wait_until(lambda: rec.complete("second"), 10, "second pair")
        assert w.alive()

    def test_it_survives_a_sink_that_raises_during_start(self, inbox: Path, make_watcher) -> None:
        write_pair(inbox, "boot")
        rec = Recorder()
        rec.fail_next = 1
        w, _ = make_watcher(inbox, recorder=rec, settle=0.2)
        wait_until(lambda: rec.complete("boot"), 10, "start-up pair reported again")

    def test_it_rescans_after_an_inotify_queue_overflow(self, inbox: Path, make_watcher) -> None:
        from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

        w, rec = make_watcher(inbox, supervise=3600)
        first = w.status()["last_scan"]
        # what the kernel sends when events were lost, through watchdog's own dispatch
        w._observer._inotify_fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        wait_until(lambda: w.status()["last_scan"] != first, 10, "a full rescan after the overflow")

    def test_it_finds_files_events_missed_on_rescan(self, inbox: Path, make_watcher) -> None:
        w, rec = make_watcher(inbox, supervise=3600)
        w._stop_observer(5)  # events stop arriving, as on a share written by another machine
        write_pair(inbox, "missed")
        w.rescan_now()
        wait_until(lambda: rec.complete("missed"), 10, "missed pair found by the rescan")

    def test_it_finds_all_of_20000_files_dropped_at_once(self, inbox: Path, make_watcher) -> None:
        from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

        w, rec = make_watcher(inbox, settle=0.3, supervise=3600)
        n = 10_000
        for i in range(n):
            (inbox / f"c{i:05}.mp4").write_bytes(b"v")
            (inbox / f"c{i:05}.yaml").write_bytes(b"t: 1\n")
        observer = w._observer
        if observer is not None:  # also drive the overflow path, whether or not the kernel overflowed
            observer._inotify_fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
        else:
            w.rescan_now()

        def all_complete() -> bool:
            with rec.lock:
                latest = dict(rec.latest)
            return len(latest) == n and all(
                len(s.videos) == 1 and len(s.sidecars) == 1 and s.videos[0].stable and s.sidecars[0].stable
                for s in latest.values())

        wait_until(all_complete, 120, "all 10,000 pairs complete", interval=0.2)

    def test_it_restarts_a_dead_emitter(self, inbox: Path, make_watcher) -> None:
        w, rec = make_watcher(inbox, rescan=3600, supervise=0.1)
        old = w._observer
        for emitter in list(old.emitters):
            emitter.stop()  # observer.is_alive() stays True: only emitters tell the truth
        wait_until(lambda: w._observer is not None and w._observer is not old and w._observer.healthy(),
                   10, "a new observer")
        write_pair(inbox, "after_restart")
        wait_until(lambda: rec.complete("after_restart"), 10, "events work again")

    @pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
    def test_it_restarts_a_dead_worker(self, inbox: Path, make_watcher) -> None:
        w, rec = make_watcher(inbox, supervise=0.1)
        worker = w._threads["worker"]
        w._wake.set()
        # make the next step raise outside the per-step guard: the worker thread dies
        original = w._timeout
        boom = threading.Event()

        def dying_timeout() -> float:
            if not boom.is_set():
                boom.set()
                raise SystemExit("worker dies")
            return original()

        w._timeout = dying_timeout  # type: ignore[method-assign]
        w._wake.set()
        wait_until(lambda: not worker.is_alive(), 10, "the worker died")
        wait_until(lambda: w._threads["worker"] is not worker and w._threads["worker"].is_alive(), 10, "new worker")
        write_pair(inbox, "alive")
        wait_until(lambda: rec.complete("alive"), 10, "the new worker reports")


class TestMount:
    @pytest.mark.parametrize("mode", MODES)
    def test_it_withdraws_nothing_while_the_inbox_is_away(self, inbox: Path, tmp_path: Path,
                                                          make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode, rescan=0.2)
        write_pair(inbox, "keep")
        wait_until(lambda: rec.complete("keep"), 10, "pair complete")
        os.rename(inbox, tmp_path / "away")  # like a share that went away
        wait_until(lambda: not w.status()["inbox_ok"], 10, "inbox reported unreadable")
        st = w.status()
        assert str(inbox) in st["error"] and "mounted" in st["error"]
        os.rename(tmp_path / "away", inbox)
        wait_until(lambda: w.status()["inbox_ok"], 10, "inbox back")
        write_pair(inbox, "later")
        wait_until(lambda: rec.complete("later"), 10, "new pair after the inbox came back")
        assert not any(s.key == "keep" and not s.videos for s in rec.all_snaps()), "keep was withdrawn"

    def test_it_watches_a_deleted_and_recreated_inbox(self, inbox: Path, make_watcher) -> None:
        w, rec = make_watcher(inbox, mode="events", supervise=0.1)
        write_pair(inbox, "one")
        wait_until(lambda: rec.complete("one"), 10, "pair complete")
        calls_before = len(rec.calls)
        # The folder vanishes at once (a mount going away). rmtree would delete the files one by
        # one first, and a listing in between would rightly report them gone.
        inbox.rename(inbox.with_name(inbox.name + ".gone"))
        wait_until(lambda: not w.status()["inbox_ok"], 10, "inbox missing reported")
        assert w.status()["error"]
        assert all(not (s.key == "one" and not s.videos and not s.sidecars)
                   for call in rec.calls[calls_before:] for s in call), "pairs reported gone while missing"
        inbox.mkdir()
        wait_until(lambda: w.status()["inbox_ok"], 10, "inbox back")
        wait_until(lambda: w._observer is not None and w._observer.healthy(), 10, "observer watching the new inbox")
        write_pair(inbox, "two")
        wait_until(lambda: rec.complete("two"), 10, "pair in the re-created inbox")
        assert w.status()["mode"] == "events"
        wait_until(lambda: rec.gone("one"), 10, "the old pair (really deleted) is gone once the inbox is readable")


class TestUnmountedShare:
    def test_an_empty_folder_left_by_an_unmounted_share_withdraws_nothing(self, inbox: Path, make_watcher) -> None:
        mounted = {"now": True}  # the share is mounted at the inbox itself
        w, rec = make_watcher(inbox, mode="polling", ismount=lambda path: mounted["now"])
        write_pair(inbox, "one")
        wait_until(lambda: rec.complete("one"), 10, "pair complete")
        calls_before = len(rec.calls)
        mounted["now"] = False  # unmounted: what is left is the empty mount-point folder
        for p in inbox.iterdir():
            p.unlink()
        wait_until(lambda: not w.status()["inbox_ok"], 10, "the lost share reported")
        assert "not mounted" in w.status()["error"]
        w.rescan_now()
        wait_until(lambda: w.status()["last_scan"] is not None, 5, "a scan attempt")
        assert not any(s.key == "one" and not s.videos and not s.sidecars
                       for call in rec.calls[calls_before:] for s in call), "pairs withdrawn while unmounted"
        mounted["now"] = True  # mounted again, the files are back
        write_pair(inbox, "one")
        wait_until(lambda: w.status()["inbox_ok"], 10, "the share back")


class TestModes:
    def test_auto_polls_an_inbox_on_a_share(self, inbox: Path, tmp_path: Path, make_watcher) -> None:
        mountinfo = tmp_path / "mountinfo"
        mountinfo.write_text(f"29 1 259:2 / / rw - ext4 /dev/sda1 rw\n"
                             f"101 29 0:60 / {inbox.resolve()} rw,relatime - cifs //nas/videos rw,vers=3.1.1\n")
        w, rec = make_watcher(inbox, mode="auto", mountinfo=mountinfo)
        st = w.status()
        assert st["mode"] == "polling" and "cifs" in st["reason"]
        assert w._observer is None
        write_pair(inbox, "share")
        wait_until(lambda: rec.complete("share"), 10, "pair found by polling")

    def test_auto_uses_events_on_a_local_disk(self, inbox: Path, tmp_path: Path, make_watcher) -> None:
        mountinfo = tmp_path / "mountinfo"
        mountinfo.write_text("29 1 259:2 / / rw - ext4 /dev/sda1 rw\n")
        w, _ = make_watcher(inbox, mode="auto", mountinfo=mountinfo)
        assert w.status()["mode"] == "events" and "ext4" in w.status()["reason"]

    def test_forced_polling_says_so(self, inbox: Path, make_watcher) -> None:
        w, _ = make_watcher(inbox, mode="polling")
        assert w.status() | {"last_scan": None} == {
            "mode": "polling", "reason": "watch.mode is polling", "last_scan": None,
            "inbox_ok": True, "error": None, "alive": True}

    def test_auto_switches_to_polling_when_a_rescan_finds_unannounced_files(self, inbox: Path, tmp_path: Path,
                                                                            make_watcher) -> None:
        mountinfo = tmp_path / "mountinfo"
        mountinfo.write_text("29 1 259:2 / / rw - ext4 /dev/sda1 rw\n")
        clock = OffsetClock()
        w, rec = make_watcher(inbox, mode="auto", mountinfo=mountinfo, clock=clock, rescan=0.2, supervise=3600)
        w._stop_observer(5)  # a remote writer: the local kernel raises no events
        write_pair(inbox, "remote")
        clock.offset = timedelta(seconds=10)  # the files are older than any event delay
        wait_until(lambda: w.status()["mode"] == "polling", 10, "switch to polling")
        assert "remote." in w.status()["reason"] and "never" in w.status()["reason"]
        wait_until(lambda: rec.complete("remote"), 10, "remote pair found")

    def test_it_refuses_an_unknown_mode(self, inbox: Path) -> None:
        with pytest.raises(ValueError, match="watch.mode.*auto, events, polling"):
            Watcher(inbox, mode="inotify", settle_seconds=1, poll_seconds=1, rescan_seconds=1,
                    clock=SystemClock(), sink=lambda s: None, stop=threading.Event())


class _StuckSink(Recorder):
    """A sink that blocks (like a read that never returns) once `stuck` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, snaps: list[PairSnapshot]) -> None:
        if self.stuck.is_set():
            self.entered.set()
            self.release.wait(60)
        super().__call__(snaps)


class TestHeartbeat:
    def test_a_worker_that_is_alive_but_stuck_shows_its_heartbeat_age(self, inbox: Path, make_watcher) -> None:
        from ralph_watch.clock import FakeClock
        clock = FakeClock()
        sink = _StuckSink()
        w, _ = make_watcher(inbox, clock=clock, recorder=sink)
        wait_until(lambda: w.heartbeat_ages()["worker"] is not None and w.heartbeat_ages()["supervisor"] is not None,
                   10, "both loops beat once")
        sink.stuck.set()
        write_pair(inbox, "clip")
        assert sink.entered.wait(10), "the worker reported the new pair"
        clock.advance(500)
        try:
            assert w.alive(), "the thread is alive: only the heartbeat shows it is stuck"
            assert w.heartbeat_ages()["worker"] >= 500
            wait_until(lambda: w.heartbeat_ages()["supervisor"] < 500, 10, "the supervisor keeps beating")
        finally:
            sink.release.set()
        wait_until(lambda: w.heartbeat_ages()["worker"] < 500, 10, "the worker beats again once unstuck")

    def test_an_idle_worker_keeps_beating(self, inbox: Path, make_watcher) -> None:
        from ralph_watch.clock import FakeClock
        clock = FakeClock()
        w, _ = make_watcher(inbox, clock=clock, rescan=3600)
        wait_until(lambda: w.heartbeat_ages()["worker"] is not None, 10, "the worker beat once")
        clock.advance(100)
        wait_until(lambda: w.heartbeat_ages()["worker"] < 100, 15, "an idle worker beats within its heartbeat period")


class TestSymlinkedFolders:
    @pytest.mark.parametrize("mode", ["events", "polling"])
    def test_a_folder_swapped_for_a_symlink_is_never_listed_through(self, inbox: Path, tmp_path: Path,
                                                                    make_watcher, mode: str) -> None:
        outside = tmp_path / "outside"
        write_pair(outside, "secret")
        write_pair(inbox / "sub", "clip")
        w, rec = make_watcher(inbox, mode=mode)
        wait_until(lambda: rec.get("sub/clip") is not None, 10, "the real subfolder's pair")
        (inbox / "sub").rename(tmp_path / "moved-away")
        os.symlink(outside, inbox / "sub")
        w.rescan_now("test")
        wait_until(lambda: (s := rec.get("sub")) is not None and len(s.links) == 1, 10,
                   "the symlink reported as a link")
        wait_until(lambda: (s := rec.get("sub/clip")) is not None and not s.videos and not s.sidecars, 10,
                   "the old pair gone")
        with rec.lock:
            seen = {s.key for call in rec.calls for s in call}
        assert "sub/secret" not in seen, "a folder behind a symlink was listed"


class TestEventMask:
    """Issue 18 item 2: only change events are asked of the kernel, never through a symlink."""

    def test_the_mask_asks_for_changes_only_and_never_follows_links(self, inbox: Path, make_watcher) -> None:
        from watchdog.observers.inotify_c import InotifyConstants as C
        w, rec = make_watcher(inbox, mode="events")
        assert w._observer is not None
        masks = [e._inotify.event_mask for e in list(w._observer.emitters) if e._inotify is not None]
        assert masks, "the observer has no inotify emitter"
        for mask in masks:
            assert mask & C.IN_DONT_FOLLOW, f"watcher.py _Emitter: IN_DONT_FOLLOW missing from {mask:#x}"
            assert not mask & (C.IN_OPEN | C.IN_CLOSE_NOWRITE), f"read events still asked for: {mask:#x}"
            for needed in (C.IN_MODIFY, C.IN_ATTRIB, C.IN_MOVED_TO, C.IN_MOVED_FROM, C.IN_CREATE,
                           C.IN_DELETE, C.IN_CLOSE_WRITE):
                assert mask & needed, f"watcher.py CHANGE_MASK lacks {needed:#x}: changes would be missed"

    def test_no_watch_is_added_through_a_symlinked_folder(self, inbox: Path, tmp_path: Path, make_watcher) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        os.symlink(outside, inbox / "link")
        w, rec = make_watcher(inbox, mode="events")
        (outside / "behind.yaml").write_text("title: x\n")   # behind the link: no event may come
        (inbox / "marker.yaml").write_text("title: x\n")     # in the inbox: its event comes after
        wait_until(lambda: "" in w._event_folders, 10, "the inbox's own event")
        assert "link" not in w._event_folders, "an event came from behind a symlink: a watch was added through it"

    def test_it_sees_a_touch_that_only_changes_the_mtime(self, inbox: Path, make_watcher) -> None:
        # IN_ATTRIB (utime without a write) stays in the mask: an in-place edit is never missed
        w, rec = make_watcher(inbox, mode="events", settle=0.2)
        write_pair(inbox, "t")
        wait_until(lambda: rec.complete("t"), 10, "pair complete")
        age(inbox / "t.mp4", 100)
        want = (inbox / "t.mp4").stat().st_mtime_ns
        wait_until(lambda: (s := rec.get("t")) is not None and s.videos and s.videos[0].mtime_ns == want, 10,
                   "the new mtime reported")


class TestQuietScanReuse:
    """Issue 18 item 3: unchanged entries are reused between scans; an in-place edit never is."""

    @pytest.mark.parametrize("mode", MODES)
    def test_a_same_size_edit_in_place_is_seen_after_quiet_scans(self, inbox: Path, make_watcher, mode: str) -> None:
        w, rec = make_watcher(inbox, mode=mode, settle=0.2, rescan=0.1)
        write_pair(inbox, "e", video=b"\1" * 100)
        wait_until(lambda: rec.complete("e"), 10, "pair complete")
        first = w._tree[""]["e.mp4"]
        wait_until(lambda: w._tree[""]["e.mp4"] is first and w.status()["last_scan"] is not None, 10,
                   "the unchanged entry reused by a later scan")
        with open(inbox / "e.mp4", "r+b") as f:   # same size, new bytes, new mtime
            f.write(b"\2" * 100)
        os.utime(inbox / "e.mp4", ns=(first.mtime_ns + 5_000_000_000, first.mtime_ns + 5_000_000_000))
        wait_until(lambda: (s := rec.get("e")) is not None and s.videos
                   and s.videos[0].mtime_ns == first.mtime_ns + 5_000_000_000 and s.videos[0].stable, 10,
                   "the edit reported and settled again")
        assert w._tree[""]["e.mp4"] is not first, "watcher.py _list reused an Entry whose mtime changed"
        unstable = [s for s in rec.all_snaps() if s.key == "e" and s.videos
                    and s.videos[0].mtime_ns == first.mtime_ns + 5_000_000_000 and not s.videos[0].stable]
        assert unstable, "the edited file should have waited for the settle again"
