"""The TikTok HTTP client: Login Kit, creator_info, init, chunked upload, status.

The only module that imports httpx: every httpx exception becomes a TikTokError here.
Tokens live in this object's memory only and never reach a log line, a repr or an
exception text. Failed answers are classified by `tiktok.errors` (by `error.code`, not by
HTTP status: creator_info answers caps with HTTP 200).
"""
from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from ralph_watch.clock import Clock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.logs import forget_secret, register_secret
from ralph_watch.tiktok import oauth
from ralph_watch.tiktok.errors import LOCAL_ERRORS, classify
from ralph_watch.tiktok.limiter import AccountLimiter
from ralph_watch.tiktok.protocol import Chunk, plan_chunks
from ralph_watch.tiktok.ratecap import Pacer

__all__ = ["TikTokClient", "Account", "CreatorInfo", "InitResult", "PublishStatus", "redact_upload_url",
           "ChunkBody"]

log = logging.getLogger("ralph_watch.tiktok")

TOKEN_PATH = "/v2/oauth/token/"
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
DIRECT_INIT_PATH = "/v2/post/publish/video/init/"
DRAFT_INIT_PATH = "/v2/post/publish/inbox/video/init/"
STATUS_PATH = "/v2/post/publish/status/fetch/"

JSON_TYPE = "application/json; charset=UTF-8"
BLOCK = 1024 * 1024                     # upload body block: bounded memory, cancel checked per block
AVATAR_MAX_BYTES = 2 * 1024 * 1024
API_TIMEOUT = httpx.Timeout(10.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
REVOKE_TIMEOUT = httpx.Timeout(5.0)
API_DEADLINE = 30.0                     # seconds for a whole JSON answer (httpx's timeouts are per read)
API_MAX_BYTES = 1024 * 1024             # a JSON answer larger than this is not TikTok's
MIN_UPLOAD_RATE = 64 * 1024             # bytes/s: below this a chunk counts as stalled (per-chunk deadline)


# ----------------------------------------------------------------------------- public data


@dataclass(frozen=True)
class Account:
    """The logged-in account as the page may show it. Tokens are not part of it."""

    open_id: str
    scopes: frozenset[str]
    nickname: str = ""
    avatar_url: str = ""
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True)
class CreatorInfo:
    nickname: str
    username: str
    avatar_url: str
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int
    log_id: str | None = None


