"""The faithful fake TikTok: Login Kit, user info, Content Posting API and the upload host,
plus a loopback-only control API under /_emulator/ for tests, benchmarks and the demo.

Rules come from ../shared/spec/tiktok-api.md ("What a faithful fake TikTok server must
enforce"); the logic lives in emulator_state.py, this module is the HTTP shell (bottle) and
the server (waitress in a thread).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import bottle
import waitress
from waitress.channel import HTTPChannel
from waitress.task import WSGITask

from ralph_watch.clock import Clock, SystemClock
from ralph_watch.tiktok.emulator_pages import consent_page, error_page, index_page
from ralph_watch.tiktok.emulator_profile import Account, Profile, load_profile, make_avatar_png
from ralph_watch.tiktok.emulator_state import EmulatorState, Fault, Reply

__all__ = ["Account", "Profile", "load_profile", "make_avatar_png", "Fault", "EmulatorApp", "make_emulator_app",
           "EmulatorServer"]

log = logging.getLogger(__name__)

DROP_KEY = "ralph_watch.emulator.drop"     # environ: a callable that cuts the client's connection
CHUNKED_KEY = "ralph_watch.emulator.chunked"  # environ: the body came as Transfer-Encoding: chunked
MAX_FORM_BYTES = 1_000_000                 # OAuth forms and JSON bodies are tiny


class EmulatorApp:
    """The WSGI app (`.wsgi`, a bottle.Bottle) and the state it serves (`.state`)."""

    def __init__(self, state: EmulatorState, wsgi: bottle.Bottle) -> None:
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
    return environ["wsgi.input"].read(min(length, MAX_FORM_BYTES)) if length > 0 else b""


def _form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = environ[key]
    return out


def make_emulator_app(profile: Profile, *, clock: Clock | None = None, base_url: str,
                      spool_dir: Path | None = None) -> EmulatorApp:
    """Build the emulator. `base_url` is where it is reachable (upload_url and avatar_url use it)."""
    state = EmulatorState(profile, clock=clock or SystemClock(), base_url=base_url, spool_dir=spool_dir)
    app = bottle.Bottle(catchall=True)
    req = bottle.request

    def to_http(reply: Reply, *, trickle: float | None = None) -> bottle.HTTPResponse:
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

    def serve(endpoint: str, work: Callable[[Fault | None], tuple[Reply, bool]]) -> bottle.HTTPResponse:
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
            cut = req.environ.get(DROP_KEY)
            if cut is None:
                return to_http(Reply(500, b"this server cannot drop connections", content_type="text/plain"))
            cut()
            return bottle.HTTPResponse(body=b"", status=200)
        return to_http(reply, trickle=fault.trickle_interval if fault and fault.trickle else None)

    def plain(work: Callable[[], Reply]) -> Callable[[Fault | None], tuple[Reply, bool]]:
        return lambda _fault: (work(), False)

    # ---------------------------------------------------------------- Login Kit
    def authorize_params(source: dict[str, str]) -> dict[str, str]:
        keys = ("client_key", "response_type", "scope", "redirect_uri", "state", "code_challenge",
                "code_challenge_method", "disable_auto_auth")
        return {k: source[k] for k in keys if k in source}

    @app.get("/v2/auth/authorize/")
    @app.get("/v2/auth/authorize")
    def authorize_get() -> Any:
        q = authorize_params(dict(parse_qsl(req.environ.get("QUERY_STRING", ""), keep_blank_values=True)))
        error_type, scopes = state.validate_authorize(q)
        if error_type:
            return bottle.HTTPResponse(error_page(error_type), status=400, headers={"Content-Type": "text/html; charset=utf-8"})
        page = consent_page(app_name=state.profile.app_name, params=q, scopes=scopes, accounts=state.profile.accounts())
        return bottle.HTTPResponse(page, status=200, headers={"Content-Type": "text/html; charset=utf-8",
                                                              "Cache-Control": "no-store"})

    @app.post("/v2/auth/authorize/")
    @app.post("/v2/auth/authorize")
    def authorize_post() -> Any:
        pairs = parse_qsl(_read_small(req.environ).decode("utf-8", "replace"), keep_blank_values=True)
        fields = dict(pairs)
        q = authorize_params(fields)
        error_type, _ = state.validate_authorize(q)   # never trust the hidden fields
        if error_type:
            return bottle.HTTPResponse(error_page(error_type), status=400, headers={"Content-Type": "text/html; charset=utf-8"})
        if fields.get("decision") == "authorize":
            granted = [v for k, v in pairs if k == "granted"]
            location = state.approve(q, granted, fields.get("open_id"))
        else:
            location = state.deny_url(q)
        return bottle.HTTPResponse(status=302, headers={"Location": location, "Cache-Control": "no-store"})

    @app.post("/v2/oauth/token/")
    def token() -> Any:
        return serve("token", plain(lambda: state.token(req.environ.get("CONTENT_TYPE", ""),
                                                        _form(_read_small(req.environ)))))

    @app.post("/v2/oauth/revoke/")
    def revoke() -> Any:
        return serve("revoke", plain(lambda: state.revoke(req.environ.get("CONTENT_TYPE", ""),
                                                          _form(_read_small(req.environ)))))

    # ---------------------------------------------------------------- data endpoints
    def auth() -> str:
        return str(req.environ.get("HTTP_AUTHORIZATION", ""))

    @app.get("/v2/user/info/")
    def user_info() -> Any:
        fields = dict(parse_qsl(req.environ.get("QUERY_STRING", ""))).get("fields")
        return serve("user_info", plain(lambda: state.user_info(auth(), fields)))

    @app.post("/v2/post/publish/creator_info/query/")
    def creator_info() -> Any:
        return serve("creator_info", plain(lambda: state.creator_info(auth())))

    @app.post("/v2/post/publish/video/init/")
    def init() -> Any:
        return serve("init", plain(lambda: state.init(auth(), req.environ.get("CONTENT_TYPE", ""),
                                                      _read_small(req.environ), draft=False)))

    @app.post("/v2/post/publish/inbox/video/init/")
    def draft_init() -> Any:
        return serve("draft_init", plain(lambda: state.init(auth(), req.environ.get("CONTENT_TYPE", ""),
                                                            _read_small(req.environ), draft=True)))

    @app.post("/v2/post/publish/status/fetch/")
    def status() -> Any:
        return serve("status", plain(lambda: state.status(auth(), req.environ.get("CONTENT_TYPE", ""),
                                                          _read_small(req.environ))))

    @app.put("/upload/video/")
    @app.put("/upload/video")
    def upload() -> Any:
        environ = req.environ
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))

        headers = _headers(environ)
        if environ.get(CHUNKED_KEY):
            headers["transfer-encoding"] = "chunked"

        def work(fault: Fault | None) -> tuple[Reply, bool]:
            return state.upload(query, headers, environ["wsgi.input"],
                                drop_after_bytes=fault.drop_after_bytes if fault else None,
                                hold=fault.delay if fault and not (fault.drop or fault.status) else 0.0)
        return serve("upload", work)

    @app.get("/_emulator/avatar/<name>")
    def avatar(name: str) -> Any:
        account = state.account(name[:-4] if name.endswith(".png") else name)
        if account is None:
            return bottle.HTTPResponse(b"", status=404)
        return bottle.HTTPResponse(account.avatar, status=200, headers={"Content-Type": "image/png",
                                                                        "Cache-Control": "max-age=7200"})

    # ---------------------------------------------------------------- demo page and control API
    @app.get("/")
    def index() -> Any:
        return bottle.HTTPResponse(index_page(state.posts()), headers={"Content-Type": "text/html; charset=utf-8"})

    def control(work: Callable[[Any], Any], *, needs_body: bool = True) -> bottle.HTTPResponse:
        def answer(status: int, body: Any) -> bottle.HTTPResponse:
            return bottle.HTTPResponse(json.dumps(body), status=status,
                                       headers={"Content-Type": "application/json; charset=UTF-8"})
        if not _is_loopback(req.environ):
            return answer(403, {"error": "the control API answers only on loopback"})
        body: Any = None
        if needs_body:
            try:
                body = json.loads(_read_small(req.environ) or b"{}")
            except ValueError:
                return answer(400, {"error": "the body must be JSON"})
        try:
            return answer(200, work(body))
        except KeyError as exc:
            return answer(404, {"error": exc.args[0] if exc.args else str(exc)})
        except ValueError as exc:
            return answer(400, {"error": str(exc)})

    def body_get(body: Any, key: str) -> Any:
        if not isinstance(body, dict) or key not in body:
            raise ValueError(f"the body must be a JSON object with {key!r}")
        return body[key]

    def fail_next(body: Any) -> dict[str, Any]:
        reason = body_get(body, "fail_reason")
        if not isinstance(reason, str) or not reason:
            raise ValueError("fail_reason must be a non-empty string such as \"internal\"")
        state.add_fail_next(reason)
        return {"ok": True}

    def complete(body: Any) -> dict[str, Any]:
        state.complete_draft(str(body_get(body, "publish_id")))
        return {"ok": True}

    def add_fault(body: Any) -> dict[str, Any]:
        state.add_fault(Fault.from_json(body))
        return {"ok": True}

    def expire(body: Any) -> dict[str, Any]:
        state.expire(str(body_get(body, "what")))
        return {"ok": True}

    def reset(_body: Any) -> dict[str, Any]:
        state.reset()
        return {"ok": True}

    app.route("/_emulator/posts", "GET", lambda: control(lambda _b: state.posts(), needs_body=False))
    app.route("/_emulator/stats", "GET", lambda: control(lambda _b: state.stats_view(), needs_body=False))
    app.route("/_emulator/faults", "POST", lambda: control(add_fault))
    app.route("/_emulator/fail_next", "POST", lambda: control(fail_next))
    app.route("/_emulator/expire", "POST", lambda: control(expire))
    app.route("/_emulator/complete_draft", "POST", lambda: control(complete))
    app.route("/_emulator/account", "POST", lambda: control(state.patch_account))
    app.route("/_emulator/profile", "POST", lambda: control(state.patch_profile))
    app.route("/_emulator/reset", "POST", lambda: control(reset))
    return EmulatorApp(state, app)


# ---------------------------------------------------------------------- the server
class _DroppableTask(WSGITask):
    """Gives the app a way to cut the connection without answering (the drop faults)."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        channel = self.channel

        def drop() -> None:
            try:
                channel.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        environ[DROP_KEY] = drop
        # waitress de-chunks a chunked body and drops the header; TikTok wants Content-Length (400).
        environ[CHUNKED_KEY] = bool(getattr(self.request, "chunked", False))
        return environ


