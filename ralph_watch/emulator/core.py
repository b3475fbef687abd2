"""What every part of the emulator shares: the profile, the clock, one lock, the request
counters, and TikTok's two answer shapes (the API envelope and the OAuth error)."""
from __future__ import annotations

import json
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ralph_watch.clock import Clock
from ralph_watch.emulator.profile import Account, Profile

__all__ = ["Reply", "Core", "new_stats"]


@dataclass
class Reply:
    """One HTTP answer. `body` is bytes, or a dict/list sent as JSON."""

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"

    def payload(self) -> bytes:
        if isinstance(self.body, (bytes, bytearray)):
            return bytes(self.body)
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def new_stats() -> dict[str, Any]:
    return {"requests": {}, "statuses": {}, "rate_limited": {}, "inits": 0, "draft_inits": 0,
            "faults_applied": 0, "upload_bytes": 0}


class Core:
    """The emulator's shared world. Time comes only from `clock` (monotonic for lifetimes and
    windows, `now()` for displayed timestamps and log_ids)."""

    def __init__(self, profile: Profile, *, clock: Clock, base_url: str, spool_dir: Path | None = None) -> None:
        self.profile = profile
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.spool_dir = Path(spool_dir) if spool_dir else Path(tempfile.gettempdir())
        self.lock = threading.RLock()
        self.stop = threading.Event()   # set on shutdown: ends delays and trickles
        self.stats: dict[str, Any] = new_stats()
        self._seq = 0

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def log_id(self) -> str:
        """TikTok's shape: 14 digits of UTC time and 20 upper-case hex characters, fresh each time."""
        return self.clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()

    def count(self, endpoint: str, status: int) -> None:
        with self.lock:
            req = self.stats["requests"]
            req[endpoint] = req.get(endpoint, 0) + 1
            per = self.stats["statuses"].setdefault(endpoint, {})
            per[str(status)] = per.get(str(status), 0) + 1
            if status == 429:
                rl = self.stats["rate_limited"]
                rl[endpoint] = rl.get(endpoint, 0) + 1

    def account(self, open_id: str) -> Account | None:
        for account in self.profile.accounts():
            if account.open_id == open_id:
                return account
        return None

    def avatar_url(self, open_id: str) -> str:
        return f"{self.base_url}/_emulator/avatar/{open_id}.png"

    def envelope(self, status: int, data: Any = None, code: str = "ok", message: str = "") -> Reply:
        return Reply(status, {"data": {} if data is None else data,
                              "error": {"code": code, "message": message, "log_id": self.log_id()}})

    def oauth_error(self, status: int, error: str, description: str) -> Reply:
        return Reply(status, {"error": error, "error_description": description, "log_id": self.log_id()})

    def bad(self, message: str) -> Reply:
        return self.envelope(400, None, "invalid_params", message)
