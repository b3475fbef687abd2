"""The Content Posting API: creator_info, user/info, direct and inbox init with their caps, the
processing state machine behind status/fetch, and the post list the control API shows.

Caps are counted per creator (open_id: the daily post cap, pending drafts) and rate limits per
user token (Logins.gate), so several creators logged in at once do not share them."""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ralph_watch.emulator.core import Core, Reply
from ralph_watch.emulator.faults import FaultBook
from ralph_watch.emulator.init_checks import check_post_info, check_source, parse_json, privacy_options
from ralph_watch.emulator.media import media_fail_reason
from ralph_watch.emulator.oauth import Grant, Logins
from ralph_watch.emulator.profile import Account
from ralph_watch.media_rules import duration_limit

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["Posts", "Publish", "USER_INFO_PER_WINDOW", "USER_FIELDS"]

USER_INFO_PER_WINDOW = 600            # documented; not in Limits because the client does not limit it
USER_FIELDS = {
    "open_id": "user.info.basic", "union_id": "user.info.basic", "avatar_url": "user.info.basic",
    "avatar_url_100": "user.info.basic", "avatar_large_url": "user.info.basic", "display_name": "user.info.basic",
    "bio_description": "user.info.profile", "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile", "username": "user.info.profile",
    "follower_count": "user.info.stats", "following_count": "user.info.stats",
    "likes_count": "user.info.stats", "video_count": "user.info.stats",
}
_ACTIVE_CAP = ("reached_active_user_cap", "The daily quota of active publishing users for this client is reached.")
_BANNED = ("spam_risk_user_banned_from_posting", "The user is banned from making new posts.")


@dataclass
class Publish:
    publish_id: str
    mode: str                      # direct | draft
    open_id: str
    grant_id: int
    post_info: dict[str, Any]
    source: str                    # FILE_UPLOAD | PULL_FROM_URL
    created: str                   # ISO UTC, for people
    created_mono: float
    video_size: int = 0
    chunk_size: int = 0
    total_chunk_count: int = 0
    video_url: str | None = None
    upload_id: str = ""
    upload_token: str = ""
    url_expires: float = 0.0
    received: int = 0
    sha: "_Hash | None" = None     # while uploading
    sha256: str | None = None
    spool: Path | None = None
    completed_mono: float | None = None   # upload (or pull) finished
    outcome: str | None = None     # fail_reason decided at completion (media checks / fail_next)
    failed_reason: str | None = None      # immediate failure (auth_removed)
    draft_done_mono: float | None = None  # simulated user finished the draft in the app
    post_id: int | None = None
    content_types: list[str] = field(default_factory=list)   # each accepted chunk's Content-Type, as sent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expected_length(self, first: int) -> int | None:
        """The exact length the chunk starting at `first` must have, or None if no chunk starts there."""
        if first % self.chunk_size:
            return None
        index = first // self.chunk_size
        if index >= self.total_chunk_count:
            return None
        if index == self.total_chunk_count - 1:
            return self.video_size - first
        return self.chunk_size

    def drop_spool(self) -> None:
        if self.spool is not None:
            try:
                self.spool.unlink()
            except FileNotFoundError:
                pass
            self.spool = None


