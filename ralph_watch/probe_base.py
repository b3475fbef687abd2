"""What the header parsers share: the facts they return (`VideoInfo`), the caps on how much
header they read, and the sentences for a cut-off or damaged container."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ProbeError

__all__ = ["VideoInfo", "MOOV_CAP", "EBML_CAP"]

# Header boxes are small; a moov beyond this is damage, not a video (and would cost memory).
MOOV_CAP = 64 * 1024 * 1024
EBML_CAP = 16 * 1024 * 1024

_REMUX = "re-export it from your editor, or convert it, e.g. `ffmpeg -i in.mov -c:v libx264 -c:a aac out.mp4`"


@dataclass(frozen=True)
class VideoInfo:
    container: str          # "mp4" | "mov" | "webm" | "matroska" (check_video refuses Matroska)
    codec: str              # "h264" | "hevc" | "vp8" | "vp9" | another name ("av1", "mpeg4", a fourcc)
    width: int              # display size in pixels (a 90°/270° rotation matrix swaps them)
    height: int
    fps: float | None       # average frames per second
    duration: float | None  # seconds
    size: int               # bytes


def _truncated(size: int, claimed: int, where: str = "boxes") -> ProbeError:
    return ProbeError(
        f"the file ends before its container structure does: it is {size:,} bytes but its {where} claim "
        f"{claimed:,} — it was probably cut off while copying; copy it again")


def _damaged(what: str) -> ProbeError:
    return ProbeError(f"the video's container structure is damaged ({what}); {_REMUX}")


def _round_fps(fps: float | None) -> float | None:
    """30.0000003 (1e9 / 33,333,333 ns) is 30: three decimals keep 29.97 and 23.976 apart."""
    return None if fps is None else round(fps, 3)
