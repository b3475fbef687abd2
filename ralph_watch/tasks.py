"""Tasks: the contract's states, the allowed transitions, and the thread-safe board.

The board is the one place task data lives (in memory only, per the privacy policy). Every
change goes through `transition`/`update`, which bump `version` and wake waiters, so the
web page can send ETags and tests can wait on a condition instead of sleeping.
"""
from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # annotations only: tasks stays free of the modules that read files
    from .probe import VideoInfo
    from .record import Identity
    from .sidecar import Sidecar

from .errors import TransitionError

__all__ = ["State", "Task", "TaskBoard", "AccountBoard", "ALLOWED", "ACTIVE", "EDITABLE", "finished", "DEFAULT_ACCOUNT"]

# The one account of a config without `accounts:` (config_model.DEFAULT_ACCOUNT says the same).
DEFAULT_ACCOUNT = "default"


class State(str, enum.Enum):
    WAITING = "waiting"          # pair incomplete, still being written, or a placeholder
    INVALID = "invalid"          # cannot be published as it stands; `error` says why
    SCHEDULED = "scheduled"      # waiting for `due` (also while held back by limits/retries)
    NEEDS_LOGIN = "needs_login"  # due, but no account is logged in
    UPLOADING = "uploading"
    PROCESSING = "processing"    # uploaded; TikTok is processing
    IN_INBOX = "in_inbox"        # draft delivered; the creator finishes it in the app
    PUBLISHED = "published"
    FAILED = "failed"            # TikTok refused or retries ran out; files kept
    MISSED = "missed"            # an `at` time passed beyond the grace
    CANCELLED = "cancelled"

    def __str__(self) -> str:  # so f"{state}" prints "scheduled"
        return self.value


S = State
PRE = {S.WAITING, S.INVALID, S.SCHEDULED, S.NEEDS_LOGIN, S.FAILED, S.MISSED}
# Where a task may go from each state. Anything else is a bug and is refused.
ALLOWED: dict[State, frozenset[State]] = {
    S.WAITING: frozenset(PRE | {S.CANCELLED, S.PROCESSING, S.IN_INBOX, S.PUBLISHED}),
    S.INVALID: frozenset(PRE | {S.CANCELLED, S.PROCESSING, S.IN_INBOX, S.PUBLISHED}),
    S.SCHEDULED: frozenset(PRE | {S.UPLOADING, S.CANCELLED}),
    S.NEEDS_LOGIN: frozenset(PRE | {S.UPLOADING, S.CANCELLED, S.PROCESSING, S.IN_INBOX, S.PUBLISHED}),
    S.UPLOADING: frozenset({S.SCHEDULED, S.NEEDS_LOGIN, S.PROCESSING, S.IN_INBOX, S.PUBLISHED,
                            S.FAILED, S.WAITING, S.INVALID, S.UPLOADING}),
    S.PROCESSING: frozenset({S.PUBLISHED, S.FAILED, S.IN_INBOX, S.NEEDS_LOGIN, S.SCHEDULED,
                             S.PROCESSING, S.UPLOADING, S.WAITING}),  # waiting: re-checked after a dead upload
    S.IN_INBOX: frozenset({S.PUBLISHED, S.FAILED, S.NEEDS_LOGIN, S.IN_INBOX}),
    S.PUBLISHED: frozenset({S.PUBLISHED, S.SCHEDULED, S.WAITING}),  # retry / re-validate of files kept
    S.FAILED: frozenset(PRE | {S.CANCELLED, S.PROCESSING, S.IN_INBOX, S.PUBLISHED}),
    S.MISSED: frozenset(PRE | {S.CANCELLED}),
    S.CANCELLED: frozenset(),
}
ACTIVE = frozenset({S.UPLOADING, S.PROCESSING})              # cannot be cancelled
EDITABLE = frozenset(PRE)                                    # a sidecar edit re-validates these


