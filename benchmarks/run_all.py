"""Run every benchmark (one after another: they share two cores) and print one table.

    python benchmarks/run_all.py            # the full set, about 10 minutes
    python benchmarks/run_all.py --quick    # fewer runs and a shorter idle window (a smoke run)
    python benchmarks/run_all.py --markdown # also print the rows as a BENCHMARKS.md table

Each script also runs alone (`python benchmarks/bench_upload.py`); this one collects their
`BENCH-RESULT` lines. Benchmarks are not tests: nothing here is collected by pytest.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import _util as u

HERE = Path(__file__).resolve().parent
FULL = [
    ("bench_upload.py", []),
    ("bench_memory.py", []),
    ("bench_detect.py", []),
    ("bench_inbox.py", []),
    ("bench_yaml.py", []),
    ("bench_schedule.py", []),
    ("bench_lateness.py", []),
    ("bench_web.py", []),
    ("bench_clients.py", []),
    ("bench_accounts.py", []),
]
QUICK = {
    "bench_upload.py": ["--runs", "1"],
    "bench_memory.py": ["--tasks", "2000"],
    "bench_detect.py": ["--runs", "2"],
    "bench_inbox.py": ["--idle", "10"],
    "bench_schedule.py": ["--tasks", "60", "--spread", "30"],
    "bench_lateness.py": ["--pairs", "20"],
    "bench_web.py": ["--seconds", "5"],
    "bench_clients.py": ["--clients", "10"],
    "bench_accounts.py": ["--accounts", "10", "--pairs", "100", "--rounds", "1"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated script names to run")
    args = ap.parse_args()
    rows: list[dict] = []
    failed: list[str] = []
    began = time.monotonic()
    for script, extra in FULL:
        if args.only and script not in args.only.split(","):
            continue
        extra = QUICK.get(script, []) if args.quick else extra
        print(f"== {script} {' '.join(extra)}", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(HERE / script), *extra], capture_output=True, text=True)
        sys.stderr.write(proc.stderr if proc.returncode else "")
        for line in proc.stdout.splitlines():
            if line.startswith(u.RESULT_PREFIX):
                rows.append(json.loads(line[len(u.RESULT_PREFIX):]))
            else:
                print(line)
        if proc.returncode:
            failed.append(script)
            rows.append({"figure": script, "target": "", "result": f"FAILED (exit {proc.returncode})", "ok": "NO",
                         "command": f"python benchmarks/{script}"})
        print(f"   ({time.monotonic() - t0:.0f} s)\n", flush=True)
    print(u.table(rows, f"All figures ({time.monotonic() - began:.0f} s in all)"))
    m = u.machine()
    print("\nMachine: " + "; ".join(f"{k} {v}" for k, v in m.items()))
    if args.markdown:
        print("\n| figure | target | result | ok | command |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['figure']} | {r['target']} | {r['result']} | {r['ok']} | `{r['command']}` |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
