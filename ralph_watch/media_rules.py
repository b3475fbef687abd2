"""TikTok's media rules (tiktok-api.md § 8.1) as data and one pure verdict, shared by the probe
(`probe.check_video`, which words the breaches for people) and the emulator (which answers
TikTok's fail_reason), so the two cannot disagree.

A video is described by the facts the probe reads (`MediaFacts`); `breaches` lists the rules it
breaks in TikTok's order, `fail_reason` names the first one the way TikTok's status answers do.
"""
from __future__ import annotations

from enum import Enum
from typing import Protocol

from ralph_watch.constants import MAX_VIDEO_BYTES

__all__ = ["MediaFacts", "Rule", "breaches", "fail_reason", "duration_limit", "size_ok", "fps_ok", "sides_ok",
           "MAX_BYTES", "MIN_FPS", "MAX_FPS", "MIN_SIDE", "MAX_SIDE", "CONTAINERS", "CODECS", "MAX_DURATION_SEC",
           "DURATION_SLACK", "FAIL_REASONS", "duration_ok"]

MAX_BYTES = MAX_VIDEO_BYTES          # "max 4 GB" (decimal)
MIN_FPS, MAX_FPS = 23, 60            # "23–60 FPS"
MIN_SIDE, MAX_SIDE = 360, 4096       # "360–4096 px for both height and width"
CONTAINERS = ("mp4", "mov", "webm")
CODECS = ("h264", "hevc", "vp8", "vp9")
MAX_DURATION_SEC = 600               # "The longest video a developer can send ... is 10 minutes"
DURATION_SLACK = 0.0005              # container timestamps round: 600.0004 s is 600 s


class MediaFacts(Protocol):
    """What the rules look at; probe.VideoInfo is one."""

    @property
    def container(self) -> str: ...
    @property
    def codec(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> float | None: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def size(self) -> int: ...


class Rule(str, Enum):
    """One of TikTok's media rules."""

    CONTAINER = "container"
    CODEC = "codec"
    FPS = "fps"
    SIDES = "sides"
    SIZE = "size"
    DURATION = "duration"


# TikTok's fail_reason per rule, in the order its status answers name them: format first, then
# frame rate, picture size, duration. Size has no reason of its own (init refuses > 4 GB first).
FAIL_REASONS: dict[Rule, str] = {
    Rule.CONTAINER: "file_format_check_failed",
    Rule.CODEC: "file_format_check_failed",
    Rule.FPS: "frame_rate_check_failed",
    Rule.SIDES: "picture_size_check_failed",
    Rule.DURATION: "duration_check_failed",
    Rule.SIZE: "file_format_check_failed",
}


def duration_limit(creator_max: float | None = None) -> float:
    """The longest video allowed: the creator's max_video_post_duration_sec, never over 10 minutes."""
    return float(MAX_DURATION_SEC if creator_max is None else min(MAX_DURATION_SEC, creator_max))


def size_ok(size: int) -> bool:
    return size <= MAX_BYTES


def fps_ok(fps: float | None) -> bool:
    return fps is not None and MIN_FPS <= round(fps, 1) <= MAX_FPS


def sides_ok(width: int, height: int) -> bool:
    return min(width, height) >= MIN_SIDE and max(width, height) <= MAX_SIDE


def duration_ok(duration: float | None, max_duration: float) -> bool:
    return duration is not None and 0 < duration <= max_duration + DURATION_SLACK


def breaches(facts: MediaFacts, *, max_duration: float = MAX_DURATION_SEC) -> list[Rule]:
    """Every rule `facts` breaks, in the order check_video words them (empty: TikTok takes it)."""
    found: list[Rule] = []
    if facts.container not in CONTAINERS:
        found.append(Rule.CONTAINER)
    if facts.codec not in CODECS:
        found.append(Rule.CODEC)
    if not fps_ok(facts.fps):
        found.append(Rule.FPS)
    if not sides_ok(facts.width, facts.height):
        found.append(Rule.SIDES)
    if not size_ok(facts.size):
        found.append(Rule.SIZE)
    if not duration_ok(facts.duration, max_duration):
        found.append(Rule.DURATION)
    return found


def fail_reason(found: list[Rule]) -> str | None:
    """TikTok's fail_reason for a video breaking `found` (it names the first rule broken), or None."""
    for rule in FAIL_REASONS:
        if rule in found:
            return FAIL_REASONS[rule]
    return None
