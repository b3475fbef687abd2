"""config.yaml's shape: frozen dataclasses, one per section, and the defaults they start from."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .limits import Limits

__all__ = ["Config", "AccountConfig", "WatchConfig", "ScheduleConfig", "WebConfig", "TikTokConfig", "UploadConfig",
           "NotifyConfig", "DedupeConfig", "NOTIFY_EVENTS", "OPTIONAL_NOTIFY_EVENTS", "DEFAULT_SCOPES",
           "DEFAULT_TRUSTED_PROXIES", "DEFAULT_ACCOUNT"]

NOTIFY_EVENTS: Final = ("published", "failed", "invalid", "missed", "needs_login", "mount_lost")
# Events sent only when notify.events lists them (not in the default list above).
OPTIONAL_NOTIFY_EVENTS: Final = ("in_inbox",)
DEFAULT_SCOPES: Final = ("user.info.basic", "video.publish", "video.upload")
# web.trusted_proxies when web.public_url is set and the key is not: a proxy on this machine.
DEFAULT_TRUSTED_PROXIES: Final = ("127.0.0.0/8", "::1")
# The one account a config without `accounts:` has (its folder is the top-level `inbox:`).
DEFAULT_ACCOUNT: Final = "default"


def _no_defaults() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class WatchConfig:
    mode: str = "auto"
    settle_seconds: float = 3.0
    poll_seconds: float = 2.0
    rescan_seconds: float = 300.0


@dataclass(frozen=True)
class ScheduleConfig:
    late_grace_minutes: float = 360.0


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    password: str | None = field(default=None, repr=False)
    privacy_policy: Path | None = None   # the operator's policy (.txt or .html), served at /privacy
    terms: Path | None = None            # the operator's terms of service, served at /terms
    password_file: str | None = None      # the path given (the password read from it is in `password`)
    # Peers whose X-Forwarded-For names the client (the sign-in throttle counts per client).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class TikTokConfig:
    client_key: str = ""
    client_secret: str = field(default="", repr=False)
    client_secret_file: str | None = None  # the path given (the secret read from it is in `client_secret`)
    redirect_uri: str = "http://127.0.0.1:8080/callback"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    api_base: str = "https://open.tiktokapis.com"
    authorize_url: str = "https://www.tiktok.com/v2/auth/authorize/"
    limits: Limits = field(default_factory=Limits)
    audited: bool | None = None       # has the app passed TikTok's audit? None: unknown


@dataclass(frozen=True)
class UploadConfig:
    max_rate: float | None = None      # bytes per second for all uploads together; None: no cap


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple[str, ...] = field(default=(), repr=False)
    events: tuple[str, ...] = NOTIFY_EVENTS
    include_title: bool = False


@dataclass(frozen=True)
class DedupeConfig:
    remember_days: int = 0     # 0: the guard remembers published content in memory only


@dataclass(frozen=True)
class AccountConfig:
    """One TikTok account: its inbox folder, its time zone and its sidecar defaults (already
    merged over the top-level ones)."""
    name: str
    inbox: Path
    timezone: str = "UTC"
    defaults: Mapping[str, Any] = field(default_factory=_no_defaults)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Config:
    # The first account's inbox, timezone and defaults (the only account's without `accounts:`),
    # so callers written for one account keep working.
    inbox: Path
    state_dir: Path
    timezone: str = "UTC"
    watch: WatchConfig = field(default_factory=WatchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    tiktok: TikTokConfig = field(default_factory=TikTokConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    defaults: Mapping[str, Any] = field(default_factory=_no_defaults)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    # What `accounts:` listed, in file order; empty when the config has the top-level inbox only.
    configured_accounts: tuple[AccountConfig, ...] = ()
    # With `accounts:`, the top-level timezone and defaults as written (the fields above are the
    # first account's): `check` and `new` judge a path in no account's inbox by them.
    top_level: AccountConfig | None = None

    @property
    def accounts(self) -> tuple[AccountConfig, ...]:
        """Every account, the first one first; one named "default" without `accounts:`."""
        if self.configured_accounts:
            return self.configured_accounts
        return (AccountConfig(DEFAULT_ACCOUNT, self.inbox, self.timezone, self.defaults),)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def redirect_path(self) -> str:
        """The path the OAuth callback is served on ("/callback")."""
        return urlsplit(self.tiktok.redirect_uri).path or "/"