@dataclass(slots=True)  # thousands stay on the board: no per-instance __dict__
class Task:
    id: str
    key: str                              # the pair: path relative to the inbox without extension
    account: str = DEFAULT_ACCOUNT        # the account whose inbox holds the pair (keys repeat across accounts)
    video: str | None = None              # relative paths (None when absent)
    sidecar: str | None = None
    state: State = State.WAITING
    title: str | None = None
    privacy: str | None = None            # TikTok's enum
    mode: str | None = None               # direct | draft
    due: datetime | None = None           # aware; for cron pairs the slot
    progress: float | None = None
    error: str | None = None
    publish_id: str | None = None
    post_id: str | None = None
    attempts: int = 0
    bytes_sent: int | None = None         # bytes TikTok has taken so far, while uploading
    published_at: datetime | None = None  # when the task last became `published` (set by the board)
    kept_size: int | None = None          # size and kind (at|cron|now) kept by `finished` for /api/tasks,
    kept_kind: str | None = None          # once the identity and the parsed sidecar are dropped
    # Not in the JSON: working data of the service.
    cron_key: str | None = None           # canonical cron line of the task's queue
    sidecar_data: Sidecar | None = None   # the parsed sidecar
    video_info: VideoInfo | None = None   # the probe's answer
    identity: Identity | None = None      # file identity of the video when validated
    notes: list[str] = field(default_factory=list)
    retries: int = 0                      # transient failures in a row (for backoff)
    settle: bool = False                  # restored from a publish record: ask TikTok before anything
    followup: datetime | None = None      # next status poll of an in_inbox/processing/published task
    followup_kind: str | None = None      # "status" | "post_id" | "delete"
    files_kept: bool = False              # published, but the files are still there
    held: bool = False                    # `due` was moved by TikTok's limits: never missed for that
    history: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, state, note)

    def to_json(self) -> dict[str, Any]:
        """The `/api/tasks` shape of the contract."""
        return {
            "id": self.id,
            "video": self.video,
            "sidecar": self.sidecar,
            "state": self.state.value,
            "title": self.title,
            "privacy": self.privacy,
            "mode": self.mode,
            "due": self.due.isoformat() if self.due else None,
            "progress": self.progress,
            "error": self.error,
            "publish_id": self.publish_id,
            "post_id": self.post_id,
            "attempts": self.attempts,
        }


