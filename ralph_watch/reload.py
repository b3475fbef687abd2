"""What a SIGHUP changes: which config keys apply live and which need a restart, and which
pairs are checked again because what decides their validity changed. Pure."""
from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from .config import Config
from .tasks import State, Task

__all__ = ["LIVE_KEYS", "RESTART_KEYS", "changed_keys", "decided_by_config", "applied"]

S = State
# What SIGHUP applies live, and what needs a restart (sockets, folders, the TikTok client, the page).
LIVE_KEYS = ("schedule", "notify", "defaults")
RESTART_KEYS = ("inbox", "state_dir", "timezone", "watch", "web", "tiktok", "dedupe")


def changed_keys(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """(changed keys applied live, changed keys that wait for a restart), dotted."""
    live = [k for name in LIVE_KEYS for k in _changed(name, getattr(old, name), getattr(new, name))]
    later = [k for name in RESTART_KEYS for k in _changed(name, getattr(old, name), getattr(new, name))]
    if _shape(old) != _shape(new):    # accounts added, removed, renamed, moved: new watchers and logins
        later.append("accounts")
    else:
        live += [f"accounts.{a.name}.defaults" for a, b in zip(old.configured_accounts, new.configured_accounts)
                 if dict(a.defaults) != dict(b.defaults)]
    return live, sorted(set(later), key=later.index)


def applied(old: Config, new: Config) -> Config:
    """The running config after a SIGHUP: `old` with what applies live taken from `new` (the
    accounts' defaults too, while the accounts themselves stay as they are)."""
    accounts = new.configured_accounts if _shape(old) == _shape(new) else old.configured_accounts
    return replace(old, schedule=new.schedule, notify=new.notify, defaults=new.defaults,
                   configured_accounts=accounts)


def _shape(cfg: Config) -> list[tuple[str, str, str]]:
    return [(a.name, str(a.inbox), a.timezone) for a in cfg.configured_accounts]


def decided_by_config(task: Task | None) -> bool:
    """Whether a pair is checked again when SIGHUP changes the defaults or the grace (they decide
    validity): never a failed one (retrying is the user's call) nor one waiting out a back-off
    or for TikTok."""
    return task is None or task.state in (S.INVALID, S.WAITING, S.MISSED) or (
        task.state is S.SCHEDULED and not task.held and not task.retries and not task.settle)



def _changed(name: str, old: Any, new: Any) -> list[str]:
    """Dotted names of the config keys that differ (never their values: some are secrets)."""
    if old == new:
        return []
    if is_dataclass(old) and is_dataclass(new):
        return [k for f in fields(old) for k in _changed(f"{name}.{f.name}", getattr(old, f.name),
                                                             getattr(new, f.name))]
    return [name]
