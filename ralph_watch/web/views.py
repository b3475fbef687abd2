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

from ..constants import PRIVACY_LABELS
from ..inbox import shown_name
from ..tasks import State, Task

__all__ = ["PAGE_SIZE", "TaskRow", "task_row", "task_json", "task_kind", "actions_for", "action_label",
           "local_time", "relative", "post_url", "account_view", "health_view", "quota_view", "banners",
           "mentions_unaudited", "privacy_blocks", "PRIVACY_LABELS", "MUSIC_USAGE_URL", "ATTENTION",
           "ORDERS", "megabytes", "size_text", "duration_text"]

PAGE_SIZE = 100
MUSIC_USAGE_URL = "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"
_CANCELLABLE = {State.WAITING, State.INVALID, State.SCHEDULED, State.NEEDS_LOGIN, State.FAILED, State.MISSED}
_RETRYABLE = {State.FAILED, State.MISSED}
# Rows that need a person: the page lists them first (its default order, "attention").
ATTENTION = frozenset({State.INVALID, State.FAILED, State.MISSED, State.NEEDS_LOGIN})
ORDERS = ("attention", "due")
# The files are still in the inbox: the video route can serve them and the thumbnail be made.
_FILES_THERE = frozenset({State.WAITING, State.INVALID, State.SCHEDULED, State.NEEDS_LOGIN, State.UPLOADING,
                          State.PROCESSING, State.IN_INBOX, State.FAILED, State.MISSED})
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
    files: tuple[str, ...] = ()   # the pair's files in the inbox (what "Cancel and delete files" deletes)
    has_video: bool = False    # a probed video is in the inbox: thumbnail and preview can be offered
    facts: str = ""            # "0:42 · 1080×1920 · 12.3 MB"
    progress_text: str = ""    # "42 % · 12.3 of 29.0 MB" (the script adds MB/s and time left)
    status_text: str = ""      # TikTok's step, or where the post is now
    published_text: str = ""   # when it was published, in the configured zone
    published_iso: str = ""
    copy_caption: bool = False # a draft: TikTok may drop its caption, so the page offers to copy it
    attention: bool = False    # needs a person (listed first)
    switches: str = ""         # "comments on · duet off · stitch off", as the post will look
    kind: str = "now"
    account: str = "default"   # the account's name (shown when there are several)


def action_label(action: str, name: str) -> tuple[str, str]:
    """(visible text, accessible name) of an action button: the name says which video it acts on."""
    return {
        "publish-now": ("Publish now", f"Publish {name} now"),
        "retry": ("Retry", f"Retry {name}"),
        "cancel": ("Cancel and delete files", f"Cancel and delete files of {name}"),
    }[action]


def megabytes(n: int | float) -> str:
    """Decimal megabytes with one decimal, as upload tools and TikTok show them: '12.3'."""
    return f"{n / 1_000_000:.1f}"


def size_text(n: int) -> str:
    """'12.3 MB', or '24 KB' below a megabyte (a short clip would read '0.0 MB')."""
    return f"{megabytes(n)} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} KB"


def duration_text(seconds: float | None) -> str:
    """'0:42', '12:05', '1:02:03'; '' when unknown."""
    if seconds is None or seconds < 0:
        return ""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def task_kind(task: Task) -> str:
    """`at`, `cron` or `now`: how the pair's sidecar times it (`now` without either)."""
    sc = task.sidecar_data
    if sc is None and task.kept_kind:   # a finished task: its sidecar was dropped (tasks.finished)
        return task.kept_kind
    if task.cron_key or getattr(sc, "cron", None):
        return "cron"
    if getattr(sc, "at", None) is not None:
        return "at"
    return "now"


def _size(task: Task) -> int | None:
    size = getattr(task.identity, "size", None)
    if size is None:
        size = getattr(task.video_info, "size", None)
    if size is None:
        size = task.kept_size
    return int(size) if isinstance(size, int) and not isinstance(size, bool) else None


def _has_video(task: Task) -> bool:
    return bool(task.video) and task.video_info is not None and (
        task.state in _FILES_THERE or (task.state is State.PUBLISHED and task.files_kept))


