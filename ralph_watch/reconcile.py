"""What an inbox snapshot means for its task: the reconciler (pure).

`reconcile(Inputs)` takes the pair's snapshot (only files that still exist), its task, the
publish record restored at start, the signature last validated and `now`, and returns a `Plan`:
the effects to carry out, in order (`pairsync.PairSync` carries them out). A complete, stable
pair needs its files checked (sidecar parse, probe, duplicate guard: I/O), so the first call
returns `Plan(check=(video, sidecar))`; the caller checks and calls again with `Inputs.check`.
Nothing here reads the clock, touches a file or takes a lock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Mapping, Union

from .dedupe import Refusal
from .inbox import FileState, PairSnapshot, is_utf8_name, shown_name
from .schedule import at_verdict
from .tasks import EDITABLE, State, Task

if TYPE_CHECKING:  # annotations only: the reconciler imports no module that reads files
    from .record import Identity, PublishRecord
    from .validate import Validated

__all__ = ["Inputs", "Check", "Plan", "Effect", "Signature", "reconcile", "signature",
           "Create", "Detach", "Update", "Remove", "SetState", "ReleaseSlot", "RemoveErrorFile", "DiscardRecord",
           "PairGone", "ForgetSignature", "RememberSignature", "DropRestored", "GuardRestored",
           "DeleteAfterPublish", "NoteLateEdit", "KeepRefused", "LiftRefusal", "Unforce"]

S = State
Signature = tuple[tuple[str, int, int], ...]   # (rel, size, mtime_ns) of every file, as validated
AT_TIKTOK = (S.UPLOADING, S.PROCESSING, S.IN_INBOX)


@dataclass(frozen=True)
class Check:
    """What checking the complete pair found (the caller's I/O)."""

    result: Validated | None               # None: `problems` say why it cannot be published
    problems: tuple[str, ...] = ()
    refusal: Refusal | None = None         # the duplicate guard on result's content
    refusal_text: str | None = None        # the sentence for that refusal
    same_as_record: bool = False           # the video is still the one the restored record names


@dataclass(frozen=True)
class Inputs:
    snapshot: PairSnapshot                 # files that no longer exist already left out
    task: Task | None
    now: datetime
    grace: timedelta                       # the late grace (the scheduler's)
    settle_seconds: float                  # for the "still being written" sentence
    seen: Signature | None = None          # the signature last validated
    forced: bool = False                   # Retry asked to publish it now
    restored: PublishRecord | None = None  # its publish record from before a restart
    check: Check | None = None


# -- effects, carried out in order -----------------------------------------------------------
@dataclass(frozen=True)
class Create:                 # a new task for the pair (state waiting, note "found")
    video: str | None
    sidecar: str | None


@dataclass(frozen=True)
class Detach:                 # the task stays as history; its key is free for a new task
    pass


@dataclass(frozen=True)
class Update:                 # fields other than the state
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Remove:                 # the task leaves the board
    pass


@dataclass(frozen=True)
class SetState:
    """Move the task to `state` (or update it when it is there already) with `values`. With
    `cron`, `due` is the pair's slot in that queue: the one it holds when `keep_slot`, else the
    earliest free one (the scheduler's)."""

    state: State
    values: Mapping[str, Any] = field(default_factory=dict)
    cron: str | None = None
    keep_slot: bool = False


@dataclass(frozen=True)
class ReleaseSlot:            # give the pair's cron slot back
    pass


@dataclass(frozen=True)
class RemoveErrorFile:
    pass


@dataclass(frozen=True)
class DiscardRecord:          # its publish (or refused) record
    pass


@dataclass(frozen=True)
class PairGone:               # its files are gone: its refusal and any claim go with them
    pass


@dataclass(frozen=True)
class ForgetSignature:
    pass


@dataclass(frozen=True)
class RememberSignature:
    signature: Signature


@dataclass(frozen=True)
class DropRestored:           # the restored record has been used (or is stale)
    pass


@dataclass(frozen=True)
class GuardRestored:          # its content is at TikTok, or went out
    record: PublishRecord


@dataclass(frozen=True)
class DeleteAfterPublish:     # finish deleting the files of a published pair
    pass


@dataclass(frozen=True)
class NoteLateEdit:           # the sidecar changed after TikTok got the post: say it was not applied
    sidecar: str


@dataclass(frozen=True)
class KeepRefused:            # a refused copy of published content: the refusal outlasts a restart
    identity: Identity
    published_at: datetime


@dataclass(frozen=True)
class LiftRefusal:            # the pair is no duplicate (any more)
    pass


@dataclass(frozen=True)
class Unforce:                # Retry's "publish now" is used up
    pass


Effect = Union[Create, Detach, Update, Remove, SetState, ReleaseSlot, RemoveErrorFile, DiscardRecord, PairGone,
               ForgetSignature, RememberSignature, DropRestored, GuardRestored, DeleteAfterPublish, NoteLateEdit,
               KeepRefused, LiftRefusal, Unforce]


@dataclass(frozen=True)
class Plan:
    effects: tuple[Effect, ...] = ()
    check: tuple[str, str] | None = None   # (video, sidecar): check them, then reconcile again


def signature(files: tuple[FileState, ...]) -> Signature:
    return tuple((f.rel, f.size, f.mtime_ns) for f in files)


def reconcile(inp: Inputs) -> Plan:
    snap, task = inp.snapshot, inp.task
    if snap.links and not snap.videos and not snap.sidecars:
        return Plan(_refuse_link(task, snap.links[0].rel))
    if not snap.videos and not snap.sidecars:
        return Plan(_gone(task))
    out: list[Effect] = []
    if task is not None and task.state in (S.PUBLISHED, S.CANCELLED) and not task.files_kept:
        out.append(Detach())  # a new pair with the name of a finished one
        task = None
    video = snap.videos[0] if snap.videos else None
    side = snap.sidecars[0] if snap.sidecars else None
    rels = {"video": video.rel if video else None, "sidecar": side.rel if side else None}
    if task is None:
        out.append(Create(**rels))
        state, settle, attempts, cron_key = S.WAITING, False, 0, None
    else:
        if task.state in EDITABLE:
            out.append(Update(rels))
        state, settle, attempts, cron_key = task.state, task.settle, task.attempts, task.cron_key
    if state not in EDITABLE or settle:
        if side is not None and task is not None and state in AT_TIKTOK and _edited(inp.seen, side):
            out.append(NoteLateEdit(side.rel))
        return Plan(tuple(out))  # TikTok has it (or it is being settled): edits wait
    problems = _file_problems(snap)
    if problems:
        return Plan((*out, ForgetSignature(), SetState(S.INVALID, {"error": "\n".join(problems)})))
    rec = inp.restored
    if (video is None or side is None) and rec is not None and rec.outcome == "published":
        # A crash between deleting the video and the sidecar: finish that deletion.
        return Plan((*out, DropRestored(), GuardRestored(rec),
                     SetState(S.PUBLISHED, {"publish_id": rec.publish_id, "identity": rec.identity}),
                     DeleteAfterPublish()))
    waiting = _waiting(snap, video, side, inp.settle_seconds)
    if waiting is not None:
        return Plan((*out, SetState(S.WAITING, {"error": waiting})))
    assert video is not None and side is not None
    sig = signature(snap.videos + snap.sidecars)
    if inp.seen == sig and state is not S.WAITING and not inp.forced:
        return Plan(tuple(out))  # nothing new since the last check
    if inp.check is None:
        return Plan(check=(video.rel, side.rel))
    out += [RememberSignature(sig)]
    if rec is not None:
        out.append(DropRestored())
        if inp.check.same_as_record:
            return Plan((*out, *_restore(rec, inp.check.result, attempts)))
        out.append(DiscardRecord())  # changed since its record was written: a new video
    return Plan((*out, *_checked(inp, video, side, cron_key)))


def _gone(task: Task | None) -> tuple[Effect, ...]:
    """Both files are gone."""
    if task is None:
        return (ForgetSignature(),)
    if task.state in EDITABLE:
        return (ForgetSignature(), ReleaseSlot(), Remove(), RemoveErrorFile(), DiscardRecord(), PairGone())
    if task.state is S.PUBLISHED and task.files_kept:
        return (ForgetSignature(), DiscardRecord(),
                Update({"files_kept": False, "error": None, "followup": None, "followup_kind": None}), Detach())
    return (ForgetSignature(),)


def _refuse_link(task: Task | None, rel: str) -> tuple[Effect, ...]:
    """A symlink in the inbox that is no pair member (a linked folder): a task says why it is
    not used. It is never entered: links are not followed."""
    out: list[Effect] = []
    if task is not None and task.state in (S.PUBLISHED, S.CANCELLED):
        out.append(Detach())
        task = None
    if task is None:
        out.append(Create(video=rel, sidecar=None))   # named on the page; Cancel removes the link
    if task is None or (task.state in EDITABLE and not task.settle):
        out.append(SetState(S.INVALID, {"video": rel, "sidecar": None, "error": (
            f"{shown_name(rel)} is a symbolic link: symlinks are not followed, so nothing in it is "
            "published. Move the real folder (or file) into the inbox.")}))
    return tuple(out)


def _edited(seen: Signature | None, side: FileState) -> bool:
    """The sidecar differs from the one last validated (unknown counts as unchanged)."""
    known = {rel: (size, mtime) for rel, size, mtime in seen or ()}
    return known.get(side.rel, (side.size, side.mtime_ns)) != (side.size, side.mtime_ns)


def _file_problems(snap: PairSnapshot) -> list[str]:
    videos, sidecars, show = snap.videos, snap.sidecars, shown_name
    problems = [f"{show(f.rel)}: the name is not valid UTF-8 (shown here with \\x escapes); rename it"
                for f in videos + sidecars if not is_utf8_name(f.rel)]
    if len(videos) > 1:
        problems.append(f"two videos for one name: {show(videos[0].rel)} and {show(videos[1].rel)}; keep only "
                        "one of them")
    if len(sidecars) > 1:
        problems.append(f"two sidecars for one name: {show(sidecars[0].rel)} and {show(sidecars[1].rel)}; keep "
                        "only one")
    for f in videos + sidecars:
        if f.symlink:
            problems.append(f"{show(f.rel)} is a symbolic link; ralph-watch never follows links: put the file "
                            "itself into the inbox")
        elif not f.regular:
            problems.append(f"{show(f.rel)} is not a regular file (a folder, pipe or device): remove or rename it")
    return problems


def _waiting(snap: PairSnapshot, video: FileState | None, side: FileState | None, settle: float) -> str | None:
    """Why a pair without file problems is not complete and stable yet, or None."""
    show = shown_name
    name = snap.key.rsplit("/", 1)[-1]
    twin = (f" Another file has the same name in a different Unicode form ({show(snap.twin)}); rename one so "
            "both are written the same way." if snap.twin else "")
    if video is None:
        assert side is not None
        return f"Waiting for the video {show(name)}.mp4 (or .mov, .webm) next to {show(side.rel)}.{twin}"
    if side is None:
        return (f"Waiting for the sidecar {show(name)}.yaml next to {show(video.rel)} "
                f"(`ralph-watch new {show(video.rel)}` writes one).{twin}")
    if snap.inflight:
        return f"Still being synced ({show(snap.inflight)} is in the folder)."
    if video.size == 0:
        return (f"{show(video.rel)} is empty: probably an online-only placeholder of a sync client. Make the "
                "file available offline on this machine.")
    if not (video.stable and side.stable):
        busy = video.rel if not video.stable else side.rel
        return f"{show(busy)} is still being written; waiting until it has not changed for {settle:g} s."
    return None


def _post_values(result: Validated) -> dict[str, Any]:
    sc = result.sidecar
    return dict(title=sc.title, privacy=sc.privacy if sc.mode == "direct" else None, mode=sc.mode,
                sidecar_data=sc, video_info=result.info, cron_key=sc.cron)


def _restore(rec: PublishRecord, result: Validated | None, attempts: int) -> tuple[Effect, ...]:
    """A publish record from before a restart: restore its state instead of publishing again."""
    info = _post_values(result) if result is not None else {}
    info.update(identity=rec.identity, publish_id=rec.publish_id, attempts=max(attempts, 1),
                mode=info.get("mode") or rec.mode)
    if rec.outcome in ("uploading", "processing"):
        step: tuple[Effect, ...] = (SetState(S.NEEDS_LOGIN, {"settle": True, **info, "error": (
            "This video was sent to TikTok before a restart. After you log in, ralph-watch asks "
            "TikTok how it ended instead of publishing it again.")}),)
    elif rec.outcome == "in_inbox":
        step = (SetState(S.NEEDS_LOGIN, {"settle": True, **info, "error": (
            "This draft is in your TikTok inbox; after you log in, ralph-watch checks whether "
            "you posted it.")}),)
    elif rec.outcome == "published":
        step = (SetState(S.PUBLISHED, info), DeleteAfterPublish())
    else:
        step = (SetState(S.FAILED, {**info, "error": rec.detail or (
            "TikTok refused this video before a restart; the files are kept. Press Retry to try again.")}),)
    return (GuardRestored(rec), *step)


def _checked(inp: Inputs, video: FileState, side: FileState, cron_key: str | None) -> tuple[Effect, ...]:
    """The pair was checked: invalid, a refused duplicate, missed, or scheduled (and when)."""
    check = inp.check
    assert check is not None
    result = check.result
    if result is None and (video.early or side.early):
        # Renamed into place moments ago: taken early only if it checks out (the probe found a
        # complete container). Anything else waits for the full settle before it is refused.
        busy = video.rel if video.early else side.rel
        return (SetState(S.WAITING, {"error": (
            f"{shown_name(busy)} was just renamed into place but does not check out yet; waiting until it has "
            f"not changed for {inp.settle_seconds:g} s before deciding.")}),)
    if result is None:
        return (ReleaseSlot(), SetState(S.INVALID, {"error": "\n".join(str(p) for p in check.problems),
                                                    "sidecar_data": None}))
    refusal = check.refusal
    if refusal is not None and not inp.forced:
        keep: tuple[Effect, ...] = ()
        if refusal.published_at is not None:
            keep = (KeepRefused(result.identity, refusal.published_at),)
        return (*keep, SetState(S.INVALID, {"identity": result.identity, "error": check.refusal_text}))
    sc = result.sidecar
    values = {**_post_values(result), "identity": result.identity, "retries": 0, "held": False, "error": None,
              "progress": None}
    out: list[Effect] = [LiftRefusal()]
    if inp.forced:  # Retry: now, pinned like Publish now (schedule.due_decision)
        return (*out, Unforce(), ReleaseSlot(), SetState(S.SCHEDULED, {**values, "due": inp.now, "held": True}))
    if sc.cron:
        return (*out, SetState(S.SCHEDULED, values, cron=sc.cron, keep_slot=cron_key == sc.cron))
    out.append(ReleaseSlot())
    due = sc.at or inp.now
    verdict, sentence = (None, "") if sc.at is None else at_verdict(sc.at, sc.at_text or "", now=inp.now,
                                                                   grace=inp.grace)
    if verdict == "missed":
        return (*out, SetState(S.MISSED, {**values, "due": due, "error": sentence}))
    return (*out, SetState(S.SCHEDULED, {**values, "due": due}))
