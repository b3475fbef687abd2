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
from .errors import ConfigError, RecordError
from .feedback import Notify
from .record import InstanceLock
from .record_layout import migrate
from .reload import applied, changed_keys, decided_by_config
from .tasks import State, Task, TaskBoard
from .tiktok.http import HttpPool
from .web.backend import LoginError
from .watcher import Watcher
from .workers import PUBLISH_WORKERS, Workers
from .notify import Notifier   # apprise itself is loaded only when notify.urls is set
from .web import make_app
from .web.server import WebServer

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
        names = [a.name for a in config.accounts]
        self.board = TaskBoard(now=self.clock.now, on_transition=self._on_transition, on_detach=self._on_detach,
                               default_account=names[0])
        self.instance_lock = InstanceLock(config.state_dir)
        self.serve_web = serve_web
        self.web_server: WebServer | None = None
        self.workers = Workers(stop=self.stop)
        self.executor = self.workers.executor
        self.notifier = self._make_notifier()
        self.pool = HttpPool(transport)               # one TLS context and connection pool for every account
        self._views: dict[str, tuple[Config, Config]] = {}
        self.units: dict[str, Account] = {
            name: Account(config=self._config_of(name), clock=self.clock, board=self.board.for_account(name),
                          lock=self.lock, workers=self.workers, stop=self.stop, notifier=lambda: self.notifier,
                          pool=self.pool, name=name, several=len(names) > 1) for name in names}
        self.primary = self.units[names[0]]
        self.inbox = self.primary.inbox
        # The parts of the first account that tests, benchmarks and the web layer reach by name.
        self.client, self.records, self.scheduler = self.primary.client, self.primary.records, self.primary.scheduler
        self.probe_cache = self.primary.probe_cache
        self._threads: dict[str, threading.Thread] = {}
        self._sched_seen: dict[str, tuple[Any, float]] = {}   # name -> (last_step, monotonic when it changed)
        self._started = False
        w = config.watch
        self.watchers: dict[str, InboxWatcher] = {
            name: Watcher(unit.inbox, mode=w.mode, settle_seconds=w.settle_seconds, poll_seconds=w.poll_seconds,
                          rescan_seconds=w.rescan_seconds, clock=self.clock, sink=unit.pairs.on_snapshots,
                          stop=self.stop) for name, unit in self.units.items()}

    @property
    def watcher(self) -> InboxWatcher:
        """The first account's inbox watcher (the only one's with one account)."""
        return self.watchers[self.primary.name]

    @watcher.setter
    def watcher(self, value: InboxWatcher) -> None:
        self.watchers[self.primary.name] = value

    def _config_of(self, name: str) -> Callable[[], Config]:
        """The running config as account `name` sees it: its inbox, timezone and defaults in the
        top-level fields (computed once per running config)."""
        def view() -> Config:
            cfg = self.config
            seen = self._views.get(name)
            if seen is not None and seen[0] is cfg:
                return seen[1]
            acc = next(a for a in cfg.accounts if a.name == name)
            mine = replace(cfg, inbox=acc.inbox, timezone=acc.timezone, defaults=acc.defaults)
            self._views[name] = (cfg, mine)
            return mine
        return view

    def unit(self, account: str | None) -> Account:
        """The account named `account` (None: the first); LoginError for a name not configured."""
        if account is None:
            return self.primary
        found = self.units.get(account)
        if found is None:
            raise LoginError(f'There is no account named "{account}"; the accounts are '
                             f'{", ".join(self.units)}.')
        return found

    def _task_unit(self, task_id: str) -> Account:
        t = self.board.get(task_id)
        return self.units.get(t.account, self.primary) if t is not None else self.primary

    def _on_transition(self, t: Task, old: State, note: str) -> None:
        self.units.get(t.account, self.primary).feedback.on_transition(t, old, note)

    def _on_detach(self, t: Task) -> None:
        self.units.get(t.account, self.primary).feedback.on_detach(t)

    def _make_notifier(self) -> Notify | None:
        n = self.config.notify
        if not n.urls:
            return None
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
        """Start everything; returns once the initial inbox scans are done and the page serves."""
        try:  # tokens live in memory: a core dump would put them on disk
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            log.warning("could not switch core dumps off")
        self.instance_lock.acquire()
        try:
            migrate(self.config.state_dir, [unit.inbox for unit in self.units.values()])
        except RecordError as exc:
            self.primary.record_failed(str(exc))
        for unit in self.units.values():
            try:
                unit.load()
            except RecordError as exc:
                unit.record_failed(str(exc))
            if not unit.inbox.exists():
                # Never created here: under an unmounted share that would write onto the local disk.
                log.error("inbox %s does not exist; is the share mounted?", unit.inbox)
        if self.notifier is not None:
            self.notifier.start()
        for name, watcher in self.watchers.items():
            watcher.start()  # the initial scan reports every pair before this returns
            if watcher.status().get("inbox_ok", True):   # an unreachable inbox is not an empty one
                self.units[name].pairs.forget_orphans()
        for name, unit in self.units.items():
            self._spawn(self._loop_name(name), unit.scheduler.run)
        self._spawn("supervisor", self._supervise)
        if self.serve_web:
            app = make_app(self, self.config, clock=self.clock)
            for unit in self.units.values():
                unit.feedback.forget_media = app.ralph_web.forget_task  # thumbnails leave with their task
            self.web_server = WebServer(app, self.config.web.host, self.config.web.port)
            self.web_server.start()
        self._started = True
        for unit in self.units.values():
            log.info("ralph-watch is running%s: inbox %s, page %s, watching with %s, time zone %s", unit._for(),
                     unit.inbox, self.page_url, self.watchers[unit.name].status().get("mode"),
                     unit.config().timezone)

    def _loop_name(self, name: str) -> str:
        return "scheduler" if name == self.primary.name else f"scheduler-{name}"

    def _wake_all(self) -> None:
        for unit in self.units.values():
            unit.scheduler.wake.set()

    def run_forever(self) -> None:
        """start(), then wait for SIGINT/SIGTERM (or stop()), then shut down cleanly."""
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: shutting down", signal.strsignal(signum))
            self.stop.set()
            self._wake_all()
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
        self._wake_all()
        for watcher in self.watchers.values():
            try:
                watcher.stop_and_join(timeout)
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
        for unit in self.units.values():
            try:
                unit.client.close()
            except Exception:
                pass
        try:
            self.pool.close()
        except Exception:
            pass
        self.instance_lock.release()
        log.info("ralph-watch stopped")

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        th = threading.Thread(target=target, name=name, daemon=True)
        th.start()
        self._threads[name] = th

    def _supervise(self) -> None:
        lost: set[str] = set()
        while not self.stop.wait(5.0):
            try:
                for name, unit in self.units.items():
                    self._watch_mount(name, unit, lost)
                    self._scheduler_age(name)   # keeps the scheduler's heartbeat measured between health checks
                    th = self._threads.get(self._loop_name(name))
                    if th is not None and not th.is_alive() and not self.stop.is_set():
                        log.error("the scheduler thread%s died; restarting it", unit._for())
                        self._spawn(self._loop_name(name), unit.scheduler.run)
            except Exception:
                log.exception("supervisor pass failed")

    def _watch_mount(self, name: str, unit: Account, lost: set[str]) -> None:
        st = self.watchers[name].status()
        named = unit.feedback.named()
        if not st.get("inbox_ok", True):
            if name not in lost and self.notifier is not None:
                self.notifier.send("mount_lost", video=str(unit.inbox), state="unreachable",
                                   message=f"The inbox {unit.inbox} cannot be read: {st.get('error')}. "
                                           "Nothing was deleted; tasks come back when it is reachable.", **named)
            lost.add(name)
        elif name in lost:
            lost.discard(name)
            if self.notifier is not None:
                self.notifier.reset_episode("mount_lost", **named)

    # -- SIGHUP ----------------------------------------------------------------------------------
    def _on_sighup(self) -> None:
        # A signal handler runs on the main thread between bytecodes: never take locks here.
        threading.Thread(target=self.reload_config, name="sighup", daemon=True).start()

    def reload_config(self) -> list[str]:
        """SIGHUP: re-read the config file, apply what can change live (schedule, notify,
        defaults), log the rest as "restart to apply", rescan the inboxes. The logins stay:
        tokens live in this process only. Returns the changed keys applied live."""
        applied_keys: list[str] = []
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
                applied_keys = self._apply_config(new)
        else:
            log.info("SIGHUP: no config file to re-read; rescanning the inbox")
        for watcher in self.watchers.values():
            try:
                watcher.rescan_now("SIGHUP")
            except Exception:
                log.exception("rescan failed")
        return applied_keys

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
            self.config = applied(old, new)
            if new.notify != old.notify:
                previous, self.notifier = self.notifier, self._make_notifier()
                if previous is not None:
                    previous.stop(2.0)
                if self.notifier is not None:
                    self.notifier.start()
            for unit in self.units.values():
                unit.scheduler.set_late_grace(timedelta(minutes=new.schedule.late_grace_minutes))
                unit.pairs.recheck(decided_by_config)
        log.info("SIGHUP: applied %s from %s; the login is kept", ", ".join(live), self.config_path)
        self._wake_all()
        return live

    # -- WebBackend: the page's view and actions --------------------------------------------------
    @property
    def paused(self) -> bool:
        return any(unit.scheduler.paused for unit in self.units.values())

    @paused.setter
    def paused(self, value: bool) -> None:
        if value:
            self.pause()
        else:
            self.resume()

    def accounts(self) -> list[dict[str, Any]]:
        """One entry per configured account, in config order (the page's cards, /api/accounts)."""
        out = []
        for acc_cfg, unit in zip(self.config.accounts, self.units.values()):
            view = unit.view()
            out.append({"name": unit.name, "logged_in": view is not None,
                        "nickname": view["nickname"] if view else None, "inbox": str(acc_cfg.inbox),
                        "username": view["username"] if view else None, "avatar": bool(view and view["avatar"]),
                        "needs_login": len(unit.board.select(lambda t: t.state is S.NEEDS_LOGIN)),
                        "quota": self.quota(account=unit.name)})
        return out

    def account(self, *, account: str | None = None) -> dict[str, Any] | None:
        return self.unit(account).view()

    def login_url(self, *, state: str, code_challenge: str, account: str | None = None) -> str:
        return self.unit(account).login_url(state=state, code_challenge=code_challenge)

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None, account: str | None = None) -> None:
        unit = self.unit(account)

        def taken_by(open_id: str) -> str | None:
            return next((o.name for o in self.units.values() if o is not unit and o.open_id == open_id), None)
        unit.finish_login(code=code, code_verifier=code_verifier, scopes=scopes, taken_by=taken_by)

    def logout(self, *, account: str | None = None) -> None:
        self.unit(account).logout()

    def avatar(self, *, account: str | None = None) -> tuple[bytes, str] | None:
        return self.unit(account).avatar()

    def cancel(self, task_id: str) -> None:
        self._task_unit(task_id).actions.cancel(task_id)

    def retry(self, task_id: str) -> None:
        self._task_unit(task_id).actions.retry(task_id)

    def publish_now(self, task_id: str) -> None:
        self._task_unit(task_id).actions.publish_now(task_id)

    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        return self._task_unit(task_id).actions.open_video(task_id)

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        return self._task_unit(task_id).actions.read_sidecar(task_id)

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        return self._task_unit(task_id).actions.edit_sidecar(task_id, form)

    def pause(self) -> None:
        for unit in self.units.values():
            unit.scheduler.pause()
        log.info("publishing paused from the page")

    def resume(self) -> None:
        for unit in self.units.values():
            unit.scheduler.resume()
        log.info("publishing resumed")

    def quota(self, *, account: str | None = None) -> dict[str, int]:
        """The daily-cap meter: direct posts in the last 24 h and pending drafts, out of their caps."""
        client = self.client if account is None else self.unit(account).client   # None: the first account's
        lim = client.limiter   # replaced at each login: read it through the client every time
        return {"posts": lim.daily_posts.count(), "posts_cap": lim.daily_posts.limit,
                "drafts": lim.pending_drafts.count(), "drafts_cap": lim.pending_drafts.limit}

    def watch_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.watcher.status()
        return status

    def health(self) -> tuple[bool, dict[str, Any]]:
        reasons: list[str] = []
        beats: dict[str, float | None] = {}
        statuses = {name: w.status() for name, w in self.watchers.items()}
        for name, unit in self.units.items():
            st, prefix = statuses[name], (f"{name}: " if unit.label else "")
            sched = self._threads.get(self._loop_name(name))
            sched_ok = sched is not None and sched.is_alive()
            if not sched_ok:
                reasons.append(f"{prefix}the scheduler is not running")
            if not st.get("alive", True):
                reasons.append(f"{prefix}the inbox watcher is not running")
            if not st.get("inbox_ok", True):
                reasons.append(f"{prefix}the inbox cannot be read: {st.get('error')}")
            tag = f"_{name}" if unit.label and unit is not self.primary else ""
            beats.update({f"watcher_{k}{tag}": v for k, v in self.watchers[name].heartbeat_ages().items()})
            beats[f"scheduler{tag}"] = self._scheduler_age(name) if sched_ok else None
        reasons += stale_loops(beats, HEARTBEAT_STALE_SECONDS)
        ok = not reasons and self._started
        st = statuses[self.primary.name]
        return ok, {"ok": ok, "paused": self.paused, "watch_mode": st.get("mode"), "watch_reason": st.get("reason"),
                    "inbox_ok": all(s.get("inbox_ok", True) for s in statuses.values()),
                    "last_scan": st.get("last_scan"), "logged_in": self.client.logged_in,
                    "tasks": self.board.counts(), "heartbeat_age": beats, "reason": "; ".join(reasons) or None}

    def _scheduler_age(self, name: str | None = None) -> float:
        """Seconds since the scheduler's last step, on the monotonic clock (its `last_step` is wall
        time, which may jump): measured from when this service first saw that step."""
        name = name or self.primary.name
        mono = self.clock.monotonic()
        last = self.units[name].scheduler.last_step
        seen = self._sched_seen.get(name)
        if seen is None or seen[0] != last:
            seen = self._sched_seen[name] = (last, mono)
        return round(max(0.0, mono - seen[1]), 3)

    def warnings(self) -> list[str]:
        if len(self.units) == 1:
            return self.primary.warnings()
        return [f"{unit.name}: {w}" for unit in self.units.values() for w in unit.warnings()]


def stale_loops(ages: dict[str, float | None], limit: float) -> list[str]:
    """The health reasons for loops that made no progress for more than `limit` seconds."""
    labels = {"watcher_worker": "the inbox watcher", "watcher_supervisor": "the inbox supervisor",
              "scheduler": "the scheduler"}
    return [f"{labels.get(name, name)} has made no progress for {age:.0f} s (stuck?); see the log, restart "
            "ralph-watch if it stays" for name, age in ages.items() if age is not None and age > limit]
