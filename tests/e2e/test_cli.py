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
from tests.support.service import REPO, ServiceProcess, free_port, parse_form
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

    def __init__(self, root: Path, *args: str, env: dict | None = None, out: str = "out.log") -> None:
        self.out = root / out
        self._f = open(self.out, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "ralph_watch", *args], cwd=root, env={**ENV, **(env or {})},
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


def _consent(http: httpx.Client, account: str) -> tuple[httpx.Response, dict]:
    r = http.get("/login", params={"account": account})
    assert r.status_code in (302, 303), r.text
    page = httpx.get(r.headers["location"], timeout=10)
    return page, parse_form(page.text)


class TestDemoAccounts:
    def test_two_accounts_each_with_its_inbox_its_sample_and_its_own_creator(self, tmp_path):
        port = free_port()
        inbox, state = tmp_path / "in", tmp_path / "state"
        demo = Background(tmp_path, "demo", "--accounts", "2", "--sample", "--port", str(port), "--inbox", str(inbox),
                          "--state-dir", str(state))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        try:
            wait_until(lambda: demo.alive() and answers(f"http://127.0.0.1:{port}/healthz"), 60, "the demo to serve")
            out = demo.text()
            assert "inboxes (2 accounts):" in out
            assert f"main: {inbox.resolve() / 'main'} (log in as Ralph Emulator)" in out
            assert f"brand: {inbox.resolve() / 'brand'} (log in as Brand Emulator)" in out
            for name in ("main", "brand"):
                assert (inbox / name / "sample.mp4").exists() and (inbox / name / "sample.yaml").exists()
            assert not (inbox / "sample.mp4").exists()
            page, form = _consent(http, "brand")
            # TikTok's account switcher: the consent page offers both creators
            assert 'value="emu-open-id-0001"' in page.text and 'value="emu-open-id-0002"' in page.text
            data: dict[str, list[str]] = {}
            for k, v in form["fields"]:
                data.setdefault(k, []).append(v)
            data["open_id"], data["decision"] = ["emu-open-id-0002"], ["authorize"]
            back = httpx.post(httpx.URL(str(page.url)).join(form["action"]), data=data, timeout=10)
            assert http.get(httpx.URL(back.headers["location"]).raw_path.decode()).status_code == 303
            emu_url = re.search(r"TikTok emulator: (http://127\.0\.0\.1:\d+)/", out).group(1)

            def posted():
                demo.alive()
                return [p["open_id"] for p in httpx.get(f"{emu_url}/_emulator/posts").json()]
            wait_until(lambda: posted() == ["emu-open-id-0002"], 60, "brand's sample on brand's creator")
            wait_until(lambda: not (inbox / "brand" / "sample.mp4").exists(), 30, "brand's sample to go")
            assert (inbox / "main" / "sample.mp4").exists()   # main is not logged in: it waits
            assert demo.terminate() == 0
        finally:
            http.close()
            demo.kill()

    @pytest.mark.parametrize("n", ["0", "51"])
    def test_a_count_out_of_range_is_one_line_and_exit_2(self, tmp_path, n):
        r = cli("demo", "--accounts", n, "--inbox", "in", "--state-dir", "st", cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.strip() == f"ralph-watch demo: --accounts: give 1 to 50, not {n}"
        assert not (tmp_path / "in").exists()


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


# -- issue 14: the commands tell the same truth as the service --------------------------------------
def local(dt: datetime, tz: ZoneInfo = ZoneInfo("UTC")) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


class TestCheckAgreesWithTheService:
    def test_a_sidecar_without_its_video_is_still_linted(self, tmp_path):
        (tmp_path / "inbox").mkdir()
        (tmp_path / "inbox" / "clip.yaml").write_text('title: "x"\nprivacy: nobody\ncron: "0 25 * * *"\n')
        r = cli("check", "inbox/clip.yaml", cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("inbox/clip.yaml:2: ") and "privacy" in lines[0], r.stdout
        assert lines[1].startswith("inbox/clip.yaml:3: ") and "cron" in lines[1], r.stdout
        assert lines[-1].startswith("inbox/clip.yaml: no video next to it"), r.stdout

    def test_an_at_past_the_grace_is_a_problem_and_within_it_a_warning(self, tmp_path):
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        now = datetime.now(ZoneInfo("UTC"))
        pair(inbox, "old", f'privacy: private\nat: "{local(now - timedelta(hours=7))}"\n')
        r = cli("check", "inbox/old.mp4", cwd=tmp_path, env={"TZ": "UTC"})
        assert r.returncode == 1, r.stdout + r.stderr
        assert "inbox/old.yaml:2: `at: " in r.stdout and "more than 6 h in the past" in r.stdout
        pair(inbox, "late", f'privacy: private\nat: "{local(now - timedelta(hours=1))}"\n')
        w = cli("check", "inbox/late.mp4", cwd=tmp_path, env={"TZ": "UTC"})
        assert w.returncode == 0, w.stdout + w.stderr
        assert "inbox/late.yaml:2: warning: " in w.stdout and "published as soon as" in w.stdout
        as_json = cli("check", "--json", "inbox/late.mp4", cwd=tmp_path, env={"TZ": "UTC"})
        assert json.loads(as_json.stdout) == [] and "warning:" in as_json.stderr

    def test_a_cover_past_the_end_is_refused_by_check_and_by_the_service(self, service):
        pair(service.inbox, "cover", "privacy: private\ncover_ms: 5000\n")
        r = cli("check", "-c", str(service.config_path), str(service.inbox / "cover.mp4"), cwd=service.root)
        assert r.returncode == 1
        assert "cover.yaml:2: cover_ms: 5000 is past the end of the video" in r.stdout, r.stdout
        t = service.wait_state("cover.mp4", "invalid")
        assert "cover.yaml:2: cover_ms: 5000 is past the end of the video" in t["error"]

    def test_it_warns_when_upload_max_rate_outlasts_tiktoks_upload_link(self, tmp_path):
        from tests.support.videos import padded_mp4
        (tmp_path / "config.yaml").write_text('upload:\n  max_rate: 64KiB/s\n')
        (tmp_path / "inbox").mkdir()
        padded_mp4(tmp_path / "inbox", "huge.mp4", total_bytes=300_000_000)
        (tmp_path / "inbox" / "huge.yaml").write_text("privacy: private\n")
        r = cli("check", cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "inbox/huge.mp4: warning: at upload.max_rate 66 kB/s this 300 MB video takes about 76 minutes" \
            in r.stdout, r.stdout

    def test_it_reads_dot_config_yaml_names_it_and_its_zone_on_stderr(self, tmp_path):
        (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\n")
        (tmp_path / "inbox").mkdir()
        pair(tmp_path / "inbox", "gap", 'privacy: private\nat: "2031-03-30 02:30"\n')  # a DST gap in Berlin only
        r = cli("check", "--json", cwd=tmp_path, env={"TZ": "UTC"})
        assert r.returncode == 1
        assert "does not exist in Europe/Berlin" in json.loads(r.stdout)[0]["message"]
        assert "using config.yaml, time zone Europe/Berlin" in r.stderr
        (tmp_path / "utc.yaml").write_text("timezone: UTC\n")
        o = cli("check", "-c", "utc.yaml", "--json", cwd=tmp_path)
        assert (o.returncode, json.loads(o.stdout)) == (0, []), o.stdout
        assert "using utc.yaml, time zone UTC" in o.stderr


class TestNewRefusesWhatTheServiceRefuses:
    def test_a_text_file_named_mp4_gets_no_sidecar(self, tmp_path):
        (tmp_path / "notes.mp4").write_text("shopping list: milk, eggs\n")
        r = cli("new", "notes.mp4", "--privacy", "private", cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stderr.startswith("ralph-watch new: notes.mp4: ") and "no sidecar was written" in r.stderr
        assert not (tmp_path / "notes.yaml").exists()

    def test_a_cover_past_the_end_is_refused(self, tmp_path):
        small_mp4(tmp_path, "clip.mp4")
        r = cli("new", "clip.mp4", "--privacy", "private", "--cover-ms", "9000", cwd=tmp_path)
        assert r.returncode == 2 and "--cover-ms: cover_ms: 9000 is past the end" in r.stderr, r.stderr
        assert not (tmp_path / "clip.yaml").exists()


class TestJunkAfterAVideo:
    def test_check_accepts_a_complete_mp4_and_webm_with_1000_random_bytes_appended(self, tmp_path):
        from tests.support.videos import video
        for name, kw in (("a.mp4", {}), ("b.webm", {"codec": "vp9"})):
            path = video(tmp_path, name, **kw)
            path.write_bytes(path.read_bytes() + os.urandom(1000))
            (tmp_path / (path.stem + ".yaml")).write_text("privacy: private\n")
        r = cli("check", ".", cwd=tmp_path)
        assert r.returncode == 0, r.stdout
        assert "2 pair(s) checked: no problems" in r.stderr



# -- issue 14: start-up that cannot go wrong quietly ----------------------------------------------
def run_config(root: Path, **data) -> Path:
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


KEYS = {"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"}


class TestStartUp:
    def test_a_busy_port_is_one_line_and_exit_2_for_run_and_demo(self, tmp_path):
        import socket
        (tmp_path / "inbox").mkdir()
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            run_config(tmp_path, inbox="inbox", state_dir="state", web={"port": port})
            r = cli("run", "-c", "config.yaml", cwd=tmp_path, env=KEYS)
            assert (r.returncode, r.stderr) == (2, f"ralph-watch: port {port} is in use; choose another web.port "
                                                   "in config.yaml\n"), r.stderr
            d = cli("demo", "--port", str(port), "--inbox", "in", "--state-dir", "st", cwd=tmp_path)
            assert (d.returncode, d.stderr) == (2, f"ralph-watch: port {port} is in use; choose another with "
                                                   "--port\n"), d.stderr

    def test_a_missing_inbox_is_refused_and_never_created(self, tmp_path):
        inbox = tmp_path / "mnt" / "nas" / "inbox"
        run_config(tmp_path, inbox=str(inbox), state_dir="state", web={"port": free_port()})
        r = cli("run", "-c", "config.yaml", cwd=tmp_path, env=KEYS)
        assert r.returncode == 2
        assert r.stderr == f"ralph-watch: inbox {inbox} does not exist; is the share mounted?\n"
        assert not (tmp_path / "mnt").exists()

    def test_the_start_up_log_names_the_zone(self, service):
        wait_until(lambda: "ralph-watch is running: " in service.log_text(), 10, "the start-up line")
        assert "time zone Europe/Berlin" in service.log_text()

    def test_problems_log_at_warning_so_log_level_warning_shows_them(self, tmp_path, emulator):
        class Quiet(ServiceProcess):
            def start(self, timeout: float = 30) -> "Quiet":
                self._log = open(self.log_path, "ab")
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "ralph_watch", "--log-level", "warning", "run", "-c",
                     str(self.config_path)], stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root)
                wait_until(self._healthy, timeout, "the service to serve /healthz")
                return self
        svc = Quiet(tmp_path, emulator)
        try:
            svc.start()
            pair(svc.inbox, "bad", 'privacy: nobody\n')
            pair(svc.inbox, "good", 'privacy: private\nat: "2031-01-01 10:00"\n')
            svc.wait_state("bad.mp4", "invalid")
            svc.wait_state("good.mp4", "scheduled", "needs_login")
            svc.stop()
        finally:
            svc.kill()
            svc.close()
        text = svc.log_text()
        assert re.search(r"WARNING.*bad\.mp4: .*-> invalid", text), text
        assert "good.mp4" not in text


class TestDemoStartUp:
    def test_two_demos_with_their_own_inboxes_run_side_by_side_in_the_machines_zone(self, tmp_path):
        env = {"HOME": str(tmp_path / "home"), "TZ": "America/New_York"}
        ports = [free_port(), free_port()]
        demos = [Background(tmp_path, "demo", "--port", str(p), "--inbox", f"in{i}", env=env, out=f"demo{i}.log")
                 for i, p in enumerate(ports)]
        try:
            for d, p in zip(demos, ports):
                wait_until(lambda: d.alive() and answers(f"http://127.0.0.1:{p}/healthz"), 60, "both demos to serve")
            states = sorted(x.name for x in (tmp_path / "home/.local/state/ralph-watch-demo").iterdir())
            assert len(states) == 2 and states[0].startswith("in0-") and states[1].startswith("in1-")
            assert "time zone: America/New_York" in demos[0].text()
            page = httpx.get(f"http://127.0.0.1:{ports[0]}/", timeout=10).text
            emu_url = re.search(r"TikTok emulator: (http://127\.0\.0\.1:\d+/)", demos[0].text()).group(1)
            assert f'id="emulator-link" href="{emu_url}"' in page
            assert 'id="tz-name">America/New_York<' in page and "Due (America/New_York)" in page
            assert httpx.get(emu_url, timeout=10).status_code == 200
            assert all(d.terminate() == 0 for d in demos)
        finally:
            for d in demos:
                d.kill()

    def test_state_dir_is_in_the_help(self, tmp_path):
        h = cli("demo", "--help", cwd=tmp_path, env={"COLUMNS": "200"})
        assert "--state-dir" in h.stdout and "one folder per inbox" in h.stdout


# -- issue 14: day-to-day commands --------------------------------------------------------------
def action(svc: ServiceProcess, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return cli(*args[:1], "-c", str(svc.config_path), *args[1:], cwd=svc.root, env=env)


class TestActions:
    def test_pause_resume_and_the_services_sentence_on_a_refusal(self, service):
        pair(service.inbox, "later", 'privacy: private\nat: "2031-06-01 18:00"\n')
        t = service.wait_state("later.mp4", "scheduled", "needs_login")
        p = action(service, "pause")
        assert (p.returncode, p.stdout.strip()) == (0, "Paused: no publish starts until you resume. Due tasks wait "
                                                       "as scheduled."), p.stderr
        assert service.http.get("/healthz").json()["paused"] is True
        r = action(service, "resume")
        assert r.returncode == 0 and r.stdout.startswith("Resumed")
        assert service.http.get("/healthz").json()["paused"] is False
        refused = action(service, "retry", t["id"])
        assert refused.returncode == 1
        assert refused.stderr == f"ralph-watch retry: Retry is for failed or missed tasks; this one is {t['state']}.\n"
        nothing = action(service, "cancel", "no-such-task")
        assert nothing.returncode == 1 and "There is no such task." in nothing.stderr

    def test_publish_now_and_cancel_by_name_in_password_mode(self, make_service):
        pw = {"RALPH_WATCH_PASSWORD": "correct horse battery"}
        svc = make_service(config={"web": {"password": "${RALPH_WATCH_PASSWORD}"}}, env=pw).start()
        pair(svc.inbox, "soon", 'privacy: private\nat: "2031-06-01 18:00"\n')
        pair(svc.inbox, "gone", 'privacy: private\nat: "2031-06-01 19:00"\n')
        def tasks() -> dict:
            out = cli("status", "-c", str(svc.config_path), "--json", cwd=svc.root, env=pw).stdout
            return {t["video"]: t for t in json.loads(out)}
        state = wait_until(lambda: (t := tasks()) and len(t) == 2 and
                           all(x["state"] == "scheduled" for x in t.values()) and t, 30, "both tasks scheduled")
        now = action(svc, "publish-now", state["soon.mp4"]["id"], env=pw)
        assert (now.returncode, now.stdout.strip()) == (0, "soon.mp4 will be published now."), now.stderr
        wait_until(lambda: tasks()["soon.mp4"]["state"] != "scheduled", 30, "soon.mp4 to be due now")
        again = action(svc, "publish-now", "soon.mp4", env=pw)
        assert (again.returncode, again.stderr) == (1, "ralph-watch publish-now: Publish now is for scheduled "
                                                       "tasks.\n")
        c = action(svc, "cancel", "gone.mp4", env=pw)
        assert (c.returncode, c.stdout.strip()) == (0, "Cancelled gone.mp4: both files were deleted from the inbox."), \
            c.stderr
        assert not (svc.inbox / "gone.mp4").exists() and not (svc.inbox / "gone.yaml").exists()
        wrong = action(svc, "pause", env={"RALPH_WATCH_PASSWORD": "wrong"})
        assert wrong.returncode == 1 and "refused the password" in wrong.stderr

    def test_it_exits_1_when_the_service_is_not_running(self, tmp_path):
        run_config(tmp_path, web={"port": free_port()})
        r = cli("pause", cwd=tmp_path)
        assert r.returncode == 1 and "not reachable" in r.stderr and "is it running?" in r.stderr


class TestStatusWholeSentences:
    def test_errors_are_whole_wrapped_or_on_one_wide_line_and_due_names_the_zone(self, service):
        pair(service.inbox, "later", 'title: "Zone"\nprivacy: private\nat: "2031-06-01 18:00"\n')
        pair(service.inbox, "broken", 'title: "x"\nprivacy: no\ncron: "0 25 * * *"\n')
        service.wait_state("later.mp4", "scheduled", "needs_login")
        error = service.wait_state("broken.mp4", "invalid")["error"].replace("\n", " ")
        narrow = cli("status", "-c", str(service.config_path), cwd=service.root, env={"COLUMNS": "100"})
        assert "2031-06-01 18:00 Europe/Berlin" in narrow.stdout
        lines = narrow.stdout.splitlines()
        at = next(i for i, ln in enumerate(lines) if "broken.mp4" in ln)
        col = lines[0].index("ERROR")
        wrapped = " ".join([lines[at][col:]] + [ln.strip() for ln in lines[at + 1:] if ln[:col].strip() == ""])
        assert wrapped.split() == error.split() and all(len(ln) <= 100 for ln in lines[at:])
        wide = cli("status", "-c", str(service.config_path), "--wide", cwd=service.root, env={"COLUMNS": "100"})
        row = next(ln for ln in wide.stdout.splitlines() if "broken.mp4" in ln)
        assert row.endswith(error) and wide.stdout.splitlines()[0].split()[:2] == ["ID", "STATE"]


class TestHelp:
    def test_every_option_of_every_command_has_a_help_line(self, tmp_path):
        import argparse
        from ralph_watch.cli import build_parser
        missing = []
        parsers = [("ralph-watch", build_parser())]
        while parsers:
            name, parser = parsers.pop()
            for a in parser._actions:
                if isinstance(a, argparse._SubParsersAction):
                    parsers.extend((f"{name} {k}", v) for k, v in a.choices.items())
                elif not a.help or a.help == argparse.SUPPRESS:
                    missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
        assert missing == []
        for verb in ("pause", "resume", "retry", "cancel", "publish-now"):
            h = cli(verb, "--help", cwd=tmp_path)
            assert h.returncode == 0 and "-c CONFIG" in h.stdout


# -- issue 14: the privacy policy and terms are the operator's ------------------------------------
class TestOperatorPages:
    def test_the_service_serves_the_operators_files_publicly_in_password_mode(self, make_service, tmp_path):
        (tmp_path / "policy.html").write_text("<!doctype html><h1>Acme privacy</h1>", encoding="utf-8")
        (tmp_path / "terms.txt").write_text("Acme terms\n- no spam\n", encoding="utf-8")
        svc = make_service(config={"web": {"password": "pw", "privacy_policy": "policy.html",
                                           "terms": "terms.txt"}}).start()
        policy = svc.http.get("/privacy")
        assert (policy.status_code, policy.text) == (200, "<!doctype html><h1>Acme privacy</h1>")
        assert "script-src 'self'" in policy.headers["content-security-policy"]
        terms = svc.http.get("/terms")
        assert terms.status_code == 200 and "<li>no spam</li>" in terms.text and 'href="/terms"' in terms.text

    def test_without_them_privacy_is_the_shipped_policy_and_terms_is_404(self, service):
        assert "Privacy Policy describes how" in service.http.get("/privacy").text
        assert service.http.get("/terms").status_code == 404
        assert 'href="/terms"' not in service.http.get("/").text


class TestNewAndAPastAt:
    def test_past_the_grace_is_refused_and_within_it_a_warning(self, tmp_path):
        small_mp4(tmp_path, "clip.mp4")
        now = datetime.now(ZoneInfo("UTC"))
        old = cli("new", "clip.mp4", "--privacy", "private", "--at", local(now - timedelta(days=2)), cwd=tmp_path,
                  env={"TZ": "UTC"})
        assert old.returncode == 2 and "--at: `at: " in old.stderr and "in the past" in old.stderr, old.stderr
        assert not (tmp_path / "clip.yaml").exists()
        late = cli("new", "clip.mp4", "--privacy", "private", "--at", local(now - timedelta(minutes=30)),
                   cwd=tmp_path, env={"TZ": "UTC"})
        assert late.returncode == 0 and "--at: warning: " in late.stderr, late.stderr
        assert (tmp_path / "clip.yaml").exists()
