"""Fixtures for end-to-end tests: an emulator in this process, the service as a subprocess."""
from __future__ import annotations

from dataclasses import replace

import pytest

from ralph_watch.emulator import EmulatorServer, load_profile
from tests.support.service import ServiceProcess

FAST = dict(processing_seconds=0.2, moderation_seconds=0.2)


@pytest.fixture
def emulator():
    profile = load_profile(None)
    profile = replace(profile, limits=replace(profile.limits, **FAST))
    emu = EmulatorServer(profile).start()
    yield emu
    emu.stop()


@pytest.fixture
def make_service(tmp_path, emulator):
    made: list[ServiceProcess] = []

    def make(*, root=None, limits=None, **kw) -> ServiceProcess:
        lim = {**FAST, **(limits or {})}
        svc = ServiceProcess(root or tmp_path, emulator, limits=lim, **kw)
        made.append(svc)
        return svc
    yield make
    for svc in made:
        try:
            svc.kill()
        finally:
            svc.close()


@pytest.fixture
def service(make_service):
    return make_service().start()
