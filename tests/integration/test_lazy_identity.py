"""Headers only until publish time (issue 18, item 1): checking a pair reads no content hash
unless content of its size was claimed or published. The hash function is wrapped and counted;
the Service is built in this process and fed one snapshot of real files."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

import ralph_watch.record as record_module
from ralph_watch.record import Identity, file_identity
from ralph_watch.service import Service
from ralph_watch.tasks import State
from tests.support.inprocess import snapshot
from tests.support.videos import small_mp4

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every content hash read (record.identity_of_fd, which file_identity calls), by size."""
    seen: list[int] = []
    real = record_module.identity_of_fd

    def counting(fd: int) -> Identity:
        ident = real(fd)
        seen.append(ident.size)
        return ident
    monkeypatch.setattr(record_module, "identity_of_fd", counting)
    return seen


def _pair(service: Service, name: str) -> None:
    small_mp4(service.inbox, f"{name}.mp4")
    (service.inbox / f"{name}.yaml").write_text('privacy: private\nat: "2099-01-01 12:00"\n')


def test_a_pair_with_no_same_size_content_is_scheduled_without_its_hash(service: Service, hashes: list[int]) -> None:
    _pair(service, "clip")
    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    task = service.board.by_key("clip")
    assert task is not None and task.state is State.SCHEDULED
    assert hashes == []
    assert task.identity is not None and not task.identity.hashed


def test_same_size_published_content_makes_the_check_read_the_hash(service: Service, hashes: list[int]) -> None:
    _pair(service, "clip")
    size = (service.inbox / "clip.mp4").stat().st_size
    service.primary.duplicates.guard.remember(f"{size}:{'0' * 64}", WHEN)   # other content, same size
    service.primary.duplicates.guard.remember(f"{size + 1}:{'1' * 64}", WHEN)
    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    task = service.board.by_key("clip")
    assert task is not None and task.state is State.SCHEDULED
    assert hashes == [size]
    assert task.identity is not None and task.identity.hashed


def test_a_copy_of_published_content_is_refused_after_reading_its_hash(service: Service, hashes: list[int]) -> None:
    _pair(service, "clip")
    key = file_identity(service.inbox / "clip.mp4").content_key
    hashes.clear()
    service.primary.duplicates.guard.remember(key, WHEN)
    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    task = service.board.by_key("clip")
    assert task is not None and task.state is State.INVALID
    assert task.error is not None and "already published" in task.error
    assert len(hashes) == 1
