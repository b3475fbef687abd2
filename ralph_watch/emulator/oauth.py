"""Login Kit as TikTok runs it: the authorize request's checks, codes, the token exchange with
PKCE, refresh rotation, revocation, and the gate every data endpoint passes (bearer token,
scope, the per-token sliding-window rate limit).

Several creators may be logged in at once: every grant belongs to one open_id, and each access
token has its own rate windows, as TikTok counts them per user token."""
from __future__ import annotations

import hashlib
import re
import secrets
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from ralph_watch.emulator.core import Core, Reply

__all__ = ["Logins", "Grant", "SCOPES", "MSG_TOKEN", "MSG_SCOPE", "MSG_RATE", "UNAUDITED_LOGIN_REFUSED"]

SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.publish", "video.upload", "video.list")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{1,128}")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_AUTHORIZE_CHECKS = ("client_key", "response_type", "redirect_uri", "scope", "code_challenge")

MSG_TOKEN = "The access token is invalid or not found in the request."
MSG_SCOPE = "The user did not authorize the scope required for completing this request."
MSG_RATE = "API rate limit exceeded, please retry later."
# tiktok-api.md documents the unaudited user cap only at init (reached_active_user_cap); what the
# consent answers a sixth user is undocumented, so the profile switch `unaudited_login_cap` picks
# this reading: the callback gets error=access_denied and this description.
UNAUDITED_LOGIN_REFUSED = ("This app is unaudited: TikTok lets an unaudited app serve at most {cap} users in "
                           "24 hours, and {cap} other users have authorized it in the last 24 hours.")


@dataclass
class _Code:
    client_key: str
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    open_id: str
    expires: float
    used: bool = False


@dataclass
class Grant:
    """One authorization (login) of one user: its refresh chain and the access tokens it issued."""

    grant_id: int
    open_id: str
    scopes: list[str]
    refresh_expires: float         # fixed at first issue: rotation does not extend it
    refresh_token: str = ""        # only the newest refresh token is valid
    revoked: bool = False


def is_loopback(uri: str) -> bool:
    try:
        return (urlsplit(uri).hostname or "") in _LOOPBACK_HOSTS
    except ValueError:
        return False


def redirect_ok(uri: str, registered_uris: list[str]) -> bool:
    """TikTok's redirect_uri rules: static, https (http only for loopback with a port), registered."""
    if not uri or len(uri) >= 512:
        return False
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    if parts.query or parts.fragment or not parts.hostname:
        return False   # "URIs must be static. Parameters will be denied"
    if parts.scheme == "http":
        if parts.hostname not in _LOOPBACK_HOSTS or port is None:
            return False   # desktop rule: http only for localhost/127.0.0.1 with a port
    elif parts.scheme != "https":
        return False
    if not registered_uris:
        return True
    for registered in registered_uris:
        if registered == uri:
            return True
        if ":*" in registered:
            pattern = re.escape(registered).replace(re.escape(":*"), r":\d{1,5}")
            if re.fullmatch(pattern, uri):
                return True
    return False


def callback_url(q: dict[str, str], query: dict[str, str]) -> str:
    if "state" in q:
        query["state"] = q["state"]
    return f"{q['redirect_uri']}?{urlencode(query)}"


