"""The emulator's HTTP shell (bottle): Login Kit, user info, the Content Posting API and the
upload host as TikTok routes them, plus a loopback-only control API under /_emulator/ for tests,
benchmarks and the demo. The rules live in state.py and the modules it composes.

Routes are added with `app.route(...)` calls rather than decorators: bottle has no type stubs,
and a call keeps the handlers typed."""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import bottle  # type: ignore[import-untyped]  # bottle ships no type stubs

from ralph_watch.clock import Clock, SystemClock
from ralph_watch.emulator.core import Reply
from ralph_watch.emulator.faults import Fault
from ralph_watch.emulator.pages import consent_page, error_page, index_page
from ralph_watch.emulator.profile import Profile
from ralph_watch.emulator.state import EmulatorState

__all__ = ["EmulatorApp", "make_emulator_app", "DROP_KEY", "CHUNKED_KEY"]

DROP_KEY = "ralph_watch.emulator.drop"     # environ: a callable that cuts the client's connection
CHUNKED_KEY = "ralph_watch.emulator.chunked"  # environ: the body came as Transfer-Encoding: chunked
MAX_FORM_BYTES = 1_000_000                 # OAuth forms and JSON bodies are tiny
_HTML = {"Content-Type": "text/html; charset=utf-8"}
_AUTHORIZE_KEYS = ("client_key", "response_type", "scope", "redirect_uri", "state", "code_challenge",
                   "code_challenge_method", "disable_auto_auth")

Work = Callable[[Fault | None], tuple[Reply, bool]]


class EmulatorApp:
    """The WSGI app (`.wsgi`, a bottle.Bottle) and the state it serves (`.state`)."""

    def __init__(self, state: EmulatorState, wsgi: Any) -> None:
        self.state = state
        self.wsgi = wsgi

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.state.base_url = value.rstrip("/")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.wsgi(environ, start_response)


def _environ() -> dict[str, Any]:
    environ: dict[str, Any] = bottle.request.environ
    return environ


