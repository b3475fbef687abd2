"""The process keeps its secrets out of reach (issue 12 item 14): no core dumps, not dumpable.

Hardening is checked in a child process: marking pytest itself non-dumpable would outlive the test.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.service import free_port

from ralph_watch import cli

REPO = Path(__file__).resolve().parents[2]
CHILD = """
import json, resource
from ralph_watch.hardening import dumpable, harden
before = dumpable()
problems = harden()
print(json.dumps({"before": before, "after": dumpable(), "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
                  "problems": problems}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_it_switches_core_dumps_off_and_marks_the_process_non_dumpable() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=REPO, timeout=60,
                         check=True).stdout
    assert json.loads(out) == {"before": True, "after": False, "core": [0, 0], "problems": []}


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_harden_before_the_service_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       command: str) -> None:
    order: list[str] = []
    monkeypatch.setattr("ralph_watch.hardening.harden", lambda: order.append("harden") or [])

    class FakeService:
        def __init__(self, *_a: object, **_k: object) -> None:
            order.append("service")

        def run_forever(self) -> None:
            order.append("run")

    class FakeEmulator:
        base_url = "http://127.0.0.1:9"

        def __init__(self, *_a: object, **_k: object) -> None:
            pass

        def start(self) -> "FakeEmulator":
            return self

        def stop(self) -> None:
            pass

    monkeypatch.setattr("ralph_watch.service.Service", FakeService)
    monkeypatch.setattr("ralph_watch.emulator.EmulatorServer", FakeEmulator)
    if command == "run":
        cfg = tmp_path / "config.yaml"
        (tmp_path / "in").mkdir()  # `run` refuses a missing inbox (issue 14)
        port = free_port()
        cfg.write_text(f"inbox: {tmp_path / 'in'}\nstate_dir: {tmp_path / 'state'}\n"
                       f"web:\n  port: {port}\ntiktok:\n  redirect_uri: http://127.0.0.1:{port}/callback\n")
        monkeypatch.setenv("TIKTOK_CLIENT_KEY", "k")
        monkeypatch.setenv("TIKTOK_CLIENT_SECRET", "s3cret")
        code = cli.cmd_run(SimpleNamespace(config=cfg))
    else:
        code = cli.cmd_demo(SimpleNamespace(profile=None, emulator_port=0, state_dir=tmp_path / "state",
                                            inbox=tmp_path / "in", port=free_port(), settle_seconds=1.0, sample=False,
                                            accounts=1))
    assert code == 0
    assert order == ["harden", "service", "run"]
