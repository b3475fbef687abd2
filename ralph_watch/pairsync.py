"""Inbox snapshots into tasks: the shell around the reconciler (`reconcile.py`).

It keeps what the reconciler needs between snapshots (the last snapshot and the signature last
validated per pair, the publish records restored at start, Retry's "publish now"), does the I/O
the reconciler asks for (checking a pair: sidecar, probe, duplicate guard; a restored record's
file identity) and carries the reconciler's effects out, in order, under the account's lock.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Mapping
from zoneinfo import ZoneInfo

from . import reconcile as rc
from .clock import Clock
from .duplicates import Duplicates
from .inbox import FileState, PairSnapshot, shown_name
from .pairfiles import remove_error_file
from .dedupe import needs_hash
from .record import Identity, PublishRecord, RecordStore, file_identity
from .scheduler import Planner
from .tasks import State, Task, TaskBoard
from .validate import validate_pair
from .constants import PRIVACY_LABELS

__all__ = ["PairSync", "Settings"]

log = logging.getLogger(__name__)
S = State


@dataclass(frozen=True)
class Settings:
    """What checking a pair reads from the config (SIGHUP may change `defaults` and the grace)."""

    tz: ZoneInfo
    defaults: Mapping[str, Any]
    settle_seconds: float
    grace: timedelta


class PairSync:
    def __init__(self, *, inbox: Path, board: TaskBoard, lock: ContextManager[object], clock: Clock,
                 settings: Callable[[], Settings], planner: Planner, duplicates: Duplicates, records: RecordStore,
                 finish_delete: Callable[[Task], None], wake: Callable[[], None],
                 probe_cache: dict[Any, Any]) -> None:
        self.inbox = inbox
        self.board = board
        self.lock = lock
        self.clock = clock
        self.settings = settings
        self.planner = planner
        self.duplicates = duplicates
        self.records = records
        self.finish_delete = finish_delete   # the publisher deletes a published pair's files
        self.wake = wake
        self.probe_cache = probe_cache
        self.snapshots: dict[str, PairSnapshot] = {}   # last snapshot per pair key
        self.validated: dict[str, rc.Signature] = {}   # pair key -> file signature last validated
        self.restored: dict[str, PublishRecord] = {}
        self.force_now: set[str] = set()               # pairs the user asked to publish now (Retry)

    # -- entry points ----------------------------------------------------------------------------
    def on_snapshots(self, snapshots: list[PairSnapshot]) -> None:
        """The watcher's sink."""
        with self.lock:
            for snap in sorted(snapshots, key=lambda s: s.key):  # file-name order (cron slots at start)
                try:
                    self.snapshots[snap.key] = snap
                    if not snap.videos and not snap.sidecars:
                        self.snapshots.pop(snap.key, None)
                    self.apply(snap)
                except Exception:
                    log.exception("could not process %s", snap.key)
        self.wake()

    def revalidate(self, key: str) -> None:
        """Check a pair again from its last snapshot (its files changed under a task)."""
        with self.lock:
            self.validated.pop(key, None)
            snap = self.snapshots.get(key)
            if snap is not None:
                self.apply(snap)
        self.wake()

    def recheck(self, keep: Callable[[Task | None], bool]) -> None:
        """Check every pair again whose task `keep` selects (SIGHUP changed what decides validity)."""
        with self.lock:
            for snap in sorted(self.snapshots.values(), key=lambda s: s.key):
                if not keep(self.board.by_key(snap.key)):
                    continue
                self.validated.pop(snap.key, None)
                try:
                    self.apply(snap)
                except Exception:
                    log.exception("could not process %s", snap.key)

    def forget(self, key: str) -> None:
        """Cancelled: the pair's last check is forgotten."""
        self.validated.pop(key, None)

    def retry(self, key: str) -> None:
        """Retry: check the pair again and publish it now if it checks out. Its content is
        published again: a video never hashed is hashed here when content of its size went out
        (the caller forgets a hashed identity's content itself)."""
        task = self.board.by_key(key)
        ident = task.identity if task is not None else None
        if ident is not None and task is not None and task.video is not None \
                and needs_hash(hashed=ident.hashed, same_size_content=self.duplicates.has_size(ident.size)):
            hashed = self._hashed(task.video)
            if hashed is not None and hashed.same_file(ident):
                self.duplicates.forget_published(hashed.content_key)
        self.force_now.add(key)
        self.validated.pop(key, None)

    def restore(self, records: Iterable[PublishRecord]) -> None:
        self.restored = {r.pair: r for r in records}

    def forget_orphans(self) -> None:
        """Records whose files are all gone are forgotten (they live as long as a file does)."""
        with self.lock:
            for pair in list(self.restored):
                if pair not in self.snapshots:
                    self.restored.pop(pair)
                    self.records.discard(pair)
            self.duplicates.forget_orphans(lambda pair: pair in self.snapshots)

    # -- one pair --------------------------------------------------------------------------------
    def apply(self, snap: PairSnapshot) -> None:
        key = snap.key
        task = self.board.by_key(key)
        cfg = self.settings()
        inp = rc.Inputs(snapshot=self._existing(snap), task=task, now=self.clock.now(), grace=cfg.grace,
                        settle_seconds=cfg.settle_seconds, seen=self.validated.get(key),
                        forced=key in self.force_now, restored=self.restored.get(key))
        plan = rc.reconcile(inp)
        if plan.check is not None:
            plan = rc.reconcile(replace(inp, check=self._check(key, *plan.check, cfg)))
        self._carry_out(key, task, plan.effects, inp.now)

    def _existing(self, snap: PairSnapshot) -> PairSnapshot:
        """A snapshot may be older than a deletion made meanwhile (after a publish or a cancel)."""
        def keep(files: tuple[FileState, ...]) -> tuple[FileState, ...]:
            return tuple(f for f in files if os.path.lexists(self.inbox / f.rel))
        return replace(snap, videos=keep(snap.videos), sidecars=keep(snap.sidecars), links=keep(snap.links))

    def _check(self, key: str, video: str, sidecar: str, cfg: Settings) -> rc.Check:
        rec = self.restored.get(key)
        same, hashed = False, None
        if rec is not None:   # a publish record holds size and hash: matching it needs the hash
            try:
                hashed = file_identity(self.inbox / video)
                same = hashed.same_content(rec.identity)
            except OSError:
                same = False
            if not same:
                log.info("%s changed since its publish record was written; treating it as a new video", video)
        result, problems = self._validate(key, video, sidecar, cfg)
        if result is None:
            return rc.Check(None, tuple(problems), same_as_record=same)
        refusal = None
        if needs_hash(hashed=result.identity.hashed, same_size_content=self.duplicates.has_size(result.identity.size)):
            ident = hashed if hashed is not None and hashed.same_file(result.identity) else self._hashed(video)
            if ident is None:
                return rc.Check(None, (f"{shown_name(video)}: cannot read the video to compare it with the videos "
                                       "already published (was it moved or replaced just now, or are its permissions "
                                       "wrong?); fix that and save or touch the file, and ralph-watch checks it again",),
                                same_as_record=same)
            result = replace(result, identity=ident)
            refusal = self.duplicates.is_refused(ident.content_key, key)
        text = self.duplicates.sentence(video, refusal) if refusal is not None else None
        return rc.Check(result, refusal=refusal, refusal_text=text, same_as_record=same)

    def _hashed(self, video: str) -> Identity | None:
        """The video's identity with its content hash (2 MiB of reads), or None when unreadable."""
        try:
            return file_identity(self.inbox / video)
        except OSError:
            return None

    def _validate(self, key: str, video: str, sidecar: str, cfg: Settings) -> tuple[Any, list[Any]]:
        """validate_pair, but a bug in a check makes the pair `invalid` with a sentence, never
        leaves it `waiting` with only a traceback in the log."""
        try:
            return validate_pair(self.inbox, video=video, sidecar=sidecar, tz=cfg.tz, defaults=cfg.defaults,
                                 probe_cache=self.probe_cache)
        except Exception as exc:  # noqa: BLE001 - any exception: the pair must still get a state
            log.exception("checking %s failed", key)
            return None, [f"ralph-watch hit an unexpected error checking this pair ({type(exc).__name__}); "
                          "please report it"]

    def _carry_out(self, key: str, task: Task | None, effects: tuple[rc.Effect, ...], now: datetime) -> None:
        for e in effects:
            if isinstance(e, rc.SetState):
                assert task is not None
                task = self._set(task, e, now)
            elif isinstance(e, rc.Create):
                task = self.board.create(key, note="found", video=e.video, sidecar=e.sidecar)
            elif isinstance(e, rc.Update):
                assert task is not None
                task = self.board.update(task.id, **e.values) or task
            elif isinstance(e, rc.Detach):
                assert task is not None
                self.board.detach_key(task.id)
            elif isinstance(e, rc.Remove):
                assert task is not None
                self.board.remove(task.id)
            else:
                self._side_effect(key, task, e, now)

    def _side_effect(self, key: str, task: Task | None, e: rc.Effect, now: datetime) -> None:
        if isinstance(e, rc.ReleaseSlot):
            self.planner.release(key, now)
        elif isinstance(e, rc.RemoveErrorFile):
            remove_error_file(self.inbox, key)
        elif isinstance(e, rc.DiscardRecord):
            self.records.discard(key)
        elif isinstance(e, rc.PairGone):
            self.duplicates.pair_gone(key)
        elif isinstance(e, rc.ForgetSignature):
            self.validated.pop(key, None)
        elif isinstance(e, rc.RememberSignature):
            self.validated[key] = e.signature
        elif isinstance(e, rc.DropRestored):
            self.restored.pop(key, None)
        elif isinstance(e, rc.GuardRestored):
            self.duplicates.guard_restored(key, e.record)
        elif isinstance(e, rc.DeleteAfterPublish):
            assert task is not None
            current = self.board.get(task.id)
            if current is not None:
                self.finish_delete(current)
        elif isinstance(e, rc.NoteLateEdit):
            assert task is not None
            self._note_late_edit(task, e.sidecar)
        elif isinstance(e, rc.KeepRefused):
            assert task is not None
            self.duplicates.keep_refused(key, task.video or key, e.identity, e.published_at)
        elif isinstance(e, rc.LiftRefusal):
            self.duplicates.lift_refusal(key)
        elif isinstance(e, rc.Unforce):
            self.force_now.discard(key)

    def _set(self, task: Task, e: rc.SetState, now: datetime) -> Task:
        values = dict(e.values)
        if e.cron is not None:
            values["due"] = self.planner.slot_for(task.key, e.cron, keep=e.keep_slot, now=now)
        if e.state is task.state:
            moved = self.board.update(task.id, **values)
        else:
            moved = self.board.transition(task.id, e.state, **values)
        return moved or task

    def _note_late_edit(self, task: Task, sidecar: str) -> None:
        """A sidecar edited after TikTok got the post's details: say that the edit was not applied
        and what the post goes out with (nothing is silently dropped)."""
        sc = task.sidecar_data
        what = [f"title {task.title!r}" if task.title else "no title"]
        if task.mode == "draft":
            what.append("as a draft")
        elif task.privacy:
            what.append(f"privacy {PRIVACY_LABELS.get(task.privacy, task.privacy)}")
        if sc is not None and sc.cover_ms:
            what.append(f"cover at {sc.cover_ms} ms")
        note = (f"the sidecar {shown_name(sidecar)} was edited after the upload had started: the edit was not "
                f"applied; the post went out with {', '.join(what)}")
        if note not in task.notes:
            log.warning("%s", note)
            self.board.update(task.id, notes=[*task.notes, note])
