"""The reconciler: what an inbox snapshot means for its task. One row per branch of what was
`Service._apply`, plus the cron Publish now / Retry cases. Pure: no files, no clock, no threads.

Each row gives the inputs (snapshot, task, record, check) and expects the effects in order,
written short (`SetState(invalid)`), and a few values of the final SetState.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from ralph_watch import reconcile as rc
from ralph_watch.dedupe import Refusal
from ralph_watch.inbox import FileState, PairSnapshot
from ralph_watch.record import Identity, PublishRecord
from ralph_watch.tasks import State, Task
from ralph_watch.validate import Validated

S = State
NOW = datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
GRACE = timedelta(hours=6)
IDENT = Identity(size=100, mtime_ns=1, head_tail="ab")
CRON = "0 4 * * *"


def f(rel: str, **kw: Any) -> FileState:
    values = dict(rel=rel, size=100, mtime_ns=1, stable=True, regular=True, symlink=False)
    return FileState(**{**values, **kw})


V, Y = f("clip.mp4"), f("clip.yaml")


def snap(videos: tuple[FileState, ...] = (V,), sidecars: tuple[FileState, ...] = (Y,), **kw: Any) -> PairSnapshot:
    return PairSnapshot(key="clip", videos=videos, sidecars=sidecars, inflight=kw.pop("inflight", None), **kw)


def task(state: State = S.SCHEDULED, **kw: Any) -> Task:
    return Task(id="1", key="clip", video="clip.mp4", sidecar="clip.yaml", state=state, **kw)


def sidecar(*, cron: str | None = None, at: datetime | None = None) -> SimpleNamespace:
    return SimpleNamespace(title="Hi", privacy="SELF_ONLY", mode="direct", cron=cron, at=at,
                           at_text=at.strftime("%Y-%m-%d %H:%M") if at else None, cover_ms=0)


def ok(**kw: Any) -> rc.Check:
    return rc.Check(Validated(sidecar(**kw), info=None, identity=IDENT))


def record(outcome: str, detail: str | None = None) -> PublishRecord:
    return PublishRecord(pair="clip", video="clip.mp4", size=100, mtime_ns=1, head_tail="ab", publish_id="p1",
                         account="x", mode="direct", init_time=NOW.isoformat(), outcome=outcome, detail=detail)


def inputs(**kw: Any) -> rc.Inputs:
    values: dict[str, Any] = dict(snapshot=snap(), task=None, now=NOW, grace=GRACE, settle_seconds=3.0)
    return rc.Inputs(**{**values, **kw})


SIG = rc.signature((V, Y))
LINK = f("clip", symlink=True, regular=False)


def short(e: rc.Effect) -> str:
    if isinstance(e, rc.SetState):
        return f"SetState({e.state.value}{', cron' if e.cron else ''}{', keep' if e.keep_slot else ''})"
    if isinstance(e, rc.NoteLateEdit):
        return f"NoteLateEdit({e.sidecar})"
    return type(e).__name__


def final(plan: rc.Plan) -> dict[str, Any]:
    sets = [e for e in plan.effects if isinstance(e, rc.SetState)]
    return dict(sets[-1].values) if sets else {}


ROWS = [
    # -- a symlink that is no pair member
    pytest.param(inputs(snapshot=snap((), (), links=(LINK,))),
                 ["Create", "SetState(invalid)"], {"error": "clip is a symbolic link: symlinks are not followed, so "
                 "nothing in it is published. Move the real folder (or file) into the inbox."}, id="link-new"),
    pytest.param(inputs(snapshot=snap((), (), links=(LINK,)), task=task(S.PUBLISHED)),
                 ["Detach", "Create", "SetState(invalid)"], {}, id="link-after-published"),
    pytest.param(inputs(snapshot=snap((), (), links=(LINK,)), task=task(S.UPLOADING)), [], {}, id="link-at-tiktok"),
    # -- both files gone
    pytest.param(inputs(snapshot=snap((), ())), ["ForgetSignature"], {}, id="gone-no-task"),
    pytest.param(inputs(snapshot=snap((), ()), task=task()),
                 ["ForgetSignature", "ReleaseSlot", "Remove", "RemoveErrorFile", "DiscardRecord", "PairGone"], {},
                 id="gone-editable"),
    pytest.param(inputs(snapshot=snap((), ()), task=task(S.PUBLISHED, files_kept=True)),
                 ["ForgetSignature", "DiscardRecord", "Update", "Detach"], {}, id="gone-published-files-kept"),
    pytest.param(inputs(snapshot=snap((), ()), task=task(S.UPLOADING)), ["ForgetSignature"], {}, id="gone-at-tiktok"),
    # -- TikTok has it, or it is being settled: edits wait
    pytest.param(inputs(task=task(S.PROCESSING), seen=rc.signature((V, f("clip.yaml", size=5)))),
                 ["NoteLateEdit(clip.yaml)"], {}, id="late-edit-noted"),
    pytest.param(inputs(task=task(S.PROCESSING), seen=SIG), [], {}, id="at-tiktok-unchanged"),
    pytest.param(inputs(task=task(S.NEEDS_LOGIN, settle=True)), ["Update"], {}, id="being-settled"),
    # -- file problems
    pytest.param(inputs(snapshot=snap((f("cl\udcffip.mp4"),))), ["Create", "ForgetSignature", "SetState(invalid)"],
                 {}, id="name-not-utf8"),
    pytest.param(inputs(snapshot=snap((V, f("clip.mov")))), ["Create", "ForgetSignature", "SetState(invalid)"],
                 {"error": "two videos for one name: clip.mp4 and clip.mov; keep only one of them"}, id="two-videos"),
    pytest.param(inputs(snapshot=snap(sidecars=(Y, f("clip.yml")))), ["Create", "ForgetSignature",
                 "SetState(invalid)"], {}, id="two-sidecars"),
    pytest.param(inputs(snapshot=snap((f("clip.mp4", symlink=True, regular=False),))),
                 ["Create", "ForgetSignature", "SetState(invalid)"], {}, id="member-is-a-symlink"),
    pytest.param(inputs(snapshot=snap((f("clip.mp4", regular=False),))),
                 ["Create", "ForgetSignature", "SetState(invalid)"], {}, id="member-not-regular"),
    # -- a crash between deleting the video and the sidecar
    pytest.param(inputs(snapshot=snap(()), task=task(S.WAITING), restored=record("published")),
                 ["Update", "DropRestored", "GuardRestored", "SetState(published)", "DeleteAfterPublish"],
                 {"publish_id": "p1", "identity": IDENT}, id="half-pair-published-before-restart"),
    # -- incomplete or unstable
    pytest.param(inputs(snapshot=snap(())), ["Create", "SetState(waiting)"],
                 {"error": "Waiting for the video clip.mp4 (or .mov, .webm) next to clip.yaml."}, id="no-video"),
    pytest.param(inputs(snapshot=snap(sidecars=(), twin="clíp")), ["Create", "SetState(waiting)"],
                 {"error": "Waiting for the sidecar clip.yaml next to clip.mp4 (`ralph-watch new clip.mp4` writes "
                  "one). Another file has the same name in a different Unicode form (clíp); rename one so both "
                  "are written the same way."}, id="no-sidecar-with-twin"),
    pytest.param(inputs(snapshot=snap(inflight=".clip.mp4.tmp")), ["Create", "SetState(waiting)"],
                 {"error": "Still being synced (.clip.mp4.tmp is in the folder)."}, id="sync-in-flight"),
    pytest.param(inputs(snapshot=snap((f("clip.mp4", size=0),))), ["Create", "SetState(waiting)"], {},
                 id="empty-placeholder"),
    pytest.param(inputs(snapshot=snap(sidecars=(f("clip.yaml", stable=False),))), ["Create", "SetState(waiting)"],
                 {"error": "clip.yaml is still being written; waiting until it has not changed for 3 s."},
                 id="still-written"),
    # -- complete and stable
    pytest.param(inputs(task=task(), seen=SIG), ["Update"], {}, id="nothing-new"),
    pytest.param(inputs(task=task(S.WAITING), seen=SIG, check=ok()),
                 ["Update", "RememberSignature", "LiftRefusal", "ReleaseSlot", "SetState(scheduled)"],
                 {"due": NOW}, id="same-files-but-waiting-checks-again"),
    # -- restored from a publish record
    pytest.param(inputs(restored=record("uploading"), check=replace(ok(), same_as_record=True)),
                 ["Create", "RememberSignature", "DropRestored", "GuardRestored", "SetState(needs_login)"],
                 {"settle": True, "publish_id": "p1", "attempts": 1}, id="restored-uploading"),
    pytest.param(inputs(restored=record("in_inbox"), check=replace(ok(), same_as_record=True)),
                 ["Create", "RememberSignature", "DropRestored", "GuardRestored", "SetState(needs_login)"],
                 {"settle": True, "error": "This draft is in your TikTok inbox; after you log in, ralph-watch "
                  "checks whether you posted it."}, id="restored-in-inbox"),
    pytest.param(inputs(restored=record("published"), check=replace(ok(), same_as_record=True)),
                 ["Create", "RememberSignature", "DropRestored", "GuardRestored", "SetState(published)",
                  "DeleteAfterPublish"], {"publish_id": "p1"}, id="restored-published"),
    pytest.param(inputs(restored=record("failed", "TikTok said no"), check=replace(ok(), same_as_record=True)),
                 ["Create", "RememberSignature", "DropRestored", "GuardRestored", "SetState(failed)"],
                 {"error": "TikTok said no"}, id="restored-failed"),
    pytest.param(inputs(restored=record("uploading"), check=ok()),
                 ["Create", "RememberSignature", "DropRestored", "DiscardRecord", "LiftRefusal", "ReleaseSlot",
                  "SetState(scheduled)"], {}, id="restored-but-the-video-changed"),
    # -- checked
    pytest.param(inputs(snapshot=snap((f("clip.mp4", early=True),)), check=rc.Check(None, ("bad",))),
                 ["Create", "RememberSignature", "SetState(waiting)"], {}, id="renamed-in-early-and-not-ok-yet"),
    pytest.param(inputs(check=rc.Check(None, ("clip.yaml:1: bad", "clip.mp4: worse"))),
                 ["Create", "RememberSignature", "ReleaseSlot", "SetState(invalid)"],
                 {"error": "clip.yaml:1: bad\nclip.mp4: worse", "sidecar_data": None}, id="invalid"),
    pytest.param(inputs(check=replace(ok(), refusal=Refusal(published_at=NOW), refusal_text="already published")),
                 ["Create", "RememberSignature", "KeepRefused", "SetState(invalid)"],
                 {"error": "already published", "identity": IDENT}, id="copy-of-published-content"),
    pytest.param(inputs(check=replace(ok(), refusal=Refusal(holder="other"), refusal_text="being published")),
                 ["Create", "RememberSignature", "SetState(invalid)"], {"error": "being published"},
                 id="copy-of-content-being-published"),
    pytest.param(inputs(task=task(S.WAITING), forced=True, check=replace(ok(), refusal=Refusal(holder="o"))),
                 ["Update", "RememberSignature", "LiftRefusal", "Unforce", "ReleaseSlot", "SetState(scheduled)"],
                 {"due": NOW, "held": True}, id="retry-publishes-now-even-a-copy"),
    pytest.param(inputs(check=ok(cron=CRON)), ["Create", "RememberSignature", "LiftRefusal",
                 "SetState(scheduled, cron)"], {"held": False, "cron_key": CRON}, id="cron-takes-a-slot"),
    pytest.param(inputs(task=task(S.WAITING, cron_key=CRON), check=ok(cron=CRON)),
                 ["Update", "RememberSignature", "LiftRefusal", "SetState(scheduled, cron, keep)"], {},
                 id="cron-keeps-its-slot"),
    pytest.param(inputs(task=task(S.SCHEDULED, cron_key="0 5 * * *"), check=ok(cron=CRON)),
                 ["Update", "RememberSignature", "LiftRefusal", "SetState(scheduled, cron)"], {},
                 id="cron-line-edited-takes-a-new-slot"),
    # Publish now pinned a cron pair (held, its slot given up); a sidecar edit puts it back in its queue.
    pytest.param(inputs(task=task(S.SCHEDULED, cron_key=CRON, held=True, due=NOW), check=ok(cron=CRON)),
                 ["Update", "RememberSignature", "LiftRefusal", "SetState(scheduled, cron, keep)"],
                 {"held": False}, id="cron-publish-now-then-edited"),
    # Retry of a failed cron pair: due now and pinned, never held back by its queue.
    pytest.param(inputs(task=task(S.WAITING, cron_key=CRON), forced=True, check=ok(cron=CRON)),
                 ["Update", "RememberSignature", "LiftRefusal", "Unforce", "ReleaseSlot", "SetState(scheduled)"],
                 {"due": NOW, "held": True}, id="cron-retry-publishes-now"),
    pytest.param(inputs(check=ok(at=NOW + timedelta(days=1))), ["Create", "RememberSignature", "LiftRefusal",
                 "ReleaseSlot", "SetState(scheduled)"], {"due": NOW + timedelta(days=1)}, id="at-in-the-future"),
    pytest.param(inputs(check=ok(at=NOW - timedelta(hours=1))), ["Create", "RememberSignature", "LiftRefusal",
                 "ReleaseSlot", "SetState(scheduled)"], {"due": NOW - timedelta(hours=1)}, id="at-late-within-grace"),
    pytest.param(inputs(check=ok(at=NOW - timedelta(hours=7))), ["Create", "RememberSignature", "LiftRefusal",
                 "ReleaseSlot", "SetState(missed)"], {"error": "`at: 2026-12-24 10:00` is more than 6 h in the "
                 "past. Edit `at:` to a future time, or press Retry to publish it now."}, id="at-beyond-grace"),
    pytest.param(inputs(task=task(S.PUBLISHED), check=ok()), ["Detach", "Create", "RememberSignature",
                 "LiftRefusal", "ReleaseSlot", "SetState(scheduled)"], {"due": NOW, "title": "Hi",
                 "privacy": "SELF_ONLY"}, id="new-pair-with-the-name-of-a-published-one"),
]


@pytest.mark.parametrize(("inp", "effects", "values"), ROWS)
def test_it_decides_what_a_snapshot_means_for_its_task(inp: rc.Inputs, effects: list[str],
                                                       values: dict[str, Any]) -> None:
    plan = rc.reconcile(inp)
    assert plan.check is None
    assert [short(e) for e in plan.effects] == effects
    got = final(plan)
    assert {k: got.get(k) for k in values} == values


@pytest.mark.parametrize("inp", [
    pytest.param(inputs(), id="new-complete-pair"),
    pytest.param(inputs(task=task(), seen=rc.signature((V, f("clip.yaml", size=7)))), id="edited"),
    pytest.param(inputs(task=task(), seen=SIG, forced=True), id="retry-with-the-same-files"),
    pytest.param(inputs(restored=record("uploading")), id="restored-record"),
])
def test_it_asks_for_a_check_before_deciding_a_complete_pair(inp: rc.Inputs) -> None:
    assert rc.reconcile(inp) == rc.Plan(check=("clip.mp4", "clip.yaml"))
