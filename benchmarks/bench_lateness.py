"""Lateness (issue 15): N pairs due in the same second, how late each one's init reaches TikTok.

N pairs (default 50) with the same `at` time (whole seconds, 25 s after the drop), logged in,
with `tiktok.limits` raised on both sides as in the precision benchmark (bench_schedule.py), so
TikTok's pacing is not what is measured. Lateness = the emulator's `created` time of the
pair's init (its title names the pair) minus the `at`. Also the count of 429 answers the
emulator gave. Target: p99 < 1 s, no 429.

What it shows: a worker that waits for TikTok's status between calls (until the post completes)
is not free for the next due pair; a status check that is a step of its own, and an upload on
its own pool, leave the step workers to the inits.

One account for now: `--accounts` is where the pairs will be spread over several accounts
(one inbox each) once the service holds them; `accounts()` is the one place to change.

    python benchmarks/bench_lateness.py [--pairs 50] [--accounts 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _util as u
from tests.support.videos import small_mp4

COMMAND = "python benchmarks/bench_lateness.py"
LEAD_SECONDS = 25


def accounts(svc: u.BenchService, n: int) -> list[Path]:
    """The inbox of each account (one today: the service's own)."""
    if n != 1:
        raise SystemExit("--accounts > 1 needs the service's accounts: (issue 15); one account for now")
    return [svc.inbox]


def lateness(pairs: int, n_accounts: int) -> tuple[list[float], int, int]:
    """(lateness of each init in seconds, 429 answers, pairs published)."""
    with u.workspace("lateness") as ws:
        (ws / "src").mkdir()
        emulator = u.start_emulator(**u.UNLIMITED)
        try:
            with u.service(ws / "svc", emulator, limits=u.UNLIMITED) as svc:
                svc.start()
                svc.login()
                inboxes = accounts(svc, n_accounts)
                at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=LEAD_SECONDS)
                stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
                for i in range(pairs):
                    inbox = inboxes[i % len(inboxes)]
                    name = f"p{i:03d}"
                    small_mp4(ws / "src", f"{name}.mp4")
                    (inbox / f"{name}.yaml").write_text(f'privacy: private\ntitle: {name}\nat: "{stamp}"\n')
                    (ws / "src" / f"{name}.mp4").rename(inbox / f"{name}.mp4")
                if time.time() > at.timestamp() - 5:
                    raise RuntimeError("setting up took too long; the pairs are due already")
                u.log(f"{pairs} pairs dropped over {len(inboxes)} account(s); all due at {at:%H:%M:%S} UTC")
                u.wait_for(lambda: len(emulator.posts()) >= pairs, LEAD_SECONDS + 180, f"{pairs} inits",
                           interval=0.5)
                u.wait_for(lambda: sum(1 for p in emulator.posts() if p["status"] == "PUBLISH_COMPLETE") >= pairs,
                           180, "every post to complete", interval=0.5)
                u.wait_for(lambda: svc.counts().get("published", 0) >= pairs, 60, "every task to be published",
                           interval=0.5)
                inits: dict[str, float] = {}
                for p in emulator.posts():
                    created = datetime.fromisoformat(p["created"].replace("Z", "+00:00")).timestamp()
                    title = str(p["post_info"].get("title", ""))
                    inits[title] = min(created, inits.get(title, created))
                limited = sum(emulator.stats()["rate_limited"].values())
                published = svc.counts().get("published", 0)
                return [inits[f"p{i:03d}"] - at.timestamp() for i in range(pairs)], limited, published
        finally:
            emulator.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--accounts", type=int, default=1)
    args = ap.parse_args()
    late, limited, published = lateness(args.pairs, args.accounts)
    p50, p99 = u.pct(late, 50), u.pct(late, 99)
    rows = [{"figure": f"init lateness, {args.pairs} pairs due at once, {args.accounts} account(s) (p50 / p99 / max)",
             "target": "p99 < 1 s", "result": f"{p50:.3f} s / {p99:.3f} s / {max(late):.3f} s", "ok": p99 < 1,
             "value": p99},
            {"figure": f"429 answers from TikTok, same run ({published} published)", "target": "0",
             "result": str(limited), "ok": limited == 0, "value": limited}]
    u.report(rows, "Lateness: pairs due at the same time", COMMAND)


if __name__ == "__main__":
    sys.exit(main())
