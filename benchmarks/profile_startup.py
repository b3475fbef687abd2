"""Evidence for figure 4: where start-up time goes with N pairs (pyinstrument, one thread).

Builds the snapshots the watcher would report for N fresh pairs and profiles the service
applying them (validate: sidecar parse, probe, file identity; board updates). No web, no login.

    python benchmarks/profile_startup.py [N]
"""
from __future__ import annotations

import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

import _util  # noqa: F401  (puts the repository on sys.path)
from pyinstrument import Profiler

from ralph_watch.config import load_config
from ralph_watch.inbox import Entry, StabilityTracker, build_snapshots
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
        cfg = load_config(f"inbox: {inbox}\nstate_dir: {root / 'state'}\ntimezone: Europe/Berlin\n", base_dir=root,
                          environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
        svc = Service(cfg, serve_web=False)
        tracker = StabilityTracker(0, 0)
        entries = []
        for de in os.scandir(inbox):
            st = de.stat(follow_symlinks=False)
            entries.append(Entry(rel=de.name, name=de.name, size=st.st_size, mtime_ns=st.st_mtime_ns, kind="file",
                                 inode=st.st_ino))
            tracker.observe(de.name, size=st.st_size, mtime_ns=st.st_mtime_ns, now=0, startup=True)
        snaps = list(build_snapshots(entries, tracker, 0).values())
        prof = Profiler()
        prof.start()
        t0 = time.perf_counter()
        svc._on_snapshots(snaps)
        took = time.perf_counter() - t0
        prof.stop()
        print(f"applied {n} pairs in {took:.2f} s: {svc.board.counts()}")
        print(prof.output_text(unicode=False, color=False))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
