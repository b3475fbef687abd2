"""Checking one complete pair before any byte goes to TikTok: the sidecar and the video.

Used by the service when a pair becomes complete and by `ralph-watch check`, so both say
exactly the same thing about the same files.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .errors import ProbeError, SidecarError, SidecarProblem
from .inbox import shown_name
from .pairfiles import NotRegularFile, open_in_inbox, open_regular
from .record import Identity, stamp_of_fd
from .schedule import at_verdict  # re-exported: `check` and the service ask the same question
from .strictyaml import SIDECAR_MAX_BYTES
from .probe import check_size, check_video, probe_video
from .sidecar import parse_sidecar

__all__ = ["Validated", "validate_pair", "read_sidecar_bytes", "SIDECAR_MAX_BYTES", "cover_problem", "at_verdict"]



@dataclass(frozen=True)
class Validated:
    sidecar: Any          # sidecar.Sidecar
    info: Any             # probe.VideoInfo
    identity: Identity    # fstat only, not hashed: the hash is read where it is needed (record.Identity)


def read_sidecar_bytes(path: Path, *, shown: str, inbox: Path | None = None) -> bytes:
    """Read a sidecar without following symlinks, without opening anything but a regular file
    (a FIFO would block), and without reading more than the cap.

    With `inbox`, `path` is relative to it and every folder on the way is opened by descriptor
    (pairfiles.open_in_inbox), so no symlinked folder is followed either."""
    try:
        fd = open_in_inbox(inbox, str(path)) if inbox is not None else open_regular(path)
    except NotRegularFile as exc:
        raise SidecarError([SidecarProblem(shown, f"this is {exc.kind}, not a sidecar file; put a YAML file "
                                                  "here under this name, or remove it")]) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SidecarError([SidecarProblem(shown, "this is a symbolic link; ralph-watch never follows links: "
                                                      "put the file itself here")]) from None
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
                  probe_cache: dict[Any, Any] | None = None) -> tuple[Validated | None, list[SidecarProblem]]:
    """Validate a pair given paths relative to the inbox. Returns (result, problems).

    Both files are opened by descriptor from the inbox down (no symlink followed, nothing but
    regular files opened); names in the problems are shown escaped (inbox.shown_name)."""

    problems: list[SidecarProblem] = []
    parsed = None
    side_shown, video_shown = shown_name(sidecar), shown_name(video)
    try:
        data = read_sidecar_bytes(Path(sidecar), shown=side_shown, inbox=inbox)
        parsed = parse_sidecar(data, path=side_shown, tz=tz, defaults=defaults)
    except SidecarError as exc:
        problems.extend(exc.problems)

    info = None
    identity = None
    vpath = inbox / video
    try:
        fd = open_in_inbox(inbox, video)
    except NotRegularFile as exc:
        problems.append(SidecarProblem(video_shown, f"this is {exc.kind}, not a video file; put a video file "
                                                    "here under this name, or remove it"))
        fd = None
    except OSError as exc:
        why = ("it is a symbolic link; ralph-watch never follows links: put the file itself here"
               if exc.errno == errno.ELOOP else exc.strerror)
        problems.append(SidecarProblem(video_shown, f"cannot read the video: {why}"))
        fd = None
    if fd is not None:
        with os.fdopen(fd, "rb") as vfile:
            try:
                identity = stamp_of_fd(fd)   # headers only until publish time: no hash here
            except OSError as exc:
                problems.append(SidecarProblem(video_shown, f"cannot read the video: {exc.strerror}"))
            if identity is not None:
                too_big = check_size(identity.size)
                if too_big:
                    problems.append(SidecarProblem(video_shown, too_big))
                else:
                    key = identity.probe_key
                    cached = probe_cache.get(key) if probe_cache is not None else None
                    try:
                        info = cached or probe_video(vpath, file=vfile)
                        if probe_cache is not None:
                            if len(probe_cache) > 50_000:
                                probe_cache.clear()
                            probe_cache[key] = info
                    except ProbeError as exc:
                        problems.append(SidecarProblem(video_shown, str(exc)))
                    if info is not None:
                        problems.extend(SidecarProblem(video_shown, p) for p in check_video(info))
    if parsed is not None and info is not None:
        cover = cover_problem(parsed.cover_ms, info.duration)
        if cover:
            problems.append(SidecarProblem(side_shown, cover, parsed.lines.get("cover_ms"), "cover_ms"))
    if problems or parsed is None or info is None or identity is None:
        return None, problems
    return Validated(parsed, info, identity), []


def cover_problem(cover_ms: int, duration: float | None) -> str | None:
    """The cover frame must lie inside the video (TikTok would pick a frame that does not exist)."""
    if not cover_ms or duration is None or cover_ms <= duration * 1000:
        return None
    return (f"cover_ms: {cover_ms} is past the end of the video ({duration * 1000:.0f} ms long); "
            f"pick a frame from 0 to {int(duration * 1000)}, or remove the line")
