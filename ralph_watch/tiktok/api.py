"""What the rest of ralph-watch needs from a TikTok client, as Protocols.

The publisher types its collaborator as `PostingApi`, the service and the page as `LoginApi`,
and `TikTokApi` is both: `TikTokClient` is one (mypy checks that in client.py), a fake in a
test can be another. Only data records cross this line (`tiktok.protocol`'s); tokens never do.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Protocol

from ralph_watch.tiktok.limiter import AccountLimiter
from ralph_watch.tiktok.protocol import Account, CreatorInfo, InitResult, PublishStatus

__all__ = ["PostingApi", "LoginApi", "TikTokApi"]


class _Session(Protocol):
    @property
    def logged_in(self) -> bool: ...

    @property
    def account(self) -> Account | None:
        """The logged-in account (open_id, scopes, nickname, avatar_url, username = the @handle)."""

    @property
    def creator_username(self) -> str | None:
        """The creator's @handle from the last creator_info, or None (the same as account.username)."""

    def close(self) -> None: ...


class PostingApi(_Session, Protocol):
    """What publishing a pair needs: creator_info, the inits, the upload, status/fetch."""

    limiter: AccountLimiter          # per user token; replaced when another account logs in
    audited: bool | None             # config tiktok.audited; False after TikTok's unaudited answer

    def creator_info(self) -> CreatorInfo: ...

    def init_direct(self, *, post_info: dict[str, Any], video_size: int) -> InitResult: ...

    def init_draft(self, *, video_size: int, title: str | None = None) -> InitResult: ...

    def upload(self, init: InitResult, path: Path, *, mime: str, progress: Callable[[int, int], None],
               cancel: threading.Event, before_final: Callable[[os.stat_result], None] | None = None) -> None: ...

    def fetch_status(self, publish_id: str) -> PublishStatus: ...


class LoginApi(_Session, Protocol):
    """What the login page and the account card need."""

    def authorize_url(self, *, state: str, code_challenge: str) -> str: ...

    def exchange_code(self, code: str, *, code_verifier: str, granted_scopes: str | None = None) -> Account: ...

    def logout(self) -> None: ...

    def fetch_avatar(self) -> tuple[bytes, str] | None: ...


class TikTokApi(PostingApi, LoginApi, Protocol):
    """One account's whole TikTok client."""
