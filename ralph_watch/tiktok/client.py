"""The TikTok API surface: Login Kit, user/info, creator_info, init, upload, status.

One object per account. Tokens live in its memory only and never reach a log line, a repr or
an exception text. The wire format is `tiktok.protocol`'s; HTTP goes through a
`tiktok.http.HttpPool`, which many clients may share; the upload is `tiktok.upload`'s; failed
answers are classified by `tiktok.errors` (by `error.code`, not by HTTP status: creator_info
answers caps with HTTP 200).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import httpx

from ralph_watch.clock import Clock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.logs import register_secret
from ralph_watch.tiktok import oauth
from ralph_watch.tiktok.api import TikTokApi
from ralph_watch.tiktok.errors import classify, tiktok_error
from ralph_watch.tiktok.http import (API_DEADLINE, API_TIMEOUT, JSON_TYPE, REVOKE_TIMEOUT, HttpPool, json_object,
                                     network_error)
from ralph_watch.tiktok.limiter import AccountLimiter
from ralph_watch.tiktok.protocol import (CREATOR_INFO_PATH, DIRECT_INIT_PATH, DRAFT_INIT_PATH, REVOKE_PATH,
                                         STATUS_PATH, TOKEN_PATH, USER_INFO_FIELDS, USER_INFO_PATH, Account,
                                         ChunkPlan, CreatorInfo, InitResult, PublishStatus, creator_info_from,
                                         direct_init_body, draft_init_body, plan_chunks, publish_status_from,
                                         redact_upload_url)
from ralph_watch.tiktok.ratecap import Pacer
from ralph_watch.tiktok.tokens import Secret, Tokens, refresh_margin, unmask
from ralph_watch.tiktok.upload import ChunkBody, Uploader, UploadSettings, open_video, stat_key

__all__ = ["TikTokClient", "Account", "CreatorInfo", "InitResult", "PublishStatus", "redact_upload_url",
           "ChunkBody", "HttpPool", "open_video", "stat_key"]

log = logging.getLogger("ralph_watch.tiktok")

AVATAR_MAX_BYTES = 2 * 1024 * 1024


class TikTokClient:
    """One TikTok account's session. Thread-safe; refreshes are serialised."""

    def __init__(self, *, client_key: str, client_secret: str, redirect_uri: str, scopes: Iterable[str],
                 api_base: str, authorize_url: str, limits: Limits, clock: Clock,
                 transport: httpx.BaseTransport | None = None, pool: HttpPool | None = None,
                 sleep: Callable[[float], None] | None = None,
                 chunk_attempts: int = 5, retry_backoff: float = 1.0,
                 chunk_deadline: float | None = None, api_deadline: float = API_DEADLINE,
                 pacer: Pacer | None = None, audited: bool | None = None) -> None:
        """`pool`: the HTTP pool shared with other accounts' clients (the caller closes it); without
        one the client makes its own over `transport` and closes it in `close()`."""
        if pool is not None and transport is not None:
            raise ValueError("give the transport to the HttpPool, not to each client")
        self._client_key = client_key
        self._client_secret = Secret(client_secret)
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
        self.api_deadline = api_deadline
        self._own_pool = pool is None
        self._http = pool if pool is not None else HttpPool(transport)
        # pacer: upload.max_rate, shared by all uploads; None: no cap
        self._uploader = Uploader(self._http, clock=clock, limits=limits, pacer=pacer,
                                  settings=UploadSettings(chunk_attempts=max(1, chunk_attempts),
                                                          retry_backoff=retry_backoff, chunk_deadline=chunk_deadline))
        self._state_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._tokens: Tokens | None = None
        self._account: Account | None = None
        # Has the app passed TikTok's audit? config tiktok.audited; None = unknown. TikTok's first
        # unaudited_client_can_only_post_to_private_accounts answer makes it False for this run.
        self.audited: bool | None = audited

    def __repr__(self) -> str:
        who = self._account.open_id if self._account else "logged out"
        return f"<TikTokClient {self._api_base} {who}>"

    def close(self) -> None:
        self._closing.set()
        if self._own_pool:
            self._http.close()

    # ------------------------------------------------------------------ state

    @property
    def logged_in(self) -> bool:
        with self._state_lock:
            return self._tokens is not None

    @property
    def account(self) -> Account | None:
        with self._state_lock:
            return self._account

    @property
    def creator_username(self) -> str | None:
        """The @handle from the last creator_info (post links need it), or None."""
        account = self.account
        return account.username if account is not None and account.username else None

    def forget(self) -> None:
        """Drop the tokens from memory without revoking them at TikTok (logout() revokes)."""
        with self._state_lock:
            old, self._tokens = self._tokens, None
            self._account = None
        unmask(old)

    def _install(self, body: dict[str, Any], *, granted_scopes: str | None = None) -> None:
        """Take a token answer (exchange or refresh). Rotation: the newest refresh token wins."""
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise tiktok_error("bad_response", log_id=body.get("log_id"))
        expires_in = float(body.get("expires_in") or self.limits.access_token_seconds)
        refresh_in = float(body.get("refresh_expires_in") or self.limits.refresh_token_seconds)
        mono, now = self._clock.monotonic(), self._clock.now()
        with self._state_lock:
            old = self._tokens
            refresh = body.get("refresh_token") or (old.refresh if old else "")
            self._tokens = Tokens(access, refresh, access_deadline=mono + expires_in, access_lifetime=expires_in,
                                   refresh_deadline=mono + refresh_in)
            # The log redactor masks these in any shape (TikTok's act./rft. prefixes are masked anyway).
            register_secret(access)
            register_secret(refresh)
            unmask(old)
            scope_text = body.get("scope") or granted_scopes
            prev = self._account
            if scope_text is not None:
                scopes = frozenset(s.strip() for s in str(scope_text).split(",") if s.strip())
            else:
                scopes = prev.scopes if prev else frozenset(self._scopes)
            open_id = str(body.get("open_id") or (prev.open_id if prev else ""))
            kept = prev if prev is not None and prev.open_id == open_id else None
            self._account = Account(
                open_id=open_id, scopes=scopes,
                nickname=kept.nickname if kept else "", avatar_url=kept.avatar_url if kept else "",
                username=kept.username if kept else "",
                access_expires_at=now + timedelta(seconds=expires_in),
                refresh_expires_at=now + timedelta(seconds=refresh_in))
            if prev is not None and kept is None:
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
            raise tiktok_error("missing_scope", scope="video.publish (or video.upload for drafts)")
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
                self._http.post(self._api_base + REVOKE_PATH, data={"client_key": self._client_key,
                                                  "client_secret": self._client_secret.value,
                                                  "token": tokens.access},
                               timeout=REVOKE_TIMEOUT)
            except httpx.HTTPError as exc:
                log.warning("could not revoke the TikTok token (%s); forgetting it anyway", type(exc).__name__)
        self.forget()

    # ------------------------------------------------------------------ tokens

    def _access_token(self) -> str:
        with self._state_lock:
            if self._tokens is None:
                raise tiktok_error("not_logged_in")
            return self._tokens.access

    def _ensure_fresh(self) -> None:
        """Refresh ahead of expiry. A failed early refresh keeps the still-valid token."""
        with self._state_lock:
            t = self._tokens
            if t is None:
                return
            left = t.access_deadline - self._clock.monotonic()
            if left > refresh_margin(t.access_lifetime):
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
                    raise tiktok_error("not_logged_in")
                if t.access != stale_access:
                    return
                if t.refresh_deadline <= self._clock.monotonic() or not t.refresh:
                    self._tokens = None
                    self._account = None
                    raise tiktok_error("invalid_grant", action=Action.NEEDS_LOGIN,
                                       hint="The TikTok login has expired: log in again on the status page.")
                refresh = t.refresh
            try:
                body = self._oauth_post(TOKEN_PATH, {
                    "client_key": self._client_key, "client_secret": self._client_secret.value,
                    "grant_type": "refresh_token", "refresh_token": refresh})
            except TikTokError as exc:
                if exc.code == "invalid_grant" or exc.action is Action.NEEDS_LOGIN:
                    self.forget()
                    exc.action = Action.NEEDS_LOGIN
                raise
            self._install(body)
            log.info("TikTok access token refreshed")

    # ------------------------------------------------------------------ HTTP plumbing

    def _oauth_post(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            resp = self._bounded("POST", path, data=form, headers={"Cache-Control": "no-cache"})
        except httpx.HTTPError as exc:
            raise network_error(exc, path) from None
        body = json_object(resp)
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
        """A JSON/OAuth request whose whole answer must arrive within `api_deadline` seconds."""
        return self._http.bounded(method, self._api_base + path, deadline=self.api_deadline, timeout=API_TIMEOUT,
                                  **kw)

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
        raise tiktok_error("rate_limited_locally", action=Action.RETRY_LATER, retry_after=wait,
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
                raise network_error(exc, path) from None
            finally:
                if kind is not None:
                    self.limiter.restamp(kind)
            parsed = json_object(resp) or {}
            err = parsed.get("error")
            code = err.get("code") if isinstance(err, dict) else None
            log_id = err.get("log_id") if isinstance(err, dict) else None
            if code == "ok":
                data = parsed.get("data")
                return (data if isinstance(data, dict) else {}), log_id
            if (code == "access_token_invalid" or (code is None and resp.status_code == 401)) and attempt == 1:
                self._refresh(token)
                continue
            raise self._failed(path, resp.status_code, err, kind=kind)
        raise AssertionError("unreachable")

    def _failed(self, path: str, http_status: int, err: object, *, kind: str | None) -> TikTokError:
        """The error for a data call's failed answer (`err`: its `error` object), with its side
        effects: a 429 fills the limiter's window, a dead token is forgotten."""
        code = err.get("code") if isinstance(err, dict) else None
        log_id = err.get("log_id") if isinstance(err, dict) else None
        message = str(err.get("message") or "") if isinstance(err, dict) else ""
        if code is None and 200 <= http_status < 300:
            return tiktok_error("bad_response", http_status=http_status)
        exc = classify(http_status=http_status, code=code, message=message, log_id=log_id, endpoint=path,
                       limits=self.limits)
        if exc.code == "rate_limit_exceeded" and kind is not None:
            self.limiter.saturate(kind)
        if exc.action is Action.NEEDS_LOGIN and exc.code == "access_token_invalid":
            self.forget()
        log.warning("TikTok %s failed: %s (log_id %s)", path, exc.code, log_id)
        return exc

    # ------------------------------------------------------------------ data endpoints

    def user_info(self) -> dict[str, Any]:
        data, _ = self._call("GET", USER_INFO_PATH, params={"fields": USER_INFO_FIELDS})
        found = data.get("user")
        user: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
        with self._state_lock:
            acc = self._account
            if acc is not None:
                self._account = Account(
                    open_id=acc.open_id or str(user.get("open_id") or ""), scopes=acc.scopes,
                    nickname=str(user.get("display_name") or acc.nickname),
                    avatar_url=str(user.get("avatar_url") or acc.avatar_url),
                    username=str(user.get("username") or acc.username),
                    access_expires_at=acc.access_expires_at, refresh_expires_at=acc.refresh_expires_at)
        return user

    def creator_info(self) -> CreatorInfo:
        self._limit("creator_info")
        data, log_id = self._call("POST", CREATOR_INFO_PATH, body={}, kind="creator_info")
        if data.get("creator_can_post") is False:
            # Undocumented field, reported in some answers: the guidelines say stop and try later.
            raise tiktok_error("creator_cannot_post", log_id=log_id, retry_after=self.limits.window_seconds)
        info = creator_info_from(data, log_id)
        if info.username:
            with self._state_lock:
                if self._account is not None:
                    self._account = replace(self._account, username=info.username)
        return info

    def _need_scope(self, scope: str, *, also: str = "") -> None:
        account = self.account
        if account is None:
            raise tiktok_error("not_logged_in")
        if scope not in account.scopes:
            error = tiktok_error("missing_scope", scope=scope)
            raise tiktok_error("missing_scope", hint=error.hint + also)

    def _check_caps(self, mode: str) -> None:
        """The daily caps and the init window, counted here before TikTok counts them."""
        cap = self.limiter.post_wait() if mode == "direct" else self.limiter.draft_wait()
        if cap > 0:
            raise tiktok_error("daily_cap_locally" if mode == "direct" else "drafts_cap_locally", retry_after=cap)
        wait = self.limiter.try_acquire("init")
        if wait > 0:
            raise tiktok_error("rate_limited_locally", retry_after=wait)

    def _init(self, path: str, body: dict[str, Any], *, mode: str, video_size: int, plan: ChunkPlan) -> InitResult:
        self._check_caps(mode)
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
            raise tiktok_error("bad_response", "init answer without publish_id/upload_url", action=Action.PERMANENT,
                               hint="TikTok accepted the upload but sent no publish_id or upload URL: check the "
                                    "TikTok app before retrying (the post may exist).", log_id=log_id)
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

    def init_direct(self, *, post_info: dict[str, Any], video_size: int) -> InitResult:
        self._need_scope("video.publish", also=" (direct posts need video.publish)")
        plan = plan_chunks(video_size)
        return self._init(DIRECT_INIT_PATH, direct_init_body(post_info, video_size, plan), mode="direct",
                          video_size=video_size, plan=plan)

    def init_draft(self, *, video_size: int, title: str | None = None) -> InitResult:
        self._need_scope("video.upload", also=" (drafts need video.upload)")
        plan = plan_chunks(video_size)
        return self._init(DRAFT_INIT_PATH, draft_init_body(video_size, plan, title), mode="draft",
                          video_size=video_size, plan=plan)

    def fetch_status(self, publish_id: str) -> PublishStatus:
        self._limit("status")
        data, log_id = self._call("POST", STATUS_PATH, body={"publish_id": publish_id}, kind="status")
        return publish_status_from(data, log_id)

    def fetch_avatar(self) -> tuple[bytes, str] | None:
        """The account's avatar (bytes, content type), or None. http(s) only, ≤ 2 MB, image/* only."""
        account = self.account
        url = account.avatar_url if account else ""
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return None
        try:
            with self._http.stream("GET", url, timeout=API_TIMEOUT) as resp:
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
        self._uploader.upload(init, path, mime=mime, progress=progress, cancel=cancel, before_final=before_final)


def _keeps_the_contract(client: TikTokClient) -> TikTokApi:
    return client   # never called: mypy checks here that TikTokClient is what the publisher and service type against
