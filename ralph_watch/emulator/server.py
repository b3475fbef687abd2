"""The emulator on a waitress server in a background thread, on loopback by default, with
helpers that reach the same state as the control API (for tests, benchmarks and the demo)."""
from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import waitress  # type: ignore[import-untyped]  # waitress ships no type stubs
from waitress import wasyncore
from waitress.channel import HTTPChannel  # type: ignore[import-untyped]  # no stubs
from waitress.task import WSGITask  # type: ignore[import-untyped]  # no stubs

from ralph_watch.clock import Clock
from ralph_watch.emulator.app import CHUNKED_KEY, DROP_KEY, EmulatorApp, make_emulator_app
from ralph_watch.emulator.faults import Fault
from ralph_watch.emulator.profile import Profile
from ralph_watch.emulator.state import EmulatorState

__all__ = ["EmulatorServer"]

log = logging.getLogger(__name__)


class _DroppableTask(WSGITask):  # type: ignore[misc]  # waitress has no type stubs
    """Gives the app a way to cut the connection without answering (the drop faults)."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        channel = self.channel

        def drop() -> None:
            try:
                channel.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        environ[DROP_KEY] = drop
        # waitress de-chunks a chunked body and drops the header; TikTok wants Content-Length (400).
        environ[CHUNKED_KEY] = bool(getattr(self.request, "chunked", False))
        return environ


class _Channel(HTTPChannel):  # type: ignore[misc]  # waitress has no type stubs
    task_class = _DroppableTask


class EmulatorServer:
    """The emulator on a waitress server in a background thread, on loopback by default."""

    def __init__(self, profile: Profile, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None,
                 spool_dir: Path | None = None, threads: int = 8) -> None:
        self.profile = profile
        self.host = host
        self.port = port
        self.clock = clock
        self.threads = threads
        self._spool_given = spool_dir
        self._spool: Path | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: EmulatorApp | None = None

    @property
    def base_url(self) -> str:
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # a wildcard bind
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def state(self) -> EmulatorState:
        if self.app is None:
            raise RuntimeError("the emulator is not started; call start() first")
        return self.app.state

    def start(self) -> "EmulatorServer":
        """Bind, listen and serve in a thread; returns once the port accepts connections."""
        self._spool = Path(self._spool_given) if self._spool_given else Path(tempfile.mkdtemp(prefix="ralph-watch-emulator-"))
        self._spool.mkdir(parents=True, exist_ok=True)
        self.app = make_emulator_app(self.profile, clock=self.clock, base_url="http://127.0.0.1", spool_dir=self._spool)
        self._server = waitress.create_server(
            self.app.wsgi, host=self.host, port=self.port, threads=self.threads,
            # Speed: big socket reads, and a chunk (<= 128 MB) kept in memory instead of being
            # written to a waitress temp file and read back before the app even sees it.
            recv_bytes=1 << 20, inbuf_overflow=160 * 1024 * 1024, max_request_body_size=256 * 1024 * 1024,
            channel_timeout=300, ident="tiktok-emulator", expose_tracebacks=False, log_socket_errors=False)
        self._server.channel_class = _Channel
        self.port = int(self._server.effective_port)
        self.app.base_url = self.base_url
        self._thread = threading.Thread(target=self._server.run, name="tiktok-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end delays and trickles, close every connection, remove the spool."""
        if self._server is None:
            return
        server, self._server = self._server, None
        assert self.app is not None
        self.app.state.stop.set()
        # Workers first (delays and trickles end on the stop event), while the loop still
        # flushes their answers; then close every socket from inside the loop thread.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        done = threading.Event()

        def close_all() -> None:
            wasyncore.close_all(server._map)
            done.set()
        try:
            server.trigger.pull_trigger(close_all)
        except OSError:
            pass
        done.wait(5)
        if self._thread is not None:
            self._thread.join(5)
            if self._thread.is_alive():
                log.warning("emulator: server thread did not stop within 5 s")
        self.app.state.reset()
        if self._spool is not None and self._spool_given is None:
            shutil.rmtree(self._spool, ignore_errors=True)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers (same state as the control API)
    def posts(self) -> list[dict[str, Any]]:
        return self.state.posts()

    def stats(self) -> dict[str, Any]:
        return self.state.stats_view()

    def logged_in(self) -> dict[str, int]:
        """open_id -> live access tokens: the creators logged in right now (GET /_emulator/logins)."""
        return self.state.logged_in()

    def inject(self, endpoint: str, **fault: Any) -> None:
        """Add a fault, e.g. inject("upload", status=500, times=2) or inject("init", delay=3)."""
        self.state.add_fault(Fault.from_json({"endpoint": endpoint, **fault}))

    def fail_next(self, fail_reason: str) -> None:
        self.state.add_fail_next(fail_reason)

    def expire(self, what: str) -> None:
        self.state.expire(what)

    def patch_account(self, **changes: Any) -> dict[str, Any]:
        return self.state.patch_account(changes)

    def patch_profile(self, **switches: Any) -> dict[str, Any]:
        """Change profile switches, e.g. patch_profile(require_brand_toggle=True)."""
        return self.state.patch_profile(switches)

    def complete_draft(self, publish_id: str) -> None:
        self.state.complete_draft(publish_id)

    def reset(self) -> None:
        self.state.reset()
