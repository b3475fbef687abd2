"""The service as the page sees it: the `WebBackend` methods (web/backend.py), each handed to
the account it concerns: the named one, the task's own, or every account for pause and resume.
A mixin of `Service`, which owns the parts named below."""
from __future__ import annotations

import logging
from typing import Any

from .account import Account
from .config import Config
from .health import InboxWatcher
from .tasks import State, TaskBoard
from .tiktok.client import TikTokClient
from .web.backend import LoginError

__all__ = ["PageBackend"]

log = logging.getLogger("ralph_watch.service")
S = State


class PageBackend:
    config: Config
    board: TaskBoard
    units: dict[str, Account]
    primary: Account
    client: TikTokClient

    @property
    def watcher(self) -> InboxWatcher:
        raise NotImplementedError   # Service's

    def unit(self, account: str | None) -> Account:
        """The account named `account` (None: the first); LoginError for a name not configured."""
        if account is None:
            return self.primary
        found = self.units.get(account)
        if found is None:
            raise LoginError(f'There is no account named "{account}"; the accounts are '
                             f'{", ".join(self.units)}.')
        return found

    def _task_unit(self, task_id: str) -> Account:
        t = self.board.get(task_id)
        return self.units.get(t.account, self.primary) if t is not None else self.primary

    @property
    def paused(self) -> bool:
        return any(unit.scheduler.paused for unit in self.units.values())

    @paused.setter
    def paused(self, value: bool) -> None:
        if value:
            self.pause()
        else:
            self.resume()

    def accounts(self) -> list[dict[str, Any]]:
        """One entry per configured account, in config order (the page's cards, /api/accounts)."""
        out = []
        for acc_cfg, unit in zip(self.config.accounts, self.units.values()):
            view = unit.view()
            out.append({"name": unit.name, "logged_in": view is not None,
                        "nickname": view["nickname"] if view else None, "inbox": str(acc_cfg.inbox),
                        "username": view["username"] if view else None, "avatar": bool(view and view["avatar"]),
                        "needs_login": len(unit.board.select(lambda t: t.state is S.NEEDS_LOGIN)),
                        "quota": self.quota(account=unit.name)})
        return out

    def account(self, *, account: str | None = None) -> dict[str, Any] | None:
        return self.unit(account).view()

    def login_url(self, *, state: str, code_challenge: str, account: str | None = None) -> str:
        return self.unit(account).login_url(state=state, code_challenge=code_challenge)

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None, account: str | None = None) -> None:
        unit = self.unit(account)

        def taken_by(open_id: str) -> str | None:
            return next((o.name for o in self.units.values() if o is not unit and o.open_id == open_id), None)
        unit.finish_login(code=code, code_verifier=code_verifier, scopes=scopes, taken_by=taken_by)

    def logout(self, *, account: str | None = None) -> None:
        self.unit(account).logout()

    def avatar(self, *, account: str | None = None) -> tuple[bytes, str] | None:
        return self.unit(account).avatar()

    def cancel(self, task_id: str) -> None:
        self._task_unit(task_id).actions.cancel(task_id)

    def retry(self, task_id: str) -> None:
        self._task_unit(task_id).actions.retry(task_id)

    def publish_now(self, task_id: str) -> None:
        self._task_unit(task_id).actions.publish_now(task_id)

    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        return self._task_unit(task_id).actions.open_video(task_id)

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        return self._task_unit(task_id).actions.read_sidecar(task_id)

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        return self._task_unit(task_id).actions.edit_sidecar(task_id, form)

    def pause(self) -> None:
        for unit in self.units.values():
            unit.scheduler.pause()
        log.info("publishing paused from the page")

    def resume(self) -> None:
        for unit in self.units.values():
            unit.scheduler.resume()
        log.info("publishing resumed")

    def quota(self, *, account: str | None = None) -> dict[str, int]:
        """The daily-cap meter: direct posts in the last 24 h and pending drafts, out of their caps."""
        client = self.client if account is None else self.unit(account).client   # None: the first account's
        lim = client.limiter   # replaced at each login: read it through the client every time
        return {"posts": lim.daily_posts.count(), "posts_cap": lim.daily_posts.limit,
                "drafts": lim.pending_drafts.count(), "drafts_cap": lim.pending_drafts.limit}

    def watch_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.watcher.status()
        return status

    def warnings(self) -> list[str]:
        if len(self.units) == 1:
            return self.primary.warnings()
        return [f"{unit.name}: {w}" for unit in self.units.values() for w in unit.warnings()]
