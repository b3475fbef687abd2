"""Several accounts in one service (issue 15): start-up and the memory of idle logged-in accounts.

Start-up: 50 accounts x 200 pairs against one account with 10,000 pairs, the method of
bench_inbox.py: copies of one small real MP4 (each with a unique trailing `free` box) and sidecars
whose `at` is far in the future, aged past settle_seconds, then the service is spawned (events
mode) and timed until the log has said `-> scheduled` for every pair. The two alternate for
--rounds rounds (the machine is shared: medians), and the CPU the service spent by then is given
beside the wall time. Target: 50 x 200 takes at most 1.5x the time of 1 x 10,000.

Memory: a child process runs the whole service (`Service(config).start()`: the page, a watcher and
a scheduler per account, the shared HTTP pool) with N accounts and empty inboxes, logs every
account in through the emulator's OAuth flow (the service's own login_url and finish_login, the
emulator's consent form filled in, each account choosing its own creator) and reads its VmRSS
once everything is idle. The emulator runs in this, the parent, process, so its memory is not
counted. Per idle logged-in account = (RSS with 50 - RSS with 1) / 49. Target: <= 2 MB.

    python benchmarks/bench_accounts.py [--accounts 50] [--pairs 200] [--rounds 3] [--only startup|memory]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import yaml

import _util as u
from bench_inbox import fill
from ralph_watch.cli import demo_account_names, demo_creators
from ralph_watch.emulator import EmulatorServer, load_profile
from tests.support.service import parse_form
from tests.support.videos import small_mp4

COMMAND = "python benchmarks/bench_accounts.py"
STARTUP_RATIO = 1.5
TARGET_MB = 2.0
SETTLE = 3.0
IDLE = 5.0          # seconds the child waits after the last login before reading VmRSS


def emulator_for(n: int) -> EmulatorServer:
    """The emulator with one creator per account (as `demo --accounts N` makes them)."""
    profile = load_profile(None)
    profile = replace(profile, limits=replace(profile.limits, **{**u.FAST, **u.UNLIMITED}))
    return EmulatorServer(demo_creators(profile, demo_account_names(n)), threads=8).start()


def with_accounts(svc: u.BenchService, names: list[str]) -> dict[str, Path]:
    """The service's config rewritten: `accounts:`, one folder each, instead of the top-level inbox."""
    data = yaml.safe_load(svc.config_path.read_text())
    del data["inbox"]
    folders = {name: svc.root / "inboxes" / name for name in names}
    for folder in folders.values():
        folder.mkdir(parents=True)
    data["accounts"] = {name: {"inbox": str(folder)} for name, folder in folders.items()}
    svc.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folders


