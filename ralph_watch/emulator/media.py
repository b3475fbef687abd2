"""The media check TikTok runs when an upload completes: ralph-watch's own probe reads the file,
and the shared media rules (ralph_watch.media_rules) give TikTok's fail_reason."""
from __future__ import annotations

import logging
from pathlib import Path

from ralph_watch import media_rules, probe
from ralph_watch.errors import ProbeError

__all__ = ["media_fail_reason"]

log = logging.getLogger(__name__)


def media_fail_reason(path: Path, *, max_duration: float) -> str | None:
    """TikTok's fail_reason for the uploaded file at `path`, or None if the video passes."""
    try:
        info = probe.probe_video(path)
    except ProbeError:
        return "file_format_check_failed"
    except Exception:  # a probe bug must not kill the request thread; TikTok would also refuse it
        log.exception("emulator: probing the uploaded file failed")
        return "file_format_check_failed"
    return media_rules.fail_reason(media_rules.breaches(info, max_duration=max_duration))
