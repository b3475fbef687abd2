"""TikTok's wire format as pure functions and data (no I/O): shared by the client, the
publisher and the emulator.

What goes out: the endpoint paths, the chunk plan, `source_info`, `post_info` and the init
bodies built from them. What comes back: creator_info and status/fetch answers read into
typed records, the upload's Content-Range, the upload URL as a log line may show it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..constants import MAX_TITLE_UTF16, MAX_VIDEO_BYTES, MIME_TYPES, PRIVACY_LEVELS

__all__ = ["MAX_SINGLE_CHUNK", "CHUNK_SIZE", "MIN_CHUNK", "MAX_VIDEO_BYTES", "Chunk", "plan_chunks",
           "utf16_len", "MAX_TITLE_UTF16", "MIME_TYPES", "PRIVACY_LEVELS", "ChunkPlan",
           "TOKEN_PATH", "REVOKE_PATH", "USER_INFO_PATH", "USER_INFO_FIELDS", "CREATOR_INFO_PATH",
           "DIRECT_INIT_PATH", "DRAFT_INIT_PATH", "STATUS_PATH",
           "source_info", "post_info", "direct_init_body", "draft_init_body",
           "Account", "CreatorInfo", "InitResult", "PublishStatus",
           "creator_info_from", "publish_status_from", "received_from_range", "redact_upload_url"]

TOKEN_PATH = "/v2/oauth/token/"
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
# user.info.basic fields only: asking for `username` needs user.info.profile, and TikTok refuses
# the whole call for one unauthorised field (the handle comes from creator_info instead).
USER_INFO_FIELDS = "open_id,union_id,avatar_url,display_name"
CREATOR_INFO_PATH = "/v2/post/publish/creator_info/query/"
DIRECT_INIT_PATH = "/v2/post/publish/video/init/"
DRAFT_INIT_PATH = "/v2/post/publish/inbox/video/init/"
STATUS_PATH = "/v2/post/publish/status/fetch/"

MAX_SINGLE_CHUNK = 64_000_000   # decimal: TikTok rejects larger chunk_size since 2026-08
CHUNK_SIZE = 10_000_000         # the docs' own example size
MIN_CHUNK = 5_242_880           # safe under both readings of "5 MB"


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int      # first byte offset
    last: int       # last byte offset (inclusive)

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.first}-{self.last}/{total}"


ChunkPlan = tuple[int, int, list[Chunk]]   # (chunk_size, total_chunk_count, chunks)


def plan_chunks(video_size: int, chunk_size: int = CHUNK_SIZE) -> ChunkPlan:
    """(chunk_size, total_chunk_count, chunks) by TikTok's rules.

    <= 64,000,000 bytes: one whole upload (chunk_size = video_size). Larger: chunks of
    `chunk_size`, count = floor(size / chunk_size), the remainder joins the final chunk.
    """
    if video_size <= 0:
        raise ValueError("video_size must be positive")
    if video_size <= MAX_SINGLE_CHUNK:
        return video_size, 1, [Chunk(0, 0, video_size - 1)]
    if not MIN_CHUNK <= chunk_size <= MAX_SINGLE_CHUNK:
        raise ValueError("chunk_size out of TikTok's range")
    count = video_size // chunk_size
    if count > 1000:
        raise ValueError("more than 1000 chunks")
    chunks = [Chunk(i, i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count)]
    last = chunks[-1]
    chunks[-1] = Chunk(last.index, last.first, video_size - 1)
    return chunk_size, count, chunks


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way TikTok counts a title."""
    return len(text.encode("utf-16-le")) // 2


# ----------------------------------------------------------------------------- requests


def source_info(video_size: int, plan: ChunkPlan) -> dict[str, Any]:
    """The init's source_info for a file upload, from the chunk plan."""
    return {"source": "FILE_UPLOAD", "video_size": video_size, "chunk_size": plan[0], "total_chunk_count": plan[1]}


