"""Checking one complete pair before any byte goes to TikTok: the sidecar and the video.

Used by the service when a pair becomes complete and by `ralph-watch check`, so both say
exactly the same thing about the same files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .errors import ProbeError, SidecarError, SidecarProblem
from .record import Identity, file_identity
from .strictyaml import SIDECAR_MAX_BYTES

__all__ = ["Validated", "validate_pair", "read_sidecar_bytes", "SIDECAR_MAX_BYTES", "cover_problem", "at_verdict"]



@dataclass(frozen=True)
class Validated:
    sidecar: Any          # sidecar.Sidecar
    info: Any             # probe.VideoInfo
    identity: Identity


def read_sidecar_bytes(path: Path, *, shown: str) -> bytes:
    """Read a sidecar without following symlinks and without reading more than the cap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SidecarError([SidecarProblem(shown, f"cannot read the sidecar: {exc.strerror}")]) from None
    try:
        data = os.read(fd, SIDECAR_MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > SIDECAR_MAX_BYTES:
        raise SidecarError([SidecarProblem(
            shown, f"the sidecar is larger than {SIDECAR_MAX_BYTES // 1024} KiB; a sidecar holds a few "
                   "lines (title, privacy, at or cron): is this the right file?")])
    return data


def validate_pair(inbox: Path, *, video: str, sidecar: str, tz: ZoneInfo, defaults: Mapping[str, Any],
                  probe_cache: dict | None = None) -> tuple[Validated | None, list[SidecarProblem]]:
    """Validate a pair given paths relative to the inbox. Returns (result, problems)."""
    from .probe import check_size, check_video, probe_video
    from .sidecar import parse_sidecar

    problems: list[SidecarProblem] = []
    parsed = None
    try:
        data = read_sidecar_bytes(inbox / sidecar, shown=sidecar)
        parsed = parse_sidecar(data, path=sidecar, tz=tz, defaults=defaults)
    except SidecarError as exc:
        problems.extend(exc.problems)

    info = None
    identity = None
    vpath = inbox / video
    try:
        identity = file_identity(vpath)
    except OSError as exc:
        problems.append(SidecarProblem(video, f"cannot read the video: {exc.strerror}"))
    if identity is not None:
        too_big = check_size(identity.size)
        if too_big:
            problems.append(SidecarProblem(video, too_big))
        else:
            key = (identity.size, identity.mtime_ns, identity.head_tail)
            cached = probe_cache.get(key) if probe_cache is not None else None
            try:
                info = cached or probe_video(vpath)
                if probe_cache is not None:
                    if len(probe_cache) > 50_000:
                        probe_cache.clear()
                    probe_cache[key] = info
            except ProbeError as exc:
                problems.append(SidecarProblem(video, str(exc)))
            if info is not None:
                problems.extend(SidecarProblem(video, p) for p in check_video(info))
    if parsed is not None and info is not None:
        cover = cover_problem(parsed.cover_ms, info.duration)
        if cover:
            problems.append(SidecarProblem(sidecar, cover, parsed.lines.get("cover_ms"), "cover_ms"))
    if problems or parsed is None or info is None or identity is None:
        return None, problems
    return Validated(parsed, info, identity), []


def cover_problem(cover_ms: int, duration: float | None) -> str | None:
    """The cover frame must lie inside the video (TikTok would pick a frame that does not exist)."""
    if not cover_ms or duration is None or cover_ms <= duration * 1000:
        return None
    return (f"cover_ms: {cover_ms} is past the end of the video ({duration * 1000:.0f} ms long); "
            f"pick a frame from 0 to {int(duration * 1000)}, or remove the line")


def at_verdict(at: datetime, at_text: str, *, now: datetime, grace: timedelta) -> tuple[str | None, str]:
    """What the service does with a past `at`: ("missed", sentence), ("late", sentence) or (None, "").

    The service and `ralph-watch check` both ask this, so they cannot disagree."""
    if at > now:
        return None, ""
    if now - at > grace:
        return "missed", (f"`at: {at_text}` is more than {grace.total_seconds() / 3600:g} h in the past. Edit `at:` "
                          "to a future time, or press Retry to publish it now.")
    return "late", (f"`at: {at_text}` is in the past but within the late grace "
                    f"({grace.total_seconds() / 3600:g} h): it is published as soon as the pair is complete")
