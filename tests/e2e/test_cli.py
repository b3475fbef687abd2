"""Every command through the real entry point, `python -m ralph_watch ...`, as a person or a
script runs it: against a running service subprocess, the emulator alone, the demo, SIGHUP,
and the log in both formats. The TikTok side is the emulator (in this process, or the
demo's own)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from ralph_watch import __version__
from tests.support.service import REPO, ServiceProcess, free_port
from tests.support.videos import big_mp4, small_mp4
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
BERLIN = ZoneInfo("Europe/Berlin")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1",
       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ralph_watch", *args], cwd=cwd, capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=timeout)


class Background:
    """A long-running command (emulator, demo) with its output in a file."""

    def __init__(self, root: Path, *args: str) -> None:
        self.out = root / "out.log"
        self._f = open(self.out, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "ralph_watch", *args], cwd=root, env=ENV,
                                     stdout=self._f, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
        return True

    def terminate(self, timeout: float = 15) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._f.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._f.close()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def pair(folder: Path, name: str, sidecar: str) -> Path:
    video = small_mp4(folder, f"{name}.mp4")
    (folder / f"{name}.yaml").write_text(sidecar, encoding="utf-8")
    return video


class TestEntryPoint:
    def test_it_runs_as_python_dash_m_with_version_and_help(self, tmp_path):
        v = cli("--version", cwd=tmp_path)
        assert (v.returncode, v.stdout.strip()) == (0, f"ralph-watch {__version__}")
        h = cli("--help", cwd=tmp_path)
        assert h.returncode == 0
        assert all(c in h.stdout for c in ("run", "demo", "check", "emulator", "new", "status"))
        bare = cli(cwd=tmp_path)
        assert bare.returncode == 2 and "usage: ralph-watch" in bare.stdout

    def test_check_and_new_work_end_to_end(self, tmp_path):
        (tmp_path / "inbox").mkdir()
        small_mp4(tmp_path / "inbox", "clip.mp4")
        first = cli("check", cwd=tmp_path)
        assert first.returncode == 1 and "inbox/clip.mp4: no sidecar next to it" in first.stdout
        made = cli("new", "inbox/clip.mp4", "--title", 'Say "cheese" #smile 😀', "--privacy", "public",
                   cwd=tmp_path)
        assert (made.returncode, made.stdout.strip()) == (0, "wrote inbox/clip.yaml")
        again = cli("check", "--json", cwd=tmp_path)
        assert (again.returncode, json.loads(again.stdout)) == (0, [])


class TestCheckOnFifos:
    """`check` never opens a FIFO (it would wait for a writer forever) and names what it is."""

    def test_a_fifo_video_does_not_hang_check(self, tmp_path):
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        os.mkfifo(inbox / "clip.mp4")
        (inbox / "clip.yaml").write_text("title: hi\nprivacy: private\n", encoding="utf-8")
        r = cli("check", "--json", cwd=tmp_path, timeout=60)   # TimeoutExpired = the hang is back
        assert r.returncode == 1, r.stderr
        (problem,) = json.loads(r.stdout)
        assert problem["path"].endswith("inbox/clip.mp4") and "pipe (FIFO)" in problem["message"], problem
        one = cli("check", "inbox/clip.mp4", cwd=tmp_path, timeout=60)
        assert one.returncode == 1 and "pipe (FIFO), not a video file" in one.stdout, one.stdout + one.stderr

    def test_a_fifo_sidecar_is_named_as_a_fifo(self, tmp_path):
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        small_mp4(inbox, "clip.mp4")
        os.mkfifo(inbox / "clip.yaml")
        r = cli("check", "--json", cwd=tmp_path, timeout=60)
        assert r.returncode == 1, r.stderr
        (problem,) = json.loads(r.stdout)
        assert problem["path"].endswith("inbox/clip.yaml") and "pipe (FIFO), not a sidecar file" in problem["message"]


class TestRunWithABadConfig:
    def test_it_exits_2_with_one_message_per_problem_naming_the_key(self, tmp_path):
        (tmp_path / "config.yaml").write_text("watch:\n  mode: sometimes\nweb:\n  port: 99999\nnotify:\n"
                                              "  events: [published, exploded]\n")
        r = cli("run", "-c", "config.yaml", cwd=tmp_path, env={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
        assert r.returncode == 2, r.stderr
        problems = [ln for ln in r.stderr.splitlines() if ln.startswith("  ")]
        assert len(problems) == 3, r.stderr
        for key in ("watch.mode", "web.port", "notify.events"):
            assert any(key in p for p in problems), (key, r.stderr)
        assert not (tmp_path / "inbox").exists()  # nothing was started


class TestStatus:
    def test_it_prints_a_table_and_the_json_array_of_the_running_service(self, service):
        pair(service.inbox, "later", 'title: "Table test"\nprivacy: private\nat: "2031-06-01 18:00"\n')
        pair(service.inbox, "broken", 'title: "x"\nprivacy: no\n')
        service.wait_state("later.mp4", "scheduled", "needs_login")
        service.wait_state("broken.mp4", "invalid")
        table = cli("status", "-c", str(service.config_path), cwd=service.root)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split() == ["STATE", "DUE", "VIDEO", "TITLE", "ERROR"]
        later = next(ln for ln in lines if "later.mp4" in ln)
        assert "2031-06-01 18:00" in later and "Table test" in later  # due in the config's local time
        broken = next(ln for ln in lines if "broken.mp4" in ln)
        assert broken.startswith("invalid") and "broken.yaml:2" in broken
        as_json = cli("status", "-c", str(service.config_path), "--json", cwd=service.root)
        assert as_json.returncode == 0
        assert {t["video"]: t["state"] for t in json.loads(as_json.stdout)}["broken.mp4"] == "invalid"
        assert json.loads(as_json.stdout) == service.tasks()

    def test_it_exits_1_once_the_service_is_gone(self, service):
        service.stop()
        r = cli("status", "-c", str(service.config_path), cwd=service.root)
        assert r.returncode == 1 and "not reachable" in r.stderr and "is it running?" in r.stderr

    def test_it_reads_the_password_from_the_environment_in_password_mode(self, make_service):
        svc = make_service(config={"web": {"password": "${RALPH_WATCH_PASSWORD}"}},
                           env={"RALPH_WATCH_PASSWORD": "correct horse battery"}).start()
        pair(svc.inbox, "p", "privacy: private\nat: \"2031-01-01 10:00\"\n")
        ok = cli("status", "-c", str(svc.config_path), "--json", cwd=svc.root,
                 env={"RALPH_WATCH_PASSWORD": "correct horse battery"})
        assert ok.returncode == 0, ok.stderr
        assert isinstance(json.loads(ok.stdout), list)
        wrong = cli("status", "-c", str(svc.config_path), cwd=svc.root, env={"RALPH_WATCH_PASSWORD": "wrong"})
        assert wrong.returncode == 1
        assert "answered 401" in wrong.stderr and "RALPH_WATCH_PASSWORD" in wrong.stderr


class TestEmulatorCommand:
    def test_it_starts_answers_and_stops_on_sigterm(self, tmp_path):
        port = free_port()
        emu = Background(tmp_path, "emulator", "--port", str(port))
        try:
            wait_until(lambda: emu.alive() and answers(f"http://127.0.0.1:{port}/_emulator/stats"), 30,
                       "the emulator to answer")
            assert httpx.get(f"http://127.0.0.1:{port}/_emulator/posts").json() == []
            assert f"TikTok emulator listening on http://127.0.0.1:{port}" in emu.text()
            assert emu.terminate() == 0
        finally:
            emu.kill()


class TestDemo:
    def test_the_sample_publishes_after_logging_in_through_the_consent_form(self, tmp_path):
        port = free_port()
        inbox, state = tmp_path / "in", tmp_path / "state"
        demo = Background(tmp_path, "demo", "--sample", "--port", str(port), "--inbox", str(inbox),
                          "--state-dir", str(state))
        base = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=base, timeout=10)
        try:
            wait_until(lambda: demo.alive() and answers(f"{base}/healthz"), 60, "the demo to serve its page")
            assert f"open http://127.0.0.1:{port}/" in demo.text()
            assert (inbox / "sample.mp4").exists() and (inbox / "sample.yaml").exists()
            # The same redirects and consent form as a person's browser (tests/support/service.py).
            assert ServiceProcess.login(SimpleNamespace(http=http)).status_code == 303

            def published():
                demo.alive()
                return any(t["video"] == "sample.mp4" and t["state"] == "published"
                           for t in http.get("/api/tasks").json())
            wait_until(published, 60, "the sample to be published")
            assert not (inbox / "sample.mp4").exists() and not (inbox / "sample.yaml").exists()
            emu_url = re.search(r"TikTok emulator: (http://127\.0\.0\.1:\d+)/", demo.text()).group(1)
            posts = httpx.get(f"{emu_url}/_emulator/posts").json()
            assert [p["post_info"]["title"] for p in posts] == ["Hello from ralph-watch #demo"]
            assert demo.terminate() == 0
        finally:
            http.close()
            demo.kill()


class JsonLogService(ServiceProcess):
    """The service with `--log-format json`."""

    def start(self, timeout: float = 30) -> "JsonLogService":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ralph_watch", "--log-format", "json", "run", "-c", str(self.config_path)],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root)
        wait_until(self._healthy, timeout, f"the service to serve /healthz (log: {self.log_path})")
        return self


class TestLogs:
    def test_json_lines_one_per_transition_with_the_task_id_and_upload_progress(self, tmp_path, emulator):
        svc = JsonLogService(tmp_path, emulator, limits={"processing_seconds": 0.2, "moderation_seconds": 0.2})
        try:
            svc.start()
            svc.login()
            (tmp_path / "src").mkdir()
            src = big_mp4(tmp_path / "src")
            (svc.inbox / "big.yaml").write_text("privacy: private\n")
            os.replace(src, svc.inbox / "big.mp4")
            task = svc.wait_state("big.mp4", "published", timeout=120)
            svc.stop()
        finally:
            svc.kill()
            svc.close()
        entries = [json.loads(line) for line in svc.log_text().splitlines() if line.strip()]
        assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
        mine = [e["message"] for e in entries if e["message"].startswith(f"task {task['id']} big.mp4: ")]
        steps = [m.split(": ", 1)[1].split(":")[0] for m in mine if " -> " in m]
        assert steps[-3:] == ["scheduled -> uploading", "uploading -> processing", "processing -> published"]
        assert len(steps) == len(set(steps))  # one line per transition
        progress = [e["message"] for e in entries if re.search(rf"task {task['id']} \(big\.mp4\): uploaded", e["message"])]
        percents = [int(re.search(r"uploaded (\d+)%", m).group(1)) for m in progress]
        assert percents[-1] == 100 and 5 <= len(percents) <= 30, progress
        assert all(re.search(r"\(\d+\.\d of \d+\.\d MB\) at \d+\.\d\d MB/s$", m) for m in progress)


def edit_config(svc: ServiceProcess, change) -> None:
    data = yaml.safe_load(svc.config_path.read_text())
    change(data)
    svc.config_path.write_text(yaml.safe_dump(data))


def hangup(svc: ServiceProcess, mark: str) -> None:
    before = svc.log_text().count(mark)
    svc.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: svc.log_text().count(mark) > before, 20, f"{mark!r} in the log after SIGHUP")


class TestSighup:
    def test_it_applies_defaults_and_late_grace_keeps_the_login_and_reports_what_needs_a_restart(
            self, make_service, emulator):
        svc = make_service(config={"schedule": {"late_grace_minutes": 60}}).start()
        assert svc.login().status_code == 303
        three_hours_ago = (datetime.now(BERLIN) - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
        pair(svc.inbox, "late", f'privacy: private\nat: "{three_hours_ago}"\n')
        pair(svc.inbox, "bare", 'title: "no privacy line"\n')
        svc.wait_state("late.mp4", "missed")
        svc.wait_state("bare.mp4", "invalid")
        old_port = svc.port

        def change(data):
            data["schedule"]["late_grace_minutes"] = 600
            data["defaults"] = {"privacy": "private"}
            data["web"]["port"] = free_port()
            data["inbox"] = str(svc.root / "other-inbox")
        edit_config(svc, change)
        hangup(svc, "SIGHUP: applied")
        log = svc.log_text()
        assert "SIGHUP: applied schedule.late_grace_minutes, defaults" in log and "the login is kept" in log
        assert re.search(r"SIGHUP: inbox, web\.port changed in .*; restart ralph-watch to apply", log), log
        # Still logged in (no new login), still on the old port and inbox: both pairs go out.
        svc.wait_state("late.mp4", "published")
        svc.wait_state("bare.mp4", "published")
        assert svc.port == old_port and svc.http.get("/healthz").json()["logged_in"] is True
        assert sorted(p["post_info"]["privacy_level"] for p in emulator.posts()) == ["SELF_ONLY", "SELF_ONLY"]
        assert emulator.stats()["inits"] == 2
        assert not (svc.root / "other-inbox").exists()

    def test_a_broken_config_is_reported_and_the_running_one_stays(self, service):
        service.login()
        service.config_path.write_text("watch:\n  settle_seconds: soon\n")
        hangup(service, "has problems, so the running config stays")
        assert "watch.settle_seconds" in service.log_text()
        pair(service.inbox, "still", "privacy: private\n")
        service.wait_state("still.mp4", "published")
        assert service.http.get("/healthz").json()["logged_in"] is True
