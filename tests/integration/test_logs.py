"""logs.py: the log format and the promise that no token reaches a log line."""
from __future__ import annotations

import io
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest

from ralph_watch import logs
from ralph_watch.logs import forget_secret, register_secret, setup_logging

ACCESS = "act.1d1021d2aee3d41fee2d2add43456badMFZnrhFhfWotu3Ecuiuka27L56lr!2456"
REFRESH = "rft.a4a7b3c1d0e9f8a7b6c5d4e3f2a1b0c9FLLNqvRo5KMrPHIDIeZTB!4617"
CLIENT_TOKEN = "clt.2ce8e9b2c3d4e5f6a7b8c9d0e1f2a3b4YpmR7dH!5000"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state: put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in logs.NOISY_LOGGERS}
    filters = {h: list(h.filters) for h in handlers}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for h, fs in filters.items():
        h.filters[:] = fs
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


@pytest.fixture
def secret() -> Iterator[str]:
    value = "s3cr3t-Pa55word-registered"
    register_secret(value)
    yield value
    forget_secret(value)


def capture(fmt: str, level: str = "INFO") -> io.StringIO:
    out = io.StringIO()
    setup_logging(level, fmt, stream=out)
    return out


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="echo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every GET and echoes the Authorization header back as a response header,
    so httpcore's DEBUG line about response headers carries the token."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b'{"data": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Authorization", self.headers.get("Authorization", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.mark.parametrize("fmt", ["text", "json"])
class TestNoSecretInOutput:
    def test_it_masks_secrets_in_real_httpx_and_httpcore_debug_output(
        self, fmt: str, secret: str, echo_server: str
    ) -> None:
        out = capture(fmt, level="DEBUG")
        with httpx.Client() as client:
            response = client.get(
                f"{echo_server}/v2/user/info/?access_token={secret}&fields=open_id",
                headers={"Authorization": f"Bearer {ACCESS}"},
            )
        assert response.headers["X-Echo-Authorization"] == f"Bearer {ACCESS}"  # the server did see it
        text = out.getvalue()
        # The libraries did log (request line and response headers), and nothing secret got through.
        assert "httpcore" in text and "receive_response_headers" in text
        assert "X-Echo-Authorization" in text
        assert "HTTP Request: GET" in text
        assert ACCESS not in text and secret not in text
        assert ACCESS.split(".", 1)[1][:20] not in text
