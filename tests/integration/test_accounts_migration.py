"""Moving from one account to several loses nothing (issue 15).

A user who changes `inbox: X` to `accounts: {main: {inbox: X}, brand: {...}}` keeps every publish
record across the restart that applies it, in each settled state: no pair with a record is
published anew. The records are written in the flat layout of the one-account versions, then the
real service starts (real files, the real watcher's first scan, not logged in: nothing may go to
TikTok) with the new config, and each pair must come back as its record says.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ralph_watch.config import load_config
from ralph_watch.record import PublishRecord, RecordStore, RefusedRecord, file_identity
from ralph_watch.record_layout import records_dir
from ralph_watch.service import Service
from ralph_watch.tasks import State
from tests.support.videos import small_mp4
from tests.support.wait import wait_until

S = State
NOW = datetime.now(timezone.utc).replace(microsecond=0)

# outcome of the record -> the state its pair comes back in, and words of its sentence
SETTLED = [
    pytest.param("uploading", S.NEEDS_LOGIN, "before a restart", id="uploading-final-bytes-sent"),
    pytest.param("processing", S.NEEDS_LOGIN, "before a restart", id="processing"),
    pytest.param("in_inbox", S.NEEDS_LOGIN, "in your TikTok inbox", id="draft-in-inbox"),
    pytest.param("failed", S.FAILED, "TikTok refused it: bad", id="failed"),
    pytest.param("published", S.PUBLISHED, None, id="published-files-left-by-a-crash"),
]


def write_pair(inbox: Path, name: str) -> Path:
    video = small_mp4(inbox, f"{name}.mp4")
    (inbox / f"{name}.yaml").write_text(f"title: {name}\nprivacy: private\n")
    return video


def flat_record(state_dir: Path, inbox: Path, name: str, outcome: str) -> None:
    ident = file_identity(inbox / f"{name}.mp4")
    RecordStore(state_dir).put(PublishRecord(
        pair=name, video=f"{name}.mp4", size=ident.size, mtime_ns=ident.mtime_ns, head_tail=ident.digest,
        publish_id=f"v_pub_file~v2-{name}", account="a" * 64, mode="draft" if outcome == "in_inbox" else "direct",
        init_time=NOW.isoformat(), outcome=outcome, detail="TikTok refused it: bad" if outcome == "failed" else None,
        final_sent=True))


def service(root: Path, config: str) -> Service:
    text = config + f"state_dir: {root / 'state'}\ntimezone: Europe/Berlin\n"
    cfg = load_config(text, base_dir=root, environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
    return Service(cfg, serve_web=False)


@pytest.fixture
def world(tmp_path):
    inbox, brand = tmp_path / "inbox", tmp_path / "brand"
    inbox.mkdir()
    brand.mkdir()
    return tmp_path, inbox, brand


def start_with_accounts(root: Path, inbox: Path, brand: Path) -> Service:
    svc = service(root, f"accounts:\n  main:\n    inbox: {inbox}\n  brand:\n    inbox: {brand}\n")
    svc.start()
    return svc


@pytest.mark.parametrize("outcome,state,words", SETTLED)
def test_a_record_in_each_settled_state_survives_the_move_to_accounts(world, outcome, state, words):
    root, inbox, brand = world
    write_pair(inbox, "clip")
    flat_record(root / "state", inbox, "clip", outcome)
    svc = start_with_accounts(root, inbox, brand)
    try:
        def task():
            found = [t for t in svc.board.select(lambda t: t.key == "clip")]
            return found[0] if found else None
        wait_until(lambda: task() is not None and task().state is state, 10, f"clip {state.value}")
        t = task()
        assert t.account == "main"
        if words is not None:
            assert words in (t.error or "")
        if outcome == "published":   # the crash came between TikTok's confirmation and the deletion
            wait_until(lambda: not (inbox / "clip.mp4").exists(), 10, "the published pair's files to go")
        else:
            assert (inbox / "clip.mp4").exists(), "nothing but a confirmed post deletes a video"
        assert not list((root / "state" / "records").glob("*.json")), "the flat layout is moved"
        assert len(list(records_dir(root / "state", inbox).glob("*.json"))) == (0 if outcome == "published" else 1)
        assert svc.board.select(lambda t: t.state in (S.SCHEDULED, S.UPLOADING)) == []
    finally:
        svc.shutdown()


def test_a_refused_duplicate_stays_refused_after_the_move(world):
    root, inbox, brand = world
    write_pair(inbox, "copy")
    ident = file_identity(inbox / "copy.mp4")
    RecordStore(root / "state").put(RefusedRecord(pair="copy", video="copy.mp4", size=ident.size,
                                                  mtime_ns=ident.mtime_ns, head_tail=ident.digest,
                                                  published_at=NOW.isoformat()))
    svc = start_with_accounts(root, inbox, brand)
    try:
        def state():
            found = svc.board.select(lambda t: t.key == "copy")
            return found[0].state if found else None
        wait_until(lambda: state() is S.INVALID, 10, "the copy refused again")
        assert "already published" in svc.board.select(lambda t: t.key == "copy")[0].error
    finally:
        svc.shutdown()
