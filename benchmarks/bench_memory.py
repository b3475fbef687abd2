"""Figure 2: memory of the service process.

Peak RSS publishing one big video: VmHWM of a fresh service process while it publishes a 200 MiB
and a 2 GiB video. The videos are `padded_mp4`: a real MP4 header and a sparse trailing `free`
box, so the 2 GiB file costs no disk while the service still reads, hashes and uploads every
byte. VmHWM is read from /proc after `published`. Target: <= 120 MB, the two within 10 MB.

RSS per finished task: one service process publishes 10,000 small videos with short titles to
the emulator, which runs in this (the benchmark's) process, so its memory is not counted.
TikTok's pacing is raised out of the way on both sides (`_util.UNLIMITED` in the emulator's
profile and in the service's `tiktok.limits`). Pairs are fed a batch at a time (only files in
the inbox, no page or API request, so the web caches stay empty); VmRSS is read from
/proc/PID/status once 1,000 and once 10,000 tasks are published and the inbox is empty again.
Growth per task = (RSS at 10,000 - RSS at 1,000) / 9,000. Target: <= 2 KB per task.

    python benchmarks/bench_memory.py [--only tasks|upload] [--tasks 10000]

/proc/PID/status stays readable when the service marks itself non-dumpable; /proc/PID/io
does not (it then needs root).
"""
from __future__ import annotations

import argparse
import gc
import os
import struct
import sys
import time
from pathlib import Path

import _util as u
from bench_upload import service_run
from tests.support.videos import padded_mp4, small_mp4

COMMAND = "python benchmarks/bench_memory.py"
BATCH = 250          # pairs in the inbox at once
FIRST_SAMPLE = 1000
# TikTok's pacing out of the way, and its processing next to instant, so the first status poll
# already answers PUBLISH_COMPLETE: the figure counts what a finished task keeps, not waiting.
# TikTok's rolling day is scaled down too: at the real 15 posts a day the client's limiter holds
# at most 15 timestamps, not one per task of a benchmark that posts 10,000 in minutes.
LIMITS = {**u.UNLIMITED, "processing_seconds": 0.001, "moderation_seconds": 0.001, "day_seconds": 60}


def upload_rows() -> list[dict]:
    peaks: dict[int, float] = {}
    with u.workspace("memory") as ws:
        emulator = u.start_emulator(**u.UNLIMITED)
        try:
            for mib in (200, 2048):
                src = ws / f"src-{mib}"
                src.mkdir()
                video = padded_mp4(src, f"video-{mib}.mp4", total_bytes=mib * u.MiB)
                seconds, peaks[mib] = service_run(emulator, ws / f"svc-{mib}", video)
                u.log(f"{mib} MiB: upload {seconds:.1f} s, peak RSS {peaks[mib]:.1f} MB")
                video.unlink()
        finally:
            emulator.stop()
    worst = max(peaks.values())
    spread = abs(peaks[2048] - peaks[200])
    return [{"figure": "peak RSS publishing 200 MiB / 2 GiB", "target": "<= 120 MB each",
             "result": f"{peaks[200]:.0f} MB / {peaks[2048]:.0f} MB", "ok": worst <= 120, "value": worst},
            {"figure": "RSS growth 200 MiB -> 2 GiB", "target": "<= 10 MB",
             "result": f"{spread:.1f} MB", "ok": spread <= 10, "value": spread}]


def videos_in(inbox: Path) -> int:
    return sum(1 for name in os.listdir(inbox) if name.endswith(".mp4"))


def publish_many(total: int) -> tuple[float, float, float]:
    """Publish `total` pairs through one service; (RSS at FIRST_SAMPLE, RSS at total, seconds)."""
    with u.workspace("memory-tasks") as ws:
        staging = ws / "staging"
        staging.mkdir()
        master = small_mp4(staging, "master.mp4").read_bytes()
        emulator = u.start_emulator(**LIMITS)
        try:
            with u.service(ws / "svc", emulator, limits=LIMITS, settle=0.2) as svc:
                svc.start()
                svc.login()
                samples: dict[int, float] = {}
                dropped = 0
                t0 = time.monotonic()
                for target in (FIRST_SAMPLE, total):
                    while dropped < target:
                        room = min(BATCH - videos_in(svc.inbox), target - dropped)
                        for _ in range(max(0, room)):
                            name = f"m{dropped:05d}"
                            tag = f"memory bench {dropped}".encode()
                            (svc.inbox / f"{name}.yaml").write_text(f'privacy: private\ntitle: "t{dropped}"\n')
                            (staging / f"{name}.mp4").write_bytes(
                                master + struct.pack(">I4s", 8 + len(tag), b"free") + tag)
                            (staging / f"{name}.mp4").rename(svc.inbox / f"{name}.mp4")
                            dropped += 1
                        if svc.proc.poll() is not None:
                            raise RuntimeError(f"the service exited:\n{svc.log_text()[-3000:]}")
                        time.sleep(0.2)
                    # every pair published and deleted (the emulator counts the posts)
                    u.wait_for(lambda: len(emulator.posts()) >= target and videos_in(svc.inbox) == 0
                               and not any(n.endswith(".yaml") for n in os.listdir(svc.inbox)),
                               600, f"{target} posts", interval=0.5)
                    time.sleep(3)  # the last status polls and deletions settle
                    samples[target] = u.vm_rss_mb(svc.pid)
                    u.log(f"{target} published after {time.monotonic() - t0:.0f} s: RSS {samples[target]:.1f} MB")
                    gc.collect()  # ours, not the service's: keeps the emulator's garbage from piling up
                return samples[FIRST_SAMPLE], samples[total], time.monotonic() - t0
        finally:
            emulator.stop()


def task_rows(total: int) -> list[dict]:
    first, last, seconds = publish_many(total)
    per_task = (last - first) * 1e6 / (total - FIRST_SAMPLE)  # bytes
    return [{"figure": f"RSS growth per published task, {FIRST_SAMPLE:,} -> {total:,} "
                       f"({first:.0f} MB -> {last:.0f} MB, {seconds:.0f} s)",
             "target": "<= 2 KB per task", "result": f"{per_task / 1000:.2f} KB per task",
             "ok": per_task <= 2000, "value": per_task}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("tasks", "upload"))
    ap.add_argument("--tasks", type=int, default=10_000)
    args = ap.parse_args()
    rows: list[dict] = []
    if args.only != "tasks":
        rows += upload_rows()
    if args.only != "upload":
        rows += task_rows(args.tasks)
    u.report(rows, "Figure 2: memory of the service process", COMMAND)


if __name__ == "__main__":
    sys.exit(main())
