"""The real service as a subprocess (`python -m ralph_watch run -c ...`) against an emulator
running in the test process, so a test can SIGKILL the service and still ask the emulator
what it received. Logging in goes through the real HTTP redirects and consent form."""
from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    def __init__(self, root: Path, emulator: Any, *, settle: float = 0.3, limits: dict | None = None,
                 config: dict | None = None, env: dict | None = None) -> None:
        self.root = root
        self.emulator = emulator
        self.inbox = root / "inbox"
        self.state_dir = root / "state"
        self.log_path = root / "service.log"
        self.port = free_port()
        self.inbox.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {
            "inbox": str(self.inbox),
            "state_dir": str(self.state_dir),
            "timezone": "Europe/Berlin",
            "watch": {"mode": "events", "settle_seconds": settle, "poll_seconds": 0.5, "rescan_seconds": 30},
            "web": {"host": "127.0.0.1", "port": self.port},
            "tiktok": {
                "redirect_uri": f"http://127.0.0.1:{self.port}/callback",
                "api_base": emulator.base_url,
                "authorize_url": f"{emulator.base_url}/v2/auth/authorize/",
                "limits": limits or {},
            },
        }
        for k, v in (config or {}).items():
            if isinstance(v, dict) and isinstance(data.get(k), dict):
                data[k].update(v)
            else:
                data[k] = v
        self.config_path = root / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(data))
        self.env = {**os.environ, "TIKTOK_CLIENT_KEY": emulator.profile.client_key,
                    "TIKTOK_CLIENT_SECRET": emulator.profile.client_secret, "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                    **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServiceProcess":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ralph_watch", "--log-level", "info", "run", "-c", str(self.config_path)],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root)
        wait_until(self._healthy, timeout, f"the service to serve /healthz (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:  # not an AssertionError: wait_until must stop at once
            raise RuntimeError(f"the service exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        try:
            return self.http.get("/healthz").status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the service did not stop within {timeout}s of SIGTERM")
        self._close_log()
        return self.proc.returncode if self.proc else 0

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- reading ---------------------------------------------------------------------------
    def tasks(self) -> list[dict]:
        r = self.http.get("/api/tasks")
        r.raise_for_status()
        return r.json()

    def task(self, video: str) -> dict | None:
        for t in self.tasks():
            if t["video"] == video or (t["video"] is None and t["sidecar"] and t["sidecar"].rsplit(".", 1)[0]
                                       == video.rsplit(".", 1)[0]):
                return t
        return None

    def wait_state(self, video: str, *states: str, timeout: float = 60) -> dict:
        def check():
            t = self.task(video)
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service died:\n{self.log_text()[-3000:]}")
            return t if t and t["state"] in states else None
        try:
            return wait_until(check, timeout, f"{video} to reach {states}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ntask now: {self.task(video)}\nlog tail:\n{self.log_text()[-4000:]}") from None

    # -- acting ----------------------------------------------------------------------------
    def login(self, *, deny: bool = False, drop_scopes: tuple[str, ...] = ()) -> httpx.Response:
        """Log in through the real redirects: /login -> TikTok consent form -> callback -> /."""
        r = self.http.get("/login")
        assert r.status_code in (302, 303), r.text
        consent = httpx.get(r.headers["location"], timeout=10)
        assert consent.status_code == 200, consent.text
        form = parse_form(consent.text)
        fields = [(k, v) for k, v in form["fields"] if not (k == "granted" and v in drop_scopes)]
        fields.append(("decision", "deny" if deny else "authorize"))
        action = httpx.URL(str(consent.url)).join(form["action"])
        data: dict[str, list[str]] = {}
        for k, v in fields:
            data.setdefault(k, []).append(v)
        back = httpx.post(action, data=data, timeout=10, follow_redirects=False)
        assert back.status_code in (302, 303), back.text
        cb = httpx.URL(back.headers["location"])
        done = self.http.get(cb.raw_path.decode())
        return done

    def csrf(self) -> str:
        page = self.http.get("/").text
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        assert m, "no CSRF token on the page"
        return html.unescape(m.group(1))

    def post(self, path: str) -> httpx.Response:
        return self.http.post(path, data={"csrf": self.csrf()}, headers={"Origin": self.url})

    def close(self) -> None:
        self.http.close()


def parse_form(page: str) -> dict:
    m = re.search(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S)
    assert m, "no form on the page"
    fields = []
    for inp in re.finditer(r"<input([^>]*)>", m.group(2)):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', inp.group(1)))
        if attrs.get("type") == "checkbox" and "checked" not in inp.group(1):
            continue
        if "name" in attrs:
            fields.append((html.unescape(attrs["name"]), html.unescape(attrs.get("value", ""))))
    for sel in re.finditer(r'<select name="([^"]+)">\s*<option value="([^"]*)"', m.group(2)):
        fields.append((html.unescape(sel.group(1)), html.unescape(sel.group(2))))
    return {"action": html.unescape(m.group(1)), "fields": fields}
