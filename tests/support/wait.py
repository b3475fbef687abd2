"""Waiting for a condition with a deadline: the test suite's only way to synchronise."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(pred: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval: float = 0.02) -> T:
    """Poll `pred` until it returns a truthy value; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except AssertionError as exc:  # let predicates use assert for better messages
            last_exc = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f": {last_exc}" if last_exc else ""))
        time.sleep(interval)  # polling interval of the wait helper, not a synchronisation sleep


def wait_file(path, timeout: float = 10.0) -> str:
    """Wait for a file the service writes just after a state change (NAME.error.txt); its text."""
    from pathlib import Path
    p = Path(path)
    wait_until(p.is_file, timeout, f"{p.name} to be written")
    return p.read_text(errors="replace")