class Logins:
    """Codes, grants and tokens of every user who authorised the app (callers hold no lock)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.codes: dict[str, _Code] = {}
        self.grants: dict[int, Grant] = {}
        self.access: dict[str, tuple[Grant, float]] = {}    # token -> (grant, expires)
        self.refresh: dict[str, Grant] = {}
        self.issued: list[str] = []    # every access and refresh token ever issued (for leak tests)
        self.windows: dict[tuple[str, str], deque[float]] = {}   # (access token, endpoint kind) -> times
        self.authorised: dict[str, float] = {}    # open_id -> when it last authorised the app

    # ------------------------------------------------------------ the consent page
    def validate_authorize(self, q: dict[str, str]) -> tuple[str | None, list[str]]:
        """(error_type or None, requested scopes) for an authorize request."""
        for check in _AUTHORIZE_CHECKS:
            if not self._authorize_field_ok(check, q):
                return check, []
        return None, [s.strip() for s in q.get("scope", "").split(",") if s.strip()]

    def _authorize_field_ok(self, check: str, q: dict[str, str]) -> bool:
        if check == "client_key":
            return q.get("client_key") == self.core.profile.client_key
        if check == "response_type":
            return q.get("response_type") == "code"
        if check == "redirect_uri":
            return redirect_ok(q.get("redirect_uri", ""), self.core.profile.redirect_uris)
        if check == "scope":
            scopes = [s.strip() for s in q.get("scope", "").split(",") if s.strip()]
            return bool(scopes) and all(s in SCOPES for s in scopes)
        challenge = q.get("code_challenge")
        if not challenge:
            return not is_loopback(q.get("redirect_uri", ""))
        # TikTok accepts any verifier-shaped challenge here; the hex-vs-base64url mismatch
        # only shows at the token exchange ("Code verifier or code challenge is invalid.").
        return q.get("code_challenge_method") == "S256" and bool(_CHALLENGE.fullmatch(challenge))

    def approve(self, q: dict[str, str], granted: list[str], open_id: str | None) -> str:
        """Issue a code and return the callback URL (the caller validated `q`)."""
        _, requested = self.validate_authorize(q)
        chosen = [s for s in requested if s in granted or s == "user.info.basic"]
        profile = self.core.profile
        account = (self.core.account(open_id) if open_id else None) or profile.account
        now = self.core.clock.monotonic()
        code = secrets.token_urlsafe(32)
        with self.core.lock:
            refusal = self._login_cap(account.open_id, now)
            if refusal is not None:
                return callback_url(q, {"error": "access_denied", "error_description": refusal})
            self.authorised[account.open_id] = now
            self.codes[code] = _Code(client_key=q["client_key"], redirect_uri=q["redirect_uri"], scopes=chosen,
                                     challenge=q.get("code_challenge") or None, open_id=account.open_id,
                                     expires=now + profile.limits.auth_code_seconds)
        return callback_url(q, {"code": code, "scopes": ",".join(chosen)})

    def _login_cap(self, open_id: str, now: float) -> str | None:
        """Why an unaudited app's consent refuses this user now (switch unaudited_login_cap), or None."""
        profile = self.core.profile
        if profile.audited or not profile.unaudited_login_cap:
            return None
        cap = profile.limits.unaudited_users_per_day
        horizon = now - profile.limits.day_seconds
        others = {o for o, when in self.authorised.items() if when > horizon and o != open_id}
        return UNAUDITED_LOGIN_REFUSED.format(cap=cap) if len(others) >= cap else None

    @staticmethod
    def deny_url(q: dict[str, str]) -> str:
        return callback_url(q, {"error": "access_denied",
                                "error_description": "The user denied the authorization request."})

    # ------------------------------------------------------------ /v2/oauth/token/ and revoke
    def _client_refusal(self, content_type: str, form: dict[str, str]) -> Reply | None:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.core.oauth_error(400, "invalid_request",
                                         "Content-Type must be application/x-www-form-urlencoded.")
        profile = self.core.profile
        if form.get("client_key") != profile.client_key or form.get("client_secret") != profile.client_secret:
            return self.core.oauth_error(401, "invalid_client", "Client key or secret is invalid.")
        return None

    def token(self, content_type: str, form: dict[str, str]) -> Reply:
        refusal = self._client_refusal(content_type, form)
        if refusal is not None:
            return refusal
        grant_type = form.get("grant_type")
        if not grant_type:
            return self.core.oauth_error(400, "invalid_request", "grant_type is required.")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return self.core.oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type} is not supported.")

    def _code_refusal(self, code: _Code | None, form: dict[str, str], now: float) -> Reply | None:
        err = self.core.oauth_error
        if code is None or code.client_key != form.get("client_key"):
            return err(400, "invalid_grant", "Authorization code is invalid.")
        if code.used:
            return err(400, "invalid_grant", "Authorization code has been used.")
        if now >= code.expires:
            return err(400, "invalid_grant", "Authorization code is expired.")
        if form["redirect_uri"] != code.redirect_uri:
            return err(400, "invalid_request", "Redirect_uri is not matched with the uri when requesting code.")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            if not _VERIFIER.fullmatch(verifier) or \
                    hashlib.sha256(verifier.encode("ascii")).hexdigest() != code.challenge:
                return err(400, "invalid_grant", "Code verifier or code challenge is invalid.")
        return None

    def _exchange(self, form: dict[str, str]) -> Reply:
        code_text = form.get("code")
        if not code_text:
            return self.core.oauth_error(400, "invalid_request", "code is required.")
        if not form.get("redirect_uri"):
            return self.core.oauth_error(400, "invalid_request", "redirect_uri is required.")
        now = self.core.clock.monotonic()
        with self.core.lock:
            code = self.codes.get(code_text)
            refusal = self._code_refusal(code, form, now)
            if refusal is not None:
                return refusal
            assert code is not None
            code.used = True
            grant = Grant(grant_id=self.core.next_seq(), open_id=code.open_id, scopes=list(code.scopes),
                          refresh_expires=now + self.core.profile.limits.refresh_token_seconds)
            self.grants[grant.grant_id] = grant
            return self._issue(grant, now)

    def _refresh(self, form: dict[str, str]) -> Reply:
        token = form.get("refresh_token")
        if not token:
            return self.core.oauth_error(400, "invalid_request", "refresh_token is required.")
        now = self.core.clock.monotonic()
        with self.core.lock:
            grant = self.refresh.get(token)
            if grant is None or grant.revoked or grant.refresh_token != token or now >= grant.refresh_expires:
                return self.core.oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
            del self.refresh[token]   # rotation: the old refresh token stops working now
            return self._issue(grant, now)

    def _issue(self, grant: Grant, now: float) -> Reply:
        access = "act." + secrets.token_urlsafe(40)
        refresh = "rft." + secrets.token_urlsafe(40)
        lifetime = self.core.profile.limits.access_token_seconds
        self.access[access] = (grant, now + lifetime)
        self.refresh[refresh] = grant
        self.issued += [access, refresh]
        grant.refresh_token = refresh
        return Reply(200, {"access_token": access, "expires_in": int(lifetime), "open_id": grant.open_id,
                           "refresh_expires_in": max(0, int(grant.refresh_expires - now)),
                           "refresh_token": refresh, "scope": ",".join(grant.scopes), "token_type": "Bearer"})

    def revoke(self, content_type: str, form: dict[str, str]) -> tuple[Reply, str | None]:
        """(the answer, the open_id whose grants all ended, or None if the token was unknown)."""
        refusal = self._client_refusal(content_type, form)
        if refusal is not None:
            return refusal, None
        token = form.get("token")
        if not token:
            return self.core.oauth_error(400, "invalid_request", "token is required."), None
        with self.core.lock:
            entry = self.access.get(token)
            if entry is None:
                return Reply(200, {}), None
            # Revoking removes the app from the user's account: every grant of that user ends,
            # and only that user's: other creators stay logged in.
            open_id = entry[0].open_id
            for grant in self.grants.values():
                if grant.open_id == open_id:
                    grant.revoked = True
        return Reply(200, {}), open_id

    # ------------------------------------------------------------ data endpoints
    def gate(self, authorization: str, *, scopes: tuple[str, ...], kind: str,
             limit: int) -> tuple[Grant | None, Reply | None]:
        """Bearer token, scope and per-token sliding-window rate limit, in TikTok's order."""
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        now = self.core.clock.monotonic()
        with self.core.lock:
            entry = self.access.get(token) if token else None
            if entry is None or entry[0].revoked or now >= entry[1]:
                return None, self.core.envelope(401, None, "access_token_invalid", MSG_TOKEN)
            grant = entry[0]
            if scopes and not any(s in grant.scopes for s in scopes):
                return None, self.core.envelope(401, None, "scope_not_authorized", MSG_SCOPE)
            window = self.windows.setdefault((token, kind), deque())
            horizon = now - self.core.profile.limits.window_seconds
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= limit:
                return None, self.core.envelope(429, None, "rate_limit_exceeded", MSG_RATE)
            window.append(now)
            return grant, None

    def expire(self, *, access: bool, refresh: bool) -> None:
        now = self.core.clock.monotonic()
        with self.core.lock:
            if access:
                for token, (grant, _) in list(self.access.items()):
                    self.access[token] = (grant, now)
            if refresh:
                for grant in self.grants.values():
                    grant.refresh_expires = now

    def logged_in(self) -> dict[str, int]:
        """open_id -> how many live access tokens it holds now (creators logged in at once)."""
        now = self.core.clock.monotonic()
        out: dict[str, int] = {}
        with self.core.lock:
            for grant, expires in self.access.values():
                if not grant.revoked and now < expires:
                    out[grant.open_id] = out.get(grant.open_id, 0) + 1
        return out
