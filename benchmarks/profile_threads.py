"""Evidence for figure 4: start-up CPU per thread, in-process, and what watchdog's mask costs.

Starts a real `Service` (web included) in this process on N fresh pairs aged past
settle_seconds, waits until all are `scheduled`, and prints the process's CPU seconds and each
thread's (from /proc/self/task). With --event-filter, watchdog's observer is scheduled with an
event filter of the change events only, so the kernel never queues IN_OPEN/IN_CLOSE_NOWRITE
for the service's own reads (an experiment: the product's watcher.py is not changed).

    python benchmarks/profile_threads.py [--pairs 10000] [--mode events|polling] [--event-filter]
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import tempfile
import threading
import time
from pathlib import Path

import _util  # noqa: F401  (puts the repository on sys.path)

from tests.support.videos import small_mp4


def filter_watchdog_events() -> None:
    """Schedule every watchdog watch with the change events only (this process only)."""
    import watchdog.observers.api as api
    from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, FileClosedEvent,
                                 FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent)
    changes = [FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, DirModifiedEvent, FileMovedEvent, DirMovedEvent,
               FileDeletedEvent, DirDeletedEvent, FileClosedEvent]
    original = api.BaseObserver.schedule

    def schedule(self, handler, path, *, recursive=False, event_filter=None):  # type: ignore[no-untyped-def]
        return original(self, handler, path, recursive=recursive, event_filter=changes)
    api.BaseObserver.schedule = schedule  # type: ignore[method-assign]


def thread_cpu(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--mode", choices=["events", "polling"], default="events")
    ap.add_argument("--event-filter", action="store_true")
    args = ap.parse_args()
    if args.event_filter:
        filter_watchdog_events()
    from ralph_watch.config import load_config
    from ralph_watch.logs import setup_logging
    from ralph_watch.service import Service

    root = Path(tempfile.mkdtemp(prefix="ralph-threads-"))
    try:
        inbox = root / "inbox"
        inbox.mkdir()
        master = small_mp4(root, "m.mp4", unique=False).read_bytes()
        for i in range(args.pairs):
            tag = f"bench pair {i}".encode()
            (inbox / f"pair{i:05d}.mp4").write_bytes(master + struct.pack(">I4s", 8 + len(tag), b"free") + tag)
            (inbox / f"pair{i:05d}.yaml").write_text('privacy: private\nat: "2099-01-01 12:00"\n')
        aged = time.time() - 3600
        for f in inbox.iterdir():
            os.utime(f, (aged, aged))
        setup_logging("INFO", "json", stream=open(root / "service.log", "w", encoding="utf-8"))
        cfg = load_config(f"inbox: {inbox}\nstate_dir: {root / 'state'}\ntimezone: Europe/Berlin\n"
                          f"web:\n  port: 18431\nwatch:\n  mode: {args.mode}\n  settle_seconds: 3\n"
                          "  rescan_seconds: 300\n", base_dir=root,
                          environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
        before = {t.native_id: thread_cpu(t.native_id) for t in threading.enumerate() if t.native_id}
        c0, w0 = time.process_time(), time.perf_counter()
        svc = Service(cfg, serve_web=True)
        svc.start()
        while svc.board.counts().get("scheduled", 0) < args.pairs:
            time.sleep(0.05)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        print(f"{args.mode}{' + event filter' if args.event_filter else ''}: {args.pairs} pairs scheduled in "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU (load average {os.getloadavg()[0]:.1f})")
        for t in threading.enumerate():
            if t.native_id:
                used = thread_cpu(t.native_id) - before.get(t.native_id, 0.0)
                if used >= 0.01:
                    print(f"  {t.name:24} {used:.2f} s CPU")
        svc.stop.set()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    os._exit(0)  # the service's threads are daemons of a stopped service; do not wait for them


if __name__ == "__main__":
    main()