def redact_upload_url(url: str) -> str:
    """The upload URL for a log line: upload_id kept, every other query value masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    query = [(k, v if k == "upload_id" else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="*"), ""))


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str = field(repr=False)   # carries upload_token: a credential
    chunk_size: int
    total_chunk_count: int
    chunks: tuple[Chunk, ...]
    video_size: int
    mode: str                             # "direct" | "draft"
    log_id: str | None = None

    @property
    def redacted_url(self) -> str:
        return redact_upload_url(self.upload_url)


@dataclass(frozen=True)
class PublishStatus:
    status: str                 # PROCESSING_UPLOAD | PROCESSING_DOWNLOAD | SEND_TO_USER_INBOX | PUBLISH_COMPLETE | FAILED
    fail_reason: str | None
    post_ids: list[str]         # from TikTok's (misspelled) publicaly_available_post_id
    uploaded_bytes: int | None
    log_id: str | None = None


# ----------------------------------------------------------------------------- upload body


class _Aborted(Exception):
    """The body stopped on purpose (cancel or deadline); not a TikTok answer."""


class _FileChanged(Exception):
    pass


Stat = tuple[int, int, int]   # (st_size, st_mtime_ns, st_ctime_ns): what a rewrite or a swap changes


def stat_key(st: os.stat_result) -> Stat:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def open_video(path: Path) -> int:
    """The one descriptor an upload reads: never through a symlink, never a FIFO or device
    (O_NONBLOCK keeps a FIFO from blocking the open; fstat then refuses it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _FileChanged(f"{path} is not a regular file any more")
    except BaseException:
        os.close(fd)
        raise
    return fd


class ChunkBody:
    """A re-iterable request body for one chunk, read with pread from one descriptor.

    httpx sends a seeked file object with the whole file's length, and a reused generator
    as an empty body on retry (reliability.md §6.1); this class avoids both. Blocks are at
    most 1 MiB; `stop` (an Event) is checked between blocks; `sent` counts bytes handed over.
    `before_final(fd)` runs after the chunk's last block is read and before it is handed over:
    it may raise to keep those final bytes from ever going out. Given a path instead of a
    descriptor, each iteration opens it afresh (without following a symlink).
    """

    def __init__(self, source: Path | int, offset: int, length: int, *, stop: threading.Event | None = None,
                 block: int = BLOCK, pacer: Pacer | None = None,
                 before_final: Callable[[int], None] | None = None) -> None:
        self.source = source
        self.offset = offset
        self.length = length
        self.stop = stop
        self.pacer = pacer
        self.block = min(block, pacer.block) if pacer is not None else block
        self.before_final = before_final
        self.sent = 0
        self.paced = 0.0   # seconds spent waiting for upload.max_rate: our pause, not a stalled TikTok

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        if isinstance(self.source, int):
            yield from self._blocks(self.source)
            return
        fd = open_video(Path(self.source))
        try:
            yield from self._blocks(fd)
        finally:
            os.close(fd)

    def _blocks(self, fd: int) -> Iterator[bytes]:
        left = self.length
        while left > 0:
            if self.stop is not None and self.stop.is_set():
                raise _Aborted()
            at = self.offset + self.length - left
            data = os.pread(fd, min(self.block, left), at)
            if not data:
                raise _FileChanged(f"{self.source} shrank while uploading: expected {left} more bytes "
                                   f"at offset {at}")
            if self.pacer is not None:
                wait = self.pacer.reserve(len(data))
                if wait > 0:
                    self.paced += wait   # counted first: the stall watch never mistakes our pause for TikTok's
                    if (self.stop or threading.Event()).wait(wait):
                        raise _Aborted()
            if len(data) == left and self.before_final is not None:
                self.before_final(fd)   # last, right before the final bytes are handed over
            left -= len(data)
            self.sent += len(data)
            yield data


# ----------------------------------------------------------------------------- tokens


class _Secret:
    """A string that does not print itself (reprs of the client, tracebacks with locals)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


class _Tokens:
    """The secrets, with deadlines on the monotonic clock. Never printed."""

    __slots__ = ("access", "refresh", "access_deadline", "access_lifetime", "refresh_deadline")

    def __init__(self, access: str, refresh: str, *, access_deadline: float, access_lifetime: float,
                 refresh_deadline: float) -> None:
        self.access = access
        self.refresh = refresh
        self.access_deadline = access_deadline
        self.access_lifetime = access_lifetime
        self.refresh_deadline = refresh_deadline

    def __repr__(self) -> str:
        return "<tokens redacted>"


def _refresh_margin(lifetime: float) -> float:
    """Refresh this long before expiry: 5 min, or 10 % of the lifetime when that is less
    (so a shrunk test lifetime does not refresh on every call)."""
    return min(300.0, 0.1 * lifetime)


# ----------------------------------------------------------------------------- the client


class _HttpxUrlRedactor(logging.Filter):
    """httpx logs every request URL at INFO; upload URLs carry upload_token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_upload_url(str(a)) if isinstance(a, httpx.URL) and a.query else a
                                for a in record.args)
        return True


_httpx_filter = _HttpxUrlRedactor()
if not any(isinstance(f, _HttpxUrlRedactor) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_httpx_filter)


def _unmask(tokens: "_Tokens | None") -> None:
    """Undo register_secret for tokens that are no longer held (registrations are counted)."""
    if tokens is not None:
        forget_secret(tokens.access)
        forget_secret(tokens.refresh)