def startup(emulator: EmulatorServer, root: Path, master: bytes, *, accounts: int, pairs: int) -> dict[str, float]:
    """Seconds from spawning the service until every pair of every account is scheduled."""
    total = accounts * pairs
    with u.service(root, emulator, settle=SETTLE, config={"watch": {"mode": "events", "settle_seconds": SETTLE,
                                                                     "rescan_seconds": 300}}) as svc:
        if accounts == 1:
            fill(svc.inbox, master, pairs)
        else:
            for folder in with_accounts(svc, demo_account_names(accounts)).values():
                fill(folder, master, pairs)
        time.sleep(SETTLE + 0.2)   # files older than settle_seconds count at once at start-up
        t0 = time.time()
        svc.start(timeout=120)
        u.wait_scheduled(svc, total, 300)
        cpu = u.cpu_seconds(svc.pid)
        last = max(t for t, _v, _o, new in svc.transitions() if new == "scheduled")
        hwm = u.vm_hwm_mb(svc.pid)
    ready = last - t0
    u.log(f"{accounts} x {pairs}: all {total} scheduled {ready:.2f} s after spawn ({cpu:.1f} s CPU, peak RSS "
          f"{hwm:.0f} MB, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return {"ready": ready, "cpu": cpu, "hwm": hwm}


def startup_row(emulator: EmulatorServer, ws: Path, master: bytes, *, n: int, pairs: int,
                rounds: int) -> dict[str, Any]:
    total = n * pairs
    ones, manys = [], []
    for r in range(rounds):
        ones.append(startup(emulator, ws / f"one-{r}", master, accounts=1, pairs=total))
        manys.append(startup(emulator, ws / f"many-{r}", master, accounts=n, pairs=pairs))
    one = {k: u.median([x[k] for x in ones]) for k in ("ready", "cpu", "hwm")}
    many = {k: u.median([x[k] for x in manys]) for k in ("ready", "cpu", "hwm")}
    ratio, cpu_ratio = many["ready"] / one["ready"], many["cpu"] / one["cpu"]
    return {"figure": f"start-up: {n} accounts x {pairs} pairs vs 1 account x {total} -> all scheduled "
                      f"(events, median of {rounds})",
            "target": f"<= {STARTUP_RATIO:g}x",
            "result": f"{many['ready']:.1f} s ({many['cpu']:.1f} s CPU, {many['hwm']:.0f} MB) vs {one['ready']:.1f} s "
                      f"({one['cpu']:.1f} s CPU, {one['hwm']:.0f} MB) = {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU",
            "ok": ratio <= STARTUP_RATIO, "value": ratio}


# ----------------------------------------------------------------------------- memory (the child)
def child(root: Path, base_url: str, key: str, secret: str, n: int) -> dict[str, float]:
    from ralph_watch.config import load_config
    from ralph_watch.service import Service
    names = demo_account_names(n) if n > 1 else []
    port = _free_port()
    data: dict[str, Any] = {
        "state_dir": str(root / "state"), "timezone": "UTC",
        "watch": {"mode": "events", "settle_seconds": 1, "rescan_seconds": 300},
        "web": {"host": "127.0.0.1", "port": port},
        "tiktok": {"client_key": key, "client_secret": secret, "redirect_uri": f"http://127.0.0.1:{port}/callback",
                   "api_base": base_url, "authorize_url": f"{base_url}/v2/auth/authorize/", "limits": u.UNLIMITED},
    }
    if names:
        data["accounts"] = {name: {"inbox": str(root / "inboxes" / name)} for name in names}
    else:
        data["inbox"] = str(root / "inbox")
    for folder in [root / "inbox", *(root / "inboxes" / name for name in names)]:
        folder.mkdir(parents=True, exist_ok=True)
    service = Service(load_config(yaml.safe_dump(data, sort_keys=False), base_dir=root, environ={}))
    service.start()
    browser = httpx.Client(timeout=10)
    try:
        for k, name in enumerate(names or [None]):
            log_in(service, browser, name, open_id=f"emu-open-id-{k + 1:04d}")
        time.sleep(IDLE)   # the logins' follow-ups (avatars, wake-ups) done: idle
        gc.collect()
        rss = u.vm_rss_mb(os.getpid())
        logged_in = sum(1 for a in service.accounts() if a.get("logged_in"))
    finally:
        browser.close()
        service.shutdown(timeout=10)
    return {"rss_mb": rss, "logged_in": logged_in}


def log_in(service: Any, browser: httpx.Client, account: str | None, *, open_id: str) -> None:
    """The service's own OAuth flow, the consent form filled in as a person does, choosing `open_id`."""
    from ralph_watch.tiktok.oauth import new_pkce, new_state
    verifier, challenge = new_pkce()
    consent = browser.get(service.login_url(state=new_state(), code_challenge=challenge, account=account))
    form = parse_form(consent.text)
    data: dict[str, list[str]] = {}
    for k, v in form["fields"]:
        data.setdefault(k, []).append(v)
    data["open_id"], data["decision"] = [open_id], ["authorize"]
    back = browser.post(httpx.URL(str(consent.url)).join(form["action"]), data=data)
    params = dict(httpx.URL(back.headers["location"]).params)
    service.finish_login(code=params["code"], code_verifier=verifier, scopes=params.get("scopes"), account=account)


def _free_port() -> int:
    from tests.support.service import free_port
    return free_port()


def memory(emulator: EmulatorServer, root: Path, n: int) -> dict[str, float]:
    p = emulator.profile
    root.mkdir(parents=True)
    out = subprocess.run([sys.executable, __file__, "--child", str(n), "--root", str(root), "--base-url",
                          emulator.base_url, "--client-key", p.client_key, "--client-secret", p.client_secret],
                         check=True, capture_output=True, text=True, cwd=u.REPO)
    got: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    u.log(f"{n} account(s), {got['logged_in']} logged in, idle: VmRSS {got['rss_mb']:.1f} MB")
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("--pairs", type=int, default=200, help="pairs per account (one account gets accounts x pairs)")
    ap.add_argument("--rounds", type=int, default=3, help="start-up rounds, one and many alternating (medians)")
    ap.add_argument("--only", choices=["startup", "memory"])
    ap.add_argument("--child", type=int)
    ap.add_argument("--root", type=Path)
    ap.add_argument("--base-url")
    ap.add_argument("--client-key")
    ap.add_argument("--client-secret")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.root, args.base_url, args.client_key, args.client_secret, args.child)))
        return
    n = args.accounts
    rows: list[dict[str, Any]] = []
    emulator = emulator_for(n)
    try:
        with u.workspace("accounts") as ws:
            if args.only != "memory":
                (ws / "src").mkdir()
                master = small_mp4(ws / "src", "master.mp4", unique=False).read_bytes()
                rows.append(startup_row(emulator, ws, master, n=n, pairs=args.pairs, rounds=args.rounds))
            if args.only != "startup":
                single = memory(emulator, ws / "mem-1", 1)
                several = memory(emulator, ws / f"mem-{n}", n)
                per = (several["rss_mb"] - single["rss_mb"]) / (n - 1)
                rows.append({"figure": f"RSS per idle logged-in account (service with {n} vs 1, all logged in "
                                       "through the emulator's OAuth flow)",
                             "target": f"<= {TARGET_MB:g} MB",
                             "result": f"{per * 1000:.0f} kB ({single['rss_mb']:.1f} -> {several['rss_mb']:.1f} MB, "
                                       f"{several['logged_in']:.0f} logged in)",
                             "ok": per <= TARGET_MB and several["logged_in"] == n, "value": per})
    finally:
        emulator.stop()
    u.report(rows, f"Several accounts ({n})", COMMAND)


if __name__ == "__main__":
    sys.exit(main())
