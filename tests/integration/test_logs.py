"""logs.py: the log format and the promise that no token reaches a log line."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest

from tests.unit.test_logs import ACCESS, capture  # the unit half's helpers, shared
from tests.unit import test_logs as unit_half

# The unit half's fixtures, used here too.
restore_logging, secret = unit_half.restore_logging, unit_half.secret


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
