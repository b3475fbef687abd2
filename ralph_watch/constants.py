"""The product's fixed values, each written once: TikTok's title and size limits, the video kinds,
the privacy levels and the watch modes. Pure data; every other module imports from here."""
from __future__ import annotations

from types import MappingProxyType
from typing import Final, Mapping

__all__ = [
    "MAX_TITLE_UTF16",
    "MAX_VIDEO_BYTES",
    "VIDEO_EXTS",
    "MIME_TYPES",
    "PRIVACY_NAMES",
    "PRIVACY_LEVELS",
    "PRIVACY_LABELS",
    "PRIVACY_CHOICES",
    "WATCH_MODES",
]

# TikTok counts a title in UTF-16 code units (most emoji count as 2).
MAX_TITLE_UTF16: Final = 2200
# TikTok's "4 GB" is decimal.
MAX_VIDEO_BYTES: Final = 4_000_000_000

# The video kinds a pair may hold (lower case, no dot), with the Content-Type of their upload.
MIME_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"})
VIDEO_EXTS: Final = tuple(MIME_TYPES)

# The sidecar's privacy words and TikTok's privacy_level enum they stand for.
PRIVACY_NAMES: Final[Mapping[str, str]] = MappingProxyType({
    "public": "PUBLIC_TO_EVERYONE",
    "friends": "MUTUAL_FOLLOW_FRIENDS",
    "followers": "FOLLOWER_OF_CREATOR",
    "private": "SELF_ONLY",
})
PRIVACY_CHOICES: Final = tuple(PRIVACY_NAMES)
PRIVACY_LEVELS: Final = tuple(PRIVACY_NAMES.values())
PRIVACY_LABELS: Final[Mapping[str, str]] = MappingProxyType({v: k for k, v in PRIVACY_NAMES.items()})

# watch.mode: auto (events, falling back to polling), events, polling (network mounts).
WATCH_MODES: Final = ("auto", "events", "polling")
