"""Install files: the systemd user unit, the Dockerfile, compose.yaml, .dockerignore."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path

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


def unit_sections() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


class TestSystemdUnit:


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