def post_info(*, title: str, privacy: str | None, disable_comment: bool, disable_duet: bool,
              disable_stitch: bool, cover_ms: int, promotion: str, ai_generated: bool) -> dict[str, Any]:
    """The direct init's post_info: every documented field, real booleans, the brand toggles
    always present (TikTok refuses some inits without them), the cover as an int."""
    info: dict[str, Any] = {
        "privacy_level": privacy,
        "disable_comment": bool(disable_comment),
        "disable_duet": bool(disable_duet),
        "disable_stitch": bool(disable_stitch),
        "video_cover_timestamp_ms": int(cover_ms),
        "brand_content_toggle": promotion in ("branded", "both"),
        "brand_organic_toggle": promotion in ("own_brand", "both"),
        "is_aigc": bool(ai_generated),
    }
    if title:
        info["title"] = title
    return info


def direct_init_body(post: Mapping[str, Any], video_size: int, plan: ChunkPlan) -> dict[str, Any]:
    return {"post_info": dict(post), "source_info": source_info(video_size, plan)}


def draft_init_body(video_size: int, plan: ChunkPlan, title: str | None = None) -> dict[str, Any]:
    """An inbox draft carries only the title (TikTok ignores the rest, tiktok-api.md §6.1)."""
    body: dict[str, Any] = {"source_info": source_info(video_size, plan)}
    if title:
        body["post_info"] = {"title": title}
    return body


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Account:
    """The logged-in account as the page may show it. Tokens are not part of it.

    `username` is the creator's @handle (creator_info's creator_username; user/info's basic
    fields have none): empty until the first creator_info after the login."""

    open_id: str
    scopes: frozenset[str]
    nickname: str = ""
    avatar_url: str = ""
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    username: str = ""


@dataclass(frozen=True)
class CreatorInfo:
    nickname: str
    username: str
    avatar_url: str
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int
    log_id: str | None = None


def redact_upload_url(url: str) -> str:
    """The upload URL for a log line: upload_id kept, every other query value masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    query = [(k, v if k == "upload_id" else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="*"), ""))


@dataclass(frozen=True)
class InitResult:
    publish_id: str
    upload_url: str = field(repr=False)   # carries upload_token: a credential
    chunk_size: int
    total_chunk_count: int
    chunks: tuple[Chunk, ...]
    video_size: int
    mode: str                             # "direct" | "draft"
    log_id: str | None = None

    @property
    def redacted_url(self) -> str:
        return redact_upload_url(self.upload_url)


@dataclass(frozen=True)
class PublishStatus:
    status: str                 # PROCESSING_UPLOAD | PROCESSING_DOWNLOAD | SEND_TO_USER_INBOX | PUBLISH_COMPLETE | FAILED
    fail_reason: str | None
    post_ids: list[str]         # from TikTok's (misspelled) publicaly_available_post_id
    uploaded_bytes: int | None
    log_id: str | None = None


def creator_info_from(data: Mapping[str, Any], log_id: str | None) -> CreatorInfo:
    return CreatorInfo(
        nickname=str(data.get("creator_nickname") or ""),
        username=str(data.get("creator_username") or ""),
        avatar_url=str(data.get("creator_avatar_url") or ""),
        privacy_level_options=tuple(str(x) for x in data.get("privacy_level_options") or ()),
        comment_disabled=bool(data.get("comment_disabled")),
        duet_disabled=bool(data.get("duet_disabled")),
        stitch_disabled=bool(data.get("stitch_disabled")),
        max_video_post_duration_sec=int(data.get("max_video_post_duration_sec") or 0),
        log_id=log_id)


def publish_status_from(data: Mapping[str, Any], log_id: str | None) -> PublishStatus:
    ids = data.get("publicaly_available_post_id") or []
    uploaded = data.get("uploaded_bytes")
    return PublishStatus(status=str(data.get("status") or ""), fail_reason=data.get("fail_reason") or None,
                         post_ids=[str(i) for i in ids],
                         uploaded_bytes=int(uploaded) if isinstance(uploaded, (int, float)) else None,
                         log_id=log_id)


def received_from_range(value: str | None) -> int | None:
    """The upload answer's Content-Range: `bytes 0-N/total` -> N+1 (the bytes TikTok has);
    `bytes */total` -> 0; anything else None."""
    if not value:
        return None
    try:
        unit, _, rest = value.strip().partition(" ")
        span, _, _total = rest.partition("/")
        if unit.lower() != "bytes":
            return None
        if span == "*":
            return 0
        first, _, last = span.partition("-")
        return int(last) + 1 if int(first) == 0 else None
    except ValueError:
        return None
