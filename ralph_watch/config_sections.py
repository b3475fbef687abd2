"""One reader per config.yaml section: each checks its keys, records every problem and returns the
section's dataclass (with defaults where a value was refused)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from .config_model import (
    DEFAULT_SCOPES,
    DEFAULT_TRUSTED_PROXIES,
    NOTIFY_EVENTS,
    OPTIONAL_NOTIFY_EVENTS,
    DedupeConfig,
    NotifyConfig,
    ScheduleConfig,
    TikTokConfig,
    UploadConfig,
    WatchConfig,
    WebConfig,
)
from .config_read import (
    Problems,
    Reader,
    check_url,
    from_env_text,
    is_loopback,
    null_or,
    page_file,
    rate,
    secret,
    section,
    unknown_keys,
)
from .constants import WATCH_MODES
from .limits import Limits

__all__ = ["Context", "read_watch", "read_schedule", "read_web", "read_tiktok", "read_notify", "read_upload",
           "read_dedupe"]


@dataclass(frozen=True)
class Context:
    """What every section reader needs besides its own mapping."""
    problems: Problems
    substituted: set[str]           # keys whose value came through ${NAME}
    base_dir: Path
    environ: Mapping[str, str]

    def section(self, raw: Mapping[str, Any], name: str, model: type) -> tuple[Mapping[str, Any], Reader]:
        """The section `name` (checked for unknown keys against `model`'s fields) and its reader."""
        data = section(raw, name, self.problems)
        unknown_keys(data, tuple(f.name for f in fields(model)), f"{name}.", self.problems)
        return data, Reader(data, f"{name}.", self.problems, self.substituted)


def read_watch(raw: Mapping[str, Any], ctx: Context) -> WatchConfig:
    _, wr = ctx.section(raw, "watch", WatchConfig)
    mode = wr.get("mode", "auto", wr.text())
    if mode not in WATCH_MODES:
        ctx.problems.add("watch.mode", f'"{mode}" is not a watch mode; use one of {", ".join(WATCH_MODES)} '
                                       "(polling for network mounts)")
        mode = "auto"
    return WatchConfig(
        mode=mode,
        settle_seconds=wr.get("settle_seconds", 3.0, wr.number()),
        poll_seconds=wr.get("poll_seconds", 2.0, wr.number()),
        rescan_seconds=wr.get("rescan_seconds", 300.0, wr.number()),
    )


def read_schedule(raw: Mapping[str, Any], ctx: Context) -> ScheduleConfig:
    # 0 is allowed (never publish late)
    _, sr = ctx.section(raw, "schedule", ScheduleConfig)
    return ScheduleConfig(late_grace_minutes=sr.get("late_grace_minutes", 360.0, sr.number(strict=False)))


def read_web(raw: Mapping[str, Any], ctx: Context) -> WebConfig:
    problems = ctx.problems
    wb, br = ctx.section(raw, "web", WebConfig)
    host = br.get("host", "127.0.0.1", br.text(empty_ok=False))
    port = br.get("port", 8080, br.number(whole=True, minimum=float("-inf")))
    if not 1 <= port <= 65535:
        problems.add("web.port", f"{port} is not a TCP port; use a number from 1 to 65535")
        port = 8080
    public_url = br.get("public_url", None, br.text(null_ok=True))
    if public_url is not None:
        if not check_url("web.public_url", public_url, loopback_http_only=True, problems=problems):
            public_url = None
        elif urlsplit(public_url).query or urlsplit(public_url).fragment:
            problems.add("web.public_url", "must not have a query (?...) or fragment (#...)")
    allowed_hosts = br.get("allowed_hosts", (), br.text_list())
    password, password_file = _web_password(wb, br, host, ctx)
    default_proxies = DEFAULT_TRUSTED_PROXIES if wb.get("public_url") is not None else ()
    trusted_proxies = _trusted_proxies(br.get("trusted_proxies", default_proxies, br.text_list()),
                                       default_proxies, problems)
    pages = {name: page_file(br.get(name, None, br.text(null_ok=True)), f"web.{name}", base_dir=ctx.base_dir,
                             environ=ctx.environ, problems=problems) for name in ("privacy_policy", "terms")}
    return WebConfig(host=host, port=port, public_url=public_url, allowed_hosts=allowed_hosts, password=password,
                     password_file=password_file,
                     trusted_proxies=trusted_proxies, **pages)


def _web_password(wb: Mapping[str, Any], br: Reader, host: str, ctx: Context) -> tuple[str | None, str | None]:
    """(the password, the password_file path given)."""
    problems = ctx.problems
    password = br.get("password", None, br.text(null_ok=True))
    if password is not None and not password:
        problems.add("web.password", "must not be empty; set a password or remove the line")
        password = None
    password_file = br.get("password_file", None, br.text(null_ok=True, empty_ok=False))
    password = secret("web.password", password, password_file, base_dir=ctx.base_dir, environ=ctx.environ,
                      problems=problems)
    if password is None and (not is_loopback(host) or wb.get("public_url") is not None):
        reason = f'web.host "{host}" is reachable from other machines' if not is_loopback(host) \
            else "web.public_url is set"
        problems.add("web.password", f"a password is required because {reason}; add password: ${{RALPH_WATCH_PASSWORD}} "
                                     "under web: and set that environment variable")
    return password, password_file


def _trusted_proxies(given: tuple[str, ...], default: tuple[str, ...], problems: Problems) -> tuple[str, ...]:
    for i, item in enumerate(given):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            problems.add("web.trusted_proxies", f'item {i + 1} "{item}" is not an IP address or network; write it '
                                                "like 127.0.0.1, ::1 or 10.0.0.0/8 (the reverse proxy's address "
                                                "as this service sees it)")
            return default
    return tuple(given)


def read_tiktok(raw: Mapping[str, Any], ctx: Context) -> TikTokConfig:
    problems, environ = ctx.problems, ctx.environ
    t, tr = ctx.section(raw, "tiktok", TikTokConfig)
    client_key = tr.get("client_key", "", tr.text(null_ok=True)) or ""
    client_secret = tr.get("client_secret", "", tr.text(null_ok=True)) or ""
    client_secret_file = tr.get("client_secret_file", None, tr.text(null_ok=True, empty_ok=False))
    client_secret = secret("tiktok.client_secret", client_secret, client_secret_file, base_dir=ctx.base_dir,
                           environ=environ, problems=problems) or ""
    if environ.get("TIKTOK_CLIENT_KEY"):
        client_key = environ["TIKTOK_CLIENT_KEY"]
    if environ.get("TIKTOK_CLIENT_SECRET"):
        client_secret = environ["TIKTOK_CLIENT_SECRET"]
    redirect_uri = tr.get("redirect_uri", TikTokConfig.redirect_uri, tr.text(empty_ok=False))
    # Plain http to a non-loopback host would send the OAuth code, the client secret and the
    # tokens in clear text; the emulator (and a local callback) stay on loopback, where it is fine.
    if check_url("tiktok.redirect_uri", redirect_uri, loopback_http_only=True, problems=problems):
        parts = urlsplit(redirect_uri)
        if parts.query or parts.fragment:
            problems.add("tiktok.redirect_uri", "must not have a query (?...) or fragment (#...); "
                                                "TikTok compares it exactly, e.g. http://127.0.0.1:8080/callback")
    scopes = tr.get("scopes", DEFAULT_SCOPES, tr.text_list())
    api_base = tr.get("api_base", TikTokConfig.api_base, tr.text(empty_ok=False))
    check_url("tiktok.api_base", api_base, loopback_http_only=True, problems=problems)
    authorize_url = tr.get("authorize_url", TikTokConfig.authorize_url, tr.text(empty_ok=False))
    check_url("tiktok.authorize_url", authorize_url, loopback_http_only=True, problems=problems)
    audited = tr.get("audited", None, null_or(tr.boolean()))
    return TikTokConfig(client_key=client_key, client_secret=client_secret, client_secret_file=client_secret_file,
                        redirect_uri=redirect_uri, scopes=scopes, api_base=api_base, authorize_url=authorize_url,
                        limits=_limits(t, ctx), audited=audited)


def _limits(t: Mapping[str, Any], ctx: Context) -> Limits:
    if "limits" not in t or t["limits"] is None:
        return Limits()
    if not isinstance(t["limits"], dict):
        ctx.problems.add("tiktok.limits", "must be a mapping of keys (indented lines below limits:)")
        return Limits()
    values = {k: (from_env_text(v) if isinstance(v, str) and f"tiktok.limits.{k}" in ctx.substituted else v)
              for k, v in t["limits"].items()}
    limits, limit_problems = Limits.from_mapping(values, where="tiktok.limits")
    for message in limit_problems:
        key, _, rest = message.partition(": ")
        ctx.problems.add(key, rest)
    return limits


def read_notify(raw: Mapping[str, Any], ctx: Context) -> NotifyConfig:
    _, nr = ctx.section(raw, "notify", NotifyConfig)
    urls = nr.get("urls", (), nr.text_list())
    events = nr.get("events", NOTIFY_EVENTS, nr.text_list())
    known_events = NOTIFY_EVENTS + OPTIONAL_NOTIFY_EVENTS
    bad_events = [e for e in events if e not in known_events]
    if bad_events:
        ctx.problems.add("notify.events", f"unknown event {', '.join(bad_events)}; "
                                          f"events are {', '.join(known_events)}")
        events = tuple(e for e in events if e in known_events)
    return NotifyConfig(urls=urls, events=events, include_title=nr.get("include_title", False, nr.boolean()))


def read_upload(raw: Mapping[str, Any], ctx: Context) -> UploadConfig:
    # a bandwidth cap shared by every upload
    _, ur = ctx.section(raw, "upload", UploadConfig)
    return UploadConfig(max_rate=ur.get("max_rate", None, rate))


def read_dedupe(raw: Mapping[str, Any], ctx: Context) -> DedupeConfig:
    # 0 (the default) keeps the memory of published content in memory only
    _, ddr = ctx.section(raw, "dedupe", DedupeConfig)
    return DedupeConfig(remember_days=ddr.get("remember_days", 0, ddr.number(whole=True, strict=False)))