def _is_loopback(environ: dict[str, Any]) -> bool:
    try:
        return ipaddress.ip_address(environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _read_small(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    data: bytes = environ["wsgi.input"].read(min(length, MAX_FORM_BYTES)) if length > 0 else b""
    return data


def _form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _query() -> dict[str, str]:
    return dict(parse_qsl(_environ().get("QUERY_STRING", ""), keep_blank_values=True))


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = environ[key]
    return out


def _to_http(state: EmulatorState, reply: Reply, *, trickle: float | None = None) -> Any:
    payload = reply.payload()
    headers = {"Content-Type": reply.content_type, "Content-Length": str(len(payload)), **reply.headers}
    body: Any = payload
    if trickle is not None:
        def slowly() -> Iterator[bytes]:
            for i in range(len(payload)):
                if i and state.stop.wait(trickle):
                    return
                yield payload[i:i + 1]
        body = slowly()
    return bottle.HTTPResponse(body=body, status=reply.status, headers=headers)


def _serve(state: EmulatorState, endpoint: str, work: Work) -> Any:
    """Run one API request through the fault injector: before (instead of) or after the work."""
    fault = state.take_fault(endpoint)
    # An upload delay holds the answer, not the bytes: the chunk is taken first (state.upload).
    held_upload = endpoint == "upload" and fault is not None and not (fault.drop or fault.status)
    if fault and fault.delay and not held_upload:
        state.stop.wait(fault.delay)   # a real-time network delay, cut short on shutdown
    if fault and not fault.after and (fault.drop or fault.status):
        reply, drop = (Reply(200), True) if fault.drop else (state.fault_reply(endpoint, fault), False)
    else:
        reply, drop = work(fault)
        if fault and fault.after:
            if fault.drop:
                drop = True
            elif fault.status:
                reply = state.fault_reply(endpoint, fault)
    state.count(endpoint, 0 if drop else reply.status)
    if drop:
        cut = _environ().get(DROP_KEY)
        if cut is None:
            return _to_http(state, Reply(500, b"this server cannot drop connections", content_type="text/plain"))
        cut()
        return bottle.HTTPResponse(body=b"", status=200)
    return _to_http(state, reply, trickle=fault.trickle_interval if fault and fault.trickle else None)


def _authorize_params(source: dict[str, str]) -> dict[str, str]:
    return {k: source[k] for k in _AUTHORIZE_KEYS if k in source}


def _plain(work: Callable[[], Reply]) -> Work:
    return lambda _fault: (work(), False)


def _login_routes(app: Any, state: EmulatorState) -> None:
    def authorize_get() -> Any:
        q = _authorize_params(_query())
        error_type, scopes = state.validate_authorize(q)
        if error_type:
            return bottle.HTTPResponse(error_page(error_type), status=400, headers=_HTML)
        page = consent_page(app_name=state.profile.app_name, params=q, scopes=scopes,
                            accounts=state.profile.accounts())
        return bottle.HTTPResponse(page, status=200, headers={**_HTML, "Cache-Control": "no-store"})

    def authorize_post() -> Any:
        pairs = parse_qsl(_read_small(_environ()).decode("utf-8", "replace"), keep_blank_values=True)
        fields = dict(pairs)
        q = _authorize_params(fields)
        error_type, _ = state.validate_authorize(q)   # never trust the hidden fields
        if error_type:
            return bottle.HTTPResponse(error_page(error_type), status=400, headers=_HTML)
        if fields.get("decision") == "authorize":
            location = state.approve(q, [v for k, v in pairs if k == "granted"], fields.get("open_id"))
        else:
            location = state.deny_url(q)
        return bottle.HTTPResponse(status=302, headers={"Location": location, "Cache-Control": "no-store"})

    def token() -> Any:
        return _serve(state, "token", _plain(lambda: state.token(_environ().get("CONTENT_TYPE", ""),
                                                                 _form(_read_small(_environ())))))

    def revoke() -> Any:
        return _serve(state, "revoke", _plain(lambda: state.revoke(_environ().get("CONTENT_TYPE", ""),
                                                                   _form(_read_small(_environ())))))

    for path in ("/v2/auth/authorize/", "/v2/auth/authorize"):
        app.route(path, "GET", authorize_get)
        app.route(path, "POST", authorize_post)
    app.route("/v2/oauth/token/", "POST", token)
    app.route("/v2/oauth/revoke/", "POST", revoke)


def _api_routes(app: Any, state: EmulatorState) -> None:
    def auth() -> str:
        return str(_environ().get("HTTP_AUTHORIZATION", ""))

    def json_call(method: Callable[[str, str, bytes], Reply]) -> Callable[[], Reply]:
        return lambda: method(auth(), _environ().get("CONTENT_TYPE", ""), _read_small(_environ()))

    def user_info() -> Any:
        fields = dict(parse_qsl(_environ().get("QUERY_STRING", ""))).get("fields")
        return _serve(state, "user_info", _plain(lambda: state.user_info(auth(), fields)))

    def init(draft: bool) -> Callable[[], Any]:
        call = json_call(lambda a, c, r: state.init(a, c, r, draft=draft))
        return lambda: _serve(state, "draft_init" if draft else "init", _plain(call))

    def upload() -> Any:
        environ = _environ()
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        headers = _headers(environ)
        if environ.get(CHUNKED_KEY):
            headers["transfer-encoding"] = "chunked"

        def work(fault: Fault | None) -> tuple[Reply, bool]:
            return state.upload(query, headers, environ["wsgi.input"],
                                drop_after_bytes=fault.drop_after_bytes if fault else None,
                                hold=fault.delay if fault and not (fault.drop or fault.status) else 0.0)
        return _serve(state, "upload", work)

    def avatar(name: str) -> Any:
        account = state.account(name[:-4] if name.endswith(".png") else name)
        if account is None:
            return bottle.HTTPResponse(b"", status=404)
        return bottle.HTTPResponse(account.avatar, status=200, headers={"Content-Type": "image/png",
                                                                        "Cache-Control": "max-age=7200"})

    app.route("/v2/user/info/", "GET", user_info)
    app.route("/v2/post/publish/creator_info/query/", "POST",
              lambda: _serve(state, "creator_info", _plain(lambda: state.creator_info(auth()))))
    app.route("/v2/post/publish/video/init/", "POST", init(False))
    app.route("/v2/post/publish/inbox/video/init/", "POST", init(True))
    app.route("/v2/post/publish/status/fetch/", "POST",
              lambda: _serve(state, "status", _plain(json_call(state.status))))
    for path in ("/upload/video/", "/upload/video"):
        app.route(path, "PUT", upload)
    app.route("/_emulator/avatar/<name>", "GET", avatar)
    app.route("/", "GET", lambda: bottle.HTTPResponse(index_page(state.posts()), headers=_HTML))


def _control(work: Callable[[Any], Any], *, needs_body: bool = True) -> Any:
    def answer(status: int, body: Any) -> Any:
        return bottle.HTTPResponse(json.dumps(body), status=status,
                                   headers={"Content-Type": "application/json; charset=UTF-8"})
    if not _is_loopback(_environ()):
        return answer(403, {"error": "the control API answers only on loopback"})
    body: Any = None
    if needs_body:
        try:
            body = json.loads(_read_small(_environ()) or b"{}")
        except ValueError:
            return answer(400, {"error": "the body must be JSON"})
    try:
        return answer(200, work(body))
    except KeyError as exc:
        return answer(404, {"error": exc.args[0] if exc.args else str(exc)})
    except ValueError as exc:
        return answer(400, {"error": str(exc)})


def _body_get(body: Any, key: str) -> Any:
    if not isinstance(body, dict) or key not in body:
        raise ValueError(f"the body must be a JSON object with {key!r}")
    return body[key]


def _control_routes(app: Any, state: EmulatorState) -> None:
    def fail_next(body: Any) -> dict[str, Any]:
        reason = _body_get(body, "fail_reason")
        if not isinstance(reason, str) or not reason:
            raise ValueError("fail_reason must be a non-empty string such as \"internal\"")
        state.add_fail_next(reason)
        return {"ok": True}

    def done(action: Callable[[Any], None]) -> Callable[[Any], dict[str, Any]]:
        def run(body: Any) -> dict[str, Any]:
            action(body)
            return {"ok": True}
        return run

    posts: dict[str, Callable[[Any], Any]] = {
        "faults": done(lambda b: state.add_fault(Fault.from_json(b))),
        "fail_next": fail_next,
        "expire": done(lambda b: state.expire(str(_body_get(b, "what")))),
        "complete_draft": done(lambda b: state.complete_draft(str(_body_get(b, "publish_id")))),
        "account": state.patch_account,
        "profile": state.patch_profile,
        "reset": done(lambda _b: state.reset()),
    }
    gets: dict[str, Callable[[Any], Any]] = {
        "posts": lambda _b: state.posts(),
        "stats": lambda _b: state.stats_view(),
        "logins": lambda _b: state.logged_in(),
    }
    for name, work in posts.items():
        app.route(f"/_emulator/{name}", "POST", lambda work=work: _control(work))
    for name, work in gets.items():
        app.route(f"/_emulator/{name}", "GET", lambda work=work: _control(work, needs_body=False))


def make_emulator_app(profile: Profile, *, clock: Clock | None = None, base_url: str,
                      spool_dir: Path | None = None) -> EmulatorApp:
    """Build the emulator. `base_url` is where it is reachable (upload_url and avatar_url use it)."""
    state = EmulatorState(profile, clock=clock or SystemClock(), base_url=base_url, spool_dir=spool_dir)
    app = bottle.Bottle(catchall=True)
    _login_routes(app, state)
    _api_routes(app, state)
    _control_routes(app, state)
    return EmulatorApp(state, app)
