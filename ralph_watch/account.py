"""The per-account unit: one TikTok account with everything that is counted or decided per
account: its TikTok client (tokens in memory, the rate limiter and daily caps), its cron
planner and due-loop, its publish records and duplicate guard, its pairs and its publisher.

Today a service has one, named `default`; several accounts in one service means several of
these (issue 15), each fed by the watcher of its own inbox.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import httpx

from .actions import Actions
from .clock import Clock
from .config import Config
from .duplicates import Duplicates
from .errors import TikTokError
from .feedback import Feedback, Notify
from .pairsync import PairSync, Settings
from .publisher import Hooks, Publisher
from .record import PublishedFile, RecordStore
from .record_layout import records_dir, remember_path
from .schedule import quota_warnings
from .scheduler import Planner, Scheduler
from .tasks import State, TaskBoard
from .tiktok.client import TikTokClient
from .tiktok.http import HttpPool
from .tiktok.ratecap import Pacer, too_slow
from .web.backend import LoginError
from .workers import Workers

__all__ = ["Account", "DEFAULT_NAME"]

log = logging.getLogger(__name__)
DEFAULT_NAME = "default"
S = State


class Account:
    """`config()` is this account's view of the running config: its inbox, timezone and
    defaults in the top-level fields (see `Service.account_config`). `board` is this account's
    view of the shared board (`TaskBoard.for_account`); `label` names the account in
    notifications and log lines (None with one account, whose messages read as before)."""

    def __init__(self, *, config: Callable[[], Config], clock: Clock, board: TaskBoard, lock: threading.RLock,
                 workers: Workers, stop: threading.Event, notifier: Callable[[], Notify | None],
                 transport: httpx.BaseTransport | None = None, pool: HttpPool | None = None,
                 name: str = DEFAULT_NAME, several: bool = False) -> None:
        cfg = config()
        tk = cfg.tiktok
        self.name = name
        self.label = name if several else None
        self.config = config               # the running config (SIGHUP may replace it)
        self.clock = clock
        self.board = board
        self.lock = lock
        self.inbox = Path(cfg.inbox)
        self.notifier = notifier
        self.workers = workers
        self.client = TikTokClient(client_key=tk.client_key, client_secret=tk.client_secret,
                                   redirect_uri=tk.redirect_uri, scopes=list(tk.scopes), api_base=tk.api_base,
                                   authorize_url=tk.authorize_url, limits=tk.limits, clock=clock,
                                   transport=transport if pool is None else None, pool=pool,
                                   chunk_deadline=tk.limits.chunk_deadline_seconds,
                                   pacer=Pacer(cfg.upload.max_rate, clock) if cfg.upload.max_rate else None,
                                   audited=tk.audited)
        self.records = RecordStore(cfg.state_dir, folder=records_dir(cfg.state_dir, self.inbox))
        remember = PublishedFile(cfg.state_dir, path=remember_path(cfg.state_dir, self.inbox, several=several))
        self.probe_cache: dict[Any, Any] = {}
        self.planner = Planner(board=board, lock=lock, tz=cfg.tz)
        self.scheduler = Scheduler(board=board, clock=clock, late_grace=timedelta(minutes=cfg.schedule.late_grace_minutes),
                                   runner=_Runner(self), slots=self.planner, tz=cfg.tz, stop=stop)
        self.duplicates = Duplicates(board=board, records=self.records, published_file=remember,
                                     clock=clock, lock=lock, remember_days=lambda: self.config().dedupe.remember_days,
                                     describe=self.scheduler.describe, revalidate=lambda key: self.pairs.revalidate(key),
                                     record_failed=self.record_failed)
        self.pairs = PairSync(inbox=self.inbox, board=board, lock=lock, clock=clock, settings=self._settings,
                              planner=self.planner, duplicates=self.duplicates, records=self.records,
                              finish_delete=lambda t: self.publisher._delete_after_publish(t), wake=self.wake,
                              probe_cache=self.probe_cache)
        self.publisher = Publisher(
            board=board, records=self.records, client=self.client, clock=clock, inbox=self.inbox, limits=tk.limits,
            stop=stop, hooks=Hooks(revalidate=self.pairs.revalidate, mark_published=self.duplicates.mark_published,
                                   record_failed=self.record_failed, wake=self.wake, claim=self.duplicates.claim),
            lock=lock, tz=cfg.tz, uploader=lambda task_id, fn: workers.submit("upload", task_id, fn, done=self.wake))
        self.actions = Actions(inbox=self.inbox, board=board, lock=lock, planner=self.planner, scheduler=self.scheduler,
                               pairs=self.pairs, duplicates=self.duplicates, records=self.records,
                               verdicts=self.publisher, tz=cfg.tz, defaults=lambda: self.config().defaults)
        self.feedback = Feedback(inbox=self.inbox, clock=clock, slots=self.planner, notifier=notifier,
                                 end_claim=self.duplicates.end_claim, probe_cache=self.probe_cache, account=self.label)
        self._avatar: tuple[bytes, str] | None = None

    def _settings(self) -> Settings:
        cfg = self.config()
        return Settings(tz=cfg.tz, defaults=cfg.defaults, settle_seconds=cfg.watch.settle_seconds,
                        grace=self.scheduler.grace)

    # -- life -------------------------------------------------------------------------------------
    def load(self) -> None:
        """At start, before the first scan: the publish records and the duplicate guard.
        Raises RecordError when state_dir cannot be read."""
        self.records.ensure_dir()
        self.pairs.restore(self.records.load_all())
        self.duplicates.load()

    def wake(self) -> None:
        self.scheduler.wake.set()

    def record_failed(self, reason: str) -> None:
        """state_dir is unwritable: without records a restart could publish twice, so publishing stops."""
        log.error("publishing paused: %s", reason)
        self.scheduler.pause(f"Publishing is paused: {reason}. Fix it, then press Resume.")

    # -- the login ----------------------------------------------------------------------------------
    @property
    def needs_login(self) -> bool:
        return not self.client.logged_in

    def view(self) -> dict[str, Any] | None:
        """What the page shows of the logged-in account (never a token), or None."""
        acc = self.client.account
        if acc is None or not self.client.logged_in:
            return None
        # The handle comes from creator_info (the Account has none): post links then carry the @handle.
        return {"nickname": acc.nickname, "username": self.client.creator_username or None,
                "avatar": self._avatar is not None,
                "access_expires_at": acc.access_expires_at, "refresh_expires_at": acc.refresh_expires_at,
                "scopes": sorted(acc.scopes)}

    def login_url(self, *, state: str, code_challenge: str) -> str:
        return self.client.authorize_url(state=state, code_challenge=code_challenge)

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None,
                     taken_by: Callable[[str], str | None] = lambda _open_id: None) -> None:
        """Exchange the code. `taken_by(open_id)`: the other account this TikTok user is logged
        in as, if any; then the login is refused and this slot stays logged out."""
        try:
            acc = self.client.exchange_code(code, code_verifier=code_verifier, granted_scopes=scopes)
        except TikTokError as exc:
            sentence = exc.sentence()
            log.warning("login%s failed: %s", self._for(), sentence)
            raise LoginError(sentence) from None
        other = taken_by(acc.open_id)
        if other is not None:
            # Forgotten, not revoked: TikTok's revoke ends every grant of the user, which would log
            # the other account out too. The unused token expires on its own.
            name = self.client.creator_username or acc.username
            self.client.forget()
            handle = f"@{name}" if name else acc.nickname or "this account"
            sentence = (f"This TikTok account ({handle}) is already logged in as {other}; log it out there first, "
                        "or choose another TikTok account.")
            log.warning("login%s refused: %s", self._for(), sentence)
            raise LoginError(sentence)
        log.info("logged in to TikTok%s as %s", self._for(), acc.nickname)
        notifier = self.notifier()
        if notifier is not None:
            notifier.reset_episode("needs_login", **self.feedback.named())
        try:
            self._avatar = self.client.fetch_avatar()
        except TikTokError:
            self._avatar = None
        self.wake()

    def _for(self) -> str:
        return f" for account {self.label}" if self.label else ""

    @property
    def open_id(self) -> str | None:
        acc = self.client.account
        return acc.open_id if acc is not None and self.client.logged_in else None

    def logout(self) -> None:
        self.client.logout()
        self._avatar = None
        log.info("logged out of TikTok%s; the token was revoked and forgotten", self._for())

    def avatar(self) -> tuple[bytes, str] | None:
        return self._avatar

    def warnings(self) -> list[str]:
        """Sentences for the page: why publishing is paused, the caps the queue as scheduled
        exceeds, uploads too slow for their link."""
        out = []
        if self.scheduler.pause_reason:
            out.append(self.scheduler.pause_reason)
        try:
            dues = [t.due for t in self.board.select(lambda t: t.state is S.SCHEDULED and t.mode == "direct")
                    if t.due is not None]
            out.extend(quota_warnings(dues, limits=self.config().tiktok.limits, tz=self.config().tz,
                                      now=self.clock.now()))
        except Exception:
            log.exception("quota warnings")
        out.extend(self._slow_upload_warnings())
        return out

    def _slow_upload_warnings(self, shown: int = 5) -> list[str]:
        """Pairs that upload.max_rate makes too slow for TikTok's upload link, before they start."""
        rate = self.config().upload.max_rate
        if not rate:
            return []
        lifetime = self.config().tiktok.limits.upload_url_seconds
        slow = [f"{t.video}: {sentence}" for t in self.board.select(lambda t: t.state in (S.SCHEDULED, S.NEEDS_LOGIN))
                if t.identity is not None and (sentence := too_slow(t.identity.size, rate, lifetime=lifetime))]
        if len(slow) > shown:
            slow = [*slow[:shown], f"and {len(slow) - shown} more videos too large for upload.max_rate"]
        return slow


class _Runner:
    """The due-loop's view of its account: the login and the shared publish workers."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def logged_in(self) -> bool:
        return self.account.client.logged_in

    def capacity(self) -> int:
        return self.account.workers.capacity()

    def submit(self, kind: str, task_id: str) -> bool:
        pub = self.account.publisher
        fn = {"publish": pub.publish, "settle": pub.settle, "follow": pub.follow}[kind]
        return self.account.workers.submit(kind, task_id, fn, done=self.account.wake)
