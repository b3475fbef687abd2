"""The running service: wires the parts from the Config, runs their threads, serves the web
backend, and owns the one stop Event. It decides nothing about tasks itself:
- what a snapshot means for its task: `reconcile.py` (carried out by `pairsync.py`);
- when a task goes out: `scheduler.py` (rules in `schedule.py`);
- what TikTok's answers mean: `publisher.py`;
- the page's actions: `actions.py`; what a transition tells the world: `feedback.py`;
- everything per TikTok account: `account.py`.

Threads: the watcher's (events + worker), the scheduler, a small pool of publish workers,
the web server's, the notifier's, and a supervisor. Any of them may call in; `self.lock`
serialises decisions about tasks (reconciliation, actions), while slow I/O (uploads, status
polls) happens outside it and re-checks state through the board's compare-and-set transitions.
"""
from __future__ import annotations

import logging
import resource
import signal
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Protocol

import httpx

from .account import Account
from .clock import Clock, SystemClock
from .config import Config, read_config
from .errors import ConfigError, LoginError, RecordError
from .feedback import Notify
from .record import InstanceLock
from .reload import changed_keys, decided_by_config
from .tasks import State, TaskBoard
from .watcher import Watcher
from .workers import PUBLISH_WORKERS, Workers

if TYPE_CHECKING:
    from .web.server import WebServer

__all__ = ["Service", "PUBLISH_WORKERS", "HEARTBEAT_STALE_SECONDS", "stale_loops"]

log = logging.getLogger(__name__)
S = State
# A loop that made no progress for this long is stuck (it beats at least every 5 s, and the
# scheduler steps at least once a minute); /healthz then answers 503 and says which one.
HEARTBEAT_STALE_SECONDS = 180.0


class InboxWatcher(Protocol):
    """What the service needs from `watcher.Watcher`."""

    def start(self) -> None: ...

    def stop_and_join(self, timeout: float = 5) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def heartbeat_ages(self) -> dict[str, float | None]: ...

    def rescan_now(self, reason: str = "requested") -> None: ...


