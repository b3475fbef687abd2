"""Install files: the systemd user unit, the Dockerfile, compose.yaml, .dockerignore."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "contrib/systemd/ralph-watch.service"
ENV_EXAMPLE = ROOT / "contrib/systemd/ralph-watch.env.example"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd")
    return path


def verify(unit: Path, home: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(runtime), SYSTEMD_LOG_COLOR="0")
    return subprocess.run(
        [systemd_analyze(), "verify", "--user", "--man=no", str(unit)],
        env=env, capture_output=True, text=True, timeout=60,
    )


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


def unit_sections() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def problems_in(output: str) -> list[str]:
    return [line for line in output.splitlines()
            if "Unknown key" in line or "Unknown section" in line or "Failed" in line or "not executable" in line]


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

    def test_it_tells_to_keep_secrets_out_of_shell_history(self) -> None:
        text = UNIT.read_text()
        assert "install -m 600" in text and "mode 600" in text and "history" in text
        assert not any(line.lstrip("# ").startswith("export ") for line in text.splitlines())

    @pytest.mark.parametrize(
        ("section", "key", "value"),
        [
            pytest.param("Service", "ExecStart", "%h/.local/bin/ralph-watch run -c %h/.config/ralph-watch/config.yaml",
                         id="exec-start"),
            pytest.param("Service", "EnvironmentFile", "-%h/.config/ralph-watch/env", id="environment-file"),
            pytest.param("Service", "Restart", "on-failure", id="restart"),
            pytest.param("Service", "RestartSec", "5", id="restart-sec"),
            pytest.param("Service", "KillSignal", "SIGTERM", id="kill-signal"),
            pytest.param("Service", "TimeoutStopSec", "20", id="timeout-stop"),
            pytest.param("Service", "LimitCORE", "0", id="no-core-dumps"),
            pytest.param("Service", "NoNewPrivileges", "yes", id="no-new-privileges"),
            pytest.param("Install", "WantedBy", "default.target", id="wanted-by"),
        ],
    )
    def test_it_sets(self, section: str, key: str, value: str) -> None:
        assert unit_sections()[section][key] == value

    def test_it_uses_no_setting_that_needs_namespaces_in_a_user_manager(self) -> None:
        service = unit_sections()["Service"]
        for key in ("PrivateTmp", "ProtectSystem", "ProtectHome", "User", "Group"):
            assert key not in service, f"{key} does not work in a user unit without user namespaces"

    def test_it_ships_an_env_example_with_every_secret_name(self) -> None:
        names = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines()
                 if line and not line.startswith("#")}
        assert names == {"TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET", "RALPH_WATCH_PASSWORD"}
        assert all(line.endswith("=") for line in ENV_EXAMPLE.read_text().splitlines()
                   if line and not line.startswith("#")), "the example must not carry values"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, args = full.partition(" ")
        out.append((word.upper(), args.strip()))
    return out


def instruction(name: str) -> list[str]:
    return [args for word, args in dockerfile_instructions() if word == name]


def healthcheck_code() -> str:
    args = instruction("HEALTHCHECK")[-1]
    exec_form = json.loads(args[args.index("CMD") + 3:].strip())
    assert exec_form[:2] == ["python", "-c"]
    return exec_form[2]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


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


class TestDockerfile:
    def test_it_builds_from_python_slim(self) -> None:
        assert instruction("FROM") == ["python:3.11-slim"]

    def test_it_runs_as_a_non_root_user_before_the_entrypoint(self) -> None:
        words = [w for w, _ in dockerfile_instructions()]
        users = instruction("USER")
        assert users and users[-1] not in ("root", "0", "0:0")
        assert words.index("USER") < words.index("ENTRYPOINT")

    def test_it_installs_the_package(self) -> None:
        assert any("pip install" in run and '".[notify]"' in run for run in instruction("RUN"))

    def test_it_declares_the_data_volumes_and_the_port(self) -> None:
        assert set(json.loads(instruction("VOLUME")[0])) == {"/data/inbox", "/data/state"}
        assert instruction("EXPOSE") == ["8080"]

    def test_it_has_the_entrypoint_and_command(self) -> None:
        assert json.loads(instruction("ENTRYPOINT")[0]) == ["ralph-watch"]
        assert json.loads(instruction("CMD")[0]) == ["run", "-c", "/config/config.yaml"]

    def test_it_checks_health_with_python_not_curl(self) -> None:
        [args] = instruction("HEALTHCHECK")
        assert "curl" not in args and "/healthz" in healthcheck_code()

    @pytest.mark.parametrize(("status", "exit_code"), [pytest.param(200, 0, id="healthy"), pytest.param(503, 1, id="unhealthy")])
    def test_its_healthcheck_command_reports_the_healthz_answer(
        self, health_server: ThreadingHTTPServer, status: int, exit_code: int
    ) -> None:
        health_server.RequestHandlerClass.status = status  # type: ignore[attr-defined]
        code = healthcheck_code().replace("127.0.0.1:8080", f"127.0.0.1:{health_server.server_address[1]}")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert result.returncode == exit_code, result.stderr

    def test_it_explains_that_a_container_needs_a_password(self) -> None:
        text = DOCKERFILE.read_text()
        assert "web.host: 0.0.0.0" in text and "web.password" in text


class TestCompose:
    @pytest.fixture
    def service(self) -> dict:
        doc = yaml.safe_load(COMPOSE.read_text())
        [svc] = doc["services"].values()
        return svc

    def test_it_publishes_the_port_on_host_loopback_only(self, service: dict) -> None:
        assert service["ports"] and all(str(p).startswith("127.0.0.1:") for p in service["ports"])

    def test_it_mounts_inbox_state_and_config(self, service: dict) -> None:
        targets = {v.split(":")[1] for v in service["volumes"]}
        assert targets == {"/data/inbox", "/data/state", "/config/config.yaml"}
        assert any(v.endswith("/config/config.yaml:ro") for v in service["volumes"])

    def test_it_reads_secrets_from_an_env_file_and_restarts(self, service: dict) -> None:
        assert service["env_file"]
        assert service["restart"] == "unless-stopped"

    def test_it_checks_health_at_healthz_and_disables_core_dumps(self, service: dict) -> None:
        assert "/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["ulimits"]["core"] == 0


class TestDockerignore:
    @pytest.mark.parametrize("entry", ["*.env", "inbox", "state", "config.yaml", ".git", "tests"])
    def test_it_keeps_secrets_and_data_out_of_the_build_context(self, entry: str) -> None:
        assert entry in DOCKERIGNORE.read_text().splitlines()
