"""Server-side browser sessions: an opaque random id in a cookie, everything else in memory.

Never bottle's `secret=` cookies (they are pickle: a leaked key is code execution). A
session holds the CSRF token, pending OAuth logins (state -> PKCE verifier and account), the
password-mode sign-in flag and flash messages. Sessions expire when idle, the store is
capped (a flood of cookie-less requests evicts anonymous sessions first), a login
gets a fresh id (no fixation) and logout destroys it.
"""
from __future__ import annotations

import hmac
import re
import secrets
import threading
from dataclasses import dataclass, field

from ..clock import Clock

__all__ = ["Session", "SessionStore", "COOKIE_NAME"]

COOKIE_NAME = "rw_session"
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32) is 43 characters
MAX_PENDING_LOGINS = 5                        # a few tabs may start a login at once


@dataclass
class _PendingLogin:
    verifier: str
    started: float  # monotonic
    account: str | None = None  # which account logs in (issue 15); None: the only one


@dataclass
class Session:
    id: str
    csrf: str
    created: float          # monotonic
    last_seen: float        # monotonic
    signed_in: bool = False  # password mode
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    logins: dict[str, _PendingLogin] = field(default_factory=dict)


class SessionStore:
    """Thread-safe; every mutation of a Session goes through the store's methods."""

    def __init__(self, *, clock: Clock, idle_seconds: float = 12 * 3600, max_sessions: int = 1000,
                 login_seconds: float = 600) -> None:
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self.login_seconds = login_seconds
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    # -- lifecycle ------------------------------------------------------------------------
    def get(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, malformed or idle too long)."""
        if not sid or not _ID_RE.match(sid):
            return None
        now = self._clock.monotonic()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None
            if now - s.last_seen > self.idle_seconds:
                del self._sessions[sid]
                return None
            s.last_seen = now
            return s

    def create(self) -> Session:
        now = self._clock.monotonic()
        with self._lock:
            self._purge(now)
            s = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=now, last_seen=now)
            self._sessions[s.id] = s
            return s

    def rotate(self, session: Session, *, signed_in: bool | None = None) -> Session:
        """A new id and CSRF token for the same browser (at login); keeps flashes and the other
        pending logins (with several accounts, a second tab may be logging in another one)."""
        now = self._clock.monotonic()
        with self._lock:
            self._sessions.pop(session.id, None)
            self._purge(now)
            new = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=now,
                          last_seen=now, signed_in=session.signed_in if signed_in is None else signed_in,
                          flashes=list(session.flashes), logins=dict(session.logins))
            self._sessions[new.id] = new
            return new

    def destroy(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def _purge(self, now: float) -> None:
        """Drop idle sessions; then, at the cap, evict the least recently used (anonymous first)."""
        dead = [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_seconds]
        for k in dead:
            del self._sessions[k]
        while len(self._sessions) >= self.max_sessions:
            anonymous = [s for s in self._sessions.values() if not s.signed_in]
            victim = min(anonymous or self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[victim.id]

    # -- contents -------------------------------------------------------------------------
    def flash(self, session: Session, text: str, *, kind: str = "info") -> None:
        with self._lock:
            session.flashes.append((kind, text))
            del session.flashes[:-5]  # a handful is plenty

    def pop_flashes(self, session: Session) -> list[tuple[str, str]]:
        with self._lock:
            out, session.flashes = session.flashes, []
            return out

    def begin_login(self, session: Session, *, state: str, verifier: str, account: str | None = None) -> None:
        now = self._clock.monotonic()
        with self._lock:
            session.logins[state] = _PendingLogin(verifier, now, account)
            while len(session.logins) > MAX_PENDING_LOGINS:
                oldest = min(session.logins, key=lambda k: session.logins[k].started)
                del session.logins[oldest]

    def take_login(self, session: Session | None, state: str) -> str | None:
        """The PKCE verifier for `state` if this session started it less than 10 min ago.

        One-time: the state is consumed whether or not it has expired. Compared in constant time.
        """
        pending = self.take_pending(session, state)
        return pending[0] if pending else None

    def take_pending(self, session: Session | None, state: str) -> tuple[str, str | None] | None:
        """(PKCE verifier, account name) for `state`, under the same rules as `take_login`."""
        if session is None or not state:
            return None
        now = self._clock.monotonic()
        with self._lock:
            found = None
            for key in list(session.logins):
                if hmac.compare_digest(key.encode(), state.encode()):
                    found = key
            if found is None:
                return None
            pending = session.logins.pop(found)
            if now - pending.started > self.login_seconds:
                return None
            return pending.verifier, pending.account
