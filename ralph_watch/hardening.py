"""Keeping the secrets in this process's memory out of reach, at start-up of `run` and `demo`.

The access and refresh tokens live in memory only (the privacy policy). Two ways they could
still leave it: a core dump written to disk, and another process of the same user reading
this one's memory (`/proc/PID/mem`, ptrace, `/proc/PID/environ` with TIKTOK_CLIENT_SECRET).
So: core dumps off (RLIMIT_CORE 0, as the systemd unit's LimitCORE=0 does), and on Linux the
process marked non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`), which also makes its /proc files
root's and refuses ptrace from the same user. Root can still look: that is the only reader left.

A side effect for measuring: /proc/PID/status and /proc/PID/stat stay readable to the user,
/proc/PID/io (and smaps, environ, fd) need root once the process is non-dumpable.
"""
from __future__ import annotations

import ctypes
import logging
import os
import resource
import sys

__all__ = ["harden", "dumpable"]

log = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3   # <linux/prctl.h>
PR_SET_DUMPABLE = 4


def _prctl(option: int, arg: int = 0) -> int:
    """prctl(2) through libc; raises OSError with errno on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.restype = ctypes.c_int
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    result = int(libc.prctl(option, arg, 0, 0, 0))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def dumpable() -> bool | None:
    """Whether this process may be dumped and traced by its user (None: not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    return _prctl(PR_GET_DUMPABLE) != 0


def harden() -> list[str]:
    """Switch core dumps off and mark the process non-dumpable. Returns what could not be done
    (also logged as warnings); the service runs on either way."""
    problems: list[str] = []
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as exc:
        problems.append(f"could not switch core dumps off (RLIMIT_CORE): {exc}")
    if sys.platform.startswith("linux"):
        try:
            _prctl(PR_SET_DUMPABLE, 0)
        except (OSError, AttributeError) as exc:  # AttributeError: a libc without prctl
            problems.append(f"could not mark the process non-dumpable (prctl PR_SET_DUMPABLE): {exc}")
    for p in problems:
        log.warning("%s; tokens in memory are less protected", p)
    return problems
