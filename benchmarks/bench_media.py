"""Figure: the page's previews. Thumbnail CPU per clip, and the video route's memory while it
streams a large file.

* Thumbnail: `make_thumbnail` on a 1080p H.264 clip with its cover on a keyframe (the first
  frame), the median of 10 runs of CPU time (process time: every decoder thread counted); then
  the worst case: a 4K HEVC clip with a single keyframe, cover near its end (every frame before
  it is decoded). Target: <= 30 ms for the first.
* Video route: a real service-like web server (the app on waitress, FakeBackend on a real inbox)
  serves a 1 GiB sparse file to a client that reads it slowly; the server's RSS is sampled while
  it streams. Target: flat (growth under 10 MB).

    python benchmarks/bench_media.py
"""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx

import _util as u
from ralph_watch.clock import FakeClock
from ralph_watch.sample import make_video
from ralph_watch.web import make_app
from ralph_watch.web.server import WebServer
from ralph_watch.web.thumbnails import make_thumbnail
from tests.support.fake_backend import START, FakeBackend, web_config

COMMAND = "python benchmarks/bench_media.py"


def thumb_cpu(path: Path, cover_ms: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.process_time()
        with open(path, "rb") as f:
            make_thumbnail(f, cover_ms=cover_ms)
        times.append(time.process_time() - t)
    return statistics.median(times)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    rows = []
    with u.workspace("media") as ws:
        inbox = ws / "inbox"
        inbox.mkdir()
        big = inbox / "big.mp4"
        with open(big, "wb") as f:
            f.truncate(1 << 30)   # sparse: no disk, real reads
        clock = FakeClock(START)
        config = web_config()
        backend = FakeBackend(clock=clock, config=config, inbox=inbox)
        task = backend.board.create("big", video="big.mp4", sidecar="big.yaml")
        server = WebServer(make_app(backend, config, clock=clock), "127.0.0.1", 0)
        server.start()
        try:
            samples: list[tuple[int, float]] = []   # (bytes received, RSS MB)
            done = threading.Event()
            got = 0

            def sample() -> None:
                while not done.wait(0.05):
                    samples.append((got, rss_mb()))
            before = rss_mb()
            th = threading.Thread(target=sample, daemon=True)
            th.start()
            t0 = time.monotonic()
            with httpx.stream("GET", f"http://127.0.0.1:{server.port}/tasks/{task.id}/video",
                              headers={"Host": "127.0.0.1:8080"}, timeout=60) as r:
                for chunk in r.iter_raw(1 << 20):
                    got += len(chunk)
            secs = time.monotonic() - t0
            done.set()
            th.join()
            # Waitress buffers up to 16 MB per connection (outbuf_high_watermark) before it stops
            # asking the body for more: that is reached in the first MiBs. Flat means: no growth
            # from the first quarter of the file to the end.
            early = [rss for n, rss in samples if n <= got // 4] or [before]
            late = [rss for n, rss in samples if n > got // 4] or early
            growth = max(late) - max(early)
            u.log(f"video route: {got / 2**20:.0f} MiB in {secs:.1f} s, RSS {before:.0f} MB at start, "
                  f"{max(early):.0f} MB max in the first quarter, {max(late):.0f} MB max after")
            rows.append({"figure": f"GET /tasks/<id>/video, 1 GiB file ({got / 2**30:.2f} GiB in {secs:.1f} s): RSS "
                                   f"growth after the first quarter (server + client in one process; {before:.0f} MB "
                                   f"at start, {max(early) - before:.0f} MB of waitress's output buffer)",
                         "target": "flat (< 5 MB)", "result": f"{growth:.1f} MB", "ok": growth < 5, "value": growth})
        finally:
            server.stop()
        hd = make_video(ws / "hd.mp4", seconds=2, width=1080, height=1920, audio=False)
        ms = thumb_cpu(hd, 0, 10) * 1000
        u.log(f"1080p H.264, cover on a keyframe: {ms:.1f} ms CPU")
        rows.append({"figure": "thumbnail CPU, 1080x1920 H.264, cover on the first keyframe (median of 10)",
                     "target": "<= 30 ms", "result": f"{ms:.1f} ms", "ok": ms <= 30, "value": ms})
        ms = thumb_cpu(hd, 1900, 5) * 1000
        rows.append({"figure": "thumbnail CPU, 1080x1920 H.264, cover at 1.9 s (57 frames past the keyframe)",
                     "target": "reported", "result": f"{ms:.1f} ms", "ok": None, "value": ms})
        try:
            uhd = make_video(ws / "uhd.mp4", seconds=2, width=2160, height=3840, codec="hevc", audio=False)
            ms = thumb_cpu(uhd, 1950, 3) * 1000
            u.log(f"4K HEVC, cover 1.95 s from its keyframe: {ms:.0f} ms CPU")
            rows.append({"figure": "thumbnail CPU, worst case: 2160x3840 HEVC, cover 1.95 s past the only keyframe "
                                   "(median of 3)", "target": "reported", "result": f"{ms:.0f} ms", "ok": None,
                         "value": ms})
        except Exception as exc:  # an FFmpeg build without libx265
            rows.append({"figure": "thumbnail CPU, 4K HEVC", "target": "reported",
                         "result": f"not measured: {exc}", "ok": None, "value": 0})

    u.report(rows, "Figure: previews (thumbnail CPU, video streaming memory)", COMMAND)


if __name__ == "__main__":
    main()
