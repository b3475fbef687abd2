"""Evidence for figure 4: where start-up time goes with N pairs (pyinstrument, one thread).

Profiles what `Service.start` does with an inbox of N fresh pairs, in one thread: the
watcher's first scan (`Watcher._step(initial=True)`: listing, stability, snapshots) and the
service applying the snapshots (`PairSync.on_snapshots`: validate = sidecar parse, probe, file
identity; board updates). No web, no login. Prints wall and CPU seconds per phase (the machine
is shared, so CPU is the steadier figure), the process start-up (imports) measured apart, and
the profile.

    python benchmarks/profile_startup.py [N]
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _util  # noqa: F401  (puts the repository on sys.path)
from pyinstrument import Profiler

from ralph_watch.config import load_config
from ralph_watch.logs import setup_logging
from ralph_watch.service import Service
from tests.support.videos import small_mp4


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    root = Path(tempfile.mkdtemp(prefix="ralph-profile-"))
    try:
        inbox = root / "inbox"
        inbox.mkdir()
        master = small_mp4(root, "m.mp4", unique=False).read_bytes()
        for i in range(n):
            tag = f"bench pair {i}".encode()
            (inbox / f"pair{i:05d}.mp4").write_bytes(master + struct.pack(">I4s", 8 + len(tag), b"free") + tag)
            (inbox / f"pair{i:05d}.yaml").write_text('privacy: private\nat: "2099-01-01 12:00"\n')
        old = time.time() - 3600   # older than settle_seconds: stable at once, as at a real start-up
        for f in inbox.iterdir():
            os.utime(f, (old, old))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ralph_watch.service, ralph_watch.web.app"], check=True)
        imports = time.perf_counter() - t0
        # Logged as `ralph-watch run --log-format json` logs (INFO), into a file.
        log_file = open(root / "service.log", "w", encoding="utf-8")
        setup_logging("INFO", "json", stream=log_file)
        print(f"process start-up (python -c 'import ralph_watch.service, ralph_watch.web.app'): {imports:.2f} s wall")
        for profiled in (False, True):
            cfg = load_config(f"inbox: {inbox}\nstate_dir: {root / ('state-p' if profiled else 'state')}\n"
                              "timezone: Europe/Berlin\nwatch:\n  mode: polling\n", base_dir=root,
                              environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
            svc = Service(cfg, serve_web=False)
            svc.records.ensure_dir()
            watcher = svc.watcher
            applied = [0.0, 0.0]
            on_snapshots = svc.primary.pairs.on_snapshots

            def timed_sink(snaps: list, on_snapshots=on_snapshots, applied=applied) -> None:
                w0, c0 = time.perf_counter(), time.process_time()
                on_snapshots(snaps)
                applied[0] += time.perf_counter() - w0
                applied[1] += time.process_time() - c0
            watcher._sink = timed_sink
            watcher._choose_mode()
            prof = Profiler()
            if profiled:
                prof.start()
            w0, c0 = time.perf_counter(), time.process_time()
            watcher._step(initial=True)   # as Watcher.start does: list, observe, report -> on_snapshots
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            if profiled:
                prof.stop()
            print(f"{'profiled' if profiled else 'unprofiled'}: first scan + apply of {n} pairs: {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU: {svc.board.counts()}")
            print(f"  of which PairSync.on_snapshots: {applied[0]:.2f} s wall, {applied[1]:.2f} s CPU; "
                  f"the scan itself: {wall - applied[0]:.2f} s wall, {cpu - applied[1]:.2f} s CPU")
        log_file.close()
        print(prof.output_text(unicode=False, color=False))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
