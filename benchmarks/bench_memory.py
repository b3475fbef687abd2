"""Figure 2: peak RSS (VmHWM) of the service process while publishing a 200 MiB and a 2 GiB video.

The videos are `padded_mp4`: a real MP4 header and a sparse trailing `free` box, so the 2 GiB
file costs no disk while the service still reads, hashes and uploads every byte. A fresh service
process per video; VmHWM is read from /proc after `published`. Target: <= 120 MB, the two within 10 MB.

    python benchmarks/bench_memory.py
"""
from __future__ import annotations

import os
import sys

import _util as u
from bench_upload import service_run
from tests.support.videos import padded_mp4

COMMAND = "python benchmarks/bench_memory.py"


def main() -> None:
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
    rows = [{"figure": "peak RSS publishing 200 MiB / 2 GiB", "target": "<= 120 MB each",
             "result": f"{peaks[200]:.0f} MB / {peaks[2048]:.0f} MB", "ok": worst <= 120, "value": worst},
            {"figure": "RSS growth 200 MiB -> 2 GiB", "target": "<= 10 MB",
             "result": f"{spread:.1f} MB", "ok": spread <= 10, "value": spread}]
    u.report(rows, "Figure 2: memory of the service process", COMMAND)


if __name__ == "__main__":
    sys.exit(main())
