"""config.yaml: parsed once, at start, into frozen dataclasses.

`load_config` reads the strict YAML dialect (see strictyaml.py), replaces `${NAME}` in every
string value from the environment (`$${` is a literal `${`), lets TIKTOK_CLIENT_KEY and
TIKTOK_CLIENT_SECRET from the environment win over the file, resolves relative paths
against the config file's folder, checks every key and raises one `ConfigError` listing
every problem, each naming its dotted key. Secret values (client secret, web password,
notification URLs, which embed tokens) never appear in a message or a repr.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Final, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import sidecar
from .constants import WATCH_MODES
from .errors import ConfigError, SidecarError
from .limits import Limits
from .tiktok.ratecap import parse_rate

__all__ = [
    "Config",
    "WatchConfig",
    "ScheduleConfig",
    "WebConfig",
    "TikTokConfig",
    "NotifyConfig",
    "DedupeConfig",
    "load_config",
    "read_config",
    "default_config",
    "machine_timezone",
    "NOTIFY_EVENTS",
    "OPTIONAL_NOTIFY_EVENTS",
    "WATCH_MODES",
    "CONFIG_MAX_BYTES",
]

CONFIG_MAX_BYTES: Final = 1024 * 1024
NOTIFY_EVENTS: Final = ("published", "failed", "invalid", "missed", "needs_login", "mount_lost")
# Events sent only when notify.events lists them (not in the default list above).
OPTIONAL_NOTIFY_EVENTS: Final = ("in_inbox",)
DEFAULT_SCOPES: Final = ("user.info.basic", "video.publish", "video.upload")
# Keys whose values are never shown in a message (Apprise URLs carry bot tokens and passwords).
SECRET_KEYS: Final = frozenset({"tiktok.client_secret", "web.password", "notify.urls"})
# Secrets that may come from systemd's $CREDENTIALS_DIRECTORY (LoadCredential=NAME:PATH).
CREDENTIALS: Final = {"tiktok.client_secret": "tiktok_client_secret", "web.password": "web_password"}
SECRET_FILE_MAX_BYTES: Final = 64 * 1024
# web.trusted_proxies when web.public_url is set and the key is not: a proxy on this machine.
DEFAULT_TRUSTED_PROXIES: Final = ("127.0.0.0/8", "::1")


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
class Config:
    inbox: Path
    state_dir: Path
    timezone: str = "UTC"
    watch: WatchConfig = field(default_factory=WatchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    web: WebConfig = field(default_factory=WebConfig)
    tiktok: TikTokConfig = field(default_factory=TikTokConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def redirect_path(self) -> str:
        """The path the OAuth callback is served on ("/callback")."""
        return urlsplit(self.tiktok.redirect_uri).path or "/"


# -- helpers ----------------------------------------------------------------------------------

def machine_timezone(environ: Mapping[str, str]) -> str:
    """The machine's IANA zone: $TZ, else the /etc/localtime symlink, else UTC."""
    candidates = []
    tz_env = environ.get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env)
    try:
        candidates.append(os.readlink("/etc/localtime"))
    except OSError:
        pass
    for name in candidates:
        if "zoneinfo/" in name:
            name = name.split("zoneinfo/", 1)[1]
        if _valid_zone(name):
            return name
    return "UTC"


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return bool(name)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


class _Problems:
    """Collects one sentence per problem, naming the dotted key and its line."""

    def __init__(self, path: str, lines: Mapping[str, int]) -> None:
        self.path = path
        self.lines = lines
        self.items: list[str] = []
        self.silenced: set[str] = set()  # keys whose ${NAME} failed: one problem is enough

    def add(self, key: str, message: str) -> None:
        if key in self.silenced:
            return
        line = self.lines.get(key)
        if line is None and "." in key:  # a list item or a missing child: point at the parent
            line = self.lines.get(key.rsplit(".", 1)[0])
        where = f"{self.path}:{line}" if line is not None else self.path
        self.items.append(f"{where}: {key}: {message}")


def _substitute(value: Any, key: str, environ: Mapping[str, str], problems: _Problems,
                substituted: set[str]) -> Any:
    """Replace ${NAME} in every string below `value`; remember which keys changed."""
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            text = match.group(0)
            if text == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                problems.add(key, "${ must be followed by a variable name and }, like ${HOME}; "
                                  "write $${ for a literal ${")
                problems.silenced.add(key)
                return text
            if name not in environ:
                problems.add(key, f"the environment variable {name} is not set; set it, "
                                  f"or write the value into the config instead of ${{{name}}}")
                problems.silenced.add(key)
                return ""
            substituted.add(key)
            return environ[name]
        return _VAR.sub(one, value) if "${" in value else value
    if isinstance(value, list):
        return [_substitute(v, key, environ, problems, substituted) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, f"{key}.{k}", environ, problems, substituted) for k, v in value.items()}
    return value


