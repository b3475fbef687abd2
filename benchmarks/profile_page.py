"""Evidence for figure 6: what one uncached status page / API answer costs with N tasks.

Times the board operations the page and /api/tasks use (in-process, one thread, no HTTP).

    python benchmarks/profile_page.py [N]
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import _util  # noqa: F401  (puts the repository on sys.path)

from ralph_watch.limits import Limits
from ralph_watch.schedule import quota_warnings
from ralph_watch.tasks import State, TaskBoard


def timed(name: str, fn, runs: int = 5):
    t0 = time.perf_counter()
    for _ in range(runs):
        out = fn()
    print(f"{name:40s} {(time.perf_counter() - t0) / runs * 1000:7.1f} ms")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    now = datetime.now(timezone.utc)
    board = TaskBoard(now=lambda: now)
    due = datetime(2099, 1, 1, 11, tzinfo=timezone.utc)
    for i in range(n):
        board.create(f"pair{i:05d}", state=State.SCHEDULED, video=f"pair{i:05d}.mp4", sidecar=f"pair{i:05d}.yaml",
                     due=due, mode="direct", privacy="SELF_ONLY")
    timed("board.counts()", board.counts)
    timed("board.listing(limit=100)  (a page)", lambda: board.listing(limit=100))
    timed("board.listing()  (all)", board.listing)
    sel = timed("board.select(scheduled direct)  (warnings)",
                lambda: board.select(lambda t: t.state is State.SCHEDULED and t.mode == "direct"))
    timed("quota_warnings(dues)", lambda: quota_warnings([t.due for t in sel], limits=Limits(),
                                                         tz=ZoneInfo("Europe/Berlin"), now=now))
    timed("/api/tasks JSON (listing + dumps)", lambda: json.dumps([t.to_json() for t in board.listing()]))


if __name__ == "__main__":
    main()