class TaskBoard:
    """All tasks of every account, guarded by one lock. Readers get copies; writers go through
    methods. A pair key is unique per account (two inboxes may both hold `clip`): `by_key` and
    `create` take the account, the first account's (`default_account`) when none is given."""

    def __init__(self, *, now: Callable[[], datetime], on_transition: Callable[[Task, State, str], None] | None = None,
                 on_detach: Callable[[Task], None] | None = None, default_account: str = DEFAULT_ACCOUNT) -> None:
        self._now = now
        self.default_account = default_account
        self._tasks: dict[str, Task] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self.version = 0
        self._on_transition = on_transition  # called outside the lock with (copy, old_state, note)
        self._on_detach = on_detach          # called outside the lock with the task as it was before detach_key

    # -- reading -------------------------------------------------------------------------
    def get(self, task_id: str) -> Task | None:
        with self._cond:
            t = self._tasks.get(task_id)
            return dataclasses.replace(t) if t else None

    def for_account(self, account: str) -> "AccountBoard":
        """The view one account's parts work with: its keys and only its tasks."""
        return AccountBoard(self, account)

    def by_key(self, key: str, *, account: str | None = None) -> Task | None:
        with self._cond:
            tid = self._by_key.get((account or self.default_account, key))
            t = self._tasks.get(tid) if tid else None
            return dataclasses.replace(t) if t else None

    def all(self) -> list[Task]:
        with self._cond:
            return [dataclasses.replace(t) for t in self._tasks.values()]

    def select(self, pred: Callable[[Task], bool]) -> list[Task]:
        with self._cond:
            return [dataclasses.replace(t) for t in self._tasks.values() if pred(t)]

    def listing(self, *, state: str | None = None, limit: int | None = None, offset: int = 0,
                first: frozenset[State] = frozenset(), account: str | None = None) -> list[Task]:
        """Tasks in the contract's order: due ascending (null last), then path; tasks in the
        `first` states (the page's "needs a person") before all others, each group in that order.
        `account`: that account's tasks only."""
        with self._cond:
            items = [t for t in self._tasks.values() if (state is None or t.state.value == state)
                     and (account is None or t.account == account)]
            items.sort(key=(lambda t: (t.state not in first, *_order(t))) if first else _order)
            items = items[offset: offset + limit if limit is not None else None]
            return [dataclasses.replace(t) for t in items]

    def counts(self, *, account: str | None = None) -> dict[str, int]:
        with self._cond:
            out: dict[str, int] = {}
            for t in self._tasks.values():
                if account is not None and t.account != account:
                    continue
                out[t.state.value] = out.get(t.state.value, 0) + 1
            return out

    def wait_for(self, pred: Callable[["TaskBoard"], bool], timeout: float) -> bool:
        """Block until pred(board) is true or the timeout passes (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    # -- writing -------------------------------------------------------------------------
    def create(self, key: str, *, state: State = State.WAITING, note: str = "", account: str | None = None,
               **values: Any) -> Task:
        account = account or self.default_account
        with self._cond:
            if (account, key) in self._by_key:
                raise TransitionError(f"a task for {key} exists already")
            if state is State.PUBLISHED:
                values.setdefault("published_at", self._now())
            t = Task(id=str(next(self._ids)), key=key, account=account, state=state, **values)
            t.history.append((self._now(), state.value, note))
            self._tasks[t.id] = t
            self._by_key[(account, key)] = t.id
            self._bump()
            copy = dataclasses.replace(t)
        self._notify(copy, None, note)
        return copy

    def update(self, task_id: str, **values: Any) -> Task | None:
        """Change fields other than `state`."""
        if "state" in values:
            raise TransitionError("use transition() to change state")
        with self._cond:
            t = self._tasks.get(task_id)
            if t is None:
                return None
            for k, v in values.items():
                setattr(t, k, v)
            self._bump()
            return dataclasses.replace(t)

    def transition(self, task_id: str, to: State, *, expect: Iterable[State] | None = None,
                   note: str = "", **values: Any) -> Task | None:
        """Move a task to `to` if its state is in `expect` (default: any state allowed to go there).

        Returns the updated copy, or None when the task is gone or not in an expected state:
        this is the compare-and-set that claims work ("claim before acting").
        """
        with self._cond:
            t = self._tasks.get(task_id)
            if t is None:
                return None
            if expect is not None and t.state not in set(expect):
                return None
            if to not in ALLOWED[t.state]:
                if expect is None:
                    return None
                raise TransitionError(f"task {t.id} ({t.key}): {t.state} -> {to} is not allowed")
            old = t.state
            t.state = to
            if to is not old:  # published_at says when it went out, and only while it is out
                t.published_at = self._now() if to is State.PUBLISHED else None
            for k, v in values.items():
                setattr(t, k, v)
            t.history.append((self._now(), to.value, note))
            if len(t.history) > 200:
                del t.history[:50]
            if self._by_key.get((t.account, t.key)) != t.id:
                t.history = t.history[-1:]  # finished, its pair gone (see `finished`): the latest is enough
            self._bump()
            copy = dataclasses.replace(t)
        if old != to:
            self._notify(copy, old, note)
        return copy

    def remove(self, task_id: str) -> None:
        with self._cond:
            t = self._tasks.pop(task_id, None)
            if t is not None and self._by_key.get((t.account, t.key)) == task_id:
                del self._by_key[(t.account, t.key)]
            self._bump()

    def detach_key(self, task_id: str) -> None:
        """Keep a task as history but free its pair key for a new task (e.g. after publish).

        Its files are gone, so the working data that served validating and uploading them is
        dropped (see `finished`): a finished task keeps what the page and /api/tasks show."""
        before = None
        with self._cond:
            t = self._tasks.get(task_id)
            if t is not None and self._by_key.get((t.account, t.key)) == task_id:
                del self._by_key[(t.account, t.key)]
            if t is not None:
                before = dataclasses.replace(t)
                finished(t)
            self._bump()
        if before is not None and self._on_detach is not None:
            self._on_detach(before)

    def _bump(self) -> None:
        self.version += 1
        self._cond.notify_all()

    def _notify(self, task: Task, old: State | None, note: str) -> None:
        if self._on_transition is not None:
            self._on_transition(task, old, note)  # type: ignore[arg-type]


class AccountBoard(TaskBoard):
    """One account's view of the shared board: `by_key` and `create` in its key space, the
    readers filtered to its tasks; the writers by task id go straight to the board (ids are
    unique across accounts). Its parts (planner, scheduler, publisher, ...) see only their own."""

    def __init__(self, shared: TaskBoard, account: str) -> None:  # no super().__init__: it holds no tasks
        self.shared = shared
        self.account = account
        self.default_account = account

    @property
    def version(self) -> int:  # type: ignore[override]  # read-only here: the shared board counts changes
        return self.shared.version

    def get(self, task_id: str) -> Task | None:
        return self.shared.get(task_id)

    def by_key(self, key: str, *, account: str | None = None) -> Task | None:
        return self.shared.by_key(key, account=account or self.account)

    def all(self) -> list[Task]:
        return self.shared.select(lambda t: t.account == self.account)

    def select(self, pred: Callable[[Task], bool]) -> list[Task]:
        return self.shared.select(lambda t: t.account == self.account and pred(t))

    def listing(self, *, state: str | None = None, limit: int | None = None, offset: int = 0,
                first: frozenset[State] = frozenset(), account: str | None = None) -> list[Task]:
        return self.shared.listing(state=state, limit=limit, offset=offset, first=first,
                                   account=account or self.account)

    def counts(self, *, account: str | None = None) -> dict[str, int]:
        return self.shared.counts(account=account or self.account)

    def wait_for(self, pred: Callable[["TaskBoard"], bool], timeout: float) -> bool:
        return self.shared.wait_for(lambda _board: pred(self), timeout)

    def create(self, key: str, *, state: State = State.WAITING, note: str = "", account: str | None = None,
               **values: Any) -> Task:
        return self.shared.create(key, state=state, note=note, account=account or self.account, **values)

    def update(self, task_id: str, **values: Any) -> Task | None:
        return self.shared.update(task_id, **values)

    def transition(self, task_id: str, to: State, *, expect: Iterable[State] | None = None,
                   note: str = "", **values: Any) -> Task | None:
        return self.shared.transition(task_id, to, expect=expect, note=note, **values)

    def remove(self, task_id: str) -> None:
        self.shared.remove(task_id)

    def detach_key(self, task_id: str) -> None:
        self.shared.detach_key(task_id)


def finished(t: Task) -> None:
    """Drop, in place, what a task whose files are gone no longer needs.

    Thousands of published tasks stay on the board (in memory only, until a restart), so each
    must cost little: the parsed sidecar, the probe's answer and the file identity were only
    needed to validate and upload the files (with the probe cache entry the service drops in
    `on_detach`: ~2 KB of a finished task's ~4.3 KB, see BENCHMARKS.md figure 2). The history
    keeps its latest entry (it is shown nowhere; the log has every transition). The fields of
    `to_json`, the notes and the follow-up stay.
    """
    sc = t.sidecar_data
    if t.identity is not None:
        t.kept_size = t.identity.size
    if sc is not None or t.cron_key:
        t.kept_kind = "cron" if (t.cron_key or (sc is not None and sc.cron)) else (
            "at" if sc is not None and sc.at is not None else "now")
    t.sidecar_data = None
    t.video_info = None
    t.identity = None
    t.history = t.history[-1:]  # a new list: copies handed out earlier share the old one


def _order(t: Task) -> tuple[bool, float, str, int]:
    due = t.due.timestamp() if t.due else float("inf")
    return (t.due is None, due, t.video or t.sidecar or t.key, int(t.id))
