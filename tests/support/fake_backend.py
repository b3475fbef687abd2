"""A fake `WebBackend` for the web tests: a real TaskBoard, recorded calls, scripted answers.

Several accounts (issue 15): `FakeBackend(clock=..., names=("main", "brand"))`. The first account's
login is `logged_in_as` (as with one account); the others' are in `logins`. A login takes the
TikTok user `next_open_id` (by default one per account name), and is refused, as the service
refuses it, when that user is logged in under another name."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from ralph_watch.clock import FakeClock
from ralph_watch.limits import Limits
from ralph_watch.tasks import ACTIVE, State, TaskBoard
from ralph_watch.web.backend import ActionError, LoginError

START = datetime(2026, 12, 24, 12, 0, tzinfo=timezone.utc)


def web_config(*, host: str = "127.0.0.1", port: int = 8080, public_url: str | None = None,
               allowed_hosts: tuple[str, ...] = (), password: str | None = None,
               redirect_path: str = "/callback", tz: str = "Europe/Berlin",
               trusted_proxies: tuple[str, ...] = ()) -> Any:
    """A stand-in with only the attributes the web layer reads from `Config`."""
    return SimpleNamespace(
        web=SimpleNamespace(host=host, port=port, public_url=public_url, allowed_hosts=list(allowed_hosts),
                            password=password, trusted_proxies=trusted_proxies),
        redirect_path=redirect_path, tz=ZoneInfo(tz), tiktok=SimpleNamespace(limits=Limits()))


@dataclass
class FakeBackend:
    clock: FakeClock
    config: Any = None
    board: TaskBoard = None  # type: ignore[assignment]
    paused: bool = False
    logged_in_as: dict | None = None
    login_error: str | None = None
    avatar_image: tuple[bytes, str] | None = None
    health_answer: tuple[bool, dict] = (True, {"ok": True, "paused": False, "watch_mode": "events",
                                               "watch_reason": "inotify works here", "inbox_ok": True,
                                               "last_scan": None, "threads": {}, "reason": ""})
    warning_list: list[str] = field(default_factory=list)
    quota_answer: dict = field(default_factory=lambda: {"posts": 0, "posts_cap": 15, "drafts": 0, "drafts_cap": 5})
    calls: list[tuple] = field(default_factory=list)
    inbox: Path | None = None  # real files for the video, thumbnail and edit routes
    names: tuple[str, ...] = ("default",)
    logins: dict[str, dict | None] = field(default_factory=dict)   # the accounts after the first
    quotas: dict[str, dict] = field(default_factory=dict)          # per account; else quota_answer
    next_open_id: str | None = None

    def __post_init__(self) -> None:
        if self.board is None:
            self.board = TaskBoard(now=self.clock.now)

    # -- accounts ----------------------------------------------------------------------
    def _name(self, account: str | None) -> str:
        if account is None:
            return self.names[0]
        if account not in self.names:
            raise LoginError(f"There is no account named {account!r}; the accounts are {', '.join(self.names)}.")
        return account

    def _login(self, name: str) -> dict | None:
        return self.logged_in_as if name == self.names[0] else self.logins.get(name)

    def _set_login(self, name: str, value: dict | None) -> None:
        if name == self.names[0]:
            self.logged_in_as = value
        else:
            self.logins[name] = value

    def accounts(self) -> list[dict]:
        out = []
        for name in self.names:
            acc = self._login(name)
            waiting = len(self.board.select(lambda t, n=name: t.account == n and t.state is State.NEEDS_LOGIN))
            out.append({"name": name, "logged_in": acc is not None, "nickname": acc.get("nickname") if acc else None,
                        "inbox": f"./inbox/{name}" if len(self.names) > 1 else "./inbox",
                        "username": acc.get("username") if acc else None, "avatar": bool(acc and acc.get("avatar")),
                        "needs_login": waiting, "quota": self.quota(account=name),
                        "access_token": "act.SECRET-ACCESS" if acc else None})   # the web layer must drop it
        return out

    def account(self, *, account: str | None = None) -> dict | None:
        acc = self._login(self._name(account))
        return dict(acc) if acc else None

    def login_url(self, *, state: str, code_challenge: str, account: str | None = None) -> str:
        self._name(account)
        self.calls.append(("login_url", state, code_challenge) + ((account,) if account else ()))
        return f"https://www.tiktok.com/v2/auth/authorize/?client_key=ck&state={state}&code_challenge={code_challenge}"

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None, account: str | None = None) -> None:
        name = self._name(account)
        self.calls.append(("finish_login", code, code_verifier, scopes) + ((account,) if account else ()))
        if self.login_error:
            raise LoginError(self.login_error)
        open_id = self.next_open_id or f"open-{name}"
        for other in self.names:
            acc = self._login(other)
            if other != name and acc is not None and acc.get("open_id") == open_id:
                raise LoginError(f"This TikTok account (@{acc.get('username') or open_id}) is already logged in as "
                                 f"{other}; log it out there first, or choose another TikTok account.")
        self._set_login(name, {
            "nickname": "Ralph" if name == self.names[0] else f"Ralph {name}", "avatar": True, "open_id": open_id,
            "access_expires_at": self.clock.now() + timedelta(hours=2),
            "refresh_expires_at": self.clock.now() + timedelta(days=180), "scopes": scopes,
            "access_token": "act.SECRET-ACCESS", "refresh_token": "rft.SECRET-REFRESH"})

    def logout(self, *, account: str | None = None) -> None:
        name = self._name(account)
        self.calls.append(("logout",) + ((account,) if account else ()))
        self._set_login(name, None)

    def avatar(self, *, account: str | None = None) -> tuple[bytes, str] | None:
        return self.avatar_image if self._login(self._name(account)) is not None or account is None else None

    # -- actions -----------------------------------------------------------------------
    def _task(self, task_id: str):
        t = self.board.get(task_id)
        if t is None:
            raise ActionError(404, f"There is no task {task_id}; it may have finished. Reload the page.")
        return t

    def cancel(self, task_id: str) -> None:
        t = self._task(task_id)
        if t.state in ACTIVE:
            raise ActionError(409, f"{t.video} is {t.state} right now and cannot be cancelled; wait until TikTok answers.")
        self.calls.append(("cancel", task_id))
        self.board.transition(task_id, State.CANCELLED)

    def retry(self, task_id: str) -> None:
        t = self._task(task_id)
        if t.state not in (State.FAILED, State.MISSED, State.PUBLISHED):
            raise ActionError(409, f"{t.video} is {t.state}; only failed, missed or published tasks can be retried.")
        self.calls.append(("retry", task_id))
        self.board.transition(task_id, State.SCHEDULED, due=self.clock.now())

    def publish_now(self, task_id: str) -> None:
        t = self._task(task_id)
        if t.state is not State.SCHEDULED:
            raise ActionError(409, f"{t.video} is {t.state}; only scheduled tasks can be published now.")
        self.calls.append(("publish_now", task_id))
        self.board.update(task_id, due=self.clock.now())

    def pause(self) -> None:
        self.calls.append(("pause",))
        self.paused = True

    def resume(self) -> None:
        self.calls.append(("resume",))
        self.paused = False

    def health(self) -> tuple[bool, dict]:
        ok, data = self.health_answer
        return ok, dict(data, paused=self.paused)

    def warnings(self) -> list[str]:
        return list(self.warning_list)

    def quota(self, *, account: str | None = None) -> dict:
        return dict(self.quotas.get(self._name(account), self.quota_answer))

    # -- media and edits (the service's rules, on real files in `inbox`) -----------------
    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        from ralph_watch.inboxfd import UnsafePath, open_regular
        t = self._task(task_id)
        if self.inbox is None or not t.video:
            raise ActionError(404, f"{t.key} has no video in the inbox.")
        try:
            fd, st = open_regular(self.inbox, t.video)
        except UnsafePath as exc:
            raise ActionError(404, f"{t.video} cannot be shown: {exc.strerror or exc}.") from None
        return fd, st, t.video

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        from ralph_watch.inboxfd import read_limited
        t = self._task(task_id)
        rel = t.sidecar or f"{t.key}.yaml"
        return (read_limited(self.inbox, rel, 65536) if self.inbox else None), rel

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        from ralph_watch.inboxfd import edit_sidecar_file
        from ralph_watch.tasks import EDITABLE
        t = self._task(task_id)
        if t.state not in EDITABLE or t.settle:
            raise ActionError(409, f"{t.video or t.key} is {t.state}: its sidecar cannot be edited now.")
        self.calls.append(("edit_sidecar", task_id, dict(form)))
        assert self.inbox is not None, "FakeBackend(inbox=...) for edits"
        return edit_sidecar_file(self.inbox, t.sidecar or f"{t.key}.yaml", form, tz=self.config.tz,
                                 defaults=getattr(self.config, "defaults", {}))
