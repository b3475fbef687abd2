"""The real Service built in this process.

- `make_service(root)`: built and not started (no threads, no web server), fed snapshots of
  real files as the watcher would, so the reconciler and the backend methods run exactly as in
  the service.
- `InProcess` (the builder): the whole service on a FakeClock, talking to the emulator through
  an in-process WSGI transport (no sockets, no subprocess). The watcher is not started: the test
  feeds snapshots and steps the scheduler, so a promise plays out in milliseconds of simulated
  time while the publish workers, the client, the records and the files are the real ones.
"""
from __future__ import annotations

import html
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from ralph_watch.clock import FakeClock
from ralph_watch.config import load_config
from ralph_watch.inbox import FileState, PairSnapshot
from ralph_watch.service import Service
from ralph_watch.tasks import State, Task
from ralph_watch.emulator import EmulatorApp, load_profile, make_emulator_app
from ralph_watch.tiktok.oauth import new_pkce, new_state
from tests.support.wait import wait_until

EMULATOR = "http://127.0.0.1:9"   # never listened on: the WSGI transport answers in-process


def make_service(root: Path) -> Service:
    text = f"inbox: {root / 'inbox'}\nstate_dir: {root / 'state'}\ntimezone: Europe/Berlin\n"
    config = load_config(text, base_dir=root, environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
    (root / "inbox").mkdir()
    return Service(config, serve_web=False)


def snapshot(inbox: Path, name: str) -> PairSnapshot:
    """A stable snapshot of NAME.mp4 + NAME.yaml as they are on disk."""
    def state(rel: str) -> FileState:
        st = os.stat(inbox / rel)
        return FileState(rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, stable=True, regular=True, symlink=False)
    return PairSnapshot(key=name, videos=(state(f"{name}.mp4"),), sidecars=(state(f"{name}.yaml"),), inflight=None)


class InProcess:
    """The builder: Service + emulator on one FakeClock, in this process."""

    def __init__(self, root: Path, *, limits: str = "") -> None:
        self.clock = FakeClock()
        profile = load_profile(None)
        self.emulator: EmulatorApp = make_emulator_app(profile, clock=self.clock, base_url=EMULATOR)
        self.transport = httpx.WSGITransport(app=self.emulator)
        self.inbox = root / "inbox"
        self.inbox.mkdir(parents=True)
        text = (f"inbox: {self.inbox}\nstate_dir: {root / 'state'}\ntimezone: Europe/Berlin\n"
                f"tiktok:\n  redirect_uri: http://127.0.0.1:8080/callback\n  api_base: {EMULATOR}\n"
                f"  authorize_url: {EMULATOR}/v2/auth/authorize/\n{limits}")
        config = load_config(text, base_dir=root, environ={"TIKTOK_CLIENT_KEY": profile.client_key,
                                                          "TIKTOK_CLIENT_SECRET": profile.client_secret})
        self.service = Service(config, clock=self.clock, transport=self.transport, serve_web=False)
        self.service.primary.load()

    def close(self) -> None:
        self.service.stop.set()
        self.service.workers.shutdown()

    def login(self) -> None:
        """The consent page as a browser would use it, then the page's callback."""
        state, (verifier, challenge) = new_state(), new_pkce()
        with httpx.Client(transport=self.transport) as web:
            page = web.get(self.service.login_url(state=state, code_challenge=challenge))
            fields = re.findall(r'<input type="(?:hidden|checkbox)" name="([^"]+)" value="([^"]*)"', page.text)
            form = [(name, html.unescape(value)) for name, value in fields] + [("decision", "authorize")]
            answer = web.post(page.url.copy_with(query=None), content=urlencode(form),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
        self.service.finish_login(code=query["code"], code_verifier=verifier, scopes=query.get("scopes"))

    def drop(self, name: str, video: bytes, sidecar: str) -> None:
        """The pair arrives and has settled: the watcher's snapshot goes to the service."""
        (self.inbox / f"{name}.mp4").write_bytes(video)
        (self.inbox / f"{name}.yaml").write_text(sidecar)
        self.service.primary.pairs.on_snapshots([snapshot(self.inbox, name)])

    def task(self, name: str) -> Task:
        t = next(t for t in self.service.board.all() if t.key == name)
        return t

    def run_until(self, name: str, state: State, *, step: timedelta = timedelta(seconds=1),
                  limit: int = 300, also: Callable[[Task], bool] = lambda t: True) -> Task:
        """Step the scheduler and advance simulated time until the task is in `state`. The
        publish workers are real threads; each step's jobs end (the status checks are steps of
        their own, on the FakeClock) before time moves on."""
        for _ in range(limit):
            self.service.scheduler.step()
            wait_until(lambda: self.service.workers.busy() == 0, 10, "the publish workers to finish their jobs")
            t = self.task(name)
            if t.state is state and also(t):
                return t
            self.clock.advance(step.total_seconds())
        raise AssertionError(f"{name} never became {state.value}: {self.task(name)}")
