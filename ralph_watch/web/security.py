"""The web layer's defences, as small pure functions: Host allowlist (DNS rebinding),
CSRF token and Origin checks, the password and its brute-force throttle, response headers,
URL checks for attributes, and the OAuth state/PKCE values."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
from dataclasses import dataclass
from typing import Iterable, Union
from urllib.parse import urlsplit

from ..clock import Clock

__all__ = [
    "SECURITY_HEADERS", "LOOPBACK_NAMES", "new_state", "new_pkce", "allowed_hostnames", "hostname_of",
    "host_allowed", "csrf_ok", "origin_ok", "password_ok", "http_url",
    "SigninThrottle", "backoff_step", "trusted_networks", "client_address",
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


# -- the client behind a reverse proxy ----------------------------------------------------
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def trusted_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """web.trusted_proxies ("10.0.0.1", "192.168.0.0/16", "::1") as networks; raises ValueError."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or an X-Forwarded-For item ("1.2.3.4", "[::1]:443", "1.2.3.4:80")."""
    t = text.strip()
    if t.startswith("["):
        t = t[1:t.find("]")] if "]" in t else t[1:]
    elif t.count(":") == 1:
        t = t.partition(":")[0]  # IPv4 with a port
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """Who is signing in: the socket peer, or, when the peer is a trusted proxy, the rightmost
    X-Forwarded-For address that is not itself a trusted proxy.

    Rightmost, because each proxy appends the address it received from: everything left of
    the entry our own proxies wrote was sent by the client and may be forged. A header from an
    untrusted peer is ignored altogether.
    """
    peer_text = (peer or "").strip() or "unknown"
    if not trusted or not forwarded_for or not _trusted(_ip(peer_text), trusted):
        return peer_text
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return peer_text  # garbage where our proxy writes: count it against the proxy itself
        if not _trusted(ip, trusted):
            return str(ip)
    return str(_ip(hops[0])) if hops else peer_text  # every hop is ours: the first one is the client


# -- the sign-in throttle ----------------------------------------------------------------
def backoff_step(failures: int, *, free: int, first: float, cap: float) -> float:
    """Seconds a client must wait after its latest failure, having failed `failures` times in a row:
    none for the first `free` (typos), then `first`, doubling, up to `cap`."""
    if failures < free:
        return 0.0
    return min(cap, first * 2.0 ** (failures - free))


@dataclass
class _Failures:
    count: int    # wrong passwords in a row
    last: float   # monotonic time of the latest one


class SigninThrottle:
    """Per client address: after `max_failures` wrong passwords in a row, each further try must
    wait `backoff_step` after the previous failure (1 s, 2 s, 4 s, ... up to `max_step`); a try
    sooner is answered 429 "try again in N s" without looking at the password. Failures are
    forgotten after `window` seconds without one, or at a success. Never sleeps.

    Why the step is capped at a few seconds and never becomes a lockout: the owner must always
    get in. A lockout of minutes turns five wrong guesses (a stranger's, or everyone's behind a
    proxy that is not in web.trusted_proxies) into a denial of service against the owner, while
    a few seconds per guess and address already make guessing a real password hopeless. So the
    right password succeeds at most one step (<= `max_step`) after the latest wrong one.
    """

    def __init__(self, *, clock: Clock, max_failures: int = 5, window: float = 900.0, first_step: float = 1.0,
                 max_step: float = 5.0, max_clients: int = 10000) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.window = window
        self.first_step = first_step
        self.max_step = max_step
        self.max_clients = max_clients
        self._lock = threading.Lock()
        self._failures: dict[str, _Failures] = {}

    def step(self, failures: int) -> float:
        return backoff_step(failures, free=self.max_failures, first=self.first_step, cap=self.max_step)

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        now = self._clock.monotonic()
        with self._lock:
            f = self._trim(client, now)
            if f is None:
                return 0.0
            return max(0.0, f.last + self.step(f.count) - now)

    def failed(self, client: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                for k in list(self._failures):
                    self._trim(k, now)  # forget clients whose failures are all old
                if len(self._failures) >= self.max_clients:  # still full: forget the stalest client
                    stalest = min(self._failures, key=lambda k: self._failures[k].last)
                    del self._failures[stalest]
            f = self._trim(client, now)
            if f is None:
                self._failures[client] = _Failures(1, now)
            else:
                f.count, f.last = f.count + 1, now

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _trim(self, client: str, now: float) -> _Failures | None:
        f = self._failures.get(client)
        if f is not None and now - f.last > self.window:
            del self._failures[client]
            return None
        return f


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
