"""Bytes the service reads per new pair (issue 18, target 1): rchar from /proc/PID/io.

Target: at most the container's header box (`moov`, or WebM's `Info`/`Tracks`) + 64 KiB per
pair, at start-up and when a pair is dropped into a running service. The content identity (a
hash of the first and last MiB) is computed only at publish time, when a published video of the
same size exists, or when a publish record has to be matched, so scheduling a pair reads its
headers and its sidecar and nothing more.

Method.
* Videos are a small real MP4 (moov at the end, as most cameras and editors write it, and
  `--faststart` for moov first) followed by a `free` box whose payload is sparse, so each file
  is `--mb` MB large (24 by default) without using the disk. Every file has its own size, as real
  videos do, and its own bytes (a tag after the `free` header).
* rchar counts every byte `read(2)`/`pread(2)` returned, page cache or not, so it is the bytes
  the service asked for; it also counts Python's own imports and config reads, so the start-up
  figure subtracts a run over an empty inbox, and the drop figure subtracts what the idle service
  read over the same time before the drop.
* WebM recordings without cues need the PyAV fallback (it decodes to find the duration); they
  are reported apart (`--webm N`).
rchar needs /proc/PID/io of the child: root, or the same user with ptrace allowed.
"""
from __future__ import annotations

import argparse
import os
import struct
import time
from pathlib import Path

import _util as u
from ralph_watch.sample import make_video

COMMAND = "python benchmarks/bench_reads.py"
FUTURE = 'privacy: private\nat: "2099-01-01 12:00"\n'
MB = 1_000_000
KiB = 1024


def rchar(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/PID/io")


def moov_size(master: bytes) -> int:
    """The size of the top-level header box: what the probe must read at the least."""
    pos = 0
    while pos + 8 <= len(master):
        size, kind = struct.unpack(">I4s", master[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", master[pos + 8:pos + 16])[0]
        if kind == b"moov":
            return size
        pos += size
    raise ValueError("no moov box")


def write_pair(folder: Path, name: str, master: bytes, i: int, total: int) -> None:
    """`master` + a `free` box tagged with `i`, sparse up to `total + i` bytes (own size, own bytes)."""
    size = total + i
    tag = f"bench pair {i}".encode()
    path = folder / f"{name}.mp4"
    with open(path, "wb") as f:
        f.write(master)
        f.write(struct.pack(">I4s", size - len(master), b"free") + tag)
        f.truncate(size)   # the rest of the free box is a hole: no disk, zeros when read
    (folder / f"{name}.yaml").write_text(FUTURE)


def startup(emulator, root: Path, master: bytes, *, n: int, total: int) -> int:
    """rchar of a service that starts over `n` pairs, once all are scheduled."""
    with u.service(root, emulator, settle=1.0, config={"watch": {"mode": "events", "settle_seconds": 1.0}}) as svc:
        for i in range(n):
            write_pair(svc.inbox, f"pair{i:05d}", master, i, total)
        time.sleep(1.2)   # older than settle_seconds: counted at once at start-up
        svc.start(timeout=120)
        if n:
            u.wait_scheduled(svc, n, 600)
        else:
            time.sleep(2)
        return rchar(svc.pid)


def drops(emulator, root: Path, master: bytes, *, n: int, total: int, webm: Path | None = None) -> tuple[int, int]:
    """(rchar for `n` pairs dropped into a running service, rchar of the idle service over as long)."""
    with u.service(root, emulator, settle=1.0, config={"watch": {"mode": "events", "settle_seconds": 1.0}}) as svc:
        svc.start(timeout=60)
        time.sleep(2)   # the start-up's own reads are over
        staging = root / "staging"
        staging.mkdir()
        for i in range(n):
            if webm is not None:   # copies of one recording: scheduling reads no identity, so no guard
                (staging / f"drop{i:04d}.webm").write_bytes(webm.read_bytes())
                (staging / f"drop{i:04d}.yaml").write_text(FUTURE)
            else:
                write_pair(staging, f"drop{i:04d}", master, i, total)
        r0, t0 = rchar(svc.pid), time.monotonic()
        for p in sorted(staging.iterdir(), key=lambda p: p.suffix != ".yaml"):
            os.rename(p, svc.inbox / p.name)   # as sync tools do: a finished file renamed into place
        u.wait_scheduled(svc, n, 300)
        used = rchar(svc.pid) - r0
        spent = time.monotonic() - t0
        r1 = rchar(svc.pid)
        time.sleep(spent)
        idle = rchar(svc.pid) - r1
        return used, idle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=10_000, help="pairs at start-up")
    ap.add_argument("--drops", type=int, default=200, help="pairs dropped into a running service")
    ap.add_argument("--mb", type=int, default=24, help="apparent size of each video (sparse)")
    ap.add_argument("--webm", type=int, default=20, help="browser-style WebM recordings (PyAV fallback) dropped")
    ap.add_argument("--faststart", action="store_true", help="moov before the media data")
    args = ap.parse_args()
    total = args.mb * MB
    rows = []
    with u.workspace("reads") as ws:
        master_path = make_video(ws / "master.mp4", seconds=2, width=720, height=1280, faststart=args.faststart)
        master = master_path.read_bytes()
        header = moov_size(master)
        target = header + 64 * KiB
        emulator = u.start_emulator()
        try:
            base = startup(emulator, ws / "empty", master, n=0, total=total)
            full = startup(emulator, ws / "full", master, n=args.pairs, total=total)
            per = (full - base) / args.pairs
            u.log(f"start-up: {full} B read with {args.pairs} pairs, {base} B with none: {per / KiB:.1f} KiB a pair")
            rows.append({"figure": f"bytes read per pair, start-up over {args.pairs} pairs of {args.mb} MB "
                                   f"({'moov first' if args.faststart else 'moov last'})",
                         "target": f"<= moov ({header / KiB:.1f} KiB) + 64 KiB = {target / KiB:.1f} KiB",
                         "result": f"{per / KiB:.1f} KiB", "ok": per <= target, "value": per})
            used, idle = drops(emulator, ws / "drops", master, n=args.drops, total=total)
            per = (used - idle) / args.drops
            u.log(f"drops: {used} B read for {args.drops} pairs, {idle} B idle over as long: {per / KiB:.1f} KiB a pair")
            rows.append({"figure": f"bytes read per pair dropped into a running service ({args.drops} of {args.mb} MB)",
                         "target": f"<= {target / KiB:.1f} KiB", "result": f"{per / KiB:.1f} KiB",
                         "ok": per <= target, "value": per})
            if args.webm:
                rec = make_video(ws / "rec.webm", seconds=2, width=720, height=1280, codec="vp9", recorder=True)
                used, idle = drops(emulator, ws / "webm", master, n=args.webm, total=total, webm=rec)
                per = (used - idle) / args.webm
                rows.append({"figure": f"bytes read per browser-recorded WebM without cues ({rec.stat().st_size / KiB:.0f} KiB "
                                       "files, PyAV fallback), reported apart",
                             "target": "reported", "result": f"{per / KiB:.1f} KiB", "ok": True, "value": per})
        finally:
            emulator.stop()
    u.report(rows, "Bytes read per new pair (rchar)", COMMAND + (" --faststart" if args.faststart else ""))


if __name__ == "__main__":
    main()
