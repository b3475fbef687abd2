"""TikTok's limits and timings in one object, shared by the client (config `tiktok.limits`)
and the emulator (its profile), so tests shrink time on both sides alike instead of waiting."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    # Documented by TikTok (Content Posting API reference, content sharing guidelines).
    window_seconds: float = 60.0         # the rate-limit window (sliding)
    init_per_window: int = 6             # video/init and inbox/video/init, per user token
    creator_info_per_window: int = 20
    status_per_window: int = 30
    daily_posts: int = 15                # direct posts per creator per rolling day
    pending_drafts: int = 5              # inbox drafts per rolling day
    draft_wait_hours: float = 48.0       # ours: in_inbox this long without PUBLISH_COMPLETE -> failed
    # Timings (documented where TikTok documents them; the rest are the emulator's choice).
    day_seconds: float = 86400.0         # length of the "rolling 24 h" of the caps
    upload_url_seconds: float = 3600.0   # "The upload_url is valid for one hour after issuance"
    access_token_seconds: float = 7200.0 # TikTok's 2026 docs: access tokens live 2 h
    refresh_token_seconds: float = 15552000.0  # 180 days
    auth_code_seconds: float = 600.0     # undocumented: treated as minutes, single use
    processing_seconds: float = 1.0      # emulator: time from the last chunk to PUBLISH_COMPLETE
    moderation_seconds: float = 1.0      # emulator: until publicaly_available_post_id appears
    unaudited_users_per_day: int = 5     # unaudited clients: distinct posting users per day
    # Ours: how long one upload chunk may wait for its answer. None (unset): from the chunk size
    # (>= 120 s); a test of a chunk whose answer never comes sets it to seconds.
    chunk_deadline_seconds: float | None = None
    # Ours: how long a task waits before the next try, each its own setting (tests set them small).
    retry_seconds: float = 30.0          # first wait after a transient failure; the next ones grow
                                         # 4x, 10x, 30x, 60x (30 s ... 30 min at the default)
    followup_seconds: float = 60.0       # between follow-up status calls (drafts in the inbox,
                                         # late post ids, waits for TikTok's verdict): one per minute
                                         # is far inside the 30 status calls a minute
    delete_retry_seconds: float = 60.0   # between tries to delete a published pair's files

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, where: str = "tiktok.limits") -> tuple["Limits", list[str]]:
        """Build from a config/profile mapping. Returns (limits, problems); unknown keys are problems."""
        problems: list[str] = []
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (data or {}).items():
            f = known.get(str(key))
            if f is None:
                problems.append(f"{where}.{key}: unknown key; known keys are {', '.join(sorted(known))}")
                continue
            if value is None and f.default is None:
                continue  # an optional limit left unset
            want_int = f.type in ("int", int)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{where}.{key}: must be a number, not {value!r}")
                continue
            if value <= 0:
                problems.append(f"{where}.{key}: must be greater than 0")
                continue
            if want_int and int(value) != value:
                problems.append(f"{where}.{key}: must be a whole number")
                continue
            values[str(key)] = int(value) if want_int else float(value)
        return cls(**values), problems
