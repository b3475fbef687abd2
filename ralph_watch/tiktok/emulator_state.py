"""The emulator's memory and rules: OAuth grants, publish tasks, rate windows, caps, faults.

Framework-free: every handler takes parsed request parts and returns a `Reply`, so the bottle
layer (emulator.py) stays thin. Time comes only from the injected `Clock` (monotonic for
lifetimes and windows, `now()` for displayed timestamps and log_ids).
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

from ralph_watch.clock import Clock
from ralph_watch.tiktok.emulator_profile import ACCOUNT_FIELDS, SWITCHES, Account, Profile, check_switch
from ralph_watch.constants import MAX_TITLE_UTF16, MAX_VIDEO_BYTES
from ralph_watch.tiktok.protocol import MIN_CHUNK, utf16_len

__all__ = ["Reply", "EmulatorState", "Fault", "SCOPES", "FAULT_ENDPOINTS", "FAIL_REASONS"]

log = logging.getLogger(__name__)

SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.publish", "video.upload", "video.list")
FAULT_ENDPOINTS = ("init", "draft_init", "creator_info", "status", "upload", "token", "revoke", "user_info")
FAIL_REASONS = ("file_format_check_failed", "duration_check_failed", "frame_rate_check_failed",
                "picture_size_check_failed", "internal", "video_pull_failed", "publish_cancelled", "auth_removed",
                "spam_risk_too_many_posts", "spam_risk_user_banned_from_posting", "spam_risk_text", "spam_risk")
UPLOAD_MIME = ("video/mp4", "video/quicktime", "video/webm")
MAX_FINAL_CHUNK = 128_000_000
READ_BLOCK = 4 * 1024 * 1024          # large reads: the upload path must keep up with curl
USER_INFO_PER_WINDOW = 600            # documented; not in Limits because the client does not limit it
PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
USER_FIELDS = {
    "open_id": "user.info.basic", "union_id": "user.info.basic", "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic", "avatar_large_url": "user.info.basic", "display_name": "user.info.basic",
    "bio_description": "user.info.profile", "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile", "username": "user.info.profile",
    "follower_count": "user.info.stats", "following_count": "user.info.stats",
    "likes_count": "user.info.stats", "video_count": "user.info.stats",
}
_RANGE = re.compile(r"bytes (\d{1,12})-(\d{1,12})/(\d{1,12})")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{1,128}")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")

MSG_TOKEN = "The access token is invalid or not found in the request."
MSG_SCOPE = "The user did not authorize the scope required for completing this request."
MSG_RATE = "API rate limit exceeded, please retry later."


@dataclass
class Reply:
    """One HTTP answer. `body` is bytes, or a dict/list sent as JSON."""

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"

    def payload(self) -> bytes:
        if isinstance(self.body, (bytes, bytearray)):
            return bytes(self.body)
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Fault:
    """An injected misbehaviour for the next `times` requests to `endpoint`."""

    endpoint: str
    status: int | None = None        # answer with this status instead of the real one
    code: str | None = None          # error code for that answer (default from the status)
    message: str = ""
    times: int = 1
    drop_after_bytes: int | None = None   # upload: take N body bytes, then close without answering
    drop: bool = False               # any endpoint: close the connection without answering
    delay: float = 0.0               # seconds before answering
    trickle: bool = False            # send the answer one byte at a time
    trickle_interval: float = 0.05
    after: bool = False              # do the real work first, then fail the answer (lost response)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Fault":
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object such as {\"endpoint\": \"init\", \"status\": 500}")
        endpoint = body.get("endpoint")
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(FAULT_ENDPOINTS)}, not {endpoint!r}")
        known = {"endpoint", "status", "code", "message", "times", "drop_after_bytes", "drop", "delay", "trickle",
                 "trickle_interval", "after"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known keys are {sorted(known)}")
        fault = cls(endpoint=endpoint)
        for key, kind in (("status", int), ("times", int), ("drop_after_bytes", int)):
            value = body.get(key)
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be a whole number >= 0, not {value!r}")
                setattr(fault, key, value)
        for key in ("delay", "trickle_interval"):
            value = body.get(key)
            if value is not None:
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be a number of seconds >= 0, not {value!r}")
                setattr(fault, key, float(value))
        for key in ("drop", "trickle", "after"):
            value = body.get(key)
            if value is not None:
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false, not {value!r}")
                setattr(fault, key, value)
        for key in ("code", "message"):
            value = body.get(key)
            if value is not None:
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string, not {value!r}")
                setattr(fault, key, value)
        if fault.drop_after_bytes is not None and endpoint != "upload":
            raise ValueError("drop_after_bytes applies only to endpoint \"upload\"; use \"drop\": true elsewhere")
        if fault.status is not None and not 100 <= fault.status <= 599:
            raise ValueError(f"status must be an HTTP status code (100-599), not {fault.status}")
        return fault


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
class _Grant:
    """One authorization (login) of one user: its refresh chain and the access tokens it issued."""

    grant_id: int
    open_id: str
    scopes: list[str]
    refresh_expires: float         # fixed at first issue: rotation does not extend it
    refresh_token: str = ""        # only the newest refresh token is valid
    revoked: bool = False


@dataclass
class _Publish:
    publish_id: str
    mode: str                      # direct | draft
    open_id: str
    grant_id: int
    post_info: dict[str, Any]
    source: str                    # FILE_UPLOAD | PULL_FROM_URL
    created: str                   # ISO UTC, for people
    created_mono: float
    video_size: int = 0
    chunk_size: int = 0
    total_chunk_count: int = 0
    video_url: str | None = None
    upload_id: str = ""
    upload_token: str = ""
    url_expires: float = 0.0
    received: int = 0
    sha: Any = None                # hashlib object while uploading
    sha256: str | None = None
    spool: Path | None = None
    completed_mono: float | None = None   # upload (or pull) finished
    outcome: str | None = None     # fail_reason decided at completion (media checks / fail_next)
    failed_reason: str | None = None      # immediate failure (auth_removed)
    draft_done_mono: float | None = None  # simulated user finished the draft in the app
    post_id: int | None = None
    content_types: list[str] = field(default_factory=list)   # each accepted chunk's Content-Type, as sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expected_length(self, first: int) -> int | None:
        """The exact length the chunk starting at `first` must have, or None if no chunk starts there."""
        if first % self.chunk_size:
            return None
        index = first // self.chunk_size
        if index >= self.total_chunk_count:
            return None
        if index == self.total_chunk_count - 1:
            return self.video_size - first
        return self.chunk_size


def _media_fail_reason(path: Path, *, max_duration: int) -> str | None:
    """Run ralph-watch's own probe on the uploaded file; None if the video passes.

    probe.py is written in parallel with this module: when it cannot be imported yet the
    media counts as valid (the emulator must not block the rest of the product)."""
    try:
        from ralph_watch import probe  # type: ignore[attr-defined]
    except ImportError:
        return None
    from ralph_watch.errors import ProbeError
    try:
        info = probe.probe_video(path)
        problems = probe.check_video(info, max_duration=max_duration)
    except ProbeError:
        return "file_format_check_failed"
    except Exception:  # a probe bug must not kill the request thread; TikTok would also refuse it
        log.exception("emulator: probing the uploaded file failed")
        return "file_format_check_failed"
    if not problems:
        return None
    # check_video speaks to people; TikTok names the first rule broken, so classify from the facts.
    try:
        if info.container not in probe.CONTAINERS or info.codec not in probe.CODECS:
            return "file_format_check_failed"
        if info.fps is None or not probe.MIN_FPS <= round(info.fps, 1) <= probe.MAX_FPS:
            return "frame_rate_check_failed"
        if min(info.width, info.height) < probe.MIN_SIDE or max(info.width, info.height) > probe.MAX_SIDE:
            return "picture_size_check_failed"
        if info.duration is None or info.duration <= 0 or info.duration > max_duration + 0.0005:
            return "duration_check_failed"
    except AttributeError:   # probe's names changed: still refuse, with the safest reason
        pass
    return "file_format_check_failed"


class EmulatorState:
    """Everything the emulator remembers, behind one lock (uploads also lock their task)."""

    def __init__(self, profile: Profile, *, clock: Clock, base_url: str, spool_dir: Path | None = None) -> None:
        self.profile = profile
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.spool_dir = Path(spool_dir) if spool_dir else Path(tempfile.gettempdir())
        self.lock = threading.RLock()
        self.stop = threading.Event()   # set on shutdown: ends delays and trickles
        self._original = copy.deepcopy(profile)   # reset() undoes control-API account patches
        self._reset_locked()

    # ---------------------------------------------------------------- bookkeeping
    def _reset_locked(self) -> None:
        self.codes: dict[str, _Code] = {}
        self.grants: dict[int, _Grant] = {}
        self.access: dict[str, tuple[_Grant, float]] = {}    # token -> (grant, expires)
        self.refresh: dict[str, _Grant] = {}
        self.issued: list[str] = []    # every access and refresh token ever issued (for leak tests)
        self.publishes: dict[str, _Publish] = {}
        self.uploads: dict[str, _Publish] = {}                # upload_id -> publish
        self.windows: dict[tuple[str, str], deque[float]] = {}
        self.direct_inits: dict[str, deque[float]] = {}       # open_id -> init times (rolling day)
        self.faults: list[Fault] = []
        self.fail_next: list[str] = []
        self.stats: dict[str, Any] = {"requests": {}, "statuses": {}, "rate_limited": {}, "inits": 0,
                                      "draft_inits": 0, "faults_applied": 0, "upload_bytes": 0}
        self._seq = 0

    def reset(self) -> None:
        """Forget every token, post, fault and count; put the profile back as it was at start."""
        with self.lock:
            for p in self.publishes.values():
                self._drop_spool(p)
            self._reset_locked()
            for key in (*SWITCHES, "limits", "verified_url_prefixes", "redirect_uris"):
                setattr(self.profile, key, copy.deepcopy(getattr(self._original, key)))
            for now, was in zip(self.profile.accounts(), self._original.accounts()):
                for key in ACCOUNT_FIELDS:
                    setattr(now, key, getattr(was, key))

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token issued since start (or reset): tests search for leaks."""
        with self.lock:
            return list(self.issued)

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def log_id(self) -> str:
        """TikTok's shape: 14 digits of UTC time and 20 upper-case hex characters, fresh each time."""
        return self.clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()

    def count(self, endpoint: str, status: int) -> None:
        with self.lock:
            req = self.stats["requests"]
            req[endpoint] = req.get(endpoint, 0) + 1
            per = self.stats["statuses"].setdefault(endpoint, {})
            per[str(status)] = per.get(str(status), 0) + 1
            if status == 429:
                rl = self.stats["rate_limited"]
                rl[endpoint] = rl.get(endpoint, 0) + 1

    def account(self, open_id: str) -> Account | None:
        for account in self.profile.accounts():
            if account.open_id == open_id:
                return account
        return None

    def avatar_url(self, open_id: str) -> str:
        return f"{self.base_url}/_emulator/avatar/{open_id}.png"

    # ---------------------------------------------------------------- envelopes
    def envelope(self, status: int, data: Any = None, code: str = "ok", message: str = "") -> Reply:
        return Reply(status, {"data": {} if data is None else data,
                              "error": {"code": code, "message": message, "log_id": self.log_id()}})

    def oauth_error(self, status: int, error: str, description: str) -> Reply:
        return Reply(status, {"error": error, "error_description": description, "log_id": self.log_id()})

    def fault_reply(self, endpoint: str, fault: Fault) -> Reply:
        status = fault.status or 500
        if endpoint == "upload":
            return Reply(status, b"", content_type="text/plain")
        if endpoint in ("token", "revoke"):
            default = "temporarily_unavailable" if status == 503 else "server_error" if status >= 500 else "invalid_request"
            return self.oauth_error(status, fault.code or default, fault.message or "Injected fault.")
        default = {429: "rate_limit_exceeded", 401: "access_token_invalid"}.get(status, "internal_error")
        return self.envelope(status, None, fault.code or default, fault.message or "Injected fault.")

    # ---------------------------------------------------------------- faults / control
    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.endpoint == endpoint and fault.times > 0:
                    fault.times -= 1
                    self.stats["faults_applied"] += 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def add_fail_next(self, reason: str) -> None:
        with self.lock:
            self.fail_next.append(reason)

    def expire(self, what: str) -> None:
        if what not in ("access_token", "refresh_token", "upload_url", "all"):
            raise ValueError(f"what must be access_token, refresh_token, upload_url or all, not {what!r}")
        now = self.clock.monotonic()
        with self.lock:
            if what in ("access_token", "all"):
                for token, (grant, _) in list(self.access.items()):
                    self.access[token] = (grant, now)
            if what in ("refresh_token", "all"):
                for grant in self.grants.values():
                    grant.refresh_expires = now
            if what in ("upload_url", "all"):
                for p in self.publishes.values():
                    p.url_expires = now

    def patch_account(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply control-API changes; `open_id` picks the account (default: the profile's main one);
        `audited` is app-level and goes to the profile."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of account fields")
        with self.lock:
            target = self.profile.account
            if "open_id" in changes:
                found = self.account(str(changes["open_id"]))
                if found is None:
                    raise ValueError(f"no account with open_id {changes['open_id']!r}")
                target = found
            for key, value in changes.items():
                if key == "open_id":
                    continue
                if key == "audited":
                    if not isinstance(value, bool):
                        raise ValueError(f"audited must be true or false, not {value!r}")
                    continue
                kind = ACCOUNT_FIELDS.get(key)
                if kind is None or key == "open_id":
                    raise ValueError(f"unknown account field {key!r}; known: audited, {', '.join(ACCOUNT_FIELDS)}")
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    raise ValueError(f"{key} must be {kind.__name__}, not {value!r}")
            for key, value in changes.items():
                if key == "audited":
                    self.profile.audited = value
                elif key != "open_id":
                    setattr(target, key, value)
            return self.account_json(target)

    def patch_profile(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Control API: change the app-level switches (emulator_profile.SWITCHES) at run time."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of profile switches")
        for key, value in changes.items():
            if key not in SWITCHES:
                raise ValueError(f"unknown profile switch {key!r}; known: {', '.join(SWITCHES)}")
            why = check_switch(key, value)
            if why is not None:
                raise ValueError(f"{key} {why}")
        with self.lock:
            for key, value in changes.items():
                setattr(self.profile, key, value)
            return {key: getattr(self.profile, key) for key in SWITCHES}

    def account_json(self, account: Account) -> dict[str, Any]:
        return {k: getattr(account, k) for k in ACCOUNT_FIELDS} | {"audited": self.profile.audited}

    def complete_draft(self, publish_id: str) -> None:
        """The simulated user opens the inbox notification and posts the draft in the app."""
        with self.lock:
            p = self.publishes.get(publish_id)
            if p is None or p.mode != "draft":
                raise KeyError(f"no draft with publish_id {publish_id!r}")
            status, _, _ = self._status(p, self.clock.monotonic())
            if status != "SEND_TO_USER_INBOX":
                raise ValueError(f"draft {publish_id} is {status}, not SEND_TO_USER_INBOX: it cannot be completed now")
            p.draft_done_mono = self.clock.monotonic()

    # ---------------------------------------------------------------- OAuth
    def validate_authorize(self, q: dict[str, str]) -> tuple[str | None, list[str]]:
        """(error_type or None, requested scopes) for an authorize request."""
        if q.get("client_key") != self.profile.client_key:
            return "client_key", []
        if q.get("response_type") != "code":
            return "response_type", []
        redirect = q.get("redirect_uri", "")
        if not self._redirect_ok(redirect):
            return "redirect_uri", []
        scopes = [s.strip() for s in q.get("scope", "").split(",") if s.strip()]
        if not scopes or any(s not in SCOPES for s in scopes):
            return "scope", []
        challenge = q.get("code_challenge")
        if challenge is None or challenge == "":
            if self._is_loopback(redirect):
                return "code_challenge", []
        else:
            # TikTok accepts any verifier-shaped challenge here; the hex-vs-base64url mismatch
            # only shows at the token exchange ("Code verifier or code challenge is invalid.").
            if q.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge):
                return "code_challenge", []
        return None, scopes

    @staticmethod
    def _is_loopback(uri: str) -> bool:
        try:
            return (urlsplit(uri).hostname or "") in _LOOPBACK_HOSTS
        except ValueError:
            return False

    def _redirect_ok(self, uri: str) -> bool:
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
        if not self.profile.redirect_uris:
            return True
        for registered in self.profile.redirect_uris:
            if registered == uri:
                return True
            if ":*" in registered:
                pattern = re.escape(registered).replace(re.escape(":*"), r":\d{1,5}")
                if re.fullmatch(pattern, uri):
                    return True
        return False

    def approve(self, q: dict[str, str], granted: list[str], open_id: str | None) -> str:
        """Issue a code and return the callback URL (the caller validated `q`)."""
        _, requested = self.validate_authorize(q)
        chosen = [s for s in requested if s in granted or s == "user.info.basic"]
        account = self.account(open_id) if open_id else self.profile.account
        if account is None:
            account = self.profile.account
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = _Code(client_key=q["client_key"], redirect_uri=q["redirect_uri"], scopes=chosen,
                                     challenge=q.get("code_challenge") or None, open_id=account.open_id,
                                     expires=self.clock.monotonic() + self.profile.limits.auth_code_seconds)
        query = {"code": code, "scopes": ",".join(chosen)}
        if "state" in q:
            query["state"] = q["state"]
        return f"{q['redirect_uri']}?{urlencode(query)}"

    @staticmethod
    def deny_url(q: dict[str, str]) -> str:
        query = {"error": "access_denied", "error_description": "The user denied the authorization request."}
        if "state" in q:
            query["state"] = q["state"]
        return f"{q['redirect_uri']}?{urlencode(query)}"

    def token(self, content_type: str, form: dict[str, str]) -> Reply:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.oauth_error(400, "invalid_request",
                                    "Content-Type must be application/x-www-form-urlencoded.")
        if form.get("client_key") != self.profile.client_key or form.get("client_secret") != self.profile.client_secret:
            return self.oauth_error(401, "invalid_client", "Client key or secret is invalid.")
        grant_type = form.get("grant_type")
        if not grant_type:
            return self.oauth_error(400, "invalid_request", "grant_type is required.")
        if grant_type == "authorization_code":
            return self._exchange(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return self.oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type} is not supported.")

    def _exchange(self, form: dict[str, str]) -> Reply:
        code_text = form.get("code")
        if not code_text:
            return self.oauth_error(400, "invalid_request", "code is required.")
        if not form.get("redirect_uri"):
            return self.oauth_error(400, "invalid_request", "redirect_uri is required.")
        now = self.clock.monotonic()
        with self.lock:
            code = self.codes.get(code_text)
            if code is None or code.client_key != form.get("client_key"):
                return self.oauth_error(400, "invalid_grant", "Authorization code is invalid.")
            if code.used:
                return self.oauth_error(400, "invalid_grant", "Authorization code has been used.")
            if now >= code.expires:
                return self.oauth_error(400, "invalid_grant", "Authorization code is expired.")
            if form["redirect_uri"] != code.redirect_uri:
                return self.oauth_error(400, "invalid_request",
                                        "Redirect_uri is not matched with the uri when requesting code.")
            if code.challenge is not None:
                verifier = form.get("code_verifier", "")
                if not _VERIFIER.fullmatch(verifier) or \
                        hashlib.sha256(verifier.encode("ascii")).hexdigest() != code.challenge:
                    return self.oauth_error(400, "invalid_grant", "Code verifier or code challenge is invalid.")
            code.used = True
            grant = _Grant(grant_id=self.next_seq(), open_id=code.open_id, scopes=list(code.scopes),
                           refresh_expires=now + self.profile.limits.refresh_token_seconds)
            self.grants[grant.grant_id] = grant
            return self._issue(grant, now)

    def _refresh(self, form: dict[str, str]) -> Reply:
        token = form.get("refresh_token")
        if not token:
            return self.oauth_error(400, "invalid_request", "refresh_token is required.")
        now = self.clock.monotonic()
        with self.lock:
            grant = self.refresh.get(token)
            if grant is None or grant.revoked or grant.refresh_token != token or now >= grant.refresh_expires:
                return self.oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
            del self.refresh[token]   # rotation: the old refresh token stops working now
            return self._issue(grant, now)

    def _issue(self, grant: _Grant, now: float) -> Reply:
        access = "act." + secrets.token_urlsafe(40)
        refresh = "rft." + secrets.token_urlsafe(40)
        lifetime = self.profile.limits.access_token_seconds
        self.access[access] = (grant, now + lifetime)
        self.refresh[refresh] = grant
        self.issued += [access, refresh]
        grant.refresh_token = refresh
        return Reply(200, {"access_token": access, "expires_in": int(lifetime), "open_id": grant.open_id,
                           "refresh_expires_in": max(0, int(grant.refresh_expires - now)),
                           "refresh_token": refresh, "scope": ",".join(grant.scopes), "token_type": "Bearer"})

    def revoke(self, content_type: str, form: dict[str, str]) -> Reply:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
        if form.get("client_key") != self.profile.client_key or form.get("client_secret") != self.profile.client_secret:
            return self.oauth_error(401, "invalid_client", "Client key or secret is invalid.")
        token = form.get("token")
        if not token:
            return self.oauth_error(400, "invalid_request", "token is required.")
        now = self.clock.monotonic()
        with self.lock:
            entry = self.access.get(token)
            if entry is not None:
                # Revoking removes the app from the user's account: every grant of that user ends.
                open_id = entry[0].open_id
                for grant in self.grants.values():
                    if grant.open_id == open_id:
                        grant.revoked = True
                for p in self.publishes.values():
                    if p.open_id == open_id and p.failed_reason is None:
                        status, _, _ = self._status(p, now)
                        if status in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
                            p.failed_reason = "auth_removed"
                            self._drop_spool(p)
        return Reply(200, {})

    # ---------------------------------------------------------------- data endpoints: common gate
    def gate(self, authorization: str, *, scopes: tuple[str, ...], kind: str, limit: int) -> tuple[_Grant | None, Reply | None]:
        """Bearer token, scope and per-token sliding-window rate limit, in TikTok's order."""
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        now = self.clock.monotonic()
        with self.lock:
            entry = self.access.get(token) if token else None
            if entry is None or entry[0].revoked or now >= entry[1]:
                return None, self.envelope(401, None, "access_token_invalid", MSG_TOKEN)
            grant = entry[0]
            if scopes and not any(s in grant.scopes for s in scopes):
                return None, self.envelope(401, None, "scope_not_authorized", MSG_SCOPE)
            window = self.windows.setdefault((token, kind), deque())
            horizon = now - self.profile.limits.window_seconds
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= limit:
                return None, self.envelope(429, None, "rate_limit_exceeded", MSG_RATE)
            window.append(now)
            return grant, None

    # ---------------------------------------------------------------- user/info, creator_info
    def user_info(self, authorization: str, fields_param: str | None) -> Reply:
        grant, refusal = self.gate(authorization, scopes=(), kind="user_info", limit=USER_INFO_PER_WINDOW)
        if refusal:
            return refusal
        assert grant is not None
        if not fields_param:
            return self.envelope(400, None, "invalid_params", "The fields parameter is required, e.g. fields=open_id,display_name.")
        wanted = [f.strip() for f in fields_param.split(",") if f.strip()]
        unknown = [f for f in wanted if f not in USER_FIELDS]
        if unknown:
            return self.envelope(400, None, "invalid_params", f"Unknown fields: {', '.join(unknown)}.")
        missing = sorted({USER_FIELDS[f] for f in wanted} - set(grant.scopes))
        if missing:
            return self.envelope(400, None, "scope_permission_missed",
                                 f"Some fields need additional scopes: {', '.join(missing)}.")
        account = self.account(grant.open_id)
        assert account is not None
        with self.lock:
            videos = sum(1 for p in self.publishes.values() if p.open_id == account.open_id)
        values = {"open_id": account.open_id, "union_id": "union-" + account.open_id,
                  "avatar_url": self.avatar_url(account.open_id), "avatar_url_100": self.avatar_url(account.open_id),
                  "avatar_large_url": self.avatar_url(account.open_id), "display_name": account.nickname,
                  "bio_description": account.bio_description,
                  "profile_deep_link": f"{self.base_url}/@{account.username}", "is_verified": account.is_verified,
                  "username": account.username, "follower_count": account.follower_count,
                  "following_count": account.following_count, "likes_count": account.likes_count,
                  "video_count": videos}
        return self.envelope(200, {"user": {f: values[f] for f in wanted}})

    def _cap_code(self, account: Account, now: float) -> tuple[str, str] | None:
        """The cap that blocks a new direct post right now, as (code, message), or None."""
        limits = self.profile.limits
        if account.banned:
            return "spam_risk_user_banned_from_posting", "The user is banned from making new posts."
        if self.profile.active_user_cap_reached:
            return "reached_active_user_cap", "The daily quota of active publishing users for this client is reached."
        if not self.profile.audited:
            users = self._posting_users(now)
            if account.open_id not in users and len(users) >= limits.unaudited_users_per_day:
                return "reached_active_user_cap", "The daily quota of active publishing users for this client is reached."
        if len(self._day(self.direct_inits.get(account.open_id), now)) >= limits.daily_posts:
            return "spam_risk_too_many_posts", "The daily post cap from the API is reached for the current user."
        return None

    def _day(self, times: deque[float] | None, now: float) -> deque[float]:
        if times is None:
            return deque()
        horizon = now - self.profile.limits.day_seconds
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def _posting_users(self, now: float) -> set[str]:
        return {open_id for open_id, times in self.direct_inits.items() if self._day(times, now)}

    @staticmethod
    def privacy_options(account: Account) -> list[str]:
        return list(PRIVATE_OPTIONS if account.private else PUBLIC_OPTIONS)

    def creator_info(self, authorization: str) -> Reply:
        grant, refusal = self.gate(authorization, scopes=("video.publish",), kind="creator_info",
                                   limit=self.profile.limits.creator_info_per_window)
        if refusal:
            return refusal
        assert grant is not None
        account = self.account(grant.open_id)
        assert account is not None
        with self.lock:
            cap = self._cap_code(account, self.clock.monotonic())
        if cap:
            return self.envelope(200, None, *cap)   # TikTok's "200 (intentional)" cap answers
        return self.envelope(200, {
            "creator_avatar_url": self.avatar_url(account.open_id), "creator_username": account.username,
            "creator_nickname": account.nickname, "privacy_level_options": self.privacy_options(account),
            "comment_disabled": account.comment_disabled,
            "duet_disabled": account.duet_disabled or account.private,
            "stitch_disabled": account.stitch_disabled or account.private,
            "max_video_post_duration_sec": account.max_video_post_duration_sec,
            # Undocumented; some answers are reported to carry it. Sent only when the switch is off.
            **({} if self.profile.creator_can_post else {"creator_can_post": False})})

    # ---------------------------------------------------------------- init
    def _bad(self, message: str) -> Reply:
        return self.envelope(400, None, "invalid_params", message)

    def _parse_json(self, content_type: str, raw: bytes) -> tuple[dict[str, Any] | None, Reply | None]:
        if content_type.split(";")[0].strip().lower() != "application/json":
            return None, self._bad("Content-Type must be application/json; charset=UTF-8.")
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError):
            return None, self._bad("The request body is not valid JSON.")
        if not isinstance(body, dict):
            return None, self._bad("The request body must be a JSON object.")
        return body, None

    def _source(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, Reply | None]:
        """Validate source_info; returns the normalised source or a refusal."""
        src = body.get("source_info")
        if not isinstance(src, dict):
            return None, self._bad("source_info is required and must be an object.")
        source = src.get("source")
        if source not in ("FILE_UPLOAD", "PULL_FROM_URL"):
            return None, self._bad("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
        if source == "PULL_FROM_URL":
            url = src.get("video_url")
            if not isinstance(url, str) or not url:
                return None, self._bad("source_info.video_url is required for PULL_FROM_URL.")
            try:
                parts = urlsplit(url)
            except ValueError:
                return None, self._bad("source_info.video_url is not a valid URL.")
            host = parts.hostname or ""
            is_ip = bool(re.fullmatch(r"[\d.]+", host)) or ":" in host
            if parts.scheme != "https" or is_ip or not any(url.startswith(p) for p in self.profile.verified_url_prefixes):
                return None, self.envelope(403, None, "url_ownership_unverified",
                                           "The domain or URL prefix of video_url is not verified for this app.")
            return {"source": source, "video_url": url}, None
        values: dict[str, int] = {}
        for key in ("video_size", "chunk_size", "total_chunk_count"):
            value = src.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                return None, self._bad(f"source_info.{key} is required for FILE_UPLOAD and must be a positive integer.")
            values[key] = value
        size, chunk, count = values["video_size"], values["chunk_size"], values["total_chunk_count"]
        if size > MAX_VIDEO_BYTES:
            return None, self._bad("The video size is invalid: the maximum is 4 GB.")
        if chunk > self.profile.max_chunk_size or chunk > size:
            return None, self._bad("The chunk size is invalid")
        if size < MIN_CHUNK and (chunk != size or count != 1):
            return None, self._bad("The chunk size is invalid: videos under 5 MB must be uploaded whole.")
        if count != size // chunk and not (self.profile.accept_ceil_chunk_count and count == -(-size // chunk)):
            return None, self._bad("The total chunk count is invalid: it must be video_size / chunk_size rounded down.")
        if not 1 <= count <= 1000:
            return None, self._bad("The total chunk count is invalid: it must be between 1 and 1000.")
        if count > 1 and chunk < MIN_CHUNK:
            return None, self._bad("The chunk size is invalid: chunks must be at least 5 MB.")
        if size - (count - 1) * chunk > MAX_FINAL_CHUNK:
            return None, self._bad("The chunk size is invalid: the final chunk must be at most 128 MB.")
        return {"source": source, **values}, None

    def _check_post_info(self, info: Any, account: Account) -> Reply | None:
        if not isinstance(info, dict):
            return self._bad("post_info is required and must be an object.")
        for key in ("disable_duet", "disable_stitch", "disable_comment", "brand_content_toggle",
                    "brand_organic_toggle", "is_aigc"):
            if key in info and not isinstance(info[key], bool):
                return self._bad(f"post_info.{key} must be a JSON boolean (true or false).")
        # TikTok's reference marks it required, its own example and several clients omit it: the
        # omission counts as false unless the profile says TikTok enforces it.
        if "brand_content_toggle" not in info and self.profile.require_brand_toggle:
            return self._bad("post_info.brand_content_toggle is required.")
        if "title" in info:
            if not isinstance(info["title"], str):
                return self._bad("post_info.title must be a string.")
            if utf16_len(info["title"]) > MAX_TITLE_UTF16:
                return self._bad(f"post_info.title is longer than {MAX_TITLE_UTF16} UTF-16 characters.")
        cover = info.get("video_cover_timestamp_ms")
        if cover is not None and (not isinstance(cover, int) or isinstance(cover, bool) or cover < 0):
            return self._bad("post_info.video_cover_timestamp_ms must be a non-negative integer.")
        privacy = info.get("privacy_level")
        if privacy not in self.privacy_options(account):
            return self.envelope(403, None, "privacy_level_option_mismatch",
                                 "privacy_level is missing or not one of the creator's privacy_level_options.")
        return None

    def init(self, authorization: str, content_type: str, raw: bytes, *, draft: bool) -> Reply:
        grant, refusal = self.gate(authorization, scopes=("video.upload",) if draft else ("video.publish",),
                                   kind="init", limit=self.profile.limits.init_per_window)
        if refusal:
            return refusal
        assert grant is not None
        body, refusal = self._parse_json(content_type, raw)
        if refusal:
            return refusal
        assert body is not None
        account = self.account(grant.open_id)
        assert account is not None
        post_info: dict[str, Any] = {}
        if not draft:
            refusal = self._check_post_info(body.get("post_info"), account)
            if refusal:
                return refusal
            post_info = dict(body["post_info"])
        elif isinstance(body.get("post_info"), dict):
            # Inbox shares ignore post settings; only the title pre-fills the draft.
            title = body["post_info"].get("title")
            if isinstance(title, str) and not self.profile.draft_drops_caption:
                post_info = {"title": title}
        source, refusal = self._source(body)
        if refusal:
            return refusal
        assert source is not None
        now = self.clock.monotonic()
        limits = self.profile.limits
        with self.lock:
            if account.banned:
                return self.envelope(403, None, "spam_risk_user_banned_from_posting", "The user is banned from making new posts.")
            if draft:
                if self._pending_drafts(account.open_id, now) >= limits.pending_drafts:
                    return self.envelope(403, None, "spam_risk_too_many_pending_share",
                                         f"At most {limits.pending_drafts} pending shares are allowed within any 24 hours.")
            else:
                if not self.profile.creator_can_post:
                    return self.envelope(403, None, "spam_risk_too_many_posts",
                                         "The creator cannot make more posts right now (creator_can_post is false).")
                if not self.profile.audited:
                    if not account.private or (post_info.get("privacy_level") != "SELF_ONLY"
                                               and self.profile.unaudited_private_posts == "refuse"):
                        return self.envelope(403, None, "unaudited_client_can_only_post_to_private_accounts",
                                             "Unaudited clients can only post SELF_ONLY to private accounts.")
                    if post_info.get("privacy_level") != "SELF_ONLY":   # "restricted to private viewing mode"
                        post_info["privacy_level"] = "SELF_ONLY"
                        post_info["privacy_forced"] = True
                if self.profile.cover_public_only and post_info.get("privacy_level") != "PUBLIC_TO_EVERYONE":
                    post_info.pop("video_cover_timestamp_ms", None)
                cap = self._cap_code(account, now)
                if cap:
                    return self.envelope(403, None, *cap)
                self.direct_inits.setdefault(account.open_id, deque()).append(now)
            self.stats["draft_inits" if draft else "inits"] += 1
            p = self._new_publish(grant, account, source, post_info, draft=draft, now=now)
        data: dict[str, Any] = {"publish_id": p.publish_id}
        if p.source == "FILE_UPLOAD":
            data["upload_url"] = f"{self.base_url}/upload/video/?upload_id={p.upload_id}&upload_token={p.upload_token}"
        return self.envelope(200, data)

    def _pending_drafts(self, open_id: str, now: float) -> int:
        horizon = now - self.profile.limits.day_seconds
        count = 0
        for p in self.publishes.values():
            if p.mode == "draft" and p.open_id == open_id and p.created_mono > horizon:
                status, _, _ = self._status(p, now)
                if status not in ("PUBLISH_COMPLETE", "FAILED"):
                    count += 1
        return count

    def _new_publish(self, grant: _Grant, account: Account, source: dict[str, Any], post_info: dict[str, Any], *,
                     draft: bool, now: float) -> _Publish:
        n = f"{secrets.randbelow(9 * 10**17) + 10**17}"
        kind = "url" if source["source"] == "PULL_FROM_URL" else "file"
        publish_id = f"v_inbox_{kind}~v2.{n}" if draft else f"v_pub_{kind}~v2-1.{n}"
        p = _Publish(publish_id=publish_id, mode="draft" if draft else "direct", open_id=account.open_id,
                     grant_id=grant.grant_id, post_info=post_info, source=source["source"],
                     created=self.clock.now().isoformat().replace("+00:00", "Z"), created_mono=now,
                     video_size=source.get("video_size", 0), chunk_size=source.get("chunk_size", 0),
                     total_chunk_count=source.get("total_chunk_count", 0), video_url=source.get("video_url"))
        if p.source == "FILE_UPLOAD":
            p.upload_id = str(secrets.randbelow(9 * 10**17) + 10**17)
            p.upload_token = secrets.token_urlsafe(24)
            p.url_expires = now + self.profile.limits.upload_url_seconds
            p.sha = hashlib.sha256()
            self.uploads[p.upload_id] = p
        else:
            # PULL_FROM_URL: the emulator does not fetch; the pull "succeeds" after processing.
            self._complete(p, now, media_ok=True)
        self.publishes[publish_id] = p
        return p

    # ---------------------------------------------------------------- upload
    def upload(self, query: dict[str, str], headers: dict[str, str], body: BinaryIO, *,
               drop_after_bytes: int | None = None, hold: float = 0.0) -> tuple[Reply, bool]:
        """One chunk PUT. Returns (reply, drop): drop=True means close without answering.

        `hold` (a delay fault): the bytes are taken at once, then the chunk counts (and the answer
        goes out) `hold` seconds later, like a slow TikTok. It counts even if the client has gone
        meanwhile; a retry of the same chunk during the hold is taken in its place."""
        with self.lock:
            p = self.uploads.get(query.get("upload_id", ""))
            if p is None or not secrets.compare_digest(p.upload_token, query.get("upload_token", "")) \
                    or p.failed_reason is not None:
                return Reply(404, b"", content_type="text/plain"), False
            if self.clock.monotonic() >= p.url_expires:
                return Reply(403, b"", content_type="text/plain"), False
        mime = headers.get("content-type", "").split(";")[0].strip().lower()
        if mime not in UPLOAD_MIME:
            return self._upload_bad(f"Content-Type must be one of {', '.join(UPLOAD_MIME)}."), False
        match = _RANGE.fullmatch(headers.get("content-range", "").strip())
        if not match:
            return self._upload_bad("Content-Range must be 'bytes FIRST-LAST/TOTAL'."), False
        first, last, total = (int(g) for g in match.groups())
        if total != p.video_size or last < first or last >= total:
            return self._upload_bad("Content-Range does not fit the video_size given at init."), False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            # TikTok: "Malformated request headers" -> 400; the chunk length must be declared.
            return self._upload_bad("Content-Length is required: send each chunk with its length, "
                                    "not as a chunked transfer."), False
        length_text = headers.get("content-length", "")
        if not length_text.isdigit() or int(length_text) != last - first + 1:
            return self._upload_bad("Content-Length must equal the byte count of Content-Range."), False
        length = last - first + 1
        with p.lock:   # sequential: a parallel PUT waits, then sees the new progress (416)
            if first != p.received:
                return self._progress_reply(416, p), False
            expected = p.expected_length(first)
            if expected is None or length != expected:
                return self._upload_bad(f"This chunk must be {expected} bytes long by the chunk plan given at init."
                                        if expected else "No chunk of the plan starts at this byte."), False
            if p.spool is None:
                fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.spool_dir)
                os.close(fd)
                p.spool = Path(name)
            limit = length if drop_after_bytes is None else min(length, drop_after_bytes)
            sha = p.sha.copy()
            got = 0
            with open(p.spool, "r+b") as out:
                out.seek(first)
                while got < limit:
                    block = body.read(min(READ_BLOCK, limit - got))
                    if not block:
                        break
                    sha.update(block)
                    if block == bytes(len(block)):   # zeros (padding): leave a hole, spare the disk
                        out.seek(len(block), os.SEEK_CUR)
                    else:
                        out.write(block)
                    got += len(block)
                if got == length:
                    out.truncate(first + length)
            with self.lock:
                self.stats["upload_bytes"] += got
            if got != length:
                if drop_after_bytes is not None:
                    return Reply(200), True      # chunk not taken; the connection is cut
                return self._upload_bad("The body is shorter than Content-Length."), False
            if hold > 0:
                p.lock.release()   # nothing counted yet: status shows the bytes before this chunk
                try:
                    self.stop.wait(hold)
                finally:
                    p.lock.acquire()
                if first != p.received:   # a retry of this chunk was taken meanwhile
                    return self._progress_reply(201 if p.received >= p.video_size else 206, p), False
            p.sha = sha
            p.received += length
            p.content_types.append(headers.get("content-type", ""))
            if p.received < p.video_size:
                return self._progress_reply(206, p), drop_after_bytes is not None
            p.sha256 = sha.hexdigest()
            p.sha = None
            self._complete(p, self.clock.monotonic(), media_ok=False)
            return self._progress_reply(201, p), drop_after_bytes is not None

    def _upload_bad(self, why: str) -> Reply:
        return Reply(400, why.encode("utf-8"), content_type="text/plain; charset=utf-8")

    @staticmethod
    def _progress_reply(status: int, p: _Publish) -> Reply:
        rng = f"bytes 0-{p.received - 1}/{p.video_size}" if p.received else f"bytes */{p.video_size}"
        return Reply(status, b"", headers={"Content-Range": rng}, content_type="text/plain")

    def _complete(self, p: _Publish, now: float, *, media_ok: bool) -> None:
        """The upload finished: decide the outcome now (so the spool can go), reveal it after processing."""
        with self.lock:
            forced = self.fail_next.pop(0) if self.fail_next else None
        outcome = forced
        if outcome is None and not media_ok and p.spool is not None and self.profile.media_checks:
            account = self.account(p.open_id)
            max_duration = min(600, account.max_video_post_duration_sec if account else 600)
            outcome = _media_fail_reason(p.spool, max_duration=max_duration)
        self._drop_spool(p)
        p.outcome = outcome
        p.completed_mono = now
        if p.mode == "direct" and outcome is None and p.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE":
            p.post_id = secrets.randbelow(2 * 10**18) + 7 * 10**18   # 19 digits, > 2**53 like TikTok's

    @staticmethod
    def _drop_spool(p: _Publish) -> None:
        if p.spool is not None:
            try:
                p.spool.unlink()
            except FileNotFoundError:
                pass
            p.spool = None

    # ---------------------------------------------------------------- status
    def _status(self, p: _Publish, now: float) -> tuple[str, str | None, list[int]]:
        limits = self.profile.limits
        if p.failed_reason:
            return "FAILED", p.failed_reason, []
        waiting = "PROCESSING_DOWNLOAD" if p.source == "PULL_FROM_URL" else "PROCESSING_UPLOAD"
        if p.completed_mono is None or now < p.completed_mono + limits.processing_seconds:
            return waiting, None, []
        if p.outcome:
            return "FAILED", p.outcome, []
        if p.mode == "draft":
            return ("PUBLISH_COMPLETE" if p.draft_done_mono is not None else "SEND_TO_USER_INBOX"), None, []
        ids: list[int] = []
        if p.post_id is not None and now >= p.completed_mono + limits.processing_seconds + limits.moderation_seconds:
            ids = [p.post_id]
        return "PUBLISH_COMPLETE", None, ids

    def status(self, authorization: str, content_type: str, raw: bytes) -> Reply:
        grant, refusal = self.gate(authorization, scopes=("video.publish", "video.upload"), kind="status",
                                   limit=self.profile.limits.status_per_window)
        if refusal:
            return refusal
        assert grant is not None
        body, refusal = self._parse_json(content_type, raw)
        if refusal:
            return refusal
        assert body is not None
        publish_id = body.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            return self._bad("publish_id is required.")
        with self.lock:
            p = self.publishes.get(publish_id)
            if p is None:
                return self.envelope(400, None, "invalid_publish_id", "The publish_id does not exist.")
            if p.open_id != grant.open_id:
                return self.envelope(400, None, "token_not_authorized_for_specified_publish_id",
                                     "The access token is not authorized to query this publish_id.")
            status, reason, ids = self._status(p, self.clock.monotonic())
            data: dict[str, Any] = {"status": status, "publicaly_available_post_id": ids}
            if reason:
                data["fail_reason"] = reason
            if p.source == "FILE_UPLOAD":
                data["uploaded_bytes"] = p.received
            else:
                data["downloaded_bytes"] = 0 if p.completed_mono is None else 1
        return self.envelope(200, data)

    # ---------------------------------------------------------------- views for tests and the demo
    def posts(self) -> list[dict[str, Any]]:
        now = self.clock.monotonic()
        out = []
        with self.lock:
            for p in self.publishes.values():
                status, reason, ids = self._status(p, now)
                out.append({"publish_id": p.publish_id, "mode": p.mode, "open_id": p.open_id,
                            "post_info": dict(p.post_info), "source": p.source, "video_size": p.video_size,
                            "chunk_size": p.chunk_size, "total_chunk_count": p.total_chunk_count,
                            "received_bytes": p.received, "sha256": p.sha256, "status": status,
                            "fail_reason": reason, "post_ids": ids, "created": p.created,
                            "content_types": list(p.content_types)})
        return out

    def stats_view(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.stats))
