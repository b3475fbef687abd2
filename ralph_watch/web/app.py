"""The status page and JSON API (bottle): routes, guards and rendering.

Every request passes `_guard` first: Host allowlist (DNS rebinding), then for POSTs the
Origin/Sec-Fetch-Site check and the session's CSRF token, then (password mode) the
sign-in. Templates are fixed files rendered with escaping; no request value is ever used
as a template, a redirect target or an absolute URL base (so X-Forwarded-* change nothing).
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import logging
import math
import os
import re
import threading
from collections import OrderedDict
from importlib import resources
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import bottle
from bottle import HTTPResponse, request, response

from ..clock import Clock, SystemClock
from ..logs import register_secret
from ..tasks import EDITABLE, State
from . import media, views
from .backend import ActionError, LoginError, WebBackend
from .security import (SECURITY_HEADERS, SigninThrottle, allowed_hostnames, client_address, csrf_ok, host_allowed,
                       http_url, new_pkce, new_state, origin_ok, password_ok, trusted_networks)
from .sessions import COOKIE_NAME, Session, SessionStore

__all__ = ["make_app", "TEMPLATE_DIR", "STATIC_DIR"]

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
# One constant list: bottle caches compiled templates by id(lookup).
_LOOKUP = [str(TEMPLATE_DIR) + "/"]
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_STATES = [s.value for s in State]
_ACTIONS = {"cancel": "cancel", "retry": "retry", "publish-now": "publish_now"}
_MAX_CODE = 4096          # TikTok's codes are a few hundred characters; 10 KB is an attack
_API_CACHE_SIZE = 32
_GZIP_MIN = 64 * 1024   # smaller answers are not worth compressing
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}


def make_app(backend: WebBackend, config: Any, *, clock: Clock | None = None) -> bottle.Bottle:
    """The web app for `backend`. `config` needs web.{host,port,public_url,allowed_hosts,password},
    redirect_path and tz."""
    return _WebApp(backend, config, clock or SystemClock()).app


def render(template: str, /, **values: Any) -> str:
    """Render a template file by its fixed name (never a string from a request)."""
    text = bottle.template(template, template_lookup=_LOOKUP, **values)
    # A file name that is not UTF-8 must not break the page: its bytes show as \xff escapes.
    return text.encode("utf-8", "ralph-watch-text").decode("utf-8")


def _undecodable(escape: str) -> Callable[[UnicodeError], tuple[str, int]]:
    """A codec error handler writing the bytes of a non-UTF-8 name (lone surrogates) as `\\xff`."""
    def handler(exc: UnicodeError) -> tuple[str, int]:
        if not isinstance(exc, UnicodeEncodeError):
            raise exc
        bad = exc.object[exc.start:exc.end]
        out = "".join(f"{escape}x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"{escape}u{ord(c):04x}"
                      for c in bad)
        return out, exc.end
    return handler


codecs.register_error("ralph-watch-text", _undecodable("\\"))
codecs.register_error("ralph-watch-json", _undecodable("\\\\"))  # JSON: an escaped backslash


class _Reply(Exception):
    """Stop a handler with this status/body; unlike HTTPResponse it keeps cookies set on `response`."""

    def __init__(self, status: int, body: str = "", *, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def _wants_json() -> bool:
    return "application/json" in (request.get_header("Accept") or "")


def _json(data: Any) -> bytes:
    response.content_type = "application/json"
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "ralph-watch-json")


class _WebApp:
    def __init__(self, backend: WebBackend, config: Any, clock: Clock) -> None:
        self.backend = backend
        self.config = config
        self.clock = clock
        web = config.web
        self.password: str | None = web.password or None
        if self.password:
            register_secret(self.password)  # never in a log line, whatever logs it
        self.public_url: str | None = web.public_url or None
        self.allowed = allowed_hostnames(host=web.host, public_url=self.public_url, extra=web.allowed_hosts or ())
        self.secure_cookie = bool(self.public_url and self.public_url.lower().startswith("https://"))
        self.redirect_path: str = config.redirect_path or "/callback"
        self.tz = config.tz
        self.has_terms = getattr(config.web, "terms", None) is not None
        self.sessions = SessionStore(clock=clock)
        self.throttle = SigninThrottle(clock=clock)
        self.trusted_proxies = trusted_networks(getattr(web, "trusted_proxies", ()) or ())
        self._api_cache: OrderedDict[tuple, tuple[bytes, bytes | None]] = OrderedDict()  # (board.version, params) -> (JSON, gzip)
        self._api_lock = threading.Lock()
        self._page_cache: OrderedDict[tuple, dict] = OrderedDict()  # (board.version, params, second) -> page model
        self._page_build_lock = threading.Lock()
        self._warn_cache: tuple[tuple, list[str]] | None = None   # (version, paused, minute) -> warnings
        self._media_init()
        self.app = app = bottle.Bottle()
        app.ralph_web = self  # type: ignore[attr-defined]  # for tests and the service
        app.add_hook("before_request", self._guard)
        app.add_hook("after_request", self._headers)
        for code in (400, 401, 403, 404, 405, 413, 429, 500, 502, 503):
            app.error_handler[code] = self._error_page
        r = self._route
        r("/", "GET", self.index)
        r("/login", "GET", self.login)
        r(self.redirect_path, "GET", self.callback)
        r("/signin", "GET", self.signin_form)
        r("/signin", "POST", self.signin)
        r("/signout", "POST", self.signout)
        r("/logout", "POST", self.logout)
        r("/tasks/<task_id>/edit", "GET", self.edit_form)
        r("/tasks/<task_id>/edit", "POST", self.edit)
        r("/tasks/<task_id>/thumbnail", "GET", self.thumbnail)
        r("/tasks/<task_id>/video", "GET", self.video)
        r("/calendar", "GET", self.calendar)
        r("/tasks/<task_id>/<action>", "POST", self.task_action)
        r("/pause", "POST", self.pause)
        r("/resume", "POST", self.resume)
        r("/api/tasks", "GET", self.api_tasks)
        r("/api/account", "GET", self.api_account)
        r("/healthz", "GET", self.healthz)
        r("/privacy", "GET", self.privacy)
        r("/terms", "GET", self.terms)
        r("/avatar", "GET", self.avatar)
        r("/static/<filename:path>", "GET", self.static)
        r("/favicon.ico", "GET", self.favicon)

    def _route(self, path: str, method: str, handler: Callable[..., Any]) -> None:
        def call(**kwargs: Any) -> Any:
            try:
                return handler(**kwargs)
            except _Reply as stop:
                response.status = stop.status
                for k, v in stop.headers.items():
                    response.set_header(k, v)
                return stop.body
        self.app.route(path, method, call)

    # -- plumbing -----------------------------------------------------------------------
    def _session(self, *, create: bool = False) -> Session | None:
        env = request.environ
        if "rw.session" not in env:
            env["rw.session"] = self.sessions.get(request.get_cookie(COOKIE_NAME))
        s = env["rw.session"]
        if s is None and create:
            s = self.sessions.create()
            self._use_session(s)
        return s

    def _use_session(self, s: Session) -> None:
        request.environ["rw.session"] = s
        response.set_cookie(COOKIE_NAME, s.id, httponly=True, samesite="lax", secure=self.secure_cookie,
                            path="/", max_age=int(self.sessions.idle_seconds))

    def _client(self) -> str:
        # The socket peer, or behind a proxy of web.trusted_proxies the client it names in
        # X-Forwarded-For (from anyone else that header is forgeable and ignored).
        return client_address(request.environ.get("REMOTE_ADDR"), request.get_header("X-Forwarded-For"),
                              self.trusted_proxies)

    def _page(self, template: str, /, *, status: int = 200, **values: Any) -> str:
        s = self._session()
        flashes = self.sessions.pop_flashes(s) if s else []
        response.status = status
        response.content_type = "text/html; charset=utf-8"
        return render(template, csrf=s.csrf if s else "", flashes=flashes, password_mode=bool(self.password),
                      signed_in=bool(s and s.signed_in), terms_link=self.has_terms, **values)

    def _message(self, status: int, title: str, message: str, *, back: bool = True) -> _Reply:
        if _wants_json():
            return _Reply(status, _json({"ok": False, "error": message}))
        body = self._page("message", status=status, title=title, message=message, back=back)
        response.content_type = "text/html; charset=utf-8"
        return _Reply(status, body)

    def _see_other(self, flash: str | None = None, *, kind: str = "info", to: str = "/") -> str:
        if flash:
            s = self._session(create=True)
            assert s is not None
            self.sessions.flash(s, flash, kind=kind)
        # A relative, fixed Location: bottle.redirect() would build it from request.url,
        # which trusts X-Forwarded-Host.
        raise _Reply(303, "", headers={"Location": to})

    def _abort_page(self, status: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
        """For the guard (before any handler): a complete response, no session needed."""
        if _wants_json() or request.path.startswith("/api/"):
            body, ctype = json.dumps({"ok": False, "error": message}), "application/json"
        else:
            body = render("message", csrf="", flashes=[], password_mode=bool(self.password), signed_in=False,
                          title=title, message=message, back=False)
            ctype = "text/html; charset=utf-8"
        return HTTPResponse(body, status, headers={"Content-Type": ctype, **(headers or {})})

    def _guard(self) -> None:
        host = request.get_header("Host")
        if not host_allowed(host, self.allowed):
            raise self._abort_page(403, "Unknown address",
                                   f"This service does not answer to the address {(host or '(none)')[:100]}. Open it "
                                   "through 127.0.0.1 or localhost, or add the name to web.allowed_hosts in "
                                   "config.yaml.")
        path = request.path
        if request.method == "POST":
            if not origin_ok(origin=request.get_header("Origin"), sec_fetch_site=request.get_header("Sec-Fetch-Site"),
                             host_header=host, public_url=self.public_url):
                raise self._abort_page(403, "Refused", "This request came from another web site and was refused. "
                                       "Use the buttons on this service's own page.")
            s = self._session()
            sent = request.forms.get("csrf") or request.get_header("X-CSRF-Token")
            if s is None or not csrf_ok(s.csrf, sent):
                raise self._abort_page(403, "Form expired",
                                       "This form has expired or did not come from this page, so nothing was "
                                       "changed. Reload the status page and try again.")
        if self.password and not self._public_path(path):
            self._require_signin(path)

    def _public_path(self, path: str) -> bool:
        return path in ("/healthz", "/privacy", "/terms", "/signin", self.redirect_path) or path.startswith("/static/")

    def _require_signin(self, path: str) -> None:
        s = self._session()
        if s is not None and s.signed_in:
            return
        api = path.startswith("/api/")
        if api and request.method == "GET" and request.auth is not None:
            client = self._client()
            wait = self.throttle.retry_after(client)
            if wait:
                raise self._abort_page(429, "Too many tries",
                                       f"Too many wrong passwords. Try again in {math.ceil(wait)} s.",
                                       {"Retry-After": str(math.ceil(wait))})
            if password_ok(request.auth[1], self.password):
                self.throttle.succeeded(client)
                return
            self.throttle.failed(client)
        if api:
            raise self._abort_page(401, "Sign in", "This service needs its password (web.password): send it with "
                                   "HTTP Basic auth.", {"WWW-Authenticate": 'Basic realm="ralph-watch", charset="UTF-8"'})
        if request.method == "GET":
            raise HTTPResponse("", 303, headers={"Location": "/signin"})
        raise self._abort_page(403, "Sign in", "Sign in with the service's password first.")

    def _headers(self) -> None:
        self._prune_media()
        for k, v in SECURITY_HEADERS.items():
            response.set_header(k, v)
        if "Cache-Control" not in response.headers:
            response.set_header("Cache-Control", "no-store")

    def _error_page(self, err: bottle.HTTPError) -> str:
        self._headers()
        if err.status_code >= 500:
            log.error("web request %s %s failed:\n%s", request.method, request.path, err.traceback or err.body)
        titles = {403: ("Not allowed", "This address is not available."),
                  404: ("Not found", "There is nothing at this address. Go back to the status page."),
                  405: ("Not allowed", "This address does not accept this kind of request (actions are buttons "
                                       "on the status page)."),
                  413: ("Too large", "The request was too large.")}
        title, message = titles.get(err.status_code, ("Something went wrong",
                                                      "The service could not answer this request. The details are "
                                                      "in the service's log."))
        if _wants_json() or request.path.startswith("/api/"):
            response.content_type = "application/json"
            return json.dumps({"ok": False, "error": message})
        response.content_type = "text/html; charset=utf-8"
        return render("message", csrf="", flashes=[], password_mode=bool(self.password), signed_in=False,
                      title=title, message=message, back=True)

    def _safe(self, fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except Exception:
            log.exception("web: %s failed", getattr(fn, "__name__", fn))
            return default

    # -- pages --------------------------------------------------------------------------
    def index(self) -> str:
        q = request.query
        state = q.getunicode("state") or None
        if state is not None and state not in _STATES:
            raise self._message(400, "Unknown filter",
                                f"There is no task state {state!r}; use one of: {', '.join(_STATES)}.")
        page_text = q.getunicode("page") or "1"
        if not page_text.isdigit() or int(page_text) < 1 or len(page_text) > 6:
            raise self._message(400, "Bad page", f"page must be a whole number from 1, not {page_text!r}.")
        page = int(page_text)
        order = q.getunicode("order") or "attention"
        if order not in views.ORDERS:
            raise self._message(400, "Unknown order", f"order must be one of {', '.join(views.ORDERS)}, not {order[:40]!r}.")
        self._session(create=True)
        now = self.clock.now()
        board = self.backend.board
        account = views.account_view(self._safe(self.backend.account, None), now=now, tz=self.tz)
        username = account["username"] if account else None
        # With 10,000 tasks, counting, sorting and the quota warnings cost tens of ms; reuse them
        # while the board is unchanged, within the same second (relative times stay right).
        paused = bool(self._safe(lambda: self.backend.paused, False))
        key = (board.version, state, page, username, paused, int(now.timestamp()), order)
        with self._api_lock:
            model = self._page_cache.get(key)
        if model is None:
            with self._page_build_lock:   # one request builds, the others wait for it (no stampede)
                model = self._page_model(key, board=board, state=state, page=page, now=now, username=username,
                                         order=order)
        return self._page(
            "index", title="Status", account=account, state=state, page=page, states=_STATES,
            paused=paused, music_url=views.MUSIC_USAGE_URL, tz_name=getattr(self.tz, "key", str(self.tz)),
            emulator_url=self._emulator_url(), order=order, action_label=views.action_label,
            quota=views.quota_view(self._safe(self.backend.quota, None)),
            banners=views.banners(paused=paused, logged_in=account is not None, health=model["health"]),
            page_size=views.PAGE_SIZE, **model,
        )

    def _emulator_url(self) -> str | None:
        """The TikTok emulator's own page when the API is one on this machine (the demo): what it received."""
        base = http_url(getattr(getattr(self.config, "tiktok", None), "api_base", None))
        if not base or not base.startswith("http://"):
            return None
        host = urlsplit(base).hostname or ""
        return base.rstrip("/") + "/" if host in ("127.0.0.1", "localhost", "::1") else None

    def _page_model(self, key: tuple, *, board: Any, state: str | None, page: int, now: Any,
                    username: str | None, order: str = "attention") -> dict[str, Any]:
        with self._api_lock:
            model = self._page_cache.get(key)
        if model is None:
            counts = board.counts()
            total = counts.get(state, 0) if state else sum(counts.values())
            tasks = board.listing(state=state, limit=views.PAGE_SIZE, offset=(page - 1) * views.PAGE_SIZE,
                                  first=views.ATTENTION if order == "attention" else frozenset())
            rows = [views.task_row(t, now=now, tz=self.tz, username=username) for t in tasks]
            ok, health = self._safe(self.backend.health, (False, {"reason": "the service did not report its health"}))
            model = {"counts": counts, "total": total, "rows": rows,
                     "pages": max(1, math.ceil(total / views.PAGE_SIZE)),
                     "warnings": self._warnings(key),
                     "health": views.health_view(ok, health, now=now, tz=self.tz),
                     "unaudited": views.mentions_unaudited([r.error for r in rows])}
            with self._api_lock:
                _keep_newest(self._page_cache, key, model)
        return model

    def _warnings(self, key: tuple) -> list[str]:
        """The backend's warnings (the quota check walks every scheduled task: ~50 ms at 10,000),
        reused while the board is unchanged and paused is the same, for up to a minute."""
        version, paused, second = key[0], key[4], key[5]
        wkey = (version, paused, second // 60)
        if self._warn_cache is not None and self._warn_cache[0] == wkey:
            return self._warn_cache[1]
        warnings = [str(w) for w in self._safe(self.backend.warnings, [])]
        self._warn_cache = (wkey, warnings)
        return warnings

    def privacy(self) -> str:
        own = getattr(self.config.web, "privacy_policy", None)
        if own is not None:
            return self._operator_page(own, "Privacy policy", "web.privacy_policy")
        text = resources.files("ralph_watch").joinpath("privacy_policy.txt").read_text(encoding="utf-8")
        response.set_header("Cache-Control", "no-cache")
        return self._page("privacy", title="Privacy policy", blocks=views.privacy_blocks(text))

    def terms(self) -> str:
        own = getattr(self.config.web, "terms", None)
        if own is None:
            raise self._message(404, "Not found", "This service publishes no terms of service (web.terms is not set).")
        return self._operator_page(own, "Terms of service", "web.terms")

    def _operator_page(self, path: Path, title: str, key: str) -> str:
        """The operator's own policy or terms: HTML as written (under the page's CSP), text as a page."""
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.error("%s: cannot read %s (%s)", key, path, exc.strerror)
            raise self._message(503, title, f"The {title.lower()} cannot be read right now ({key}); "
                                            "tell the operator of this service.")
        response.set_header("Cache-Control", "no-cache")
        if Path(path).suffix.lower() in (".html", ".htm"):
            response.content_type = "text/html; charset=utf-8"
            return text
        return self._page("privacy", title=title, blocks=views.privacy_blocks(text))

    def static(self, filename: str) -> Any:
        res = bottle.static_file(filename, root=str(STATIC_DIR))
        res.set_header("Cache-Control", "no-cache")
        return res

    def favicon(self) -> str:
        raise _Reply(204, "")  # no icon; answering keeps browsers' 404s out of the log

    def avatar(self) -> Any:
        got = self._safe(self.backend.avatar, None)
        if not got:
            raise _Reply(404, "")
        data, ctype = got
        ctype = (ctype or "").split(";")[0].strip().lower()
        if ctype not in _IMAGE_TYPES:  # only images, and never something a browser might run
            raise _Reply(404, "")
        response.content_type = ctype
        response.set_header("Cache-Control", "private, no-store")
        return bytes(data)

    # -- TikTok login -------------------------------------------------------------------
    def login(self) -> str:
        s = self._session(create=True)
        assert s is not None
        state = new_state()
        verifier, challenge = new_pkce()
        self.sessions.begin_login(s, state=state, verifier=verifier)
        try:
            url = http_url(self.backend.login_url(state=state, code_challenge=challenge))
        except LoginError as exc:
            raise self._message(503, "Login unavailable", exc.message)
        if url is None:
            raise self._message(500, "Login unavailable", "The TikTok authorize URL (tiktok.authorize_url in "
                                "config.yaml) is not an http(s) address.")
        raise _Reply(303, "", headers={"Location": url})

    def callback(self) -> str:
        q = request.query
        error = (q.getunicode("error") or "")[:100]
        error_type = (q.getunicode("error_type") or "")[:100]
        state = (q.getunicode("state") or "")[:200]
        verifier = self.sessions.take_login(self._session(), state)  # one-time, whatever happens next
        if error:
            raise self._message(400, "Not logged in", _login_error_sentence(error, error_type,
                                                                            (q.getunicode("error_description") or "")[:300]))
        if verifier is None:
            raise self._message(400, "Login expired",
                                "This login has expired, was already used, or was started in another browser, so "
                                "it was not accepted. Start again with “Log in with TikTok”.")
        code = q.getunicode("code") or ""
        if not code or len(code) > _MAX_CODE:
            raise self._message(400, "Login failed", "TikTok's answer did not carry a usable authorization code. "
                                "Start again with “Log in with TikTok”.")
        scopes = q.getunicode("scopes")
        try:
            self.backend.finish_login(code=code, code_verifier=verifier, scopes=scopes[:1000] if scopes else None)
        except LoginError as exc:
            raise self._message(400, "Login failed", exc.message)
        s = self._session()
        assert s is not None  # take_login succeeded, so there is a session
        new = self.sessions.rotate(s)  # a fresh id once logged in: no session fixation
        self._use_session(new)
        account = self._safe(self.backend.account, None) or {}
        nick = account.get("nickname")
        self.sessions.flash(new, f"Logged in to TikTok as {nick}." if nick else "Logged in to TikTok.")
        return self._see_other()

    def logout(self) -> str:
        self.backend.logout()
        s = self._session()
        if s is not None:
            self.sessions.destroy(s.id)
        fresh = self.sessions.create()
        self._use_session(fresh)
        if _wants_json():
            return _json({"ok": True, "message": "Logged out."})
        self.sessions.flash(fresh, "Logged out: ralph-watch has forgotten the TikTok login. Nothing is published "
                                   "until you log in again.")
        return self._see_other()

    # -- password mode ------------------------------------------------------------------
    def signin_form(self) -> str:
        if not self.password:
            return self._see_other()
        s = self._session(create=True)
        if s is not None and s.signed_in:
            return self._see_other()
        return self._page("signin", title="Sign in", error="")

    def signin(self) -> str:
        if not self.password:
            return self._see_other()
        client = self._client()
        wait = self.throttle.retry_after(client)
        if wait:
            body = self._page("signin", status=429, title="Sign in",
                              error=f"Too many wrong passwords. Try again in {math.ceil(wait)} s.")
            raise _Reply(429, body, headers={"Retry-After": str(math.ceil(wait))})
        if not password_ok(request.forms.getunicode("password") or "", self.password):
            self.throttle.failed(client)
            raise _Reply(401, self._page("signin", status=401, title="Sign in",
                                         error="Wrong password. It is web.password in the service's config.yaml."))
        self.throttle.succeeded(client)
        s = self._session()
        assert s is not None  # the CSRF check needed one
        self._use_session(self.sessions.rotate(s, signed_in=True))
        return self._see_other()

    def signout(self) -> str:
        s = self._session()
        if s is not None:
            self.sessions.destroy(s.id)
        response.delete_cookie(COOKIE_NAME, path="/")
        return self._see_other(to="/signin" if self.password else "/")

    # -- actions ------------------------------------------------------------------------
    def task_action(self, task_id: str, action: str) -> str:
        method = _ACTIONS.get(action)
        if method is None or not _TASK_ID.match(task_id):
            raise self._message(404, "Not found", "There is no such task action. Use the buttons on the status page.")
        task = self.backend.board.get(task_id)
        name = (task.video or task.sidecar or task.key) if task else f"task {task_id}"
        if action == "cancel" and not _wants_json() and request.forms.get("confirmed") != "yes":
            # Without JavaScript the confirmation is a page of its own (with JS: confirm()).
            return self._page("confirm", title="Cancel?", task_id=task_id, name=name,
                              title_text=(task.title or "") if task else "",
                              files=[f for f in ((task.video, task.sidecar) if task else ()) if f])
        try:
            getattr(self.backend, method)(task_id)
        except ActionError as exc:
            raise self._message(exc.status, "Not done", exc.message)
        message = {
            "cancel": f"Cancelled {name}: both files were deleted from the inbox.",
            "retry": f"{name} will be published anew.",
            "publish-now": f"{name} will be published now.",
        }[action]
        if _wants_json():
            return _json({"ok": True, "message": message})
        return self._see_other(message)

    def pause(self) -> str:
        self.backend.pause()
        msg = "Paused: no publish starts until you resume. Due tasks wait as scheduled."
        return _json({"ok": True, "message": msg}) if _wants_json() else self._see_other(msg)

    def resume(self) -> str:
        self.backend.resume()
        msg = "Resumed: due tasks are published again."
        return _json({"ok": True, "message": msg}) if _wants_json() else self._see_other(msg)

    # -- JSON ---------------------------------------------------------------------------
    def api_tasks(self) -> str:
        state, limit, offset, order = self._task_params()
        board = self.backend.board
        version = board.version  # read before listing: an ETag never claims newer data than it has
        # post_url carries the creator's handle, so a new handle is new data too
        account = views.account_view(self._safe(self.backend.account, None), now=self.clock.now(), tz=self.tz)
        username = account["username"] if account else None
        handle = hashlib.sha256((username or "").encode()).hexdigest()[:8]
        etag = f'"v{version}-{state or "all"}-{"" if limit is None else limit}-{offset}-{order}-{handle}"'
        response.set_header("ETag", etag)
        response.set_header("Vary", "Accept-Encoding")   # large answers go gzip-encoded when asked
        sent = request.get_header("If-None-Match") or ""
        if etag in [t.strip().removeprefix("W/") for t in sent.split(",")]:
            raise _Reply(304, "")
        key = (version, state, limit, offset, order, username)
        with self._api_lock:
            cached = self._api_cache.get(key)
        if cached is None:
            first = views.ATTENTION if order == "attention" else frozenset()
            body = json.dumps([views.task_json(t, username=username)
                               for t in board.listing(state=state, limit=limit, offset=offset, first=first)],
                              ensure_ascii=False).encode("utf-8", "ralph-watch-json")
            # 10,000 tasks are ~3 MB of JSON: compressed once per board version, sent ~15x smaller.
            cached = (body, gzip.compress(body, compresslevel=1, mtime=0) if len(body) > _GZIP_MIN else None)
            with self._api_lock:
                _keep_newest(self._api_cache, key, cached)
        response.content_type = "application/json"
        body, gz = cached
        if gz is not None and "gzip" in (request.get_header("Accept-Encoding") or "").lower():
            response.set_header("Content-Encoding", "gzip")
            return gz
        return body

    def _task_params(self) -> tuple[str | None, int | None, int, str]:
        q = request.query
        unknown = sorted(set(q.keys()) - {"state", "limit", "offset", "order"})
        if unknown:
            raise self._bad_param(f"unknown parameter {unknown[0]!r}; known are state, limit, offset, order")
        order = q.getunicode("order") or "due"   # the contract's default; the page asks for "attention"
        if order not in views.ORDERS:
            raise self._bad_param(f"order={order[:40]!r} is not an order; use one of {', '.join(views.ORDERS)}")
        state = q.getunicode("state") or None
        if state is not None and state not in _STATES:
            raise self._bad_param(f"state={state!r} is not a task state; use one of {', '.join(_STATES)}")
        limit = self._int_param("limit")
        offset = self._int_param("offset") or 0
        return state, limit, offset, order

    def _int_param(self, name: str) -> int | None:
        text = request.query.getunicode(name)
        if text is None or text == "":
            return None
        if not text.isdigit() or len(text) > 9:
            raise self._bad_param(f"{name}={text!r} must be a whole number from 0 to 999999999")
        return int(text)

    def _bad_param(self, message: str) -> _Reply:
        return _Reply(400, _json({"ok": False, "error": f"/api/tasks: {message}."}))

    def api_account(self) -> str:
        account = self._safe(self.backend.account, None)
        nick = account.get("nickname") if account else None
        return _json({"logged_in": bool(account), "nickname": str(nick) if nick is not None else None})

    def healthz(self) -> str:
        ok, data = self._safe(self.backend.health, (False, {"ok": False, "reason": "health check failed"}))
        response.status = 200 if ok else 503
        return _json(_jsonable(data))

    # -- previews, calendar, edits (issue 16) ------------------------------------------
    def _media_init(self) -> None:
        from .thumbnails import ByteLRU
        self.thumbs: ByteLRU[tuple] = ByteLRU()        # (task id, file identity, cover) -> JPEG
        self._thumb_slots = threading.BoundedSemaphore(2)  # decoding is CPU: two at a time
        self._thumbs_seen = -1                          # board version of the last prune
        self._calendar_cache: tuple[tuple, str] | None = None   # (version, minute) -> days HTML

    def forget_task(self, task_id: str) -> None:
        """The task is published, cancelled or gone: its thumbnail leaves memory."""
        self.thumbs.drop_where(lambda k: k[0] == task_id)

    def _prune_media(self) -> None:
        board = self.backend.board
        version = board.version
        if version == self._thumbs_seen or not len(self.thumbs):
            self._thumbs_seen = version
            return
        self._thumbs_seen = version
        # Only the cached ids are looked up: the cache is small, the board may hold 10,000 tasks.
        gone = set()
        for task_id in {k[0] for k in self.thumbs.keys()}:
            t = board.get(task_id)
            if t is None or t.state in (State.PUBLISHED, State.CANCELLED):
                gone.add(task_id)
        if gone:
            self.thumbs.drop_where(lambda k: k[0] in gone)

    def _media_task(self, task_id: str) -> Any:
        task = self.backend.board.get(task_id) if _TASK_ID.match(task_id) else None
        if task is None:
            raise self._message(404, "Not found", f"There is no task {task_id[:64]}; it may have finished. "
                                "Reload the status page.")
        return task

    def _open_video(self, task_id: str) -> tuple[int, Any, str]:
        try:
            return self.backend.open_video(task_id)
        except ActionError as exc:
            raise self._message(exc.status, "No video", exc.message)

    def thumbnail(self, task_id: str) -> Any:
        from .thumbnails import ThumbnailError, make_thumbnail
        task = self._media_task(task_id)
        if task.state in (State.PUBLISHED, State.CANCELLED):
            raise self._message(404, "No preview", f"{task.video or task.key} is {task.state.value}: its files "
                                "are no longer in the inbox, so there is no preview.")
        fd, st, name = self._open_video(task_id)
        cover = int(getattr(task.sidecar_data, "cover_ms", 0) or 0)
        key = (task_id, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, cover)
        data = self.thumbs.get(key)
        if data is None:
            try:
                with self._thumb_slots, os.fdopen(fd, "rb") as f:
                    fd = -1
                    data = make_thumbnail(f, cover_ms=cover)
            except ThumbnailError as exc:
                raise self._message(404, "No preview", f"{name} has no preview: {exc}.")
            self.thumbs.drop_where(lambda k: k[0] == task_id)   # an older file's picture
            self.thumbs.put(key, data)
        if fd >= 0:
            os.close(fd)
        response.content_type = "image/jpeg"
        response.set_header("Cache-Control", "no-store")
        return data

    def video(self, task_id: str) -> Any:
        self._media_task(task_id)
        fd, st, name = self._open_video(task_id)
        size = st.st_size
        try:
            rng = None if request.get_header("If-Range") else media.parse_range(request.get_header("Range"), size)
        except media.Unsatisfiable:
            os.close(fd)
            raise _Reply(416, "", headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
        response.content_type = media.video_type(name)
        response.set_header("Accept-Ranges", "bytes")
        response.set_header("Cache-Control", "no-store")
        if rng is None:
            start, length = 0, size
        else:
            response.status = 206
            response.set_header("Content-Range", rng.content_range(size))
            start, length = rng.start, rng.length
        response.set_header("Content-Length", str(length))
        if request.method == "HEAD":
            os.close(fd)
            return ""
        return media.FileBody(fd, start, length)

    def calendar(self) -> str:
        from .. import calendar_view
        now = self.clock.now()
        board = self.backend.board
        key = (board.version, int(now.timestamp()) // 60)
        cached = self._calendar_cache
        if cached is not None and cached[0] == key:
            html = cached[1]
        else:  # the days' HTML is the same for every viewer: built once per board version and minute
            days = calendar_view.build(_calendar_items(board, now), now=now, tz=self.tz,
                                       limits=self.config.tiktok.limits, posted=_posted(board, now))
            html = render("calendar_days", days=days, dense=calendar_view.DENSE)
            self._calendar_cache = (key, html)
        self._session(create=True)
        return self._page("calendar", title="Calendar", days_html=html, tz_name=getattr(self.tz, "key", str(self.tz)),
                          dense=calendar_view.DENSE, daily=self.config.tiktok.limits.daily_posts)

    def _edit_page(self, task: Any, values: dict[str, Any], problems: list[str], *, rel: str, exists: bool,
                   status: int = 200, heading: str = "Not saved; nothing was changed:") -> str:
        from ..sidecar import MODES, PROMOTIONS
        from ..constants import PRIVACY_CHOICES
        return self._page("edit", status=status, title=f"Edit {task.video or task.key}", task=task, values=values,
                          problems=problems, heading=heading, rel=rel, exists=exists, privacies=PRIVACY_CHOICES,
                          promotions=PROMOTIONS, modes=MODES, tz_name=getattr(self.tz, "key", str(self.tz)))

    def _editable(self, task_id: str) -> Any:
        task = self._media_task(task_id)
        if task.state not in EDITABLE or task.settle:
            why = ("ralph-watch is asking TikTok how it ended" if task.settle else
                   f"it is {task.state.value}; TikTok has it (or it is done)")
            raise self._message(409, "Cannot edit now", f"{task.video or task.key} cannot be edited now: {why}.")
        return task

    def edit_form(self, task_id: str) -> str:
        from ..sidecar_edit import form_values
        task = self._editable(task_id)
        self._session(create=True)
        try:
            data, rel = self.backend.read_sidecar(task_id)
        except ActionError as exc:
            raise self._message(exc.status, "Cannot edit", exc.message)
        values, problems = form_values(data, path=rel, defaults=getattr(self.config, "defaults", {}) or {})
        return self._edit_page(task, values, problems, rel=rel, exists=data is not None,
                               heading="The sidecar cannot be read as it stands, so the form starts from the "
                                       "defaults:" if problems else "")

    def edit(self, task_id: str) -> str:
        from ..sidecar_edit import FORM_KEYS, EditRefused
        task = self._editable(task_id)
        form = {k: (request.forms.getunicode(k) or "") for k in FORM_KEYS}
        name = task.video or task.key
        try:
            changed = self.backend.edit_sidecar(task_id, form)
        except ActionError as exc:
            raise self._message(exc.status, "Not changed", exc.message)
        except EditRefused as exc:
            if _wants_json():
                raise _Reply(422, _json({"ok": False, "error": " ".join(exc.problems), "problems": exc.problems}))
            values = dict(form)
            for k in ("allow_comments", "allow_duet", "allow_stitch", "ai_generated"):
                values[k] = form[k].lower() in ("on", "true", "yes", "1")
            rel = task.sidecar or f"{task.key}.yaml"
            raise _Reply(422, self._edit_page(task, values, exc.problems, rel=rel, exists=bool(task.sidecar),
                                              status=422))
        message = (f"Saved {task.sidecar or task.key + '.yaml'}: the task follows once the service has read it."
                   if changed else f"Nothing to change in the sidecar of {name}.")
        if _wants_json():
            return _json({"ok": True, "message": message, "changed": changed})
        return self._see_other(message)


def _calendar_items(board: Any, now: Any) -> list[Any]:
    from datetime import timedelta

    from ..calendar_view import DAYS, Item
    horizon = now + timedelta(days=DAYS + 1)
    pending = (State.SCHEDULED, State.NEEDS_LOGIN, State.UPLOADING, State.PROCESSING)
    tasks = board.select(lambda t: t.state in pending and t.due is not None and t.due < horizon)
    return [Item(id=t.id, name=t.video or t.key, state=t.state.value, due=t.due,
                 cron_key=t.cron_key if (t.cron_key and not t.held) else None, direct=t.mode != "draft",
                 title=t.title or "") for t in tasks]


def _posted(board: Any, now: Any) -> list[Any]:
    """When direct posts went out within the last day (from the tasks' history)."""
    from datetime import timedelta
    since = now - timedelta(days=2)
    out = []
    for t in board.select(lambda t: t.state is State.PUBLISHED and t.mode != "draft"):
        when = next((w for w, st, _ in reversed(t.history) if st == "published"), None)
        if when is not None and when > since:
            out.append(when)
    return out


def _keep_newest(cache: OrderedDict[tuple, Any], key: tuple, value: Any) -> None:
    """Store `value`; drop entries of older board versions (key[0]): no request asks for them
    again, and with 10,000 tasks each full /api/tasks answer is ~3 MB."""
    cache[key] = value
    for old in [k for k in cache if k[0] < key[0]]:
        del cache[old]
    while len(cache) > _API_CACHE_SIZE:
        cache.popitem(last=False)


def _jsonable(data: Any) -> Any:
    """Health data may hold datetimes; JSON gets ISO strings."""
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    iso = getattr(data, "isoformat", None)
    return iso() if callable(iso) else str(data)


def _login_error_sentence(error: str, error_type: str, description: str) -> str:
    if error_type == "non_sandbox_target":
        return ("TikTok refused the login: this TikTok app is in sandbox mode and the account you used is not one "
                "of its target users. Add the account under Sandbox → Target users in the TikTok developer portal "
                "(it can take up to an hour to show), or log in with a target account, then try again.")
    if error == "access_denied":
        return ("You did not allow ralph-watch to use your TikTok account, so nothing changed. To publish, log in "
                "again and allow access.")
    detail = f"{error}" + (f" ({error_type})" if error_type else "") + (f": {description}" if description else "")
    return (f"TikTok could not log you in ({detail}). Check the TikTok app's settings in the developer portal "
            "(client key, redirect URI, scopes) and try again.")
