"""Pure view models for several accounts (issue 15): the page's cards, `/api/accounts`, links.

Like views.py: only plain values come out, and only the fields the page shows (the backend's
dicts are never passed on wholesale, so nothing they may hold leaks).
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from ..inbox import shown_name
from .views import quota_view

__all__ = ["NAME", "accounts_view", "accounts_json", "usernames", "href", "names_sentence"]

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")   # the contract's account names
_HANDLE = re.compile(r"^[A-Za-z0-9._]{1,64}$")


def _name(item: Mapping[str, Any]) -> str | None:
    name = item.get("name")
    return name if isinstance(name, str) and NAME.match(name) else None


def _handle(item: Mapping[str, Any]) -> str | None:
    username = item.get("username")
    return username if isinstance(username, str) and _HANDLE.match(username) else None


def _count(value: Any) -> int:
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _quota(value: Any) -> dict[str, int] | None:
    if not isinstance(value, Mapping):
        return None
    out: dict[str, int] = {}
    for key in ("posts", "posts_cap", "drafts", "drafts_cap"):
        v = value.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            return None
        out[key] = v
    return out


def accounts_view(accounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One card per account, in config order; an entry without a valid name is left out."""
    out = []
    for item in accounts:
        name = _name(item)
        if name is None:
            continue
        logged_in = bool(item.get("logged_in"))
        nick = item.get("nickname")
        out.append({
            "name": name,
            "logged_in": logged_in,
            "nickname": str(nick) if logged_in and nick else ("your TikTok account" if logged_in else None),
            "username": _handle(item) if logged_in else None,
            "avatar": logged_in and bool(item.get("avatar")),
            "inbox": shown_name(str(item.get("inbox") or "")),
            "needs_login": _count(item.get("needs_login")),
            "quota": quota_view(_quota(item.get("quota"))),
        })
    return out


def accounts_json(accounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`GET /api/accounts`: the contract's {name, logged_in, nickname, inbox} and the page's extras."""
    out = []
    for item in accounts:
        name = _name(item)
        if name is None:
            continue
        nick = item.get("nickname")
        out.append({"name": name, "logged_in": bool(item.get("logged_in")),
                    "nickname": str(nick) if nick is not None else None,
                    "inbox": str(item.get("inbox") or ""), "username": _handle(item),
                    "avatar": bool(item.get("avatar")), "needs_login": _count(item.get("needs_login")),
                    "quota": _quota(item.get("quota"))})
    return out


def usernames(accounts: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Each account's @handle (for its tasks' post links)."""
    return {name: _handle(item) for item in accounts if (name := _name(item)) is not None}


def href(**params: str | int | None) -> str:
    """'/?state=failed&account=brand': the status page with these filters, in the order given; '/'
    without any. Values are quoted, so a link never carries more than the value."""
    parts = [f"{k}={quote(str(v), safe='')}" for k, v in params.items() if v is not None and v != ""]
    return "/?" + "&".join(parts) if parts else "/"


def names_sentence(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"
