"""The web page's HTTP server: waitress in a thread, with a stop handle.

Never bottle.run()/wsgiref: single-threaded, and no way to stop it. Limits keep a slow or
hostile client from starving the page (the forms are tiny; 1 GB bodies are refused).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import waitress  # type: ignore[import-untyped]  # waitress ships no type information
from waitress import wasyncore

from ..errors import WebServerError

__all__ = ["WebServer", "WebServerError"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024        # the largest form is a password; JSON actions have no body
MAX_HEADERS = 32 * 1024


class WebServer:
    """`WebServer(app, host, port).start()` listens at once (port 0: any free port, see `.port`)."""

    def __init__(self, app: Any, host: str, port: int, *, threads: int = 8) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.threads = threads
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "WebServer":
        try:
            self._server = waitress.create_server(
                self.app, host=self.host, port=self.requested_port, threads=self.threads,
                max_request_body_size=MAX_BODY, max_request_header_size=MAX_HEADERS,
                channel_timeout=30,            # idle/slow connections are closed (slowloris)
                connection_limit=200,
                clear_untrusted_proxy_headers=True,  # we trust no proxy headers from waitress' side
                expose_tracebacks=False, ident="ralph-watch",
            )
        except OSError as exc:
            raise WebServerError(
                f"web.host/web.port: cannot listen on {self.host}:{self.requested_port}: {exc.strerror or exc}. "
                "Stop the program using that port or choose another web.port in config.yaml.") from exc
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        log.info("web page on %s", self.url)
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:  # closing the socket under asyncore's feet can raise; stopping is the goal
            if self._server is not None and self._server.accepting:
                log.exception("web server stopped unexpectedly")

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        # waitress' own close() only closes the listening socket: also end the workers
        # (in-flight requests get `timeout` to finish) and the open keep-alive connections.
        server.close()
        server.task_dispatcher.shutdown(timeout=timeout)
        wasyncore.close_all(server._map)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("web server thread did not stop within %.0f s", timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