class _Channel(HTTPChannel):
    task_class = _DroppableTask


class EmulatorServer:
    """The emulator on a waitress server in a background thread, on loopback by default."""

    def __init__(self, profile: Profile, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None,
                 spool_dir: Path | None = None, threads: int = 8) -> None:
        self.profile = profile
        self.host = host
        self.port = port
        self.clock = clock
        self.threads = threads
        self._spool_given = spool_dir
        self._spool: Path | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: EmulatorApp | None = None

    @property
    def base_url(self) -> str:
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # a wildcard bind
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def state(self) -> EmulatorState:
        if self.app is None:
            raise RuntimeError("the emulator is not started; call start() first")
        return self.app.state

    def start(self) -> "EmulatorServer":
        """Bind, listen and serve in a thread; returns once the port accepts connections."""
        self._spool = Path(self._spool_given) if self._spool_given else Path(tempfile.mkdtemp(prefix="ralph-watch-emulator-"))
        self._spool.mkdir(parents=True, exist_ok=True)
        self.app = make_emulator_app(self.profile, clock=self.clock, base_url="http://127.0.0.1", spool_dir=self._spool)
        self._server = waitress.create_server(
            self.app.wsgi, host=self.host, port=self.port, threads=self.threads,
            # Speed: big socket reads, and a chunk (<= 128 MB) kept in memory instead of being
            # written to a waitress temp file and read back before the app even sees it.
            recv_bytes=1 << 20, inbuf_overflow=160 * 1024 * 1024, max_request_body_size=256 * 1024 * 1024,
            channel_timeout=300, ident="tiktok-emulator", expose_tracebacks=False, log_socket_errors=False)
        self._server.channel_class = _Channel
        self.port = int(self._server.effective_port)
        self.app.base_url = self.base_url
        self._thread = threading.Thread(target=self._server.run, name="tiktok-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end delays and trickles, close every connection, remove the spool."""
        if self._server is None:
            return
        server, self._server = self._server, None
        assert self.app is not None
        self.app.state.stop.set()
        # Workers first (delays and trickles end on the stop event), while the loop still
        # flushes their answers; then close every socket from inside the loop thread.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        done = threading.Event()

        def close_all() -> None:
            import waitress.wasyncore as wasyncore
            wasyncore.close_all(server._map)
            done.set()
        try:
            server.trigger.pull_trigger(close_all)
        except OSError:
            pass
        done.wait(5)
        if self._thread is not None:
            self._thread.join(5)
            if self._thread.is_alive():
                log.warning("emulator: server thread did not stop within 5 s")
        self.app.state.reset()
        if self._spool is not None and self._spool_given is None:
            shutil.rmtree(self._spool, ignore_errors=True)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers (same state as the control API)
    def posts(self) -> list[dict[str, Any]]:
        return self.state.posts()

    def stats(self) -> dict[str, Any]:
        return self.state.stats_view()

    def inject(self, endpoint: str, **fault: Any) -> None:
        """Add a fault, e.g. inject("upload", status=500, times=2) or inject("init", delay=3)."""
        self.state.add_fault(Fault.from_json({"endpoint": endpoint, **fault}))

    def fail_next(self, fail_reason: str) -> None:
        self.state.add_fail_next(fail_reason)

    def expire(self, what: str) -> None:
        self.state.expire(what)

    def patch_account(self, **changes: Any) -> dict[str, Any]:
        return self.state.patch_account(changes)

    def patch_profile(self, **switches: Any) -> dict[str, Any]:
        """Change profile switches, e.g. patch_profile(require_brand_toggle=True)."""
        return self.state.patch_profile(switches)

    def complete_draft(self, publish_id: str) -> None:
        self.state.complete_draft(publish_id)

    def reset(self) -> None:
        self.state.reset()
