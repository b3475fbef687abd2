"""What every route area of the page shares: guards (Host, Origin, CSRF, sign-in), sessions,
error pages, rendering and the JSON body. The areas (pages, auth, api, media_routes, editing) are
mixins over `AppBase`; `app._WebApp` puts them together and registers the routes."""
from __future__ import annotations

import codecs
import json
import logging
import math
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import bottle  # type: ignore[import-untyped]  # bottle ships no type information
from bottle import HTTPResponse, request, response

from ..clock import Clock
from ..logs import register_secret
from ..tasks import State
from .account_views import NAME, accounts_view, names_sentence
from .backend import WebBackend
from .security import (
    SECURITY_HEADERS,
    SigninThrottle,
    allowed_hostnames,
    client_address,
    csrf_ok,
    host_allowed,
    origin_ok,
    password_ok,
    trusted_networks,
)
from .sessions import COOKIE_NAME, Session, SessionStore

__all__ = ["AppBase", "Reply", "render", "wants_json", "json_body", "TEMPLATE_DIR", "STATIC_DIR"]
log = logging.getLogger("ralph_watch.web.app")  # one logger name for the page, as before the split

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
# One constant list: bottle caches compiled templates by id(lookup).
LOOKUP = [str(TEMPLATE_DIR) + "/"]
TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATES = [s.value for s in State]
ACTIONS = {"cancel": "cancel", "retry": "retry", "publish-now": "publish_now"}
MAX_CODE = 4096          # TikTok's codes are a few hundred characters; 10 KB is an attack
API_CACHE_SIZE = 32
GZIP_MIN = 64 * 1024   # smaller answers are not worth compressing
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}



def render(template: str, /, **values: Any) -> str:
    """Render a template file by its fixed name (never a string from a request)."""
    text: str = bottle.template(template, template_lookup=LOOKUP, **values)
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


class Reply(Exception):
    """Stop a handler with this status/body; unlike HTTPResponse it keeps cookies set on `response`."""

    def __init__(self, status: int, body: str | bytes = "", *, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def wants_json() -> bool:
    return "application/json" in (request.get_header("Accept") or "")


def json_body(data: Any) -> bytes:
    response.content_type = "application/json"
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "ralph-watch-json")


class AppBase:
    """The state every route area shares, the guards and the rendering helpers."""

    app: bottle.Bottle  # set by app._WebApp once the areas are put together

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
        self._api_cache: OrderedDict[tuple[Any, ...], tuple[bytes, bytes | None]] = OrderedDict()  # (board.version, params) -> (JSON, gzip)
        self._api_lock = threading.Lock()
        self._page_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()  # (board.version, params, second) -> page model
        self._page_build_lock = threading.Lock()
        self._warn_cache: tuple[tuple[Any, ...], list[str]] | None = None   # (version, paused, minute) -> warnings
        self._media_init()

    def _media_init(self) -> None:
        from .thumbnails import ByteLRU
        self.thumbs: ByteLRU[tuple[Any, ...]] = ByteLRU()        # (task id, file identity, cover) -> JPEG
        self._thumb_slots = threading.BoundedSemaphore(2)  # decoding is CPU: two at a time
        self._thumbs_seen = -1                          # board version of the last prune
        self._calendar_cache: tuple[tuple[Any, ...], str] | None = None   # (version, minute) -> days HTML

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
        task = self.backend.board.get(task_id) if TASK_ID.match(task_id) else None
        if task is None:
            raise self._message(404, "Not found", f"There is no task {task_id[:64]}; it may have finished. "
                                "Reload the status page.")
        return task

    def _route(self, path: str, method: str, handler: Callable[..., Any]) -> None:
        def call(**kwargs: Any) -> Any:
            try:
                return handler(**kwargs)
            except Reply as stop:
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
        s: Session | None = env["rw.session"]
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

    def _message(self, status: int, title: str, message: str, *, back: bool = True) -> Reply:
        if wants_json():
            return Reply(status, json_body({"ok": False, "error": message}))
        body = self._page("message", status=status, title=title, message=message, back=back)
        response.content_type = "text/html; charset=utf-8"
        return Reply(status, body)

    def _see_other(self, flash: str | None = None, *, kind: str = "info", to: str = "/") -> str:
        if flash:
            s = self._session(create=True)
            assert s is not None
            self.sessions.flash(s, flash, kind=kind)
        # A relative, fixed Location: bottle.redirect() would build it from request.url,
        # which trusts X-Forwarded-Host.
        raise Reply(303, "", headers={"Location": to})

    def _abort_page(self, status: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
        """For the guard (before any handler): a complete response, no session needed."""
        if wants_json() or request.path.startswith("/api/"):
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
        if wants_json() or request.path.startswith("/api/"):
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

    # -- accounts (issue 15) ------------------------------------------------------------
    def _accounts(self) -> list[dict[str, Any]]:
        """The backend's accounts in config order ([] when it failed: the page still renders)."""
        got = self._safe(self.backend.accounts, None)
        return [dict(a) for a in got if isinstance(a, dict)] if isinstance(got, list) else []

    def _account_names(self) -> list[str]:
        return [a["name"] for a in accounts_view(self._accounts())]

    def _named_account(self, value: str | None, *, doing: str, required: bool) -> str | None:
        """The account a request names, checked against the configured ones (unknown: 404). Without
        a name: None, which the backend reads as the only account; with several and `required`,
        a 400 that lists them."""
        names = self._account_names()
        if value:
            if not NAME.match(value) or value not in names:
                raise self._message(404, "No such account",
                                    f"There is no account named {value[:40]!r}. The accounts are: "
                                    f"{names_sentence(names)}.")
            return value
        if required and len(names) > 1:
            raise self._message(400, "Which account?",
                                f"Several TikTok accounts are configured ({names_sentence(names)}): say which one "
                                f"to {doing}, with account=NAME, or use that account's button on the status page.")
        return None

    # -- pages --------------------------------------------------------------------------
