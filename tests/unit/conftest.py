"""tests/unit holds the pure core's tests only (issue 13): no threads, sockets, subprocesses,
sleeps or real files. This guard fails a unit test that does any of these; such a test belongs
in tests/integration (or tests/e2e)."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import pytest

# Fixtures that hand a test a real folder on disk.
FILE_FIXTURES = {"tmp_path", "tmp_path_factory", "tmpdir", "tmpdir_factory"}


class ImpureUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _pure_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with pure_only(request.fixturenames, monkeypatch):
        yield


@contextmanager
def pure_only(fixturenames: Iterable[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse I/O and real-time waits until the block ends; raise at the end if any was tried."""
    # Real files are refused by fixture, not by patching tempfile: Hypothesis's example
    # database writes files of its own under any test.
    used = sorted(FILE_FIXTURES & set(fixturenames))
    if used:
        raise ImpureUnitTest(f"a unit test may not use real files ({', '.join(used)}): move it to tests/integration")
    # Recorded as well as raised: the code under test may catch the exception.
    seen: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            seen.append(what)
            raise ImpureUnitTest(f"a unit test may not {what}: move it to tests/integration")
        return refused

    event_wait = threading.Event.wait

    def wait(self: threading.Event, timeout: float | None = None) -> bool:
        # Waiting on an event nobody else can set (there are no threads) is a sleep.
        if self.is_set() or timeout == 0:
            return event_wait(self, 0)
        return bool(refuse("wait on an unset Event (a sleep)")())

    monkeypatch.setattr(threading.Thread, "start", refuse("start a thread"))
    monkeypatch.setattr(threading.Event, "wait", wait)
    for name in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse(f"use a socket ({name})"))
    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("start a subprocess"))
    monkeypatch.setattr(os, "fork", refuse("fork"))
    monkeypatch.setattr(time, "sleep", refuse("sleep"))
    yield
    if seen:
        raise ImpureUnitTest(f"this unit test tried to {', '.join(sorted(set(seen)))}: move it to tests/integration")
