"""The strict YAML loader: libyaml's events (`_load_c`) against the pure PyYAML path.

Per call, best of 5 rounds (timeit), in this process: the benchmark's sidecar, a typical full
sidecar, and every `ok-` file of the hostile corpus read one after the other.

    python benchmarks/bench_yaml.py
"""
from __future__ import annotations

import sys
import timeit

import _util as u

from ralph_watch.strictyaml import _CParser, _decode, _load_pure, load_strict

COMMAND = "python benchmarks/bench_yaml.py"
SMALL = b'privacy: private\nat: "2099-01-01 12:00"\n'
FULL = ('title: "Sunset over the bay #sunset \U0001F305"\nprivacy: public\nat: "2026-12-24 18:00"\n'
        "allow_comments: true\nallow_duet: false\nallow_stitch: false\ncover_ms: 1500\nai_generated: false\n"
        "promotion: none\nmode: direct\n").encode()


def per_call(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    corpus = [p.read_bytes() for p in sorted((u.REPO / "tests" / "corpus" / "sidecars").glob("ok-*.yaml"))]
    cases = [("benchmark sidecar (2 keys)", [SMALL]), ("full sidecar (10 keys)", [FULL]),
             (f"the {len(corpus)} ok- corpus files", corpus)]
    rows = []
    for label, datas in cases:
        texts = [_decode(d, "x") for d in datas]

        def fast(datas=datas) -> None:
            for d in datas:
                load_strict(d, path="x")

        def pure(texts=texts) -> None:
            for t in texts:
                _load_pure(t, path="x")
        n = max(1, 2000 // len(datas))
        f, p = per_call(fast, n), per_call(pure, max(1, n // 10))
        rows.append({"figure": f"load_strict, {label}", "target": "(reported)",
                     "result": f"{f * 1e6:.0f} us vs pure {p * 1e6:.0f} us = {p / f:.1f}x faster",
                     "ok": None, "value": f})
    title = f"Strict YAML loader (libyaml {'present' if _CParser is not None else 'ABSENT: both are pure'})"
    u.report(rows, title, COMMAND)


if __name__ == "__main__":
    sys.exit(main())