class Posts:
    """Every publish task, and the per-creator counts behind the caps."""

    def __init__(self, core: Core, logins: Logins, faults: FaultBook) -> None:
        self.core = core
        self.logins = logins
        self.faults = faults
        self.publishes: dict[str, Publish] = {}
        self.uploads: dict[str, Publish] = {}                # upload_id -> publish
        self.direct_inits: dict[str, deque[float]] = {}      # open_id -> init times (rolling day)

    # ------------------------------------------------------------ user/info, creator_info
    def user_info(self, authorization: str, fields_param: str | None) -> Reply:
        grant, refusal = self.logins.gate(authorization, scopes=(), kind="user_info", limit=USER_INFO_PER_WINDOW)
        if refusal:
            return refusal
        assert grant is not None
        core = self.core
        if not fields_param:
            return core.envelope(400, None, "invalid_params",
                                 "The fields parameter is required, e.g. fields=open_id,display_name.")
        wanted = [f.strip() for f in fields_param.split(",") if f.strip()]
        unknown = [f for f in wanted if f not in USER_FIELDS]
        if unknown:
            return core.envelope(400, None, "invalid_params", f"Unknown fields: {', '.join(unknown)}.")
        missing = sorted({USER_FIELDS[f] for f in wanted} - set(grant.scopes))
        if missing:
            return core.envelope(400, None, "scope_permission_missed",
                                 f"Some fields need additional scopes: {', '.join(missing)}.")
        account = core.account(grant.open_id)
        assert account is not None
        values = self._user_values(account)
        return core.envelope(200, {"user": {f: values[f] for f in wanted}})

    def _user_values(self, account: Account) -> dict[str, Any]:
        with self.core.lock:
            videos = sum(1 for p in self.publishes.values() if p.open_id == account.open_id)
        avatar = self.core.avatar_url(account.open_id)
        return {"open_id": account.open_id, "union_id": "union-" + account.open_id, "avatar_url": avatar,
                "avatar_url_100": avatar, "avatar_large_url": avatar, "display_name": account.nickname,
                "bio_description": account.bio_description,
                "profile_deep_link": f"{self.core.base_url}/@{account.username}", "is_verified": account.is_verified,
                "username": account.username, "follower_count": account.follower_count,
                "following_count": account.following_count, "likes_count": account.likes_count,
                "video_count": videos}

    def cap_code(self, account: Account, now: float) -> tuple[str, str] | None:
        """The cap that blocks a new direct post right now, as (code, message), or None."""
        profile = self.core.profile
        if account.banned:
            return _BANNED
        if profile.active_user_cap_reached:
            return _ACTIVE_CAP
        if not profile.audited:
            users = self._posting_users(now)
            if account.open_id not in users and len(users) >= profile.limits.unaudited_users_per_day:
                return _ACTIVE_CAP
        if len(self._day(self.direct_inits.get(account.open_id), now)) >= profile.limits.daily_posts:
            return "spam_risk_too_many_posts", "The daily post cap from the API is reached for the current user."
        return None

    def _day(self, times: deque[float] | None, now: float) -> deque[float]:
        if times is None:
            return deque()
        horizon = now - self.core.profile.limits.day_seconds
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def _posting_users(self, now: float) -> set[str]:
        return {open_id for open_id, times in self.direct_inits.items() if self._day(times, now)}

    def creator_info(self, authorization: str) -> Reply:
        grant, refusal = self.logins.gate(authorization, scopes=("video.publish",), kind="creator_info",
                                          limit=self.core.profile.limits.creator_info_per_window)
        if refusal:
            return refusal
        assert grant is not None
        account = self.core.account(grant.open_id)
        assert account is not None
        with self.core.lock:
            cap = self.cap_code(account, self.core.clock.monotonic())
        if cap:
            return self.core.envelope(200, None, *cap)   # TikTok's "200 (intentional)" cap answers
        return self.core.envelope(200, {
            "creator_avatar_url": self.core.avatar_url(account.open_id), "creator_username": account.username,
            "creator_nickname": account.nickname, "privacy_level_options": privacy_options(account),
            "comment_disabled": account.comment_disabled,
            "duet_disabled": account.duet_disabled or account.private,
            "stitch_disabled": account.stitch_disabled or account.private,
            "max_video_post_duration_sec": account.max_video_post_duration_sec,
            # Undocumented; some answers are reported to carry it. Sent only when the switch is off.
            **({} if self.core.profile.creator_can_post else {"creator_can_post": False})})

    # ------------------------------------------------------------ init
    def init(self, authorization: str, content_type: str, raw: bytes, *, draft: bool) -> Reply:
        grant, refusal = self.logins.gate(authorization, scopes=("video.upload",) if draft else ("video.publish",),
                                          kind="init", limit=self.core.profile.limits.init_per_window)
        if refusal:
            return refusal
        assert grant is not None
        body, refusal = parse_json(self.core, content_type, raw)
        if refusal:
            return refusal
        assert body is not None
        account = self.core.account(grant.open_id)
        assert account is not None
        post_info, refusal = self._post_info(body, account, draft=draft)
        if refusal:
            return refusal
        source, refusal = check_source(self.core, body)
        if refusal:
            return refusal
        assert source is not None
        now = self.core.clock.monotonic()
        with self.core.lock:
            refusal = self._admit(account, post_info, draft=draft, now=now)
            if refusal:
                return refusal
            self.core.stats["draft_inits" if draft else "inits"] += 1
            p = self._new_publish(grant, account, source, post_info, draft=draft, now=now)
        data: dict[str, Any] = {"publish_id": p.publish_id}
        if p.source == "FILE_UPLOAD":
            data["upload_url"] = (f"{self.core.base_url}/upload/video/?upload_id={p.upload_id}"
                                  f"&upload_token={p.upload_token}")
        return self.core.envelope(200, data)

    def _post_info(self, body: dict[str, Any], account: Account, *,
                   draft: bool) -> tuple[dict[str, Any], Reply | None]:
        if not draft:
            refusal = check_post_info(self.core, body.get("post_info"), account)
            return ({}, refusal) if refusal else (dict(body["post_info"]), None)
        if isinstance(body.get("post_info"), dict):
            # Inbox shares ignore post settings; only the title pre-fills the draft.
            title = body["post_info"].get("title")
            if isinstance(title, str) and not self.core.profile.draft_drops_caption:
                return {"title": title}, None
        return {}, None

    def _admit(self, account: Account, post_info: dict[str, Any], *, draft: bool, now: float) -> Reply | None:
        """The account- and app-level refusals of an init, in TikTok's order (caller holds the lock).
        A direct post accepted counts towards the creator's daily cap; `post_info` may be changed."""
        core, profile = self.core, self.core.profile
        if account.banned:
            return core.envelope(403, None, *_BANNED)
        if draft:
            if self._pending_drafts(account.open_id, now) >= profile.limits.pending_drafts:
                return core.envelope(403, None, "spam_risk_too_many_pending_share",
                                     f"At most {profile.limits.pending_drafts} pending shares are allowed within "
                                     f"any 24 hours.")
            return None
        if not profile.creator_can_post:
            return core.envelope(403, None, "spam_risk_too_many_posts",
                                 "The creator cannot make more posts right now (creator_can_post is false).")
        if not profile.audited:
            if not account.private or (post_info.get("privacy_level") != "SELF_ONLY"
                                       and profile.unaudited_private_posts == "refuse"):
                return core.envelope(403, None, "unaudited_client_can_only_post_to_private_accounts",
                                     "Unaudited clients can only post SELF_ONLY to private accounts.")
            if post_info.get("privacy_level") != "SELF_ONLY":   # "restricted to private viewing mode"
                post_info["privacy_level"] = "SELF_ONLY"
                post_info["privacy_forced"] = True
        if profile.cover_public_only and post_info.get("privacy_level") != "PUBLIC_TO_EVERYONE":
            post_info.pop("video_cover_timestamp_ms", None)
        cap = self.cap_code(account, now)
        if cap:
            return core.envelope(403, None, *cap)
        self.direct_inits.setdefault(account.open_id, deque()).append(now)
        return None

    def _pending_drafts(self, open_id: str, now: float) -> int:
        horizon = now - self.core.profile.limits.day_seconds
        count = 0
        for p in self.publishes.values():
            if p.mode == "draft" and p.open_id == open_id and p.created_mono > horizon:
                status, _, _ = self.state_of(p, now)
                if status not in ("PUBLISH_COMPLETE", "FAILED"):
                    count += 1
        return count

    def _new_publish(self, grant: Grant, account: Account, source: dict[str, Any], post_info: dict[str, Any], *,
                     draft: bool, now: float) -> Publish:
        n = f"{secrets.randbelow(9 * 10**17) + 10**17}"
        kind = "url" if source["source"] == "PULL_FROM_URL" else "file"
        publish_id = f"v_inbox_{kind}~v2.{n}" if draft else f"v_pub_{kind}~v2-1.{n}"
        p = Publish(publish_id=publish_id, mode="draft" if draft else "direct", open_id=account.open_id,
                    grant_id=grant.grant_id, post_info=post_info, source=source["source"],
                    created=self.core.clock.now().isoformat().replace("+00:00", "Z"), created_mono=now,
                    video_size=source.get("video_size", 0), chunk_size=source.get("chunk_size", 0),
                    total_chunk_count=source.get("total_chunk_count", 0), video_url=source.get("video_url"))
        if p.source == "FILE_UPLOAD":
            p.upload_id = str(secrets.randbelow(9 * 10**17) + 10**17)
            p.upload_token = secrets.token_urlsafe(24)
            p.url_expires = now + self.core.profile.limits.upload_url_seconds
            p.sha = hashlib.sha256()
            self.uploads[p.upload_id] = p
        else:
            # PULL_FROM_URL: the emulator does not fetch; the pull "succeeds" after processing.
            self.complete(p, now, media_ok=True)
        self.publishes[publish_id] = p
        return p

    # ------------------------------------------------------------ processing
    def complete(self, p: Publish, now: float, *, media_ok: bool) -> None:
        """The upload finished: decide the outcome now (so the spool can go), reveal it after processing."""
        outcome = self.faults.take_fail_next()
        if outcome is None and not media_ok and p.spool is not None and self.core.profile.media_checks:
            account = self.core.account(p.open_id)
            limit = duration_limit(account.max_video_post_duration_sec if account else None)
            outcome = media_fail_reason(p.spool, max_duration=limit)
        p.drop_spool()
        p.outcome = outcome
        p.completed_mono = now
        if p.mode == "direct" and outcome is None and p.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE":
            p.post_id = secrets.randbelow(2 * 10**18) + 7 * 10**18   # 19 digits, > 2**53 like TikTok's

    def state_of(self, p: Publish, now: float) -> tuple[str, str | None, list[int]]:
        """(status, fail_reason, public post ids) of `p` at `now`."""
        limits = self.core.profile.limits
        if p.failed_reason:
            return "FAILED", p.failed_reason, []
        waiting = "PROCESSING_DOWNLOAD" if p.source == "PULL_FROM_URL" else "PROCESSING_UPLOAD"
        if p.completed_mono is None or now < p.completed_mono + limits.processing_seconds:
            return waiting, None, []
        if p.outcome:
            return "FAILED", p.outcome, []
        if p.mode == "draft":
            return ("PUBLISH_COMPLETE" if p.draft_done_mono is not None else "SEND_TO_USER_INBOX"), None, []
        ids: list[int] = []
        if p.post_id is not None and now >= p.completed_mono + limits.processing_seconds + limits.moderation_seconds:
            ids = [p.post_id]
        return "PUBLISH_COMPLETE", None, ids

    def status(self, authorization: str, content_type: str, raw: bytes) -> Reply:
        grant, refusal = self.logins.gate(authorization, scopes=("video.publish", "video.upload"), kind="status",
                                          limit=self.core.profile.limits.status_per_window)
        if refusal:
            return refusal
        assert grant is not None
        body, refusal = parse_json(self.core, content_type, raw)
        if refusal:
            return refusal
        assert body is not None
        publish_id = body.get("publish_id")
        if not isinstance(publish_id, str) or not publish_id:
            return self.core.bad("publish_id is required.")
        with self.core.lock:
            p = self.publishes.get(publish_id)
            if p is None:
                return self.core.envelope(400, None, "invalid_publish_id", "The publish_id does not exist.")
            if p.open_id != grant.open_id:
                return self.core.envelope(400, None, "token_not_authorized_for_specified_publish_id",
                                          "The access token is not authorized to query this publish_id.")
            status, reason, ids = self.state_of(p, self.core.clock.monotonic())
            data: dict[str, Any] = {"status": status, "publicaly_available_post_id": ids}
            if reason:
                data["fail_reason"] = reason
            if p.source == "FILE_UPLOAD":
                data["uploaded_bytes"] = p.received
            else:
                data["downloaded_bytes"] = 0 if p.completed_mono is None else 1
        return self.core.envelope(200, data)

    def auth_removed(self, open_id: str) -> None:
        """The user revoked the app: its posts still processing fail with auth_removed."""
        now = self.core.clock.monotonic()
        with self.core.lock:
            for p in self.publishes.values():
                if p.open_id == open_id and p.failed_reason is None:
                    status, _, _ = self.state_of(p, now)
                    if status in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
                        p.failed_reason = "auth_removed"
                        p.drop_spool()

    def complete_draft(self, publish_id: str) -> None:
        """The simulated user opens the inbox notification and posts the draft in the app."""
        with self.core.lock:
            p = self.publishes.get(publish_id)
            if p is None or p.mode != "draft":
                raise KeyError(f"no draft with publish_id {publish_id!r}")
            status, _, _ = self.state_of(p, self.core.clock.monotonic())
            if status != "SEND_TO_USER_INBOX":
                raise ValueError(f"draft {publish_id} is {status}, not SEND_TO_USER_INBOX: it cannot be completed now")
            p.draft_done_mono = self.core.clock.monotonic()

    def expire_urls(self) -> None:
        now = self.core.clock.monotonic()
        with self.core.lock:
            for p in self.publishes.values():
                p.url_expires = now

    def view(self) -> list[dict[str, Any]]:
        now = self.core.clock.monotonic()
        out = []
        with self.core.lock:
            for p in self.publishes.values():
                status, reason, ids = self.state_of(p, now)
                out.append({"publish_id": p.publish_id, "mode": p.mode, "open_id": p.open_id,
                            "post_info": dict(p.post_info), "source": p.source, "video_size": p.video_size,
                            "chunk_size": p.chunk_size, "total_chunk_count": p.total_chunk_count,
                            "received_bytes": p.received, "sha256": p.sha256, "status": status,
                            "fail_reason": reason, "post_ids": ids, "created": p.created,
                            "content_types": list(p.content_types)})
        return out
