"""What the web layer needs from the service: the `WebBackend` protocol and its two errors.

The service implements the protocol; tests use `tests/support/fake_backend.py`. The web
layer never sees a token: `account()` gives only display data and expiry times.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..errors import ActionError, LoginError
from ..tasks import TaskBoard

__all__ = ["WebBackend", "LoginError", "ActionError"]


class WebBackend(Protocol):
    board: TaskBoard
    config: Any  # ralph_watch.config.Config
    paused: bool

    def accounts(self) -> list[dict[str, Any]]:
        """One dict per configured account in config order: {"name", "logged_in", "nickname",
        "inbox" (the folder as configured), "username", "avatar": bool, "needs_login": int (tasks
        waiting for this account's login), "quota": {"posts", "posts_cap", "drafts", "drafts_cap"}}."""

    def account(self, *, account: str | None = None) -> dict[str, Any] | None:
        """{"nickname", "avatar": bool, "access_expires_at", "refresh_expires_at", "scopes"} or None.
        `account` None: the only account, or the first one (so for every `account` below)."""

    def login_url(self, *, state: str, code_challenge: str, account: str | None = None) -> str:
        """TikTok's authorize URL for this state and PKCE challenge; LoginError for an unknown account."""

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None, account: str | None = None) -> None:
        """Exchange the code; raises LoginError(sentence), also when this TikTok user is logged
        in under another account name (then nothing changes)."""

    def logout(self, *, account: str | None = None) -> None:
        """Revoke (best effort) and forget that account's tokens."""

    def avatar(self, *, account: str | None = None) -> tuple[bytes, str] | None:
        """(image bytes, content type) of the logged-in creator, or None."""

    def cancel(self, task_id: str) -> None:
        """Raises ActionError(status, message)."""

    def retry(self, task_id: str) -> None:
        """Raises ActionError(status, message)."""

    def publish_now(self, task_id: str) -> None:
        """Raises ActionError(status, message)."""

    def pause(self) -> None:
        ...

    def resume(self) -> None:
        ...

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(ok, {"ok", "paused", "watch_mode", "watch_reason", "inbox_ok", "last_scan", "threads", "reason"})."""

    def quota(self, *, account: str | None = None) -> dict[str, Any]:
        """{"posts", "posts_cap", "drafts", "drafts_cap"}: the limiter's rolling-24 h counts (the page's meter)."""

    def warnings(self) -> list[str]:
        """Sentences for the page, e.g. "the queue as scheduled exceeds 15 posts on 2026-12-24"."""

    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        """(fd, fstat, relative name) of the task's video, a regular file opened inside the inbox
        without following links; the caller closes the fd. Raises ActionError(404, sentence)."""

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        """(the sidecar's bytes or None when there is none yet, its relative name) for the edit
        form. Raises ActionError(404 or 409, sentence)."""

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        """Rewrite the pair's sidecar from the edit form (atomically; the watcher then applies it).
        Raises ActionError(404/409) or sidecar_edit.EditRefused(problems). True if it changed."""
