"""The client under upload.max_rate: every block goes through the shared pacer, blocks are
small enough for smooth pacing, time spent pacing never counts as a stalled TikTok, and a
stop while pacing abandons the upload."""
from __future__ import annotations

import threading

import pytest

from ralph_watch.clock import FakeClock
from tests.integration.test_client import Progress, small_init
from tests.unit.test_client import FakeTikTok, make_client, raises, sha


@pytest.fixture
def fake() -> FakeTikTok:
    return FakeTikTok()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 40 + b"tail!")     # 10,245 bytes, as in test_client
    return path


class RecordingPacer:
    """A pacer that asks for `claims` seconds of waiting per block and records the blocks."""

    def __init__(self, rate: float = 100_000.0, claims: float = 0.0) -> None:
        self.rate = rate
        self.claims = claims
        self.blocks: list[int] = []

    @property
    def block(self) -> int:
        return 1000

    def reserve(self, n: int) -> float:
        self.blocks.append(n)
        return self.claims


def logged_in_client(fake, clock, pacer, **kw):
    c = make_client(fake, clock, pacer=pacer, **kw)
    c.exchange_code("good-code", code_verifier="v" * 43)
    return c


def test_every_byte_goes_through_the_pacer_in_its_block_size(fake, clock, video):
    pacer = RecordingPacer()
    c = logged_in_client(fake, clock, pacer)
    c.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(), cancel=threading.Event())
    assert sum(pacer.blocks) == 10_245 and max(pacer.blocks) <= 1000
    assert fake.sha.hexdigest() == sha(video)


def test_time_spent_pacing_is_not_a_stalled_upload(fake, video):
    # Each chunk spends ~0.4 s waiting for the cap, four times its 0.1 s stall deadline.
    from ralph_watch.clock import SystemClock

    c = logged_in_client(fake, SystemClock(), RecordingPacer(claims=0.2), chunk_deadline=0.1)
    c.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(), cancel=threading.Event())
    assert fake.sha.hexdigest() == sha(video)


def test_a_cancel_while_pacing_abandons_the_upload_before_the_rest(fake, clock, video):
    cancel = threading.Event()

    class Cancelling(RecordingPacer):
        def reserve(self, n: int) -> float:
            super().reserve(n)
            if len(self.blocks) == 3:
                cancel.set()        # Ctrl-C arrives while the upload waits for the cap
            return 30.0 if len(self.blocks) >= 3 else 0.0

    c = logged_in_client(fake, clock, Cancelling())
    err = raises(c.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(), cancel=cancel)
    assert err.code == "cancelled" and fake.received < 10_245
