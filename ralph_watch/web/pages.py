"""The pages: the task list, the calendar, the operator's privacy policy and terms, static files."""
from __future__ import annotations

import math
from collections import OrderedDict
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bottle  # type: ignore[import-untyped]  # bottle ships no type information
from bottle import request, response

from .. import calendar_view
from ..calendar_view import DAYS, Item
from ..tasks import State
from . import views
from .account_views import accounts_view, href, names_sentence, usernames
from .base import API_CACHE_SIZE, STATES, STATIC_DIR, AppBase, Reply, log, render
from .security import http_url

__all__ = ["PagesMixin"]


class PagesMixin(AppBase):
    def index(self) -> str:
        q = request.query
        state = q.getunicode("state") or None
        if state is not None and state not in STATES:
            raise self._message(400, "Unknown filter",
                                f"There is no task state {state!r}; use one of: {', '.join(STATES)}.")
        page_text = q.getunicode("page") or "1"
        if not page_text.isdigit() or int(page_text) < 1 or len(page_text) > 6:
            raise self._message(400, "Bad page", f"page must be a whole number from 1, not {page_text!r}.")
        page = int(page_text)
        order = q.getunicode("order") or "attention"
        if order not in views.ORDERS:
            raise self._message(400, "Unknown order", f"order must be one of {', '.join(views.ORDERS)}, not {order[:40]!r}.")
        raw = self._accounts()
        cards = accounts_view(raw)
        name = q.getunicode("account") or None
        if name is not None and name not in [c["name"] for c in cards]:
            raise self._message(404, "No such account", f"There is no account named {name[:40]!r}. The accounts "
                                f"are: {names_sentence([c['name'] for c in cards])}.")
        self._session(create=True)
        now = self.clock.now()
        board = self.backend.board
        account = views.account_view(self._safe(self.backend.account, None), now=now, tz=self.tz)
        username = account["username"] if account else None
        handles = usernames(raw)
        # With 10,000 tasks, counting, sorting and the quota warnings cost tens of ms; reuse them
        # while the board is unchanged, within the same second (relative times stay right).
        paused = bool(self._safe(lambda: self.backend.paused, False))
        key = (board.version, state, page, username, paused, int(now.timestamp()), order, name,
               tuple(sorted(handles.items())))
        with self._api_lock:
            model = self._page_cache.get(key)
        if model is None:
            with self._page_build_lock:   # one request builds, the others wait for it (no stampede)
                model = self._page_model(key, board=board, state=state, page=page, now=now, username=username,
                                         order=order, account=name, handles=handles)
        several = len(cards) > 1   # with one account the page looks as it always has
        logged_in = all(c["logged_in"] for c in cards) if several else account is not None
        return self._page(
            "index", title="Status", account=account, state=state, page=page, states=STATES,
            paused=paused, music_url=views.MUSIC_USAGE_URL, tz_name=getattr(self.tz, "key", str(self.tz)),
            emulator_url=self._emulator_url(), order=order, action_label=views.action_label,
            quota=None if several else views.quota_view(self._safe(self.backend.quota, None)),
            banners=views.banners(paused=paused, logged_in=logged_in, health=model["health"]),
            page_size=views.PAGE_SIZE, cards=cards if several else [], selected=name, href=href,
            logged_out=sum(not c["logged_in"] for c in cards), **model,
        )

    def _emulator_url(self) -> str | None:
        """The TikTok emulator's own page when the API is one on this machine (the demo): what it received."""
        base = http_url(getattr(getattr(self.config, "tiktok", None), "api_base", None))
        if not base or not base.startswith("http://"):
            return None
        host = urlsplit(base).hostname or ""
        return base.rstrip("/") + "/" if host in ("127.0.0.1", "localhost", "::1") else None

    def _page_model(self, key: tuple[Any, ...], *, board: Any, state: str | None, page: int, now: Any,
                    username: str | None, order: str = "attention", account: str | None = None,
                    handles: dict[str, str | None] | None = None) -> dict[str, Any]:
        with self._api_lock:
            model = self._page_cache.get(key)
        if model is None:
            counts = board.counts(account=account)
            total = counts.get(state, 0) if state else sum(counts.values())
            tasks = board.listing(state=state, account=account, limit=views.PAGE_SIZE,
                                  offset=(page - 1) * views.PAGE_SIZE,
                                  first=views.ATTENTION if order == "attention" else frozenset())
            handles = handles or {}
            rows = [views.task_row(t, now=now, tz=self.tz, username=handles.get(t.account, username)) for t in tasks]
            ok, health = self._safe(self.backend.health, (False, {"reason": "the service did not report its health"}))
            model = {"counts": counts, "total": total, "rows": rows,
                     "pages": max(1, math.ceil(total / views.PAGE_SIZE)),
                     "warnings": self._warnings(key),
                     "health": views.health_view(ok, health, now=now, tz=self.tz),
                     "unaudited": views.mentions_unaudited([r.error for r in rows])}
            with self._api_lock:
                keep_newest(self._page_cache, key, model)
        return model

    def _warnings(self, key: tuple[Any, ...]) -> list[str]:
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
        raise Reply(204, "")  # no icon; answering keeps browsers' 404s out of the log

    def calendar(self) -> str:
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


def _calendar_items(board: Any, now: Any) -> list[Any]:
    horizon = now + timedelta(days=DAYS + 1)
    pending = (State.SCHEDULED, State.NEEDS_LOGIN, State.UPLOADING, State.PROCESSING)
    tasks = board.select(lambda t: t.state in pending and t.due is not None and t.due < horizon)
    return [Item(id=t.id, name=t.video or t.key, state=t.state.value, due=t.due,
                 cron_key=t.cron_key if (t.cron_key and not t.held) else None, direct=t.mode != "draft",
                 title=t.title or "") for t in tasks]


def _posted(board: Any, now: Any) -> list[Any]:
    """When direct posts went out within the last day (from the tasks' history)."""
    since = now - timedelta(days=2)
    out = []
    for t in board.select(lambda t: t.state is State.PUBLISHED and t.mode != "draft"):
        when = next((w for w, st, _ in reversed(t.history) if st == "published"), None)
        if when is not None and when > since:
            out.append(when)
    return out


def keep_newest(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    """Store `value`; drop entries of older board versions (key[0]): no request asks for them
    again, and with 10,000 tasks each full /api/tasks answer is ~3 MB."""
    cache[key] = value
    for old in [k for k in cache if k[0] < key[0]]:
        del cache[old]
    while len(cache) > API_CACHE_SIZE:
        cache.popitem(last=False)
