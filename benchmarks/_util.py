"""Shared pieces of the benchmarks: the machine, the emulator and the service as a subprocess
(the test harness's `ServiceProcess` with JSON log lines, so transitions carry milliseconds),
process memory/CPU from /proc, statistics and the printed table.

Benchmarks are not tests: they time things, print a table and (with --json) a machine-readable
line that `run_all.py` collects. Loopback only.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ralph_watch.emulator import EmulatorServer, load_profile  # noqa: E402
from tests.support.service import ServiceProcess  # noqa: E402

MiB = 1024 * 1024
GiB = 1024 * MiB
FAST = dict(processing_seconds=0.2, moderation_seconds=0.2)
# TikTok's pacing raised out of the way (both sides), for figures that measure us, not TikTok.
UNLIMITED = dict(window_seconds=1, retry_seconds=0.5, followup_seconds=1, delete_retry_seconds=1,
                 init_per_window=100_000, creator_info_per_window=100_000,
                 status_per_window=100_000, daily_posts=100_000, pending_drafts=100_000, **FAST)
RESULT_PREFIX = "BENCH-RESULT "


# ----------------------------------------------------------------------------- the machine
def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass

    def version(dist: str) -> str:
        try:
            from importlib.metadata import version as v
            return v(dist)
        except Exception:
            return "?"
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0].split(" ")[:2]
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": mem, "kernel": platform.release(),
            "python": platform.python_version(),
            "versions": ", ".join(f"{d} {version(d)}" for d in ("httpx", "bottle", "waitress", "watchdog", "av"))
            + f", {' '.join(curl)}"}


# ----------------------------------------------------------------------------- processes
def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MB (10^6 bytes)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) * 1024 / 1e6


def vm_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) * 1024 / 1e6


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_emulator(**limits: Any) -> EmulatorServer:
    profile = load_profile(None)
    profile = replace(profile, limits=replace(profile.limits, **{**FAST, **limits}))
    return EmulatorServer(profile, threads=8).start()


class BenchService(ServiceProcess):
    """ServiceProcess with JSON logs (millisecond timestamps) and a few readings."""

    def start(self, timeout: float = 60) -> "BenchService":
        from tests.support.wait import wait_until
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ralph_watch", "--log-level", "info", "--log-format", "json", "run",
             "-c", str(self.config_path)],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root)
        wait_until(self._healthy, timeout, f"the service to serve /healthz (log: {self.log_path})")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_entries(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def transitions(self) -> list[tuple[float, str, str, str]]:
        """(unix time, video, old, new) for every `task N VIDEO: OLD -> NEW` log line."""
        out = []
        for e in self.log_entries():
            m = re.match(r"task \S+ (\S+): (\w+) -> (\w+)", e.get("message", ""))
            if m:
                out.append((datetime.fromisoformat(e["time"]).timestamp(), *m.groups()))
        return out

    def counts(self) -> dict[str, int]:
        tasks = self.tasks()
        out: dict[str, int] = {}
        for t in tasks:
            out[t["state"]] = out.get(t["state"], 0) + 1
        return out


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """A scratch folder on the same disk as /tmp, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"ralph-bench-{prefix}-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def service(root: Path, emulator: EmulatorServer, *, limits: dict | None = None, settle: float = 0.3,
            config: dict | None = None) -> Iterator[BenchService]:
    svc = BenchService(root, emulator, settle=settle, limits={**FAST, **(limits or {})}, config=config)
    try:
        yield svc
    finally:
        try:
            svc.stop(timeout=30)
        except AssertionError:
            pass
        finally:
            svc.kill()
            svc.close()


def wait_for(pred, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll `pred` until truthy (benchmarks measure; a short fixed poll interval is part of the method)."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_scheduled(svc: "BenchService", n: int, timeout: float) -> None:
    """Until the service's log holds `n` "-> scheduled" transition lines. Read from the log as it
    is written, not from /api/tasks: asking for 10,000 tasks every half second costs the service
    CPU of its own (~0.3 s in a start-up)."""
    seen = [0, 0]   # [bytes read, lines counted]

    def enough() -> bool:
        with open(svc.log_path, "rb") as f:
            f.seek(seen[0])
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1
        seen[0] += cut
        seen[1] += chunk[:cut].count(b" -> scheduled")
        return seen[1] >= n
    wait_for(enough, timeout, f"{n} tasks scheduled", interval=0.1)


# ----------------------------------------------------------------------------- statistics & output
def median(xs: list[float]) -> float:
    return statistics.median(xs)


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def table(rows: list[dict[str, Any]], title: str) -> str:
    cols = ["figure", "target", "result", "ok"]
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) if cells else len(c) for i, c in enumerate(cols)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(cols, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], title: str, command: str) -> None:
    """Print the human table, then one machine line per row for run_all.py."""
    for r in rows:
        r.setdefault("command", command)
        r["ok"] = {True: "yes", False: "NO", None: "-"}[r.get("ok")] if not isinstance(r.get("ok"), str) else r["ok"]
    print(table(rows, title), flush=True)
    for r in rows:
        print(RESULT_PREFIX + json.dumps(r), flush=True)


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Sampler:
    """Samples a process's RSS in a thread (VmHWM is the real peak; this gives a time series)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, vm_rss_mb(self.pid))
            except (OSError, AttributeError):
                return

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
