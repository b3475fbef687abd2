"""What the publisher needs from the TikTok client, as a Protocol: exactly the members it uses.

`TikTokClient` satisfies it; a test or another account's client may pass anything that does.
The client's data classes are named for the type checker only, so importing the publisher does
not import httpx (cli.py's measured lazy imports).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from .tiktok.client import Account, CreatorInfo, InitResult, PublishStatus

__all__ = ["CapWaits", "PublishClient"]


class CapWaits(Protocol):
    """The rolling-day caps (the client's AccountLimiter): seconds until the next init may go."""

    def post_wait(self) -> float: ...
    def draft_wait(self) -> float: ...


class PublishClient(Protocol):
    @property
    def logged_in(self) -> bool: ...
    @property
    def account(self) -> Account | None: ...
    @property
    def audited(self) -> bool | None: ...   # None: unknown; False after TikTok's first unaudited answer
    @property
    def limiter(self) -> CapWaits: ...

    def creator_info(self) -> CreatorInfo: ...
    def init_direct(self, *, post_info: dict[str, Any], video_size: int) -> InitResult: ...
    def init_draft(self, *, video_size: int, title: str | None = None) -> InitResult: ...
    def fetch_status(self, publish_id: str) -> PublishStatus: ...
    def upload(self, init: InitResult, path: Path, *, mime: str, progress: Callable[[int, int], None],
               cancel: threading.Event, before_final: Callable[[os.stat_result], None] | None = None) -> None: ...
