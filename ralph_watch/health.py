"""Is the service alive: the supervisor's pass (dead scheduler threads restarted, an inbox
that cannot be read notified once per episode) and the `/healthz` answer (every loop's
heartbeat on the monotonic clock). A mixin of `Service`, which owns the threads."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Protocol

from .account import Account
from .clock import Clock
from .feedback import Notify
from .tasks import TaskBoard
from .tiktok.client import TikTokClient

__all__ = ["Health", "InboxWatcher", "HEARTBEAT_STALE_SECONDS", "stale_loops"]

log = logging.getLogger("ralph_watch.service")
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


class Health:
    clock: Clock
    stop: threading.Event
    board: TaskBoard
    units: dict[str, Account]
    primary: Account
    client: TikTokClient
    notifier: Notify | None
    watchers: dict[str, InboxWatcher]
    _threads: dict[str, threading.Thread]
    _sched_seen: dict[str, tuple[Any, float]]
    _started: bool

    @property
    def paused(self) -> bool:
        raise NotImplementedError   # PageBackend's

    def _loop_name(self, name: str) -> str:
        raise NotImplementedError   # Service's

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        raise NotImplementedError   # Service's

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



def stale_loops(ages: dict[str, float | None], limit: float) -> list[str]:
    """The health reasons for loops that made no progress for more than `limit` seconds."""
    labels = {"watcher_worker": "the inbox watcher", "watcher_supervisor": "the inbox supervisor",
              "scheduler": "the scheduler"}
    return [f"{labels.get(name, name)} has made no progress for {age:.0f} s (stuck?); see the log, restart "
            "ralph-watch if it stays" for name, age in ages.items() if age is not None and age > limit]
