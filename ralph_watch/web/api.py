"""The JSON API (/api/tasks, /api/accounts, /api/account, /healthz) and the task and pause/resume actions."""
from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

from bottle import request, response  # type: ignore[import-untyped]  # bottle ships no type information

from . import views
from .account_views import accounts_json, names_sentence, usernames
from .backend import ActionError
from .base import ACTIONS, GZIP_MIN, STATES, TASK_ID, AppBase, Reply, json_body, wants_json
from .pages import keep_newest

__all__ = ["ApiMixin"]


class ApiMixin(AppBase):
    def task_action(self, task_id: str, action: str) -> str | bytes:
        method = ACTIONS.get(action)
        if method is None or not TASK_ID.match(task_id):
            raise self._message(404, "Not found", "There is no such task action. Use the buttons on the status page.")
        task = self.backend.board.get(task_id)
        name = (task.video or task.sidecar or task.key) if task else f"task {task_id}"
        if action == "cancel" and not wants_json() and request.forms.get("confirmed") != "yes":
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
        if wants_json():
            return json_body({"ok": True, "message": message})
        return self._see_other(message)

    def pause(self) -> str | bytes:
        self.backend.pause()
        msg = "Paused: no publish starts until you resume. Due tasks wait as scheduled."
        return json_body({"ok": True, "message": msg}) if wants_json() else self._see_other(msg)

    def resume(self) -> str | bytes:
        self.backend.resume()
        msg = "Resumed: due tasks are published again."
        return json_body({"ok": True, "message": msg}) if wants_json() else self._see_other(msg)

    # -- JSON ---------------------------------------------------------------------------

    def api_tasks(self) -> str | bytes:
        state, limit, offset, order, name = self._task_params()
        board = self.backend.board
        version = board.version  # read before listing: an ETag never claims newer data than it has
        # post_url carries the creator's handle, so a new handle is new data too
        account = views.account_view(self._safe(self.backend.account, None), now=self.clock.now(), tz=self.tz)
        first_handle = account["username"] if account else None
        handles = usernames(self._accounts())
        handle = hashlib.sha256(repr((first_handle, sorted(handles.items()))).encode()).hexdigest()[:8]
        etag = (f'"v{version}-{state or "all"}-{"" if limit is None else limit}-{offset}-{order}-{name or ""}'
                f'-{handle}"')
        response.set_header("ETag", etag)
        response.set_header("Vary", "Accept-Encoding")   # large answers go gzip-encoded when asked
        sent = request.get_header("If-None-Match") or ""
        if etag in [t.strip().removeprefix("W/") for t in sent.split(",")]:
            raise Reply(304, "")
        key = (version, state, limit, offset, order, name, handle)
        with self._api_lock:
            cached = self._api_cache.get(key)
        if cached is None:
            first = views.ATTENTION if order == "attention" else frozenset()
            tasks = board.listing(state=state, account=name, limit=limit, offset=offset, first=first)
            body = json.dumps([views.task_json(t, username=handles.get(t.account, first_handle)) for t in tasks],
                              ensure_ascii=False).encode("utf-8", "ralph-watch-json")
            # 10,000 tasks are ~3 MB of JSON: compressed once per board version, sent ~15x smaller.
            cached = (body, gzip.compress(body, compresslevel=1, mtime=0) if len(body) > GZIP_MIN else None)
            with self._api_lock:
                keep_newest(self._api_cache, key, cached)
        response.content_type = "application/json"
        body, gz = cached
        if gz is not None and "gzip" in (request.get_header("Accept-Encoding") or "").lower():
            response.set_header("Content-Encoding", "gzip")
            return gz
        return body

    def _task_params(self) -> tuple[str | None, int | None, int, str, str | None]:
        q = request.query
        unknown = sorted(set(q.keys()) - {"state", "limit", "offset", "order", "account"})
        if unknown:
            raise self._bad_param(f"unknown parameter {unknown[0]!r}; known are state, limit, offset, order, account")
        order = q.getunicode("order") or "due"   # the contract's default; the page asks for "attention"
        if order not in views.ORDERS:
            raise self._bad_param(f"order={order[:40]!r} is not an order; use one of {', '.join(views.ORDERS)}")
        state = q.getunicode("state") or None
        if state is not None and state not in STATES:
            raise self._bad_param(f"state={state!r} is not a task state; use one of {', '.join(STATES)}")
        limit = self._int_param("limit")
        offset = self._int_param("offset") or 0
        name = q.getunicode("account") or None
        names = self._account_names()
        if name is not None and name not in names:
            raise Reply(404, json_body({"ok": False, "error": f"/api/tasks: there is no account named {name[:40]!r}; "
                                                              f"the accounts are {names_sentence(names)}."}))
        return state, limit, offset, order, name

    def _int_param(self, name: str) -> int | None:
        text = request.query.getunicode(name)
        if text is None or text == "":
            return None
        if not text.isdigit() or len(text) > 9:
            raise self._bad_param(f"{name}={text!r} must be a whole number from 0 to 999999999")
        return int(text)

    def _bad_param(self, message: str) -> Reply:
        return Reply(400, json_body({"ok": False, "error": f"/api/tasks: {message}."}))

    def api_accounts(self) -> str | bytes:
        return json_body(accounts_json(self._accounts()))

    def api_account(self) -> str | bytes:
        account = self._safe(self.backend.account, None)
        nick = account.get("nickname") if account else None
        return json_body({"logged_in": bool(account), "nickname": str(nick) if nick is not None else None})

    def healthz(self) -> str | bytes:
        ok, data = self._safe(self.backend.health, (False, {"ok": False, "reason": "health check failed"}))
        response.status = 200 if ok else 503
        return json_body(_jsonable(data))

    # -- previews, calendar, edits (issue 16) ------------------------------------------


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
