"""The checks of an init request body (source_info, post_info), as tiktok-api.md lists them.
Each returns the refusal TikTok gives, or the normalised value; no state is read or changed."""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from ralph_watch.emulator.core import Core, Reply
from ralph_watch.emulator.profile import Account, Profile
from ralph_watch.media_rules import MAX_BYTES
from ralph_watch.tiktok.protocol import MAX_TITLE_UTF16, MIN_CHUNK, utf16_len

__all__ = ["parse_json", "check_source", "check_post_info", "privacy_options", "MAX_FINAL_CHUNK"]

MAX_FINAL_CHUNK = 128_000_000
PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
_BOOLEANS = ("disable_duet", "disable_stitch", "disable_comment", "brand_content_toggle", "brand_organic_toggle",
             "is_aigc")



def privacy_options(account: Account) -> list[str]:
    return list(PRIVATE_OPTIONS if account.private else PUBLIC_OPTIONS)


def parse_json(core: Core, content_type: str, raw: bytes) -> tuple[dict[str, Any] | None, Reply | None]:
    if content_type.split(";")[0].strip().lower() != "application/json":
        return None, core.bad("Content-Type must be application/json; charset=UTF-8.")
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None, core.bad("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return None, core.bad("The request body must be a JSON object.")
    return body, None


def check_source(core: Core, body: dict[str, Any]) -> tuple[dict[str, Any] | None, Reply | None]:
    """Validate source_info; returns the normalised source or a refusal."""
    src = body.get("source_info")
    if not isinstance(src, dict):
        return None, core.bad("source_info is required and must be an object.")
    source = src.get("source")
    if source not in ("FILE_UPLOAD", "PULL_FROM_URL"):
        return None, core.bad("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")
    if source == "PULL_FROM_URL":
        return _pull_source(core, src)
    values: dict[str, int] = {}
    for key in ("video_size", "chunk_size", "total_chunk_count"):
        value = src.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return None, core.bad(f"source_info.{key} is required for FILE_UPLOAD and must be a positive integer.")
        values[key] = value
    why = chunk_plan_refusal(core.profile, values["video_size"], values["chunk_size"], values["total_chunk_count"])
    if why is not None:
        return None, core.bad(why)
    return {"source": source, **values}, None


def _pull_source(core: Core, src: dict[str, Any]) -> tuple[dict[str, Any] | None, Reply | None]:
    url = src.get("video_url")
    if not isinstance(url, str) or not url:
        return None, core.bad("source_info.video_url is required for PULL_FROM_URL.")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, core.bad("source_info.video_url is not a valid URL.")
    host = parts.hostname or ""
    is_ip = bool(re.fullmatch(r"[\d.]+", host)) or ":" in host
    if parts.scheme != "https" or is_ip or not any(url.startswith(p) for p in core.profile.verified_url_prefixes):
        return None, core.envelope(403, None, "url_ownership_unverified",
                                   "The domain or URL prefix of video_url is not verified for this app.")
    return {"source": "PULL_FROM_URL", "video_url": url}, None


def chunk_plan_refusal(profile: Profile, size: int, chunk: int, count: int) -> str | None:
    """TikTok's message for a FILE_UPLOAD plan it refuses, or None."""
    if size > MAX_BYTES:
        return "The video size is invalid: the maximum is 4 GB."
    if chunk > profile.max_chunk_size or chunk > size:
        return "The chunk size is invalid"
    if size < MIN_CHUNK and (chunk != size or count != 1):
        return "The chunk size is invalid: videos under 5 MB must be uploaded whole."
    if count != size // chunk and not (profile.accept_ceil_chunk_count and count == -(-size // chunk)):
        return "The total chunk count is invalid: it must be video_size / chunk_size rounded down."
    if not 1 <= count <= 1000:
        return "The total chunk count is invalid: it must be between 1 and 1000."
    if count > 1 and chunk < MIN_CHUNK:
        return "The chunk size is invalid: chunks must be at least 5 MB."
    if size - (count - 1) * chunk > MAX_FINAL_CHUNK:
        return "The chunk size is invalid: the final chunk must be at most 128 MB."
    return None


def check_post_info(core: Core, info: Any, account: Account) -> Reply | None:
    if not isinstance(info, dict):
        return core.bad("post_info is required and must be an object.")
    for key in _BOOLEANS:
        if key in info and not isinstance(info[key], bool):
            return core.bad(f"post_info.{key} must be a JSON boolean (true or false).")
    # TikTok's reference marks it required, its own example and several clients omit it: the
    # omission counts as false unless the profile says TikTok enforces it.
    if "brand_content_toggle" not in info and core.profile.require_brand_toggle:
        return core.bad("post_info.brand_content_toggle is required.")
    if "title" in info:
        if not isinstance(info["title"], str):
            return core.bad("post_info.title must be a string.")
        if utf16_len(info["title"]) > MAX_TITLE_UTF16:
            return core.bad(f"post_info.title is longer than {MAX_TITLE_UTF16} UTF-16 characters.")
    cover = info.get("video_cover_timestamp_ms")
    if cover is not None and (not isinstance(cover, int) or isinstance(cover, bool) or cover < 0):
        return core.bad("post_info.video_cover_timestamp_ms must be a non-negative integer.")
    if info.get("privacy_level") not in privacy_options(account):
        return core.envelope(403, None, "privacy_level_option_mismatch",
                             "privacy_level is missing or not one of the creator's privacy_level_options.")
    return None
