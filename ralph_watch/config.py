"""config.yaml: parsed once, at start, into frozen dataclasses.

`load_config` reads the strict YAML dialect (see strictyaml.py), replaces `${NAME}` in every
string value from the environment (`$${` is a literal `${`), lets TIKTOK_CLIENT_KEY and
TIKTOK_CLIENT_SECRET from the environment win over the file, resolves relative paths
against the config file's folder, checks every key and raises one `ConfigError` listing
every problem, each naming its dotted key. Secret values (client secret, web password,
notification URLs, which embed tokens) never appear in a message or a repr.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Mapping

from . import sidecar
from .config_accounts import both_given, read_accounts, zone_problem
from .config_model import (
    NOTIFY_EVENTS,
    OPTIONAL_NOTIFY_EVENTS,
    AccountConfig,
    Config,
    DedupeConfig,
    NotifyConfig,
    ScheduleConfig,
    TikTokConfig,
    UploadConfig,
    WatchConfig,
    WebConfig,
)
from .config_read import CREDENTIALS, Problems, Reader, expand_path, machine_timezone, section, substitute, unknown_keys
from .config_sections import (
    Context,
    read_dedupe,
    read_notify,
    read_schedule,
    read_tiktok,
    read_upload,
    read_watch,
    read_web,
)
from .constants import WATCH_MODES
from .errors import ConfigError, SidecarError
from .strictyaml import load_strict

__all__ = [
    "Config",
    "AccountConfig",
    "WatchConfig",
    "ScheduleConfig",
    "WebConfig",
    "TikTokConfig",
    "NotifyConfig",
    "UploadConfig",
    "DedupeConfig",
    "load_config",
    "read_config",
    "default_config",
    "machine_timezone",
    "NOTIFY_EVENTS",
    "OPTIONAL_NOTIFY_EVENTS",
    "WATCH_MODES",
    "CONFIG_MAX_BYTES",
    "CREDENTIALS",
]

CONFIG_MAX_BYTES: Final = 1024 * 1024
_TOP: Final = ("inbox", "state_dir", "timezone", "watch", "schedule", "web", "tiktok", "notify", "defaults",
               "upload", "dedupe", "accounts")


def load_config(text: str, *, base_dir: Path, environ: Mapping[str, str], path: str = "config.yaml") -> Config:
    """Parse config text; raise ConfigError with every problem. `path` only labels messages."""
    try:
        raw, lines = load_strict(text.encode("utf-8", "surrogatepass"), path=path, max_bytes=CONFIG_MAX_BYTES)
    except SidecarError as exc:
        raise ConfigError([str(p) for p in exc.problems]) from None

    problems = Problems(path, lines)
    substituted: set[str] = set()
    raw = {k: substitute(v, k, environ, problems, substituted) for k, v in raw.items()}
    unknown_keys(raw, _TOP, "", problems)
    ctx = Context(problems=problems, substituted=substituted, base_dir=Path(base_dir), environ=environ)
    top = Reader(raw, "", problems, substituted)

    inbox_text = top.get("inbox", "./inbox", top.text(empty_ok=False))
    state_text = top.get("state_dir", "~/.local/state/ralph-watch", top.text(empty_ok=False))
    inbox = expand_path(inbox_text, base_dir=ctx.base_dir, environ=environ)
    state_dir = expand_path(state_text, base_dir=ctx.base_dir, environ=environ)

    timezone = machine_timezone(environ)
    if "timezone" in raw:
        bad_zone = zone_problem(raw["timezone"])
        if bad_zone:
            problems.add("timezone", bad_zone)
        else:
            timezone = raw["timezone"]

    watch, schedule, web = read_watch(raw, ctx), read_schedule(raw, ctx), read_web(raw, ctx)
    tiktok, notify, upload = read_tiktok(raw, ctx), read_notify(raw, ctx), read_upload(raw, ctx)

    # defaults: sidecar keys, checked like a sidecar's
    defaults = MappingProxyType(dict(section(raw, "defaults", problems)))
    for key, body in sidecar.check_defaults(defaults):
        problems.add(f"defaults.{key}", body)

    dedupe = read_dedupe(raw, ctx)

    accounts: tuple[AccountConfig, ...] = ()
    if "accounts" in raw:
        if "inbox" in raw:
            problems.add("inbox", both_given(str(raw["inbox"])))
        accounts = read_accounts(raw, ctx, timezone=timezone, defaults=defaults)

    if problems.items:
        raise ConfigError(problems.items)
    first = accounts[0] if accounts else None
    return Config(inbox=first.inbox if first else inbox, state_dir=state_dir,
                  timezone=first.timezone if first else timezone, watch=watch, schedule=schedule,
                  web=web, tiktok=tiktok, notify=notify, upload=upload,
                  defaults=first.defaults if first else defaults, dedupe=dedupe, configured_accounts=accounts,
                  top_level=AccountConfig("", inbox, timezone, defaults) if first else None)


def read_config(path: Path, environ: Mapping[str, str] = os.environ) -> Config:
    """Read and parse a config file; a missing or unreadable file is a ConfigError too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([
            f"{path}: no such config file; create it by copying config.example.yaml "
            f"(cp config.example.yaml {path}) and edit it, or pass another one with -c"
        ]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror}); check its permissions"]) from None
    if len(data) > CONFIG_MAX_BYTES:
        raise ConfigError([f"{path}: the file is {len(data)} bytes, more than the {CONFIG_MAX_BYTES} allowed"])
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}:{line}: the file is not UTF-8 text (byte offset {exc.start}); save it as UTF-8"]) from None
    return load_config(text, base_dir=path.resolve().parent, environ=environ, path=str(path))


def default_config(base_dir: Path, **overrides: Any) -> Config:
    """The config without a file (inbox ./inbox under base_dir); `overrides` replace top-level fields."""
    config = load_config("", base_dir=Path(base_dir), environ=os.environ)
    if "inbox" in overrides or "state_dir" in overrides:
        for name in ("inbox", "state_dir"):
            if name in overrides and not Path(overrides[name]).is_absolute():
                overrides[name] = Path(base_dir) / overrides[name]
            elif name in overrides:
                overrides[name] = Path(overrides[name])
    return replace(config, **overrides)
