"""Memory of idle logged-in TikTok clients (issue 15: one account costs at most 2 MB of RSS).

A child process logs N clients in through the emulator's consent form (the emulator runs in
this, the parent, process, so its memory is not counted) and reads its VmRSS before and
after: the growth divided by N is one idle logged-in account. Two ways, each in a fresh child:
`own`, every client making its own HTTP pool (TLS context, connections), as a single-account
service does; `shared`, every client using one `tiktok.http.HttpPool`, as several accounts in
one service should. The baseline already holds one logged-in client, so imports and the first
TLS context are not counted.

    python benchmarks/bench_clients.py [--clients 50]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from typing import Any

import httpx

import _util as u
from ralph_watch.clock import SystemClock
from ralph_watch.limits import Limits
from ralph_watch.tiktok import oauth
from ralph_watch.tiktok.client import TikTokClient
from ralph_watch.tiktok.http import HttpPool
from tests.support.service import parse_form

COMMAND = "python benchmarks/bench_clients.py"
TARGET_MB = 2.0


def log_in(client: TikTokClient, browser: httpx.Client) -> None:
    """The consent form, filled in by `browser` (one for the whole run: a fresh httpx client per
    login would count its TLS context against the account)."""
    verifier, challenge = oauth.new_pkce()
    consent = browser.get(client.authorize_url(state="bench", code_challenge=challenge))
    form = parse_form(consent.text)
    data: dict[str, list[str]] = {}
    for k, v in [*form["fields"], ("decision", "authorize")]:
        data.setdefault(k, []).append(v)
    back = browser.post(httpx.URL(str(consent.url)).join(form["action"]), data=data)
    code = dict(httpx.URL(back.headers["location"]).params)["code"]
    client.exchange_code(code, code_verifier=verifier)


def child(base_url: str, client_key: str, client_secret: str, mode: str, n: int) -> dict[str, float]:
    pool = HttpPool() if mode == "shared" else None
    browser = httpx.Client(timeout=10)

    def make() -> TikTokClient:
        c = TikTokClient(client_key=client_key, client_secret=client_secret, redirect_uri="http://127.0.0.1:9/callback",
                         scopes=["user.info.basic", "video.publish", "video.upload"], api_base=base_url,
                         authorize_url=f"{base_url}/v2/auth/authorize/", limits=Limits(**u.UNLIMITED),
                         clock=SystemClock(), pool=pool)
        log_in(c, browser)
        c.creator_info()   # an account the service uses has asked creator_info once
        return c

    clients = [make()]
    gc.collect()
    before = u.vm_rss_mb(os.getpid())
    clients += [make() for _ in range(n)]
    gc.collect()
    after = u.vm_rss_mb(os.getpid())
    return {"before_mb": before, "after_mb": after, "per_client_mb": (after - before) / n}


def run(mode: str, n: int, emulator: Any) -> dict[str, float]:
    p = emulator.profile
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--clients", str(n), "--base-url",
                          emulator.base_url, "--client-key", p.client_key, "--client-secret", p.client_secret],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--child")
    ap.add_argument("--base-url")
    ap.add_argument("--client-key")
    ap.add_argument("--client-secret")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.base_url, args.client_key, args.client_secret, args.child, args.clients)))
        return
    emulator = u.start_emulator(**u.UNLIMITED)
    try:
        rows = []
        for mode in ("own", "shared"):
            u.log(f"{args.clients} idle logged-in clients, {mode} HTTP pool")
            got = run(mode, args.clients, emulator)
            per = got["per_client_mb"]
            rows.append({"figure": f"RSS per idle logged-in account ({mode} pool, {args.clients} clients)",
                         "target": f"<= {TARGET_MB:g} MB" if mode == "shared" else "-",
                         "result": f"{per * 1000:.0f} kB ({got['before_mb']:.1f} -> {got['after_mb']:.1f} MB)",
                         "ok": per <= TARGET_MB if mode == "shared" else None})
    finally:
        emulator.stop()
    u.report(rows, "Idle TikTok clients", COMMAND)


if __name__ == "__main__":
    main()
