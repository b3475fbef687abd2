"""The running service: wires the parts from the Config, runs their threads, serves the web
backend, and owns the one stop Event. It decides nothing about tasks itself:
- what a snapshot means for its task: `reconcile.py` (carried out by `pairsync.py`);
- when a task goes out: `scheduler.py` (rules in `schedule.py`);
- what TikTok's answers mean: `publisher.py`;
- the page's actions: `actions.py`; what a transition tells the world: `feedback.py`;
- everything per TikTok account: `account.py`;
- the page's view of it (the WebBackend methods): `service_page.py`; `/healthz` and the
  supervisor: `health.py`.

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
from typing import Any, Callable

import httpx

from .account import Account
from .clock import Clock, SystemClock
from .config import Config, read_config
from .errors import ConfigError, RecordError
from .feedback import Notify
from .health import HEARTBEAT_STALE_SECONDS, Health, InboxWatcher, stale_loops
from .record import InstanceLock
from .record_layout import migrate
from .reload import applied, changed_keys, decided_by_config
from .service_page import PageBackend
from .tasks import State, Task, TaskBoard
from .tiktok.http import HttpPool
from .watcher import Watcher
from .workers import PUBLISH_WORKERS, Workers
from .notify import Notifier   # apprise itself is loaded only when notify.urls is set
from .web import make_app
from .web.server import WebServer

__all__ = ["Service", "PUBLISH_WORKERS", "HEARTBEAT_STALE_SECONDS", "stale_loops"]

log = logging.getLogger(__name__)
S = State



class Service(PageBackend, Health):
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