def _unknown_keys(section: Mapping[str, Any], known: tuple[str, ...], prefix: str, problems: _Problems) -> None:
    import difflib

    for key in section:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f'did you mean "{close[0]}"?' if close else f"known keys are {', '.join(known)}"
            problems.add(f"{prefix}{key}", f"unknown key; {hint}")


class _Reader:
    """Typed getters for one section; each records a problem and returns the default on error."""

    def __init__(self, data: Mapping[str, Any], prefix: str, problems: _Problems, substituted: set[str]) -> None:
        self.data = data
        self.prefix = prefix
        self.problems = problems
        self.substituted = substituted

    def _shown(self, key: str, value: Any) -> str:
        if key in SECRET_KEYS:
            return "the value given"
        if value is None:
            return "nothing"
        return repr(value) if not isinstance(value, str) else f'"{value}"'

    def get(self, name: str, default: Any, check: Callable[[str, Any], Any]) -> Any:
        key = self.prefix + name
        if name not in self.data:
            return default
        try:
            return check(key, self.data[name])
        except _Bad as exc:
            self.problems.add(key, exc.message)
            return default

    # the checks raise _Bad(message)
    def number(self, *, minimum: float = 0.0, strict: bool = True, whole: bool = False) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if isinstance(value, str) and key in self.substituted:
                value = _from_env_text(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = "a whole number" if whole else "a number"
                raise _Bad(f"must be {kind}, not {self._shown(key, value)}")
            if not math.isfinite(value):
                raise _Bad(f"must be a finite number, not {value!r}")
            if whole and int(value) != value:
                raise _Bad(f"must be a whole number, not {value!r}")
            if (strict and value <= minimum) or (not strict and value < minimum):
                raise _Bad(f"must be {'greater than' if strict else 'at least'} {minimum:g}, not {value!r}")
            return int(value) if whole else float(value)
        return check

    def text(self, *, empty_ok: bool = True, null_ok: bool = False) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if value is None and null_ok:
                return None
            if not isinstance(value, str):
                raise _Bad(f"must be text, not {self._shown(key, value)}; put it in quotes")
            if not empty_ok and not value.strip():
                raise _Bad("must not be empty")
            return value
        return check

    def boolean(self) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if isinstance(value, str) and key in self.substituted and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
                fix = "true" if value.lower() in ("yes", "on", "y") else "false"
                raise _Bad(f'"{value}" is not true or false here: ralph-watch reads YAML 1.2, where '
                           f"yes/no/on/off are plain words; write {key.rsplit('.', 1)[-1]}: {fix}")
            if not isinstance(value, bool):
                raise _Bad(f"must be true or false, not {self._shown(key, value)}")
            return value
        return check

    def text_list(self) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if value is None:
                return ()
            if not isinstance(value, list):
                raise _Bad(f"must be a list like [a, b], not {self._shown(key, value)}")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    shown = "an item that is not text" if key in SECRET_KEYS else repr(item)
                    raise _Bad(f"item {i + 1} must be text, not {shown}; put it in quotes")
            return tuple(value)
        return check


def _null_or(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """`key:` left empty (null) means "not set"; anything else goes through `check`."""
    return lambda key, value: None if value is None else check(key, value)


def _rate(_key: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


class _Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _from_env_text(value: str) -> Any:
    """A number that arrived as text through ${NAME} is still a number."""
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return value


def _check_url(key: str, value: str, *, loopback_http_only: bool, problems: _Problems) -> bool:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(key, f'"{value}" is not an absolute http(s) URL; write it like https://example.com/path')
        return False
    if loopback_http_only and parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems.add(key, f'"{value}" must use https (plain http only on a loopback address such as 127.0.0.1)')
        return False
    return True


def _read_secret(key: str, path: Path, problems: _Problems, *, shown: str) -> str | None:
    """A secret from a file (a *_file key or a systemd credential): UTF-8, trailing newline
    stripped, registered with the log redactor. Never quoted in a message."""
    from .logs import register_secret

    try:
        with open(path, "rb") as f:
            data = f.read(SECRET_FILE_MAX_BYTES + 1)
    except OSError as exc:
        problems.add(key, f"cannot read {shown} ({exc.strerror}); check the path and that the user running "
                          "ralph-watch may read it (chmod 600, owned by that user)")
        return None
    if len(data) > SECRET_FILE_MAX_BYTES:
        problems.add(key, f"{shown} is larger than {SECRET_FILE_MAX_BYTES} bytes; it must hold only the secret")
        return None
    try:
        value = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        problems.add(key, f"{shown} is not UTF-8 text; write the secret as plain text")
        return None
    if not value:
        problems.add(key, f"{shown} is empty; write the secret into it (one line)")
        return None
    register_secret(value)  # never in a log line, like the secrets given in the config
    return value


def _secret(key: str, value: Any, file_text: str | None, *, base_dir: Path, environ: Mapping[str, str],
            problems: _Problems) -> Any:
    """The secret `key` from its value, its `<key>_file`, or else systemd's credential."""
    if file_text is not None:
        if value:
            problems.add(f"{key}_file", f"{key} and {key}_file are both set; keep only one of them "
                                        f"(the file keeps the secret out of config.yaml)")
            return value
        path = _expand_path(file_text, base_dir=base_dir, environ=environ)
        return _read_secret(f"{key}_file", path, problems, shown=f'the file "{path}"') or value
    creds = environ.get("CREDENTIALS_DIRECTORY")
    if not value and creds:
        path = Path(creds) / CREDENTIALS[key]
        if os.path.lexists(path):
            return _read_secret(key, path, problems, shown=f"the systemd credential {CREDENTIALS[key]} ({path})") \
                or value
    return value


def _section(raw: Mapping[str, Any], name: str, problems: _Problems) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(name, f"must be a mapping of keys (indented lines below {name}:), not {value!r}")
        return {}
    return value


def _expand_path(value: str, *, base_dir: Path, environ: Mapping[str, str]) -> Path:
    if value == "~" or value.startswith("~/"):
        home = environ.get("HOME") or os.path.expanduser("~")
        value = home + value[1:]
    elif value.startswith("~"):
        value = os.path.expanduser(value)
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


def _page_file(value: str | None, key: str, *, base_dir: Path, environ: Mapping[str, str],
               problems: _Problems) -> Path | None:
    """web.privacy_policy / web.terms: an existing .txt or .html file (read again on every request)."""
    if not value:
        return None
    path = _expand_path(value, base_dir=base_dir, environ=environ)
    if path.suffix.lower() not in (".txt", ".html", ".htm", ".md"):
        problems.add(key, f"{path} must be a text (.txt, .md) or HTML (.html) file")
        return None
    if not path.is_file():
        problems.add(key, f"{path} does not exist (or is not a file); write your own text there, "
                          "or remove the line")
        return None
    return path


# -- the loader -------------------------------------------------------------------------------

_TOP = ("inbox", "state_dir", "timezone", "watch", "schedule", "web", "tiktok", "notify", "defaults",
        "upload")
_TOP += ("dedupe",)
_WATCH = tuple(f.name for f in fields(WatchConfig))
_SCHEDULE = tuple(f.name for f in fields(ScheduleConfig))
_WEB = tuple(f.name for f in fields(WebConfig))
_TIKTOK = tuple(f.name for f in fields(TikTokConfig))
_NOTIFY = tuple(f.name for f in fields(NotifyConfig))
_UPLOAD = tuple(f.name for f in fields(UploadConfig))
_DEDUPE = tuple(f.name for f in fields(DedupeConfig))


def load_config(text: str, *, base_dir: Path, environ: Mapping[str, str], path: str = "config.yaml") -> Config:
    """Parse config text; raise ConfigError with every problem. `path` only labels messages."""
    from .strictyaml import load_strict

    try:
        raw, lines = load_strict(text.encode("utf-8", "surrogatepass"), path=path, max_bytes=CONFIG_MAX_BYTES)
    except SidecarError as exc:
        raise ConfigError([str(p) for p in exc.problems]) from None

    problems = _Problems(path, lines)
    substituted: set[str] = set()
    raw = {k: _substitute(v, k, environ, problems, substituted) for k, v in raw.items()}
    _unknown_keys(raw, _TOP, "", problems)
    top = _Reader(raw, "", problems, substituted)

    inbox_text = top.get("inbox", "./inbox", top.text(empty_ok=False))
    state_text = top.get("state_dir", "~/.local/state/ralph-watch", top.text(empty_ok=False))
    base_dir = Path(base_dir)
    inbox = _expand_path(inbox_text, base_dir=base_dir, environ=environ)
    state_dir = _expand_path(state_text, base_dir=base_dir, environ=environ)

    timezone = machine_timezone(environ)
    if "timezone" in raw:
        given = raw["timezone"]
        if not isinstance(given, str) or not _valid_zone(given):
            problems.add("timezone", f"{given!r} is not an IANA time zone name; write it like "
                                     "Europe/Berlin, America/New_York or UTC")
        else:
            timezone = given

    # watch
    w = _section(raw, "watch", problems)
    _unknown_keys(w, _WATCH, "watch.", problems)
    wr = _Reader(w, "watch.", problems, substituted)
    mode = wr.get("mode", "auto", wr.text())
    if mode not in WATCH_MODES:
        problems.add("watch.mode", f'"{mode}" is not a watch mode; use one of {", ".join(WATCH_MODES)} '
                                   "(polling for network mounts)")
        mode = "auto"
    watch = WatchConfig(
        mode=mode,
        settle_seconds=wr.get("settle_seconds", 3.0, wr.number()),
        poll_seconds=wr.get("poll_seconds", 2.0, wr.number()),
        rescan_seconds=wr.get("rescan_seconds", 300.0, wr.number()),
    )

    # schedule: 0 is allowed (never publish late)
    s = _section(raw, "schedule", problems)
    _unknown_keys(s, _SCHEDULE, "schedule.", problems)
    sr = _Reader(s, "schedule.", problems, substituted)
    schedule = ScheduleConfig(late_grace_minutes=sr.get("late_grace_minutes", 360.0, sr.number(strict=False)))

    # web
    wb = _section(raw, "web", problems)
    _unknown_keys(wb, _WEB, "web.", problems)
    br = _Reader(wb, "web.", problems, substituted)
    host = br.get("host", "127.0.0.1", br.text(empty_ok=False))
    port = br.get("port", 8080, br.number(whole=True, minimum=float("-inf")))
    if not 1 <= port <= 65535:
        problems.add("web.port", f"{port} is not a TCP port; use a number from 1 to 65535")
        port = 8080
    public_url = br.get("public_url", None, br.text(null_ok=True))
    if public_url is not None:
        if not _check_url("web.public_url", public_url, loopback_http_only=True, problems=problems):
            public_url = None
        elif urlsplit(public_url).query or urlsplit(public_url).fragment:
            problems.add("web.public_url", "must not have a query (?...) or fragment (#...)")
    allowed_hosts = br.get("allowed_hosts", (), br.text_list())
    password = br.get("password", None, br.text(null_ok=True))
    if password is not None and not password:
        problems.add("web.password", "must not be empty; set a password or remove the line")
        password = None
    password_file = br.get("password_file", None, br.text(null_ok=True, empty_ok=False))
    password = _secret("web.password", password, password_file, base_dir=base_dir, environ=environ,
                       problems=problems)
    if password is None and (not _is_loopback(host) or wb.get("public_url") is not None):
        reason = f'web.host "{host}" is reachable from other machines' if not _is_loopback(host) \
            else "web.public_url is set"
        problems.add("web.password", f"a password is required because {reason}; add password: ${{RALPH_WATCH_PASSWORD}} "
                                     "under web: and set that environment variable")
    default_proxies = DEFAULT_TRUSTED_PROXIES if wb.get("public_url") is not None else ()
    trusted_proxies = br.get("trusted_proxies", default_proxies, br.text_list())
    for i, item in enumerate(trusted_proxies):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            problems.add("web.trusted_proxies", f'item {i + 1} "{item}" is not an IP address or network; write it '
                                                "like 127.0.0.1, ::1 or 10.0.0.0/8 (the reverse proxy's address "
                                                "as this service sees it)")
            trusted_proxies = default_proxies
            break
    pages = {name: _page_file(br.get(name, None, br.text(null_ok=True)), f"web.{name}", base_dir=base_dir,
                              environ=environ, problems=problems) for name in ("privacy_policy", "terms")}
    web = WebConfig(host=host, port=port, public_url=public_url, allowed_hosts=allowed_hosts, password=password,
                    password_file=password_file, trusted_proxies=tuple(trusted_proxies), **pages)

    # tiktok
    t = _section(raw, "tiktok", problems)
    _unknown_keys(t, _TIKTOK, "tiktok.", problems)
    tr = _Reader(t, "tiktok.", problems, substituted)
    client_key = tr.get("client_key", "", tr.text(null_ok=True)) or ""
    client_secret = tr.get("client_secret", "", tr.text(null_ok=True)) or ""
    client_secret_file = tr.get("client_secret_file", None, tr.text(null_ok=True, empty_ok=False))
    client_secret = _secret("tiktok.client_secret", client_secret, client_secret_file, base_dir=base_dir,
                            environ=environ, problems=problems) or ""
    if environ.get("TIKTOK_CLIENT_KEY"):
        client_key = environ["TIKTOK_CLIENT_KEY"]
    if environ.get("TIKTOK_CLIENT_SECRET"):
        client_secret = environ["TIKTOK_CLIENT_SECRET"]
    redirect_uri = tr.get("redirect_uri", TikTokConfig.redirect_uri, tr.text(empty_ok=False))
    # Plain http to a non-loopback host would send the OAuth code, the client secret and the
    # tokens in clear text; the emulator (and a local callback) stay on loopback, where it is fine.
    if _check_url("tiktok.redirect_uri", redirect_uri, loopback_http_only=True, problems=problems):
        parts = urlsplit(redirect_uri)
        if parts.query or parts.fragment:
            problems.add("tiktok.redirect_uri", "must not have a query (?...) or fragment (#...); "
                                                "TikTok compares it exactly, e.g. http://127.0.0.1:8080/callback")
    scopes = tr.get("scopes", DEFAULT_SCOPES, tr.text_list())
    api_base = tr.get("api_base", TikTokConfig.api_base, tr.text(empty_ok=False))
    _check_url("tiktok.api_base", api_base, loopback_http_only=True, problems=problems)
    authorize_url = tr.get("authorize_url", TikTokConfig.authorize_url, tr.text(empty_ok=False))
    _check_url("tiktok.authorize_url", authorize_url, loopback_http_only=True, problems=problems)
    limits = Limits()
    if "limits" in t and t["limits"] is not None:
        if not isinstance(t["limits"], dict):
            problems.add("tiktok.limits", "must be a mapping of keys (indented lines below limits:)")
        else:
            limit_values = {k: (_from_env_text(v) if isinstance(v, str) and f"tiktok.limits.{k}" in substituted else v)
                            for k, v in t["limits"].items()}
            limits, limit_problems = Limits.from_mapping(limit_values, where="tiktok.limits")
            for message in limit_problems:
                key, _, rest = message.partition(": ")
                problems.add(key, rest)
    audited = tr.get("audited", None, _null_or(tr.boolean()))
    tiktok = TikTokConfig(client_key=client_key, client_secret=client_secret, client_secret_file=client_secret_file,
                          redirect_uri=redirect_uri,
                          scopes=scopes, api_base=api_base, authorize_url=authorize_url, limits=limits,
                          audited=audited)

    # notify
    n = _section(raw, "notify", problems)
    _unknown_keys(n, _NOTIFY, "notify.", problems)
    nr = _Reader(n, "notify.", problems, substituted)
    urls = nr.get("urls", (), nr.text_list())
    events = nr.get("events", NOTIFY_EVENTS, nr.text_list())
    known_events = NOTIFY_EVENTS + OPTIONAL_NOTIFY_EVENTS
    bad_events = [e for e in events if e not in known_events]
    if bad_events:
        problems.add("notify.events", f"unknown event {', '.join(bad_events)}; "
                                      f"events are {', '.join(known_events)}")
        events = tuple(e for e in events if e in known_events)
    notify = NotifyConfig(urls=urls, events=events,
                          include_title=nr.get("include_title", False, nr.boolean()))

    # upload: a bandwidth cap shared by every upload
    u = _section(raw, "upload", problems)
    _unknown_keys(u, _UPLOAD, "upload.", problems)
    ur = _Reader(u, "upload.", problems, substituted)
    upload = UploadConfig(max_rate=ur.get("max_rate", None, _rate))

    # defaults: sidecar keys, checked like a sidecar's
    d = _section(raw, "defaults", problems)
    for key, body in sidecar.check_defaults(d):
        problems.add(f"defaults.{key}", body)

    # dedupe: 0 (the default) keeps the memory of published content in memory only
    dd = _section(raw, "dedupe", problems)
    _unknown_keys(dd, _DEDUPE, "dedupe.", problems)
    ddr = _Reader(dd, "dedupe.", problems, substituted)
    dedupe = DedupeConfig(remember_days=ddr.get("remember_days", 0, ddr.number(whole=True, strict=False)))

    if problems.items:
        raise ConfigError(problems.items)
    return Config(inbox=inbox, state_dir=state_dir, timezone=timezone, watch=watch, schedule=schedule,
                  web=web, tiktok=tiktok, notify=notify, upload=upload, defaults=MappingProxyType(dict(d)),
                  dedupe=dedupe)


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
