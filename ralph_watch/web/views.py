"""Pure view models for the page: tasks, times and account data turned into plain strings.

Templates only escape and place these values; every decision (which actions a task
offers, which link is safe, how a time reads) is made here, where it is easy to test.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from ..inbox import shown_name
from ..tasks import State, Task

__all__ = ["PAGE_SIZE", "TaskRow", "task_row", "actions_for", "local_time", "relative", "post_url",
           "account_view", "health_view", "mentions_unaudited", "privacy_blocks", "PRIVACY_LABELS",
           "MUSIC_USAGE_URL"]

PAGE_SIZE = 100
MUSIC_USAGE_URL = "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"
PRIVACY_LABELS = {
    "PUBLIC_TO_EVERYONE": "public",
    "MUTUAL_FOLLOW_FRIENDS": "friends",
    "FOLLOWER_OF_CREATOR": "followers",
    "SELF_ONLY": "private",
}
_CANCELLABLE = {State.WAITING, State.INVALID, State.SCHEDULED, State.NEEDS_LOGIN, State.FAILED, State.MISSED}
_RETRYABLE = {State.FAILED, State.MISSED}
_DIGITS = re.compile(r"^[0-9]{1,30}$")
_HANDLE = re.compile(r"^[A-Za-z0-9._]{1,64}$")


@dataclass(frozen=True)
class TaskRow:
    id: str
    video: str
    title: str
    privacy: str
    mode: str
    due_text: str
    due_relative: str
    due_iso: str
    state: str
    progress: float | None
    error: str
    post_url: str | None
    actions: tuple[str, ...]   # subset of ("publish-now", "retry", "cancel"), in display order
    note: str = ""             # what ralph-watch changed on the way (e.g. comments off by the creator)


def actions_for(task: Task) -> tuple[str, ...]:
    """What the page offers for a task (the backend still decides; these are just buttons)."""
    out: list[str] = []
    if task.state is State.SCHEDULED:
        out.append("publish-now")
    # published-with-files-kept: the files are still in the inbox, so the user may publish anew.
    # (files_kept, not `video`: a published task keeps its video's name after the files are gone.)
    if task.state in _RETRYABLE or (task.state is State.PUBLISHED and task.files_kept):
        out.append("retry")
    if task.state in _CANCELLABLE:
        out.append("cancel")
    return tuple(out)


def local_time(when: datetime | None, tz: ZoneInfo) -> str:
    """'2026-12-24 18:00 +01:00' in the configured zone; '' for None."""
    if when is None:
        return ""
    loc = when.astimezone(tz)
    off = loc.strftime("%z")
    return f"{loc:%Y-%m-%d %H:%M} {off[:3]}:{off[3:]}"


def relative(when: datetime | None, now: datetime) -> str:
    """'in 3 h', '5 min ago', 'now'."""
    if when is None:
        return ""
    secs = (when - now).total_seconds()
    a = abs(secs)
    if a < 45:
        return "now"
    if a < 90 * 60:
        n, unit = max(1, round(a / 60)), "min"
    elif a < 36 * 3600:
        n, unit = round(a / 3600), "h"
    else:
        n, unit = round(a / 86400), "d"
    return f"in {n} {unit}" if secs > 0 else f"{n} {unit} ago"


def post_url(post_id: str | None, username: str | None = None) -> str | None:
    """The public post's address, built only from digits and a handle (never from free text)."""
    if not post_id or not _DIGITS.match(str(post_id)):
        return None
    if username and _HANDLE.match(username):
        return f"https://www.tiktok.com/@{username}/video/{post_id}"
    return f"https://www.tiktok.com/video/{post_id}"


def task_row(task: Task, *, now: datetime, tz: ZoneInfo, username: str | None = None) -> TaskRow:
    progress = task.progress if task.state is State.UPLOADING and task.progress is not None else None
    return TaskRow(
        id=task.id,
        video=shown_name(task.video or task.sidecar or task.key),   # a name is one line, even if not UTF-8
        title=_text(task.title or ""),
        privacy=PRIVACY_LABELS.get(task.privacy or "", task.privacy or ""),
        mode=task.mode or "",
        due_text=local_time(task.due, tz),
        due_relative=relative(task.due, now),
        due_iso=task.due.isoformat() if task.due else "",
        state=task.state.value,
        progress=None if progress is None else min(1.0, max(0.0, float(progress))),
        error=_text(task.error or ""),
        post_url=post_url(task.post_id, username),
        actions=actions_for(task),
        note=_text(_sentence("; ".join(task.notes))),
    )


def _text(text: str) -> str:
    """Free text that may quote a file name: bytes that are not UTF-8 (lone surrogates) show as
    `\\xff` escapes instead of breaking the page's encoding; line breaks stay."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "\n".join(shown_name(line) for line in text.split("\n"))


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:] + ".") if text else ""


def mentions_unaudited(errors: list[str]) -> bool:
    return any("unaudited" in (e or "").lower() for e in errors)


def account_view(account: Mapping[str, Any] | None, *, now: datetime, tz: ZoneInfo) -> dict[str, Any] | None:
    """Only the fields the page shows; never the dict wholesale (it must not leak what it holds)."""
    if not account:
        return None
    refresh = account.get("refresh_expires_at")
    refresh = refresh if isinstance(refresh, datetime) else None
    username = account.get("username")
    return {
        "nickname": str(account.get("nickname") or "your TikTok account"),
        "username": username if isinstance(username, str) and _HANDLE.match(username) else None,
        "avatar": bool(account.get("avatar")),
        "relogin_text": local_time(refresh, tz) if refresh else "",
        "relogin_relative": relative(refresh, now) if refresh else "",
        "relogin_soon": bool(refresh and (refresh - now).total_seconds() < 7 * 86400),
    }


def health_view(ok: bool, data: Mapping[str, Any], *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    last = data.get("last_scan")
    if isinstance(last, str):  # the watcher reports an ISO 8601 string
        try:
            parsed = datetime.fromisoformat(last)
            last = parsed if parsed.tzinfo is not None else last
        except ValueError:
            pass
    if isinstance(last, datetime):
        last_text = f"{local_time(last, tz)} ({relative(last, now)})"
    elif isinstance(last, (int, float)) and not isinstance(last, bool):
        last_text = f"{last:.0f} s ago"
    else:
        last_text = str(last) if last else "not yet"
    return {
        "ok": bool(ok),
        "mode": str(data.get("watch_mode") or "unknown"),
        "why": str(data.get("watch_reason") or ""),
        "last_scan": last_text,
        "inbox_ok": data.get("inbox_ok"),
        "reason": str(data.get("reason") or ""),
    }


_HEADING = re.compile(r"^\d+(\.\d+)*\.?\s+\S")


def privacy_blocks(text: str) -> list[tuple[str, str]]:
    """The policy text as (kind, line) blocks: 'h' headings ('2.1 ...'), 'li' items, 'p' paragraphs."""
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("- "):
            out.append(("li", line[2:]))
        elif _HEADING.match(line) and len(line) < 100:
            out.append(("h", line))
        else:
            out.append(("p", line))
    return out