class Service:
    def __init__(self, config: Config, *, clock: Clock | None = None, transport: httpx.BaseTransport | None = None,
                 serve_web: bool = True, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path                # re-read on SIGHUP (None: nothing to re-read)
        self.clock = clock or SystemClock()
        self.stop = threading.Event()
        self.lock = threading.RLock()
        self.inbox = Path(config.inbox)
        self.board = TaskBoard(now=self.clock.now, on_transition=lambda t, old, note: self.primary.feedback
                               .on_transition(t, old, note), on_detach=lambda t: self.primary.feedback.on_detach(t))
        self.instance_lock = InstanceLock(config.state_dir)
        self.workers = Workers(stop=self.stop)
        self.executor = self.workers.executor
        self.notifier = self._make_notifier()
        self.primary = Account(config=lambda: self.config, clock=self.clock, board=self.board, lock=self.lock,
                               workers=self.workers, stop=self.stop, notifier=lambda: self.notifier,
                               transport=transport)
        self.units = {self.primary.name: self.primary}   # `accounts()` is the page's list (WebBackend)
        # The parts of the one account that tests, benchmarks and the web layer reach by name.
        self.client, self.records, self.scheduler = self.primary.client, self.primary.records, self.primary.scheduler
        self.probe_cache = self.primary.probe_cache
        self._threads: dict[str, threading.Thread] = {}
        self._sched_seen: tuple[Any, float] | None = None   # (scheduler.last_step, monotonic when it changed)
        self._started = False
        self.serve_web = serve_web
        self.web_server: WebServer | None = None
        w = config.watch
        self.watcher: InboxWatcher = Watcher(self.inbox, mode=w.mode, settle_seconds=w.settle_seconds,
                                    poll_seconds=w.poll_seconds, rescan_seconds=w.rescan_seconds, clock=self.clock,
                                    sink=self.primary.pairs.on_snapshots, stop=self.stop)

    def _make_notifier(self) -> Notify | None:
        n = self.config.notify
        if not n.urls:
            return None
        from .notify import Notifier   # apprise underneath: loaded only when configured
        return Notifier(urls=list(n.urls), events=list(n.events), include_title=n.include_title,
                        page_url=self.page_url, clock=self.clock)

    @property
    def page_url(self) -> str:
        web = self.config.web
        if web.public_url:
            return web.public_url
        host = web.host if web.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.web_port or web.port}/"

    @property
    def web_port(self) -> int | None:
        return self.web_server.port if self.web_server is not None else None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything; returns once the initial inbox scan is done and the page serves."""
        try:  # tokens live in memory: a core dump would put them on disk
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            log.warning("could not switch core dumps off")
        self.instance_lock.acquire()
        try:
            self.primary.load()
        except RecordError as exc:
            self.primary.record_failed(str(exc))
        if not self.inbox.exists():
            # Never created here: under an unmounted share that would write onto the local disk.
            log.error("inbox %s does not exist; is the share mounted?", self.inbox)
        if self.notifier is not None:
            self.notifier.start()
        self.watcher.start()  # the initial scan reports every pair before this returns
        if self.watcher.status().get("inbox_ok", True):   # an unreachable inbox is not an empty one
            self.primary.pairs.forget_orphans()
        self._spawn("scheduler", self.scheduler.run)
        self._spawn("supervisor", self._supervise)
        if self.serve_web:
            from .web import make_app   # bottle: only when the page serves
            from .web.server import WebServer
            app = make_app(self, self.config, clock=self.clock)
            self.primary.feedback.forget_media = app.ralph_web.forget_task  # thumbnails leave with their task
            self.web_server = WebServer(app, self.config.web.host, self.config.web.port)
            self.web_server.start()
        self._started = True
        log.info("ralph-watch is running: inbox %s, page %s, watching with %s, time zone %s", self.inbox,
                 self.page_url, self.watcher.status().get("mode"), self.config.timezone)

    def run_forever(self) -> None:
        """start(), then wait for SIGINT/SIGTERM (or stop()), then shut down cleanly."""
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: shutting down", signal.strsignal(signum))
            self.stop.set()
            self.scheduler.wake.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self._on_sighup())
        self.start()
        while not self.stop.wait(1.0):
            pass
        self.shutdown()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.scheduler.wake.set()
        try:
            self.watcher.stop_and_join(timeout)
        except Exception:
            log.exception("stopping the watcher")
        if self.web_server is not None:
            self.web_server.stop()
        self.workers.shutdown()
        for name, th in self._threads.items():
            th.join(timeout)
            if th.is_alive():
                log.warning("thread %s did not stop in time", name)
        if self.notifier is not None:
            self.notifier.stop(timeout)
        try:
            self.client.close()
        except Exception:
            pass
        self.instance_lock.release()
        log.info("ralph-watch stopped")

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        th = threading.Thread(target=target, name=name, daemon=True)
        th.start()
        self._threads[name] = th

    def _supervise(self) -> None:
        mount_lost = False
        while not self.stop.wait(5.0):
            try:
                st = self.watcher.status()
                if not st.get("inbox_ok", True):
                    if not mount_lost and self.notifier is not None:
                        self.notifier.send("mount_lost", video=str(self.inbox), state="unreachable",
                                           message=f"The inbox {self.inbox} cannot be read: {st.get('error')}. "
                                                   "Nothing was deleted; tasks come back when it is reachable.")
                    mount_lost = True
                elif mount_lost:
                    mount_lost = False
                    if self.notifier is not None:
                        self.notifier.reset_episode("mount_lost")
                self._scheduler_age()   # keeps the scheduler's heartbeat measured between health checks
                th = self._threads.get("scheduler")
                if th is not None and not th.is_alive() and not self.stop.is_set():
                    log.error("the scheduler thread died; restarting it")
                    self._spawn("scheduler", self.scheduler.run)
            except Exception:
                log.exception("supervisor pass failed")

    # -- SIGHUP ----------------------------------------------------------------------------------
    def _on_sighup(self) -> None:
        # A signal handler runs on the main thread between bytecodes: never take locks here.
        threading.Thread(target=self.reload_config, name="sighup", daemon=True).start()

    def reload_config(self) -> list[str]:
        """SIGHUP: re-read the config file, apply what can change live (schedule, notify,
        defaults), log the rest as "restart to apply", rescan the inbox. The login stays:
        tokens live in this process only. Returns the changed keys applied live."""
        applied: list[str] = []
        if self.config_path is not None:
            try:
                new: Config | None = read_config(self.config_path)
            except ConfigError as exc:
                log.error("SIGHUP: %s has problems, so the running config stays as it is: %s", self.config_path,
                          " / ".join(str(p) for p in exc.problems))
                new = None
            except Exception:
                log.exception("SIGHUP: could not re-read %s; the running config stays", self.config_path)
                new = None
            if new is not None:
                applied = self._apply_config(new)
        else:
            log.info("SIGHUP: no config file to re-read; rescanning the inbox")
        try:
            self.watcher.rescan_now("SIGHUP")
        except Exception:
            log.exception("rescan failed")
        return applied

    def _apply_config(self, new: Config) -> list[str]:
        old = self.config
        live, later = changed_keys(old, new)
        if later:
            log.warning("SIGHUP: %s changed in %s; restart ralph-watch to apply (the running service keeps the old "
                        "value)", ", ".join(later), self.config_path)
        if not live:
            log.info("SIGHUP: %s re-read; nothing to apply live", self.config_path)
            return []
        with self.lock:
            self.config = replace(old, schedule=new.schedule, notify=new.notify, defaults=new.defaults)
            self.scheduler.set_late_grace(timedelta(minutes=new.schedule.late_grace_minutes))
            if new.notify != old.notify:
                previous, self.notifier = self.notifier, self._make_notifier()
                if previous is not None:
                    previous.stop(2.0)
                if self.notifier is not None:
                    self.notifier.start()
            self.primary.pairs.recheck(decided_by_config)
        log.info("SIGHUP: applied %s from %s; the login is kept", ", ".join(live), self.config_path)
        self.scheduler.wake.set()
        return live

    # -- WebBackend: the page's view and actions --------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.scheduler.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        if value:
            self.pause()
        else:
            self.resume()

    # One account until the accounts branch serves several (issue 15): the page's interface already
    # takes the account's name, and only this one's is known.
    def _unit(self, account: str | None) -> Account:
        if account is None or account in self.units:
            return self.units.get(account or "", self.primary)
        raise LoginError(f"There is no account named {account!r}; the accounts are {', '.join(self.units)}.")

    def accounts(self) -> list[dict[str, Any]]:
        view = self.primary.view()
        return [{"name": self.primary.name, "logged_in": view is not None,
                 "nickname": view["nickname"] if view else None, "inbox": str(self.config.inbox),
                 "username": view["username"] if view else None, "avatar": bool(view and view["avatar"]),
                 "needs_login": len(self.board.select(lambda t: t.state is S.NEEDS_LOGIN)),
                 "quota": self.quota()}]

    def account(self, *, account: str | None = None) -> dict[str, Any] | None:
        return self._unit(account).view()

    def login_url(self, *, state: str, code_challenge: str, account: str | None = None) -> str:
        return self._unit(account).login_url(state=state, code_challenge=code_challenge)

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None, account: str | None = None) -> None:
        self._unit(account).finish_login(code=code, code_verifier=code_verifier, scopes=scopes)

    def logout(self, *, account: str | None = None) -> None:
        self._unit(account).logout()

    def avatar(self, *, account: str | None = None) -> tuple[bytes, str] | None:
        return self._unit(account).avatar()

    def cancel(self, task_id: str) -> None:
        self.primary.actions.cancel(task_id)

    def retry(self, task_id: str) -> None:
        self.primary.actions.retry(task_id)

    def publish_now(self, task_id: str) -> None:
        self.primary.actions.publish_now(task_id)

    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        return self.primary.actions.open_video(task_id)

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        return self.primary.actions.read_sidecar(task_id)

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        return self.primary.actions.edit_sidecar(task_id, form)

    def pause(self) -> None:
        self.scheduler.pause()
        log.info("publishing paused from the page")

    def resume(self) -> None:
        self.scheduler.resume()
        log.info("publishing resumed")

    def quota(self, *, account: str | None = None) -> dict[str, int]:
        """The daily-cap meter: direct posts in the last 24 h and pending drafts, out of their caps."""
        lim = self.client.limiter   # replaced at each login: read it through the client every time
        return {"posts": lim.daily_posts.count(), "posts_cap": lim.daily_posts.limit,
                "drafts": lim.pending_drafts.count(), "drafts_cap": lim.pending_drafts.limit}

    def watch_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.watcher.status()
        return status

    def health(self) -> tuple[bool, dict[str, Any]]:
        st = self.watcher.status()
        sched = self._threads.get("scheduler")
        sched_ok = sched is not None and sched.is_alive()
        watch_ok = bool(st.get("alive", True))
        inbox_ok = bool(st.get("inbox_ok", True))
        reasons = []
        if not sched_ok:
            reasons.append("the scheduler is not running")
        if not watch_ok:
            reasons.append("the inbox watcher is not running")
        if not inbox_ok:
            reasons.append(f"the inbox cannot be read: {st.get('error')}")
        beats: dict[str, float | None] = {f"watcher_{k}": v for k, v in self.watcher.heartbeat_ages().items()}
        beats["scheduler"] = self._scheduler_age() if sched_ok else None
        reasons += stale_loops(beats, HEARTBEAT_STALE_SECONDS)
        ok = not reasons and self._started
        return ok, {"ok": ok, "paused": self.paused, "watch_mode": st.get("mode"), "watch_reason": st.get("reason"),
                    "inbox_ok": inbox_ok, "last_scan": st.get("last_scan"), "logged_in": self.client.logged_in,
                    "tasks": self.board.counts(), "heartbeat_age": beats, "reason": "; ".join(reasons) or None}

    def _scheduler_age(self) -> float:
        """Seconds since the scheduler's last step, on the monotonic clock (its `last_step` is wall
        time, which may jump): measured from when this service first saw that step."""
        mono = self.clock.monotonic()
        last = self.scheduler.last_step
        if self._sched_seen is None or self._sched_seen[0] != last:
            self._sched_seen = (last, mono)
        return round(max(0.0, mono - self._sched_seen[1]), 3)

    def warnings(self) -> list[str]:
        return self.primary.warnings()


def stale_loops(ages: dict[str, float | None], limit: float) -> list[str]:
    """The health reasons for loops that made no progress for more than `limit` seconds."""
    labels = {"watcher_worker": "the inbox watcher", "watcher_supervisor": "the inbox supervisor",
              "scheduler": "the scheduler"}
    return [f"{labels.get(name, name)} has made no progress for {age:.0f} s (stuck?); see the log, restart "
            "ralph-watch if it stays" for name, age in ages.items() if age is not None and age > limit]
