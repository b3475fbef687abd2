"""Figure 1: upload throughput, the service vs curl, to the emulator's upload endpoint on loopback.

The service publishes a dense 200 MiB and 1 GiB MP4 (a real container header plus a `free`
box, written out so both sides read real pages); its upload phase runs from the publisher's
"uploading N bytes" log line to the `uploading -> processing` transition. curl PUTs the same
chunks (one file per chunk, cut outside the timing) to an upload_url from a real init, one
`curl -T` per chunk, sequentially like the service. Target: service >= 0.9x curl.

    python benchmarks/bench_upload.py [--runs 3] [--sizes 200,1024]
    python benchmarks/bench_upload.py --max-rate 8MB/s [--cap-mib 100]

With --max-rate the service publishes one video under `upload.max_rate` and the figure is its
measured upload rate against the cap. Target: within 5 % of the cap.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

import _util as u
from ralph_watch.clock import SystemClock
from ralph_watch.limits import Limits
from ralph_watch.sample import make_padded_mp4
from ralph_watch.tiktok import oauth
from ralph_watch.tiktok.client import TikTokClient
from tests.support.service import parse_form

COMMAND = "python benchmarks/bench_upload.py"


def dense_video(folder: Path, mib: int) -> Path:
    """A valid MP4 of exactly `mib` MiB whose padding is real bytes on disk (not a hole)."""
    sparse = make_padded_mp4(folder / f"sparse-{mib}.mp4", total_bytes=mib * u.MiB)
    dense = folder / f"video-{mib}.mp4"
    subprocess.run(["cp", "--sparse=never", str(sparse), str(dense)], check=True)
    sparse.unlink()
    return dense


def logged_in_client(emulator) -> TikTokClient:
    """A real client logged in through the emulator's consent form (for curl's upload_url)."""
    p = emulator.profile
    client = TikTokClient(client_key=p.client_key, client_secret=p.client_secret,
                          redirect_uri="http://127.0.0.1:9/callback",
                          scopes=["user.info.basic", "video.publish", "video.upload"], api_base=emulator.base_url,
                          authorize_url=f"{emulator.base_url}/v2/auth/authorize/",
                          limits=Limits(**u.UNLIMITED), clock=SystemClock())
    verifier, challenge = oauth.new_pkce()
    consent = httpx.get(client.authorize_url(state="bench", code_challenge=challenge), timeout=10)
    form = parse_form(consent.text)
    data: dict[str, list[str]] = {}
    for k, v in [*form["fields"], ("decision", "authorize")]:
        data.setdefault(k, []).append(v)
    back = httpx.post(httpx.URL(str(consent.url)).join(form["action"]), data=data, timeout=10)
    code = dict(httpx.URL(back.headers["location"]).params)["code"]
    client.exchange_code(code, code_verifier=verifier)
    return client


def curl_run(emulator, client: TikTokClient, video: Path, chunk_dir: Path) -> float:
    """Seconds curl takes to PUT every chunk of `video` (chunk files already cut)."""
    init = client.init_direct(post_info={"privacy_level": "SELF_ONLY", "title": "bench", "brand_content_toggle": False},
                              video_size=video.stat().st_size)
    files = cut_chunks(video, init.chunks, chunk_dir)
    # `curl -T` appends the file name to a URL path ending in "/": use the emulator's
    # slash-less route of the same endpoint.
    url = init.upload_url.replace("/upload/video/?", "/upload/video?")
    t0 = time.perf_counter()
    for chunk, f in zip(init.chunks, files):
        out = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(f), "-H", "Expect:",
             "-H", "Content-Type: video/mp4", "-H", f"Content-Range: {chunk.content_range(init.video_size)}",
             url], capture_output=True, text=True)
        if out.stdout not in ("201", "206"):
            raise RuntimeError(f"curl chunk {chunk.index}: HTTP {out.stdout} {out.stderr}")
    return time.perf_counter() - t0


_cut_cache: dict[tuple, list[Path]] = {}


def cut_chunks(video: Path, chunks, folder: Path) -> list[Path]:
    key = (str(video), tuple((c.first, c.last) for c in chunks))
    if key in _cut_cache:
        return _cut_cache[key]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    with open(video, "rb") as src:
        for c in chunks:
            src.seek(c.first)
            f = folder / f"{video.stem}-{c.index:04d}.bin"
            with open(f, "wb") as out:
                left = c.length
                while left:
                    block = src.read(min(8 * u.MiB, left))
                    out.write(block)
                    left -= len(block)
            files.append(f)
    _cut_cache[key] = files
    return files


def service_run(emulator, root: Path, video: Path, *, max_rate: str | None = None) -> tuple[float, float]:
    """(upload-phase seconds, peak RSS MB) of one publish of `video` by a fresh service process."""
    config = {"upload": {"max_rate": max_rate}} if max_rate else None
    with u.service(root, emulator, limits=u.UNLIMITED, config=config) as svc:
        svc.start()
        svc.login()
        (svc.inbox / "clip.yaml").write_text("privacy: private\n")
        os.link(video, svc.inbox / "clip.mp4")   # the master stays; the service deletes its link
        svc.wait_state("clip.mp4", "published", timeout=600)
        hwm = u.vm_hwm_mb(svc.pid)
        start = end = None
        for e in svc.log_entries():
            msg = e.get("message", "")
            when = datetime.fromisoformat(e["time"]).timestamp()
            if re.search(r"uploading \d+ bytes in \d+ chunk", msg):
                start = when
            elif "uploading -> processing" in msg:
                end = when
        if start is None or end is None:
            raise RuntimeError(f"no upload lines in the log:\n{svc.log_text()[-3000:]}")
        return end - start, hwm


def capped(max_rate: str, mib: int) -> None:
    """The measured upload rate of one publish under upload.max_rate, against the cap."""
    from ralph_watch.tiktok.ratecap import parse_rate

    cap = parse_rate(max_rate)
    with u.workspace("upload-cap") as ws:
        emulator = u.start_emulator(**u.UNLIMITED)
        try:
            video = dense_video(ws, mib)
            seconds, hwm = service_run(emulator, ws / "svc", video, max_rate=max_rate)
            rate = video.stat().st_size / seconds
            u.log(f"{mib} MiB under {max_rate}: {rate / 1e6:.2f} MB/s in {seconds:.1f} s (peak RSS {hwm:.0f} MB)")
        finally:
            emulator.stop()
    u.report([{"figure": f"upload.max_rate {max_rate}: measured rate of a {mib} MiB upload",
               "target": "within 5 % of the cap",
               "result": f"{rate / 1e6:.2f} MB/s = {rate / cap:.3f}x the cap",
               "ok": abs(rate / cap - 1) <= 0.05, "value": rate / cap}],
             "Figure 1b: upload bandwidth cap", f"{COMMAND} --max-rate {max_rate} --cap-mib {mib}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="200,1024", help="video sizes in MiB, comma-separated")
    ap.add_argument("--max-rate", default=None, help="measure the upload.max_rate cap instead (e.g. 8MB/s)")
    ap.add_argument("--cap-mib", type=int, default=100, help="video size in MiB for --max-rate")
    args = ap.parse_args()
    if args.max_rate:
        return capped(args.max_rate, args.cap_mib)
    rows = []
    with u.workspace("upload") as ws:
        emulator = u.start_emulator(**u.UNLIMITED)
        try:
            client = logged_in_client(emulator)
            for mib in (int(s) for s in args.sizes.split(",")):
                video = dense_video(ws, mib)
                size_mb = video.stat().st_size / 1e6
                curl_s, svc_s = [], []
                curl_run(emulator, client, video, ws / "chunks")   # warm-up: page cache, the emulator's probe import
                for run in range(args.runs):
                    c = curl_run(emulator, client, video, ws / "chunks")
                    s, hwm = service_run(emulator, ws / f"svc-{mib}-{run}", video)
                    curl_s.append(c)
                    svc_s.append(s)
                    u.log(f"{mib} MiB run {run + 1}: curl {size_mb / c:.0f} MB/s, service {size_mb / s:.0f} MB/s "
                          f"(service peak RSS {hwm:.0f} MB)")
                for f in _cut_cache.pop(next(k for k in _cut_cache if k[0] == str(video)), []):
                    f.unlink()
                video.unlink()
                c, s = size_mb / u.median(curl_s), size_mb / u.median(svc_s)
                rows.append({"figure": f"upload {mib} MiB: service vs curl (median of {args.runs})",
                             "target": ">= 0.9x curl",
                             "result": f"{s:.0f} MB/s vs curl {c:.0f} MB/s = {s / c:.2f}x", "ok": s / c >= 0.9,
                             "value": s / c})
            client.close()
        finally:
            emulator.stop()
    u.report(rows, "Figure 1: upload throughput (loopback, emulator)", COMMAND)


if __name__ == "__main__":
    sys.exit(main())
