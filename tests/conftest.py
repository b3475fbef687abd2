"""Settings for the whole suite."""
from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment, which a run in
    # one process does not have; the CLI subprocesses the tests start would then lay out their tables
    # for 80 columns instead of the 120 a pipe gets.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
