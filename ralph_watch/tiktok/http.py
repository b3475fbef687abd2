"""The HTTP transport under every TikTok client: one httpx pool, shared by all accounts.

The only place (with `upload.py`, which sends through it) that imports httpx; httpx's
exceptions become TikTokErrors in the client. An `httpx.Client` builds its own TLS context
(the CA bundle, ~0.8 MB) and connection pool, so one `HttpPool` for the whole process lets an
idle logged-in account cost a few kilobytes instead (issue 15). Requests name their timeouts
per call, so API calls and upload PUTs share the same pool.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager
from typing import Any, Mapping

import httpx

from ralph_watch.errors import TikTokError
from ralph_watch.tiktok.errors import tiktok_error
from ralph_watch.tiktok.protocol import redact_upload_url

__all__ = ["HttpPool", "TikTokTransport", "API_TIMEOUT", "UPLOAD_TIMEOUT", "REVOKE_TIMEOUT", "API_DEADLINE",
           "API_MAX_BYTES", "JSON_TYPE", "json_object", "network_error"]

log = logging.getLogger("ralph_watch.tiktok")

JSON_TYPE = "application/json; charset=UTF-8"
API_TIMEOUT = httpx.Timeout(10.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
REVOKE_TIMEOUT = httpx.Timeout(5.0)
API_DEADLINE = 30.0                     # seconds for a whole JSON answer (httpx's timeouts are per read)
API_MAX_BYTES = 1024 * 1024             # a JSON answer larger than this is not TikTok's


class _HttpxUrlRedactor(logging.Filter):
    """httpx logs every request URL at INFO; upload URLs carry upload_token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_upload_url(str(a)) if isinstance(a, httpx.URL) and a.query else a
                                for a in record.args)
        return True


if not any(isinstance(f, _HttpxUrlRedactor) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_HttpxUrlRedactor())


class HttpPool:
    """One httpx client (TLS context + connection pool) for any number of TikTok clients.

    `transport`: an httpx transport to send through (tests: httpx.MockTransport). Thread-safe
    as httpx.Client is; `close()` once, when the last client using it is done.
    """

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(transport=transport, timeout=API_TIMEOUT, follow_redirects=False)
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    def post(self, url: str, *, data: Mapping[str, str], timeout: httpx.Timeout) -> httpx.Response:
        return self._client.post(url, data=data, timeout=timeout)

    def stream(self, method: str, url: str, *, timeout: httpx.Timeout = API_TIMEOUT,
               **kw: Any) -> AbstractContextManager[httpx.Response]:
        return self._client.stream(method, url, timeout=timeout, **kw)

    def send_stream(self, method: str, url: str, *, content: Any, headers: Mapping[str, str],
                    timeout: httpx.Timeout = UPLOAD_TIMEOUT) -> httpx.Response:
        """A streamed request whose answer the caller reads and closes (the upload PUT)."""
        request = self._client.build_request(method, url, content=content, headers=headers, timeout=timeout)
        return self._client.send(request, stream=True)

    def bounded(self, method: str, url: str, *, deadline: float = API_DEADLINE, **kw: Any) -> httpx.Response:
        """A JSON/OAuth request whose whole answer must arrive within `deadline` seconds.

        httpx's timeouts apply to each read, so a server trickling one byte at a time would
        hold a call for ever; reading the stream ourselves lets the deadline fire between reads.
        Real time on purpose: this guards a socket, not a schedule.
        """
        until = time.monotonic() + deadline
        with self._client.stream(method, url, **kw) as resp:
            body = bytearray()
            for piece in resp.iter_bytes():
                body += piece
                if len(body) > API_MAX_BYTES:
                    raise httpx.DecodingError(f"answer larger than {API_MAX_BYTES} bytes", request=resp.request)
                if time.monotonic() > until:
                    raise httpx.ReadTimeout(f"no complete answer within {deadline:g} s", request=resp.request)
            headers = [(k, v) for k, v in resp.headers.multi_items()
                       if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
            return httpx.Response(resp.status_code, headers=headers, content=bytes(body), request=resp.request)


TikTokTransport = HttpPool   # the name issue 15 uses for the shared transport


def json_object(resp: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when it is not one."""
    try:
        value = resp.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def network_error(exc: BaseException, where: str) -> TikTokError:
    log.warning("TikTok %s: %s", where, type(exc).__name__)
    return tiktok_error("network_error", type(exc).__name__)
