"""Install files: the systemd user unit, the Dockerfile, compose.yaml, .dockerignore."""
from __future__ import annotations

import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.unit.test_contrib import healthcheck_code
from tests.unit.test_contrib import UNIT, verify  # the unit half's helpers, shared


@pytest.fixture
def user_env(tmp_path: Path) -> tuple[Path, Path]:
    """A HOME where %h/.local/bin/ralph-watch exists (verify checks ExecStart) and a 0700 runtime dir."""
    home = tmp_path / "home"
    stub = home / ".local/bin/ralph-watch"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    return home, runtime


def problems_in(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if "Unknown key" in line or "Unknown section" in line or "Failed" in line or "not executable" in line]


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Health,), {}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class TestSystemdUnit:
    def test_it_passes_systemd_analyze_verify(self, user_env: tuple[Path, Path]) -> None:
        result = verify(UNIT, *user_env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert problems_in(output) == [], output

    def test_it_would_catch_an_unknown_key(self, user_env: tuple[Path, Path], tmp_path: Path) -> None:
        # The check above is only worth something if verify reports a typo.
        broken = tmp_path / "ralph-watch.service"
        broken.write_text(UNIT.read_text().replace("RestartSec=5", "RestartSec=5\nRestartSecs=5"))
        result = verify(broken, *user_env)
        assert any("Unknown key" in line for line in problems_in(result.stdout + result.stderr))

    def test_its_credentials_lines_pass_verify_when_uncommented(self, user_env: tuple[Path, Path],
                                                                 tmp_path: Path) -> None:
        text = UNIT.read_text()
        creds = [line for line in text.splitlines() if line.startswith("#LoadCredential=")]
        names = sorted(line.split("=", 1)[1].split(":", 1)[0] for line in creds)
        assert names == ["tiktok_client_secret", "web_password"]  # the names config.py reads
        from ralph_watch.config import CREDENTIALS
        assert sorted(CREDENTIALS.values()) == names
        home, _runtime = user_env
        for line in creds:
            path = Path(line.split(":", 1)[1].replace("%h", str(home)))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("secret\n")
            text = text.replace(line, line[1:])
        unit = tmp_path / "ralph-watch.service"
        unit.write_text(text)
        result = verify(unit, *user_env)
        output = result.stdout + result.stderr
        assert result.returncode == 0 and problems_in(output) == [], output


class TestDockerfile:
    @pytest.mark.parametrize(("status", "exit_code"), [pytest.param(200, 0, id="healthy"), pytest.param(503, 1, id="unhealthy")])
    def test_its_healthcheck_command_reports_the_healthz_answer(
        self, health_server: ThreadingHTTPServer, status: int, exit_code: int
    ) -> None:
        health_server.RequestHandlerClass.status = status  # type: ignore[attr-defined]
        code = healthcheck_code().replace("127.0.0.1:8080", f"127.0.0.1:{health_server.server_address[1]}")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert result.returncode == exit_code, result.stderr
