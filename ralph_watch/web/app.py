"""The status page and JSON API (bottle): `make_app` puts the route areas together.

Every request passes `_guard` first: Host allowlist (DNS rebinding), then for POSTs the
Origin/Sec-Fetch-Site check and the session's CSRF token, then (password mode) the
sign-in. Templates are fixed files rendered with escaping; no request value is ever used
as a template, a redirect target or an absolute URL base (so X-Forwarded-* change nothing).
The areas: base.py (guards, sessions, rendering), pages.py, auth.py, api.py, media_routes.py,
editing.py.
"""
from __future__ import annotations

from typing import Any

import bottle  # type: ignore[import-untyped]  # bottle ships no type information

from ..clock import Clock, SystemClock
from .api import ApiMixin
from .auth import AuthMixin
from .backend import WebBackend
from .base import STATIC_DIR, TEMPLATE_DIR, render
from .editing import EditMixin
from .media_routes import MediaMixin
from .pages import PagesMixin, keep_newest

__all__ = ["make_app", "render", "TEMPLATE_DIR", "STATIC_DIR"]
_keep_newest = keep_newest  # the name the cache tests import

def make_app(backend: WebBackend, config: Any, *, clock: Clock | None = None) -> bottle.Bottle:
    """The web app for `backend`. `config` needs web.{host,port,public_url,allowed_hosts,password},
    redirect_path and tz."""
    return _WebApp(backend, config, clock or SystemClock()).app


class _WebApp(PagesMixin, AuthMixin, ApiMixin, MediaMixin, EditMixin):
    def __init__(self, backend: WebBackend, config: Any, clock: Clock) -> None:
        super().__init__(backend, config, clock)
        self.app = app = bottle.Bottle()
        app.ralph_web = self  # for tests and the service
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
        r("/api/accounts", "GET", self.api_accounts)
        r("/api/account", "GET", self.api_account)
        r("/healthz", "GET", self.healthz)
        r("/privacy", "GET", self.privacy)
        r("/terms", "GET", self.terms)
        r("/avatar", "GET", self.avatar)
        r("/static/<filename:path>", "GET", self.static)
        r("/favicon.ico", "GET", self.favicon)
