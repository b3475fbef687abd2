"""Figure: `GET /calendar` with 10,000 tasks in the next 14 days, under 20 clients.

The web app on waitress (the service's server) with the fake backend's real TaskBoard holding
10,000 scheduled tasks: 5,000 `at` pairs spread over the 14 days and 5,000 pairs of an
every-2-minutes cron queue (dense: one line a day), plus a daily queue. 20 threads with their
own keep-alive clients request the page for a bounded time (bench_web.load). Target: p99 < 200 ms.

    python benchmarks/bench_calendar.py [--tasks 10000] [--clients 20] [--seconds 10]
"""
from __future__ import annotations

import argparse
from datetime import timedelta
from itertools import islice

import _util as u
from bench_web import load
from ralph_watch.clock import FakeClock
from ralph_watch.schedule import cron_slots, parse_cron
from ralph_watch.tasks import State
from ralph_watch.web import make_app
from ralph_watch.web.server import WebServer
from tests.support.fake_backend import START, FakeBackend, web_config

COMMAND = "python benchmarks/bench_calendar.py"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    clock = FakeClock(START)
    config = web_config()
    backend = FakeBackend(clock=clock, config=config)
    half = args.tasks // 2
    span = timedelta(days=14) / max(1, half)
    for i in range(half):
        backend.board.create(f"at{i:05}", state=State.SCHEDULED, video=f"at{i:05}.mp4", sidecar=f"at{i:05}.yaml",
                             due=START + span * (i + 1), mode="direct", title=f"clip {i}")
    line = parse_cron("*/2 * * * *").key
    for i, slot in enumerate(islice(cron_slots(parse_cron(line), START, config.tz), args.tasks - half)):
        backend.board.create(f"q{i:05}", state=State.SCHEDULED, video=f"q{i:05}.mp4", sidecar=f"q{i:05}.yaml",
                             due=slot, cron_key=line, mode="direct")
    daily = parse_cron("0 18 * * *").key
    backend.board.create("daily", state=State.SCHEDULED, video="daily.mp4", sidecar="daily.yaml",
                         due=next(cron_slots(parse_cron(daily), START, config.tz)), cron_key=daily, mode="direct")
    server = WebServer(make_app(backend, config, clock=clock), "127.0.0.1", 0)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        lat, size, errors = load(url, "/calendar", clients=args.clients, seconds=args.seconds)
    finally:
        server.stop()
    p50, p99 = u.pct(lat, 50) * 1000, u.pct(lat, 99) * 1000
    u.log(f"/calendar: {len(lat)} requests, {size / 1e6:.2f} MB each, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    u.report([{"figure": f"GET /calendar, {args.tasks} tasks in 14 days, {args.clients} clients "
                         f"({len(lat)} req, {size / 1e6:.2f} MB each): p50 / p99",
               "target": "p99 < 200 ms", "result": f"{p50:.0f} ms / {p99:.0f} ms" + (f", {errors} errors" if errors
                                                                                  else ""),
               "ok": p99 < 200 and not errors, "value": p99}], "Figure: calendar under load", COMMAND)


if __name__ == "__main__":
    main()
