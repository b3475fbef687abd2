"""Integration tests: real modules wired together in this process (no subprocess, no browser)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ralph_watch.service import Service
from tests.support.inprocess import make_service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = make_service(tmp_path)
    yield svc
    svc.executor.shutdown(wait=False)