class TikTokClient:
    """One TikTok account's session. Thread-safe; refreshes are serialised."""

    def __init__(self, *, client_key: str, client_secret: str, redirect_uri: str, scopes: Iterable[str],
                 api_base: str, authorize_url: str, limits: Limits, clock: Clock,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] | None = None,
                 chunk_attempts: int = 5, retry_backoff: float = 1.0,
                 chunk_deadline: float | None = None, api_deadline: float = API_DEADLINE,
                 pacer: Pacer | None = None, audited: bool | None = None) -> None:
        self._client_key = client_key
        self._client_secret = _Secret(client_secret)
        register_secret(client_secret)
        self._redirect_uri = redirect_uri
        self._scopes = tuple(scopes)
        self._api_base = api_base.rstrip("/")
        self._authorize_base = authorize_url
        self.limits = limits
        self._clock = clock
        self.limiter = AccountLimiter(limits, clock)
        self._closing = threading.Event()
        self._sleep = sleep or (lambda s: self._closing.wait(s))
        self.chunk_attempts = max(1, chunk_attempts)
        self.retry_backoff = retry_backoff
        self.chunk_deadline = chunk_deadline   # None: from the chunk size and MIN_UPLOAD_RATE
        self.api_deadline = api_deadline
        self.pacer = pacer                     # upload.max_rate, shared by all uploads; None: no cap
        self._api = httpx.Client(base_url=self._api_base, transport=transport, timeout=API_TIMEOUT,
                                 follow_redirects=False)
        self._upload = httpx.Client(transport=transport, timeout=UPLOAD_TIMEOUT, follow_redirects=False)
        self._state_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._tokens: _Tokens | None = None
        self._account: Account | None = None
        # The @handle from the last creator_info: the login's user info has none (post links need it).
        self.creator_username: str | None = None
        # Has the app passed TikTok's audit? config tiktok.audited; None = unknown. TikTok's first
        # unaudited_client_can_only_post_to_private_accounts answer makes it False for this run.
        self.audited: bool | None = audited

    def __repr__(self) -> str:
        who = self._account.open_id if self._account else "logged out"
        return f"<TikTokClient {self._api_base} {who}>"

    def close(self) -> None:
        self._closing.set()
        self._api.close()
        self._upload.close()

    # ------------------------------------------------------------------ state

    @property
    def logged_in(self) -> bool:
        with self._state_lock:
            return self._tokens is not None

    @property
    def account(self) -> Account | None:
        with self._state_lock:
            return self._account

    def _forget(self) -> None:
        with self._state_lock:
            old, self._tokens = self._tokens, None
            self._account = None
            self.creator_username = None
        _unmask(old)

    def _install(self, body: dict[str, Any], *, granted_scopes: str | None = None) -> None:
        """Take a token answer (exchange or refresh). Rotation: the newest refresh token wins."""
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise TikTokError("bad_response", action=Action.RETRY_NOW, hint=LOCAL_ERRORS["bad_response"].hint,
                              log_id=body.get("log_id"))
        expires_in = float(body.get("expires_in") or self.limits.access_token_seconds)
        refresh_in = float(body.get("refresh_expires_in") or self.limits.refresh_token_seconds)
        mono, now = self._clock.monotonic(), self._clock.now()
        with self._state_lock:
            old = self._tokens
            refresh = body.get("refresh_token") or (old.refresh if old else "")
            self._tokens = _Tokens(access, refresh, access_deadline=mono + expires_in, access_lifetime=expires_in,
                                   refresh_deadline=mono + refresh_in)
            # The log redactor masks these in any shape (TikTok's act./rft. prefixes are masked anyway).
            register_secret(access)
            register_secret(refresh)
            _unmask(old)
            scope_text = body.get("scope") or granted_scopes
            prev = self._account
            if scope_text is not None:
                scopes = frozenset(s.strip() for s in str(scope_text).split(",") if s.strip())
            else:
                scopes = prev.scopes if prev else frozenset(self._scopes)
            open_id = str(body.get("open_id") or (prev.open_id if prev else ""))
            same = prev is not None and prev.open_id == open_id
            self._account = Account(
                open_id=open_id, scopes=scopes,
                nickname=prev.nickname if same else "", avatar_url=prev.avatar_url if same else "",
                access_expires_at=now + timedelta(seconds=expires_in),
                refresh_expires_at=now + timedelta(seconds=refresh_in))
            if prev is not None and not same:
                self.limiter = AccountLimiter(self.limits, self._clock)

    # ------------------------------------------------------------------ login

    def authorize_url(self, *, state: str, code_challenge: str) -> str:
        return oauth.build_authorize_url(self._authorize_base, client_key=self._client_key, scopes=self._scopes,
                                         redirect_uri=self._redirect_uri, state=state,
                                         code_challenge=code_challenge)

    def exchange_code(self, code: str, *, code_verifier: str, granted_scopes: str | None = None) -> Account:
        """Trade the callback's code for tokens, check the granted scopes, fetch the profile."""
        body = self._oauth_post(TOKEN_PATH, {
            "client_key": self._client_key, "client_secret": self._client_secret.value, "code": code,
            "grant_type": "authorization_code", "redirect_uri": self._redirect_uri,
            "code_verifier": code_verifier})
        self._install(body, granted_scopes=granted_scopes)
        account = self.account
        assert account is not None
        if not account.scopes & {"video.publish", "video.upload"}:
            self.logout()
            rule = LOCAL_ERRORS["missing_scope"]
            raise TikTokError("missing_scope", action=rule.action,
                              hint=rule.hint.replace("{scope}", "video.publish (or video.upload for drafts)"))
        log.info("logged in to TikTok: open_id=%s scopes=%s", account.open_id, ",".join(sorted(account.scopes)))
        try:
            self.user_info()
        except TikTokError as exc:   # the profile is decoration: a login without it still works
            log.warning("could not fetch the TikTok profile: %s", exc.sentence())
        return self.account or account

    def logout(self) -> None:
        """Revoke at TikTok (best effort, short timeout), then forget the tokens."""
        with self._state_lock:
            tokens = self._tokens
        if tokens is not None:
            try:
                self._api.post(REVOKE_PATH, data={"client_key": self._client_key,
                                                  "client_secret": self._client_secret.value,
                                                  "token": tokens.access},
                               timeout=REVOKE_TIMEOUT)
            except httpx.HTTPError as exc:
                log.warning("could not revoke the TikTok token (%s); forgetting it anyway", type(exc).__name__)
        self._forget()

    # ------------------------------------------------------------------ tokens

    def _access_token(self) -> str:
        with self._state_lock:
            if self._tokens is None:
                rule = LOCAL_ERRORS["not_logged_in"]
                raise TikTokError("not_logged_in", action=rule.action, hint=rule.hint)
            return self._tokens.access

    def _ensure_fresh(self) -> None:
        """Refresh ahead of expiry. A failed early refresh keeps the still-valid token."""
        with self._state_lock:
            t = self._tokens
            if t is None:
                return
            left = t.access_deadline - self._clock.monotonic()
            if left > _refresh_margin(t.access_lifetime):
                return
            stale = t.access
        try:
            self._refresh(stale)
        except TikTokError as exc:
            if exc.action is Action.NEEDS_LOGIN or left <= 0:
                raise
            log.warning("early token refresh failed (%s); using the current token", exc.code)

    def _refresh(self, stale_access: str) -> None:
        """Refresh unless another thread already replaced `stale_access` (exactly one refresh)."""
        with self._refresh_lock:
            with self._state_lock:
                t = self._tokens
                if t is None:
                    rule = LOCAL_ERRORS["not_logged_in"]
                    raise TikTokError("not_logged_in", action=rule.action, hint=rule.hint)
                if t.access != stale_access:
                    return
                if t.refresh_deadline <= self._clock.monotonic() or not t.refresh:
                    self._tokens = None
                    self._account = None
                    raise TikTokError("invalid_grant", action=Action.NEEDS_LOGIN,
                                      hint="The TikTok login has expired: log in again on the status page.")
                refresh = t.refresh
            try:
                body = self._oauth_post(TOKEN_PATH, {
                    "client_key": self._client_key, "client_secret": self._client_secret.value,
                    "grant_type": "refresh_token", "refresh_token": refresh})
            except TikTokError as exc:
                if exc.code == "invalid_grant" or exc.action is Action.NEEDS_LOGIN:
                    self._forget()
                    exc.action = Action.NEEDS_LOGIN
                raise
            self._install(body)
            log.info("TikTok access token refreshed")

    # ------------------------------------------------------------------ HTTP plumbing

    def _oauth_post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            resp = self._bounded("POST", path, data=form, headers={"Cache-Control": "no-cache"})
        except httpx.HTTPError as exc:
            raise self._network_error(exc, path) from None
        body = _json(resp)
        err = body.get("error") if body is not None else None
        if body is None or (resp.status_code >= 400 and not err):
            raise classify(http_status=resp.status_code, code=None, endpoint=path, limits=self.limits)
        if isinstance(err, dict):   # a data-style envelope
            code = err.get("code")
            if code and code != "ok":
                raise classify(http_status=resp.status_code, code=code, message=str(err.get("message") or ""),
                               log_id=err.get("log_id"), endpoint=path, limits=self.limits)
            body = body.get("data") or body
        elif err:                   # TikTok's OAuth shape: parse the body whatever the status
            raise classify(http_status=resp.status_code, code=str(err),
                           message=str(body.get("error_description") or ""), log_id=body.get("log_id"),
                           endpoint=path, limits=self.limits)
        return body

    def _bounded(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """A JSON/OAuth request whose whole answer must arrive within `api_deadline` seconds.

        httpx's timeouts apply to each read, so a server trickling one byte at a time would
        hold a call for ever; reading the stream ourselves lets the deadline fire between reads.
        Real time on purpose: this guards a socket, not a schedule.
        """
        deadline = time.monotonic() + self.api_deadline
        with self._api.stream(method, path, **kw) as resp:
            body = bytearray()
            for piece in resp.iter_bytes():
                body += piece
                if len(body) > API_MAX_BYTES:
                    raise httpx.DecodingError(f"answer larger than {API_MAX_BYTES} bytes", request=resp.request)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"no complete answer within {self.api_deadline:g} s",
                                            request=resp.request)
            headers = [(k, v) for k, v in resp.headers.multi_items()
                       if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
            return httpx.Response(resp.status_code, headers=headers, content=bytes(body), request=resp.request)

    def _network_error(self, exc: BaseException, where: str) -> TikTokError:
        rule = LOCAL_ERRORS["network_error"]
        log.warning("TikTok %s: %s", where, type(exc).__name__)
        return TikTokError("network_error", type(exc).__name__, action=rule.action, hint=rule.hint)

    def _limit(self, kind: str) -> None:
        """Client-side limiter for creator_info/status: wait a short while, else RETRY_LATER."""
        limiter = self.limiter
        wait = limiter.try_acquire(kind)
        if wait == 0.0:
            return
        if wait <= self.limits.window_seconds:
            self._sleep(wait + 0.01)
            wait = limiter.try_acquire(kind)
            if wait == 0.0:
                return
        raise TikTokError("rate_limited_locally", action=Action.RETRY_LATER, retry_after=wait,
                          hint=f"TikTok allows only {limiter.window(kind).limit} {kind} requests per "
                               f"{self.limits.window_seconds:g} s: ralph-watch waits for a free slot.")

    def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
              params: dict[str, str] | None = None, kind: str | None = None) -> tuple[dict[str, Any], str | None]:
        """A data call: fresh token, one refresh + replay on access_token_invalid. -> (data, log_id)."""
        self._ensure_fresh()
        for attempt in (1, 2):
            token = self._access_token()
            headers = {"Authorization": f"Bearer {token}"}
            content = None
            if method == "POST":
                headers["Content-Type"] = JSON_TYPE
                content = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
            try:
                resp = self._bounded(method, path, params=params, content=content, headers=headers)
            except httpx.HTTPError as exc:
                raise self._network_error(exc, path) from None
            finally:
                if kind is not None:
                    self.limiter.restamp(kind)
            parsed = _json(resp)
            err = (parsed or {}).get("error")
            code = err.get("code") if isinstance(err, dict) else None
            log_id = err.get("log_id") if isinstance(err, dict) else None
            if code == "ok":
                data = parsed.get("data") if parsed else None
                return (data if isinstance(data, dict) else {}), log_id
            if (code == "access_token_invalid" or (code is None and resp.status_code == 401)) and attempt == 1:
                self._refresh(token)
                continue
            message = str(err.get("message") or "") if isinstance(err, dict) else ""
            if code is None and 200 <= resp.status_code < 300:
                rule = LOCAL_ERRORS["bad_response"]
                raise TikTokError("bad_response", action=rule.action, hint=rule.hint, http_status=resp.status_code)
            exc = classify(http_status=resp.status_code, code=code, message=message, log_id=log_id, endpoint=path,
                           limits=self.limits)
            if exc.code == "rate_limit_exceeded" and kind is not None:
                self.limiter.saturate(kind)
            if exc.action is Action.NEEDS_LOGIN and exc.code == "access_token_invalid":
                self._forget()
            log.warning("TikTok %s failed: %s (log_id %s)", path, exc.code, log_id)
            raise exc
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ data endpoints

    def user_info(self) -> dict:
        data, _ = self._call("GET", USER_INFO_PATH, params={"fields": "open_id,union_id,avatar_url,display_name"})
        user = data.get("user") if isinstance(data.get("user"), dict) else {}
        with self._state_lock:
            if self._account is not None:
                self._account = Account(
                    open_id=self._account.open_id or str(user.get("open_id") or ""), scopes=self._account.scopes,
                    nickname=str(user.get("display_name") or self._account.nickname),
                    avatar_url=str(user.get("avatar_url") or self._account.avatar_url),
                    access_expires_at=self._account.access_expires_at,
                    refresh_expires_at=self._account.refresh_expires_at)
        return dict(user)

    def creator_info(self) -> CreatorInfo:
        self._limit("creator_info")
        data, log_id = self._call("POST", CREATOR_INFO_PATH, body={}, kind="creator_info")
        if data.get("creator_can_post") is False:
            # Undocumented field, reported in some answers: the guidelines say stop and try later.
            rule = LOCAL_ERRORS["creator_cannot_post"]
            raise TikTokError("creator_cannot_post", action=rule.action, hint=rule.hint, log_id=log_id,
                              retry_after=self.limits.window_seconds)
        self.creator_username = str(data.get("creator_username") or "") or self.creator_username
        return CreatorInfo(
            nickname=str(data.get("creator_nickname") or ""),
            username=str(data.get("creator_username") or ""),
            avatar_url=str(data.get("creator_avatar_url") or ""),
            privacy_level_options=tuple(str(x) for x in data.get("privacy_level_options") or ()),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=int(data.get("max_video_post_duration_sec") or 0),
            log_id=log_id)

    def _need_scope(self, scope: str, *, also: str = "") -> None:
        account = self.account
        if account is None:
            rule = LOCAL_ERRORS["not_logged_in"]
            raise TikTokError("not_logged_in", action=rule.action, hint=rule.hint)
        if scope not in account.scopes:
            rule = LOCAL_ERRORS["missing_scope"]
            raise TikTokError("missing_scope", action=rule.action, hint=rule.hint.replace("{scope}", scope) + also)

    def _init(self, path: str, body: dict[str, Any], *, mode: str, video_size: int, plan) -> InitResult:
        cap = self.limiter.post_wait() if mode == "direct" else self.limiter.draft_wait()
        if cap > 0:
            code = "daily_cap_locally" if mode == "direct" else "drafts_cap_locally"
            rule = LOCAL_ERRORS[code]
            raise TikTokError(code, action=rule.action, hint=rule.hint, retry_after=cap)
        wait = self.limiter.try_acquire("init")
        if wait > 0:
            rule = LOCAL_ERRORS["rate_limited_locally"]
            raise TikTokError("rate_limited_locally", action=rule.action, hint=rule.hint, retry_after=wait)
        try:
            data, log_id = self._call("POST", path, body=body, kind="init")
        except TikTokError as exc:
            if exc.code == "spam_risk_too_many_posts":
                self.limiter.daily_posts.saturate()
            elif exc.code == "spam_risk_too_many_pending_share":
                self.limiter.pending_drafts.saturate()
            elif exc.code == "unaudited_client_can_only_post_to_private_accounts" and self.audited is not False:
                log.warning("TikTok says this app is unaudited: from now on only private posts to a private "
                            "account are sent directly")
                self.audited = False
            raise
        publish_id, upload_url = data.get("publish_id"), data.get("upload_url")
        if not publish_id or not upload_url:
            rule = LOCAL_ERRORS["bad_response"]
            raise TikTokError("bad_response", "init answer without publish_id/upload_url", action=Action.PERMANENT,
                              hint="TikTok accepted the upload but sent no publish_id or upload URL: check the TikTok "
                                   "app before retrying (the post may exist).", log_id=log_id)
        if mode == "direct":
            self.limiter.record_post()
        else:
            self.limiter.record_draft()
        chunk_size, count, chunks = plan
        result = InitResult(publish_id=str(publish_id), upload_url=str(upload_url), chunk_size=chunk_size,
                            total_chunk_count=count, chunks=tuple(chunks), video_size=video_size, mode=mode,
                            log_id=log_id)
        log.info("TikTok %s init: publish_id=%s log_id=%s url=%s", mode, result.publish_id, log_id,
                 result.redacted_url)
        return result

    def init_direct(self, *, post_info: dict, video_size: int) -> InitResult:
        self._need_scope("video.publish", also=" (direct posts need video.publish)")
        plan = plan_chunks(video_size)
        body = {"post_info": dict(post_info),
                "source_info": {"source": "FILE_UPLOAD", "video_size": video_size, "chunk_size": plan[0],
                                "total_chunk_count": plan[1]}}
        return self._init(DIRECT_INIT_PATH, body, mode="direct", video_size=video_size, plan=plan)

    def init_draft(self, *, video_size: int, title: str | None = None) -> InitResult:
        self._need_scope("video.upload", also=" (drafts need video.upload)")
        plan = plan_chunks(video_size)
        body: dict[str, Any] = {"source_info": {"source": "FILE_UPLOAD", "video_size": video_size,
                                                "chunk_size": plan[0], "total_chunk_count": plan[1]}}
        if title:
            body["post_info"] = {"title": title}
        return self._init(DRAFT_INIT_PATH, body, mode="draft", video_size=video_size, plan=plan)

    def fetch_status(self, publish_id: str) -> PublishStatus:
        self._limit("status")
        data, log_id = self._call("POST", STATUS_PATH, body={"publish_id": publish_id}, kind="status")
        ids = data.get("publicaly_available_post_id") or []
        uploaded = data.get("uploaded_bytes")
        return PublishStatus(status=str(data.get("status") or ""), fail_reason=data.get("fail_reason") or None,
                             post_ids=[str(i) for i in ids],
                             uploaded_bytes=int(uploaded) if isinstance(uploaded, (int, float)) else None,
                             log_id=log_id)

    def fetch_avatar(self) -> tuple[bytes, str] | None:
        """The account's avatar (bytes, content type), or None. http(s) only, ≤ 2 MB, image/* only."""
        account = self.account
        url = account.avatar_url if account else ""
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return None
        try:
            with self._upload.stream("GET", url, timeout=API_TIMEOUT) as resp:
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if resp.status_code != 200 or not ctype.startswith("image/"):
                    return None
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > AVATAR_MAX_BYTES:
                    return None
                data = bytearray()
                for piece in resp.iter_bytes():
                    data += piece
                    if len(data) > AVATAR_MAX_BYTES:
                        return None
                return bytes(data), ctype
        except httpx.HTTPError as exc:
            log.warning("could not fetch the TikTok avatar: %s", type(exc).__name__)
            return None

    # ------------------------------------------------------------------ upload

    def upload(self, init: InitResult, path: Path, *, mime: str, progress: Callable[[int, int], None],
               cancel: threading.Event, before_final: Callable[[os.stat_result], None] | None = None) -> None:
        """PUT the file's chunks in order. 5xx/network: the same chunk again (fresh body, backoff,
        bounded); 416: continue where TikTok says it is; 403/404: TikTokError(RESTART).

        The file is opened once (no symlink, regular files only) and every chunk is read from
        that descriptor. Right before the final bytes go out, its fstat (size, mtime, ctime) is
        compared with the one taken here, so a file rewritten or swapped mid-upload is never
        completed at TikTok (`file_changed`); then `before_final(start_stat)` runs, so the caller
        can note durably that TikTok may now complete the upload (raising stops those bytes)."""
        path = Path(path)
        total = init.video_size
        try:
            fd = open_video(path)
        except _FileChanged as exc:
            raise self._file_changed(str(exc)) from None
        except OSError as exc:
            raise self._file_changed(f"{path}: {exc.strerror}") from None
        try:
            start = os.fstat(fd)
            if start.st_size != total:
                raise self._file_changed(f"{path} is {start.st_size} bytes, TikTok expects {total}")

            def final_check(body_fd: int) -> None:
                now = os.fstat(body_fd)
                if stat_key(now) != stat_key(start):
                    raise _FileChanged(f"{path} changed while uploading (size, modification or change time "
                                       "differ from the start): the final bytes were not sent")
                if before_final is not None:
                    before_final(start)

            self._upload_from(init, fd, path, mime=mime, progress=progress, cancel=cancel, final_check=final_check)
        finally:
            os.close(fd)

    def _upload_from(self, init: InitResult, fd: int, path: Path, *, mime: str,
                     progress: Callable[[int, int], None], cancel: threading.Event,
                     final_check: Callable[[int], None]) -> None:
        total = init.video_size
        by_first = {c.first: c for c in init.chunks}
        last_first = max(by_first)
        offset = 0
        resyncs = 0
        log.info("uploading publish_id=%s to %s: %d bytes in %d chunk(s)", init.publish_id, init.redacted_url,
                 total, len(init.chunks))
        progress(0, total)
        while offset < total:
            chunk = by_first.get(offset)
            if chunk is None:
                raise TikTokError("upload_range_mismatch", action=Action.RESTART,
                                  hint=f"TikTok's upload stopped at byte {offset}, which is not a chunk boundary: "
                                       "ralph-watch starts the upload again.")
            status, headers = self._put_with_retries(init, chunk, fd, path, mime=mime, progress=progress,
                                                     cancel=cancel,
                                                     final_check=final_check if chunk.first == last_first else None)
            if status == 416:
                received = _received_from_range(headers.get("content-range"))
                resyncs = 0 if received is not None and received > offset else resyncs + 1
                if received is None or resyncs > 3:
                    raise TikTokError("upload_range_mismatch", action=Action.RESTART, http_status=416,
                                      hint="TikTok's upload progress could not be matched: ralph-watch starts the "
                                           "upload again.")
                log.info("publish_id=%s: TikTok has %d bytes, continuing there", init.publish_id, received)
                offset = received
                progress(offset, total)
                continue
            if status == 201 or 200 <= status < 300 and status != 206:
                progress(total, total)
                log.info("publish_id=%s: upload complete", init.publish_id)
                return
            # 206: TikTok says how much it has; trust it over our arithmetic.
            received = _received_from_range(headers.get("content-range"))
            new_offset = received if received is not None else chunk.last + 1
            resyncs = 0 if new_offset > offset else resyncs + 1
            if new_offset <= offset:
                if resyncs > 3:
                    raise TikTokError("upload_range_mismatch", action=Action.RESTART, http_status=status,
                                      hint="TikTok's upload does not advance: ralph-watch starts the upload again.")
            offset = new_offset
            progress(offset, total)
        progress(total, total)

    def _file_changed(self, detail: str) -> TikTokError:
        rule = LOCAL_ERRORS["file_changed"]
        return TikTokError("file_changed", detail, action=rule.action, hint=rule.hint)

    def _deadline_for(self, chunk: Chunk) -> float:
        if self.chunk_deadline is not None:
            return self.chunk_deadline
        return max(120.0, chunk.length / MIN_UPLOAD_RATE)

    def _put_with_retries(self, init: InitResult, chunk: Chunk, fd: int, path: Path, *, mime: str,
                          progress: Callable[[int, int], None], cancel: threading.Event,
                          final_check: Callable[[int], None] | None = None) -> tuple[int, httpx.Headers]:
        last: TikTokError | None = None
        for attempt in range(1, self.chunk_attempts + 1):
            if attempt > 1:
                delay = min(30.0, self.retry_backoff * 2 ** (attempt - 2))
                log.info("publish_id=%s: chunk %d again in %.1f s (attempt %d/%d, %s)", init.publish_id,
                         chunk.index, delay, attempt, self.chunk_attempts, last.code if last else "")
                if delay > 0 and cancel.wait(delay):
                    raise _cancelled()
            if cancel.is_set():
                raise _cancelled()
            try:
                status, headers = self._put_once(init, chunk, fd, path, mime=mime, progress=progress, cancel=cancel,
                                                 final_check=final_check)
            except TikTokError as exc:
                if exc.action is not Action.RETRY_NOW:
                    raise
                last = exc
                continue
            if status >= 500 or status == 429:
                last = classify(http_status=status, code=None, endpoint="upload", limits=self.limits)
                continue
            if status in (200, 201, 206, 416):
                return status, headers
            exc = classify(http_status=status, code=None, endpoint="upload", limits=self.limits)
            log.warning("publish_id=%s chunk %d: HTTP %d (%s)", init.publish_id, chunk.index, status, exc.code)
            raise exc
        assert last is not None
        raise last

    def _put_once(self, init: InitResult, chunk: Chunk, fd: int, path: Path, *, mime: str,
                  progress: Callable[[int, int], None], cancel: threading.Event,
                  final_check: Callable[[int], None] | None = None) -> tuple[int, httpx.Headers]:
        """One PUT of one chunk in a worker thread, watched from here: the per-chunk deadline and
        `cancel` fire even while the server trickles bytes (httpx has no total timeout)."""
        stop = threading.Event()
        # The worker reads its own duplicate: a worker left behind (deadline, cancel) can never
        # read a closed descriptor, or another file that reused its number.
        own = os.dup(fd)
        body = ChunkBody(own, chunk.first, chunk.length, stop=stop, pacer=self.pacer, before_final=final_check)
        done = threading.Event()
        box: dict[str, Any] = {}
        headers = {"Content-Type": mime, "Content-Length": str(chunk.length),
                   "Content-Range": chunk.content_range(init.video_size)}

        def work() -> None:
            try:
                request = self._upload.build_request("PUT", init.upload_url, content=body, headers=headers)
                resp = self._upload.send(request, stream=True)
                try:
                    read = 0
                    for piece in resp.iter_bytes():
                        read += len(piece)
                        if stop.is_set() or read > 65536:   # the answer is small; never hold a trickle open
                            break
                    box["result"] = (resp.status_code, resp.headers)
                finally:
                    resp.close()
            except BaseException as exc:  # handed to the watching thread
                box["error"] = exc
            finally:
                os.close(own)
                done.set()

        worker = threading.Thread(target=work, name=f"upload-{init.publish_id[-12:]}-{chunk.index}", daemon=True)
        deadline = self._clock.monotonic() + self._deadline_for(chunk)
        worker.start()
        reported = -1
        try:
            while not done.wait(0.05):
                if body.sent != reported:
                    reported = body.sent
                    progress(chunk.first + reported, init.video_size)
                if cancel.is_set():
                    raise _cancelled()
                if self._clock.monotonic() > deadline + body.paced:
                    rule = LOCAL_ERRORS["upload_stalled"]
                    log.warning("publish_id=%s chunk %d: no answer within %.0f s", init.publish_id, chunk.index,
                                self._deadline_for(chunk))
                    raise TikTokError("upload_stalled", action=rule.action, hint=rule.hint)
        finally:
            stop.set()   # a worker left behind stops sending at its next block
        if cancel.is_set():
            raise _cancelled()
        err = box.get("error")
        if err is not None:
            if isinstance(err, _FileChanged):
                raise self._file_changed(str(err))
            if isinstance(err, httpx.HTTPError):
                cause = err.__cause__ or err.__context__
                if isinstance(cause, _FileChanged):
                    raise self._file_changed(str(cause))
                if isinstance(cause, TikTokError):   # raised by the caller's before_final
                    raise cause
                raise self._network_error(err, f"upload chunk {chunk.index}")
            if isinstance(err, _Aborted):
                raise _cancelled()
            if isinstance(err, OSError):
                raise self._file_changed(f"{path}: {err.strerror or err}")
            raise err
        status, resp_headers = box["result"]
        if status in (200, 201, 206):
            progress(chunk.last + 1, init.video_size)
        return status, resp_headers


def _cancelled() -> TikTokError:
    rule = LOCAL_ERRORS["cancelled"]
    return TikTokError("cancelled", action=rule.action, hint=rule.hint)


def _received_from_range(value: str | None) -> int | None:
    """`bytes 0-N/total` -> N+1 (the bytes TikTok has); `bytes */total` -> 0."""
    if not value:
        return None
    try:
        unit, _, rest = value.strip().partition(" ")
        span, _, _total = rest.partition("/")
        if unit.lower() != "bytes":
            return None
        if span == "*":
            return 0
        first, _, last = span.partition("-")
        return int(last) + 1 if int(first) == 0 else None
    except ValueError:
        return None


def _json(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        value = resp.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
