"""The service's side of checking a pair: a bug in a check gives `invalid` with a sentence
(issue 12, item 10), never a pair left `waiting` with only a traceback in the log.

The Service is built in this process (not started: no threads, no web server) and fed one
snapshot of real files, so the reconciler runs exactly as the watcher would call it.
"""
from __future__ import annotations

import pytest

import ralph_watch.pairsync as service_module
from ralph_watch.service import Service
from ralph_watch.tasks import State
from tests.support.inprocess import snapshot
from tests.support.videos import small_mp4


def test_an_unexpected_exception_while_checking_makes_the_pair_invalid_with_a_sentence(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    small_mp4(service.inbox, "clip.mp4")
    (service.inbox / "clip.yaml").write_text("privacy: private\n")

    def broken(*_args: object, **_kw: object) -> None:
        raise OverflowError("date value out of range")
    monkeypatch.setattr(service_module, "validate_pair", broken)

    service.primary.pairs.apply(snapshot(service.inbox, "clip"))
    task = service.board.by_key("clip")
    assert task is not None and task.state is State.INVALID
    assert task.error == ("ralph-watch hit an unexpected error checking this pair (OverflowError); "
                          "please report it")
    assert "(OverflowError); please report it" in (service.inbox / "clip.error.txt").read_text()


def test_a_pair_with_a_calendar_edge_at_is_invalid_naming_file_and_line(service: Service) -> None:
    small_mp4(service.inbox, "old.mp4")
    (service.inbox / "old.yaml").write_text('privacy: private\nat: "0001-01-01 00:00"\n')
    service.primary.pairs.apply(snapshot(service.inbox, "old"))
    task = service.board.by_key("old")
    assert task is not None and task.state is State.INVALID
    assert task.error is not None and task.error.startswith('old.yaml:2: at: "0001-01-01 00:00" is too close')