def task_json(task: Task, *, username: str | None = None) -> dict[str, Any]:
    """One `/api/tasks` item: the contract's fields plus the page's (issue 16)."""
    out = task.to_json()
    info = task.video_info
    sc = task.sidecar_data
    out.update({
        "account": task.account,
        "size": _size(task),
        "bytes_sent": task.bytes_sent if task.state is State.UPLOADING else None,
        "published_at": task.published_at.isoformat() if task.published_at and task.state is State.PUBLISHED else None,
        "post_url": post_url(task.post_id, username),
        "kind": task_kind(task),
        # What the page shows beside them: the probe's facts and the switches as the post will look.
        "duration": getattr(info, "duration", None),
        "width": getattr(info, "width", None),
        "height": getattr(info, "height", None),
        "allow_comments": getattr(sc, "allow_comments", None),
        "allow_duet": getattr(sc, "allow_duet", None),
        "allow_stitch": getattr(sc, "allow_stitch", None),
        "has_video": _has_video(task),
    })
    return out


def _facts(task: Task) -> str:
    info = task.video_info
    parts = [duration_text(getattr(info, "duration", None))]
    if info is not None and getattr(info, "width", None) and getattr(info, "height", None):
        parts.append(f"{info.width}×{info.height}")
    size = _size(task)
    if size is not None:
        parts.append(size_text(size))
    return " · ".join(p for p in parts if p)


def _switches(task: Task) -> str:
    sc = task.sidecar_data
    if sc is None:
        return ""
    return " · ".join(f"{name} {'on' if getattr(sc, 'allow_' + name, False) else 'off'}"
                      for name in ("comments", "duet", "stitch"))


def _progress_text(task: Task, progress: float | None) -> str:
    if progress is None:
        return ""
    size = _size(task)
    pct = f"{round(progress * 100)} %"
    if size is None:
        return pct
    sent = task.bytes_sent if task.bytes_sent is not None else int(progress * size)
    return f"{pct} · {megabytes(min(sent, size))} of {megabytes(size)} MB"


def _status_text(task: Task, url: str | None) -> str:
    """What a person wants to know in this state: TikTok's step, or where the post is now."""
    st = task.state
    if st is State.UPLOADING and task.progress is None:
        return "Starting the upload to TikTok."
    if st is State.PROCESSING:
        return "Uploaded. TikTok is processing the video (step: PROCESSING_UPLOAD); it goes out when TikTok is done."
    if st is State.IN_INBOX:
        return ("Sent to your TikTok inbox as a draft: open the TikTok app and tap the inbox notification to "
                "finish and post it.")
    if st is State.PUBLISHED:
        if task.privacy == "SELF_ONLY":
            return ("Private: only you can see it, in the TikTok app under Profile → the lock tab "
                    "(private videos).")
        if task.mode == "draft":
            return "Posted from your TikTok inbox."
        if url is None and task.privacy == "PUBLIC_TO_EVERYONE":
            return "TikTok has not given the post's public address yet; the link appears here when it does."
    return ""


def quota_view(quota: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The daily-cap meter: direct posts in the last 24 h and pending drafts, each out of its cap."""
    if not quota:
        return None
    out: dict[str, Any] = {}
    for key in ("posts", "drafts"):
        used, cap = quota.get(key), quota.get(key + "_cap")
        if not isinstance(used, int) or not isinstance(cap, int) or cap < 1:
            return None
        out[key], out[key + "_cap"] = max(0, used), cap
        out[key + "_full"] = used >= cap
    return out


def banners(*, paused: bool, logged_in: bool, health: Mapping[str, Any]) -> dict[str, bool]:
    """Which banners the page shows on top (the script toggles them as /healthz changes)."""
    return {"paused": bool(paused), "logged_out": not logged_in, "inbox_lost": health.get("inbox_ok") is False}


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
    progress = None if progress is None else min(1.0, max(0.0, float(progress)))
    url = post_url(task.post_id, username)
    published = task.published_at if task.state is State.PUBLISHED else None
    files = tuple(f for f in (task.video, task.sidecar) if f) if task.state in _FILES_THERE or task.files_kept else ()
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
        progress=progress,
        error=_text(task.error or ""),
        post_url=url,
        actions=actions_for(task),
        note=_text(_sentence("; ".join(task.notes))),
        files=tuple(shown_name(f) for f in files),
        has_video=_has_video(task),
        facts=_facts(task),
        progress_text=_progress_text(task, progress),
        status_text=_status_text(task, url),
        published_text=local_time(published, tz) if published else "",
        published_iso=published.isoformat() if published else "",
        copy_caption=task.mode == "draft" and bool(task.title) and task.state is not State.CANCELLED,
        attention=task.state in ATTENTION,
        switches=_switches(task),
        kind=task_kind(task),
        account=task.account,
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
