"""Everything the emulator remembers, behind one lock: the logins (oauth.py), the posts and their
caps (posting.py), the upload host (upload.py) and the injected faults (faults.py), plus the
control API's changes to the profile.

Framework-free: every handler takes parsed request parts and returns a `Reply`, so the bottle
layer (app.py) stays thin."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, BinaryIO

from ralph_watch.clock import Clock
from ralph_watch.emulator.core import Core, Reply, new_stats
from ralph_watch.emulator.faults import Fault, FaultBook
from ralph_watch.emulator.oauth import Grant, Logins
from ralph_watch.emulator.posting import Posts, Publish
from ralph_watch.emulator.profile import ACCOUNT_FIELDS, SWITCHES, Account, Profile, check_switch
from ralph_watch.emulator.upload import Uploads

__all__ = ["EmulatorState"]

_EXPIRABLE = ("access_token", "refresh_token", "upload_url", "all")


class EmulatorState(Core):
    """The emulator's memory. Several creators of the profile may be logged in at once."""

    def __init__(self, profile: Profile, *, clock: Clock, base_url: str, spool_dir: Path | None = None) -> None:
        super().__init__(profile, clock=clock, base_url=base_url, spool_dir=spool_dir)
        self._original = copy.deepcopy(profile)   # reset() undoes control-API account patches
        self._fresh()

    def _fresh(self) -> None:
        self.logins = Logins(self)
        self.faults = FaultBook(self)
        self.posts_book = Posts(self, self.logins, self.faults)
        self.uploads_host = Uploads(self, self.posts_book)
        self.stats = new_stats()

    # The containers tests look into (e.g. to search files for leaked tokens).
    @property
    def access(self) -> dict[str, tuple[Grant, float]]:
        return self.logins.access

    @property
    def refresh(self) -> dict[str, Grant]:
        return self.logins.refresh

    @property
    def grants(self) -> dict[int, Grant]:
        return self.logins.grants

    @property
    def publishes(self) -> dict[str, Publish]:
        return self.posts_book.publishes

    def reset(self) -> None:
        """Forget every token, post, fault and count; put the profile back as it was at start."""
        with self.lock:
            for p in self.publishes.values():
                p.drop_spool()
            self._fresh()
            for key in (*SWITCHES, "limits", "verified_url_prefixes", "redirect_uris"):
                setattr(self.profile, key, copy.deepcopy(getattr(self._original, key)))
            for now, was in zip(self.profile.accounts(), self._original.accounts()):
                for key in ACCOUNT_FIELDS:
                    setattr(now, key, getattr(was, key))

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token issued since start (or reset): tests search for leaks."""
        with self.lock:
            return list(self.logins.issued)

    # ------------------------------------------------------------ the API, by endpoint
    def validate_authorize(self, q: dict[str, str]) -> tuple[str | None, list[str]]:
        return self.logins.validate_authorize(q)

    def approve(self, q: dict[str, str], granted: list[str], open_id: str | None) -> str:
        return self.logins.approve(q, granted, open_id)

    def deny_url(self, q: dict[str, str]) -> str:
        return self.logins.deny_url(q)

    def token(self, content_type: str, form: dict[str, str]) -> Reply:
        return self.logins.token(content_type, form)

    def revoke(self, content_type: str, form: dict[str, str]) -> Reply:
        reply, open_id = self.logins.revoke(content_type, form)
        if open_id is not None:
            self.posts_book.auth_removed(open_id)
        return reply

    def user_info(self, authorization: str, fields_param: str | None) -> Reply:
        return self.posts_book.user_info(authorization, fields_param)

    def creator_info(self, authorization: str) -> Reply:
        return self.posts_book.creator_info(authorization)

    def init(self, authorization: str, content_type: str, raw: bytes, *, draft: bool) -> Reply:
        return self.posts_book.init(authorization, content_type, raw, draft=draft)

    def status(self, authorization: str, content_type: str, raw: bytes) -> Reply:
        return self.posts_book.status(authorization, content_type, raw)

    def upload(self, query: dict[str, str], headers: dict[str, str], body: BinaryIO, *,
               drop_after_bytes: int | None = None, hold: float = 0.0) -> tuple[Reply, bool]:
        return self.uploads_host.upload(query, headers, body, drop_after_bytes=drop_after_bytes, hold=hold)

    # ------------------------------------------------------------ faults and the control API
    def add_fault(self, fault: Fault) -> None:
        self.faults.add(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        return self.faults.take(endpoint)

    def fault_reply(self, endpoint: str, fault: Fault) -> Reply:
        return self.faults.reply(endpoint, fault)

    def add_fail_next(self, reason: str) -> None:
        self.faults.add_fail_next(reason)

    def complete_draft(self, publish_id: str) -> None:
        self.posts_book.complete_draft(publish_id)

    def expire(self, what: str) -> None:
        if what not in _EXPIRABLE:
            raise ValueError(f"what must be access_token, refresh_token, upload_url or all, not {what!r}")
        self.logins.expire(access=what in ("access_token", "all"), refresh=what in ("refresh_token", "all"))
        if what in ("upload_url", "all"):
            self.posts_book.expire_urls()

    def patch_account(self, changes: Any) -> dict[str, Any]:
        """Apply control-API changes; `open_id` picks the account (default: the profile's main one);
        `audited` is app-level and goes to the profile."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of account fields")
        with self.lock:
            target = self.profile.account
            if "open_id" in changes:
                found = self.account(str(changes["open_id"]))
                if found is None:
                    raise ValueError(f"no account with open_id {changes['open_id']!r}")
                target = found
            for key, value in changes.items():
                _check_account_change(key, value)
            for key, value in changes.items():
                if key == "audited":
                    self.profile.audited = value
                elif key != "open_id":
                    setattr(target, key, value)
            return self.account_json(target)

    def patch_profile(self, changes: Any) -> dict[str, Any]:
        """Control API: change the app-level switches (profile.SWITCHES) at run time."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object of profile switches")
        for key, value in changes.items():
            if key not in SWITCHES:
                raise ValueError(f"unknown profile switch {key!r}; known: {', '.join(SWITCHES)}")
            why = check_switch(key, value)
            if why is not None:
                raise ValueError(f"{key} {why}")
        with self.lock:
            for key, value in changes.items():
                setattr(self.profile, key, value)
            return {key: getattr(self.profile, key) for key in SWITCHES}

    def account_json(self, account: Account) -> dict[str, Any]:
        return {k: getattr(account, k) for k in ACCOUNT_FIELDS} | {"audited": self.profile.audited}

    # ------------------------------------------------------------ views for tests and the demo
    def posts(self) -> list[dict[str, Any]]:
        return self.posts_book.view()

    def logged_in(self) -> dict[str, int]:
        """open_id -> live access tokens: the creators logged in right now."""
        return self.logins.logged_in()

    def stats_view(self) -> dict[str, Any]:
        with self.lock:
            view: dict[str, Any] = json.loads(json.dumps(self.stats))
            return view


def _check_account_change(key: str, value: Any) -> None:
    if key == "open_id":
        return
    if key == "audited":
        if not isinstance(value, bool):
            raise ValueError(f"audited must be true or false, not {value!r}")
        return
    kind = ACCOUNT_FIELDS.get(key)
    if kind is None:
        raise ValueError(f"unknown account field {key!r}; known: audited, {', '.join(ACCOUNT_FIELDS)}")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be {kind.__name__}, not {value!r}")
