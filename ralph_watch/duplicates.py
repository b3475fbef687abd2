"""The duplicate guard of one account, carried out: claims before an init, refused copies and
their records, the remembered posts of `dedupe.remember_days`. The decisions are in `dedupe.py`.

Everything here runs under the account's lock (an RLock shared with the reconciler and the
publisher), because a claim and the board's view of a pair must change together.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, ContextManager

from .clock import Clock
from .dedupe import IN_FLIGHT, Guard, Refusal, Remembered, keeps_claim, may_be_copy, prune, split_key
from .errors import RecordError
from .record import Identity, PublishedFile, PublishRecord, RecordStore, RefusedRecord
from .tasks import State, Task, TaskBoard

__all__ = ["Duplicates"]

log = logging.getLogger(__name__)
S = State


class Duplicates:
    def __init__(self, *, board: TaskBoard, records: RecordStore, published_file: PublishedFile, clock: Clock,
                 lock: ContextManager[object], remember_days: Callable[[], int], describe: Callable[[datetime], str],
                 revalidate: Callable[[str], None], record_failed: Callable[[str], None]) -> None:
        self.board = board
        self.records = records
        self.published_file = published_file      # only with dedupe.remember_days
        self.clock = clock
        self.lock = lock
        self.remember_days = remember_days        # read live: SIGHUP may not change it, but config may be replaced
        self.describe = describe
        self.revalidate = revalidate              # check a pair again (a refused copy may be free now)
        self.record_failed = record_failed        # state_dir unwritable: pause publishing
        self.guard = Guard()                      # content being published / published
        self.refused: dict[str, RefusedRecord] = {}  # pairs refused as duplicates, by pair key
        self.remembered: list[Remembered] = []

    def load(self) -> None:
        """At start: the refused duplicates' records (their originals went out) and, with
        `dedupe.remember_days`, the remember file. With 0 days that file is removed."""
        for ref in self.records.load_refused():
            self.refused[ref.pair] = ref
            self.guard.remember(ref.identity.content_key, ref.published)
        days = self.remember_days()
        if days <= 0:
            if self.published_file.remove():
                log.info("dedupe.remember_days is 0: removed %s", self.published_file.path)
            return
        loaded = self.published_file.load()
        self.remembered = prune(loaded, now=self.clock.now(), days=days)
        for item in self.remembered:
            self.guard.remember(item.key, item.published_at)
        if len(self.remembered) != len(loaded):
            self._save_remembered()

    # -- the reconciler's questions and effects ------------------------------------------------
    def has_size(self, size: int) -> bool:
        """Is content of this size claimed or published (only then is a pair's hash needed)?"""
        with self.lock:
            return self.guard.has_size(size)

    def is_refused(self, content_key: str, pair: str) -> Refusal | None:
        with self.lock:
            return self.guard.is_refused(content_key, pair)

    def sentence(self, video: str, refusal: Refusal) -> str:
        """Why a pair may not publish its content, for the page and its error file."""
        if refusal.published_at is not None:
            return (f"{video} was already published at {self.describe(refusal.published_at)} (the same video "
                    "content). ralph-watch does not publish a video twice; delete it.")
        other = self.board.by_key(refusal.holder or "")
        name = (other.video if other else None) or refusal.holder
        return (f"{video} has the same video content as {name}, which is being published now. ralph-watch does "
                "not publish a video twice; delete it.")

    def keep_refused(self, pair: str, video: str, identity: Identity, when: datetime) -> None:
        """A copy of content that went out: its record makes the refusal outlast a restart for
        as long as the pair exists."""
        rec = RefusedRecord(pair=pair, video=video, size=identity.size, mtime_ns=identity.mtime_ns,
                            head_tail=identity.digest, published_at=when.isoformat())
        if self.refused.get(pair) == rec:
            return
        try:
            self.records.put(rec)
        except RecordError as exc:  # without it a restart would publish the copy: stop publishing
            self.record_failed(str(exc))
            return
        self.refused[pair] = rec

    def lift_refusal(self, pair: str) -> None:
        """The pair is no duplicate (any more): a new file replaced the refused one."""
        if self.refused.pop(pair, None) is not None and self.records.get_refused(pair) is not None:
            self.records.discard(pair)

    def pair_gone(self, pair: str) -> None:
        """Its files are gone (deleted, cancelled): its refusal and any claim go with them."""
        with self.lock:
            self.refused.pop(pair, None)
            key = self.guard.release(pair)
        if key is not None:
            self._recheck_copies(key)

    def guard_restored(self, pair: str, rec: PublishRecord) -> None:
        """A publish record from before a restart: its content is at TikTok, or went out."""
        with self.lock:
            if rec.outcome == "published":
                self.guard.published(rec.identity.content_key, rec.init_at)
            elif rec.outcome in ("uploading", "processing", "in_inbox"):
                self.guard.claim(rec.identity.content_key, pair)

    # -- the publisher's hooks -----------------------------------------------------------------
    def claim(self, content_key: str, pair: str) -> str | None:
        """Before the init: None when the pair may publish its content (now claimed), else the
        sentence that refuses it."""
        with self.lock:
            refusal = self.guard.claim(content_key, pair)
            if refusal is None:
                return None
            t = self.board.by_key(pair)
            video = (t.video if t else None) or pair
            if refusal.published_at is not None and t is not None and t.identity is not None and t.identity.hashed:
                self.keep_refused(pair, video, t.identity, refusal.published_at)
            return self.sentence(video, refusal)

    def mark_published(self, content_key: str, when: datetime) -> None:
        with self.lock:
            self.guard.published(content_key, when)
            self._remember_published(content_key, when)
        self._recheck_copies(content_key)

    def end_claim(self, task: Task) -> None:
        """After a transition: release the pair's claim if its attempt ended without a post."""
        with self.lock:
            if self.guard.claimed_by(task.key) is None:
                return
            rec = None if task.state in IN_FLIGHT or task.state is S.CANCELLED else self.records.get(task.key)
            if keeps_claim(task.state, rec.outcome if rec is not None else None):
                return
            key = self.guard.release(task.key)
        if key is not None:
            self._recheck_copies(key)

    def forget_published(self, content_key: str) -> None:
        """Retry: the user asks for this content to be published again."""
        with self.lock:
            self.guard.forget(content_key)
            if any(r.key == content_key for r in self.remembered):
                self.remembered = [r for r in self.remembered if r.key != content_key]
                self._save_remembered()

    def forget_orphans(self, present: Callable[[str], bool]) -> None:
        """Refusals of pairs whose files are all gone are forgotten with their records."""
        for pair in list(self.refused):
            if not present(pair):
                self.pair_gone(pair)
                self.records.discard(pair)

    # -- internals -----------------------------------------------------------------------------
    def _recheck_copies(self, content_key: str) -> None:
        """Copies refused for this content are checked again: published now, or free again."""
        copies = self.board.select(lambda t: t.state is S.INVALID and t.identity is not None
                                   and may_be_copy(t.identity.size, t.identity.head_tail, content_key))
        for t in copies:
            try:
                self.revalidate(t.key)
            except Exception:
                log.exception("could not check %s again", t.key)

    def _remember_published(self, content_key: str, when: datetime) -> None:
        days = self.remember_days()
        if days <= 0:
            return
        size, digest = split_key(content_key)
        self.remembered = prune([*self.remembered, Remembered(sha256=digest, size=size, published_at=when)],
                                now=self.clock.now(), days=days)
        self._save_remembered()

    def _save_remembered(self) -> None:
        try:
            self.published_file.save(self.remembered)
        except RecordError as exc:
            log.error("%s; the duplicate guard remembers the latest posts until a restart only", exc)
