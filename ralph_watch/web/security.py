"""The web layer's defences, as small pure functions: Host allowlist (DNS rebinding),
CSRF token and Origin checks, the password and its brute-force throttle, response headers,
URL checks for attributes, and the OAuth state/PKCE values."""
from __future__ import annotations

import hashlib
import hmac
import threading
from collections import deque
from typing import Iterable
from urllib.parse import urlsplit

from ..clock import Clock

__all__ = [
    "SECURITY_HEADERS", "LOOPBACK_NAMES", "new_state", "new_pkce", "allowed_hostnames", "hostname_of",
    "host_allowed", "csrf_ok", "origin_ok", "password_ok", "http_url",
    "SigninThrottle",
]

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: under no-referrer browsers send `Origin: null` with the page's
    # own form POSTs, which origin_ok refuses. Other sites (TikTok) still get no referrer.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})

from ..tiktok.oauth import new_pkce, new_state  # re-exported: the page starts the login


# -- Host header -------------------------------------------------------------------------
def hostname_of(host_header: str | None) -> str | None:
    """'Example.COM:8080' -> 'example.com', '[::1]:80' -> '[::1]'; None when malformed."""
    if not host_header:
        return None
    h = host_header.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        if end < 0:
            return None
        name, rest = h[: end + 1], h[end + 1:]
    else:
        name, _, port = h.partition(":")
        rest = ":" + port if port else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    name = name.rstrip(".")
    if not name or any(c in name for c in "/\\@ \t?#"):
        return None
    return name


def allowed_hostnames(*, host: str | None, public_url: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """Loopback names, web.host, public_url's host and web.allowed_hosts.

    Only the name is compared, not the port: DNS rebinding shows the attacker's name in
    Host, whatever the port, and matching names only keeps ports chosen at run time working.
    """
    names = set(LOOPBACK_NAMES)
    for candidate in [host, *(extra or ())]:
        n = hostname_of(f"[{candidate}]" if candidate and ":" in candidate and not candidate.startswith("[")
                        and candidate.count(":") > 1 else candidate)
        if n:
            names.add(n)
    if public_url:
        n = hostname_of(urlsplit(public_url).netloc.rpartition("@")[2])
        if n:
            names.add(n)
    names.discard("0.0.0.0")  # a wildcard bind address is no name anyone browses to
    names.discard("[::]")
    return frozenset(names)


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    name = hostname_of(host_header)
    return name is not None and name in allowed


# -- CSRF --------------------------------------------------------------------------------
def csrf_ok(expected: str | None, sent: str | None) -> bool:
    if not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), sent.encode("utf-8", "replace"))


def origin_ok(*, origin: str | None, sec_fetch_site: str | None, host_header: str | None,
              public_url: str | None) -> bool:
    """Defence in depth beside the token: refuse requests a browser marks as cross-site."""
    if sec_fetch_site and sec_fetch_site.lower() not in ("same-origin", "none"):
        return False
    if origin is None or origin == "":
        return True  # old browsers and scripts send none; the CSRF token still applies
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # includes Origin: null (sandboxed frames, file:// pages)
    netloc = parts.netloc.lower()
    if host_header and netloc == host_header.strip().lower():
        return True
    if public_url:
        pub = urlsplit(public_url)
        return netloc == pub.netloc.lower() and parts.scheme == pub.scheme
    return False


# -- password ----------------------------------------------------------------------------
def password_ok(given: str | None, expected: str | None) -> bool:
    """Constant time, also across lengths (both sides hashed first)."""
    if not expected or given is None:
        return False
    a = hashlib.sha256(given.encode("utf-8", "replace")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


class SigninThrottle:
    """Per client address: after `max_failures` wrong passwords within `window` seconds,
    refuse further tries (429) until the oldest failure leaves the window. Never sleeps."""

    def __init__(self, *, clock: Clock, max_failures: int = 5, window: float = 900.0, max_clients: int = 10000) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        now = self._clock.monotonic()
        with self._lock:
            q = self._trim(client, now)
            if q is None or len(q) < self.max_failures:
                return 0.0
            return max(1.0, q[0] + self.window - now)

    def failed(self, client: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                for k in list(self._failures):
                    self._trim(k, now)  # forget clients whose failures are all old
                if len(self._failures) >= self.max_clients:  # still full: forget the stalest client
                    stalest = min(self._failures, key=lambda k: self._failures[k][-1])
                    del self._failures[stalest]
            q = self._failures.setdefault(client, deque())
            q.append(now)
            while len(q) > self.max_failures:
                q.popleft()

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _trim(self, client: str, now: float) -> deque[float] | None:
        q = self._failures.get(client)
        if q is None:
            return None
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self._failures[client]
            return None
        return q


# -- misc --------------------------------------------------------------------------------
def http_url(url: object) -> str | None:
    """`url` if it is an absolute http(s) URL (safe in an href), else None."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n\t"):
        return None
    return url.strip()
