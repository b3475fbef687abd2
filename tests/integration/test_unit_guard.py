"""The guard in tests/unit/conftest.py fails a unit test that does I/O or waits on real time."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from typing import Callable

import pytest

from tests.unit.conftest import ImpureUnitTest, pure_only


def swallowed_thread() -> None:
    try:
        threading.Thread(target=lambda: None).start()
    except Exception:
        pass  # the code under test hides the refusal: the guard still fails the test


CASES: dict[str, Callable[[], object]] = {
    "thread": lambda: threading.Thread(target=lambda: None).start(),
    "socket": lambda: socket.socket().bind(("127.0.0.1", 0)),
    "subprocess": lambda: subprocess.run(["true"]),
    "sleep": lambda: time.sleep(0),
    "event": lambda: threading.Event().wait(0.01),
    "caught": swallowed_thread,
}


@pytest.mark.parametrize("act", CASES.values(), ids=CASES.keys())
def test_it_fails_a_unit_test_that_does_io(act: Callable[[], object]) -> None:
    with pytest.raises(ImpureUnitTest), pytest.MonkeyPatch.context() as mp, pure_only([], mp):
        act()


def test_it_fails_a_unit_test_that_asks_for_tmp_path() -> None:
    with pytest.raises(ImpureUnitTest, match="tmp_path"), pytest.MonkeyPatch.context() as mp, \
            pure_only(["tmp_path"], mp):
        pass


def test_it_lets_a_pure_test_pass_and_undoes_its_patches() -> None:
    start = threading.Thread.start
    with pytest.MonkeyPatch.context() as mp, pure_only(["request"], mp):
        e = threading.Event()
        e.set()
        assert e.wait(5) and sum([1, 2]) == 3
    assert threading.Thread.start is start
