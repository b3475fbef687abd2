"""The config loader's tools: problem collection, `${NAME}` substitution, typed getters, paths
and secrets. Every check records one sentence naming its dotted key and returns a default, so
`load_config` reports every problem at once."""
from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Final, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .logs import register_secret
from .tiktok.ratecap import parse_rate

__all__ = ["Problems", "Reader", "Bad", "Check", "substitute", "unknown_keys", "null_or", "rate", "from_env_text",
           "check_url", "read_secret", "secret", "section", "expand_path", "page_file", "is_loopback",
           "valid_zone", "machine_timezone", "SECRET_KEYS", "CREDENTIALS", "SECRET_FILE_MAX_BYTES"]

# Keys whose values are never shown in a message (Apprise URLs carry bot tokens and passwords).
SECRET_KEYS: Final = frozenset({"tiktok.client_secret", "web.password", "notify.urls"})
# Secrets that may come from systemd's $CREDENTIALS_DIRECTORY (LoadCredential=NAME:PATH).
CREDENTIALS: Final = {"tiktok.client_secret": "tiktok_client_secret", "web.password": "web_password"}
SECRET_FILE_MAX_BYTES: Final = 64 * 1024

# A check takes the dotted key and the value; it returns the typed value or raises Bad.
Check = Callable[[str, Any], Any]


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
        if valid_zone(name):
            return name
    return "UTC"


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return bool(name)


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


class Problems:
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


def substitute(value: Any, key: str, environ: Mapping[str, str], problems: Problems,
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
        return [substitute(v, key, environ, problems, substituted) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, f"{key}.{k}", environ, problems, substituted) for k, v in value.items()}
    return value


def unknown_keys(section: Mapping[str, Any], known: tuple[str, ...], prefix: str, problems: Problems) -> None:
    for key in section:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f'did you mean "{close[0]}"?' if close else f"known keys are {', '.join(known)}"
            problems.add(f"{prefix}{key}", f"unknown key; {hint}")


class Reader:
    """Typed getters for one section; each records a problem and returns the default on error."""

    def __init__(self, data: Mapping[str, Any], prefix: str, problems: Problems, substituted: set[str]) -> None:
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
        except Bad as exc:
            self.problems.add(key, exc.message)
            return default

    # the checks raise Bad(message)
    def number(self, *, minimum: float = 0.0, strict: bool = True, whole: bool = False) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if isinstance(value, str) and key in self.substituted:
                value = from_env_text(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = "a whole number" if whole else "a number"
                raise Bad(f"must be {kind}, not {self._shown(key, value)}")
            if not math.isfinite(value):
                raise Bad(f"must be a finite number, not {value!r}")
            if whole and int(value) != value:
                raise Bad(f"must be a whole number, not {value!r}")
            if (strict and value <= minimum) or (not strict and value < minimum):
                raise Bad(f"must be {'greater than' if strict else 'at least'} {minimum:g}, not {value!r}")
            return int(value) if whole else float(value)
        return check

    def text(self, *, empty_ok: bool = True, null_ok: bool = False) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if value is None and null_ok:
                return None
            if not isinstance(value, str):
                raise Bad(f"must be text, not {self._shown(key, value)}; put it in quotes")
            if not empty_ok and not value.strip():
                raise Bad("must not be empty")
            return value
        return check

    def boolean(self) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if isinstance(value, str) and key in self.substituted and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
                fix = "true" if value.lower() in ("yes", "on", "y") else "false"
                raise Bad(f'"{value}" is not true or false here: ralph-watch reads YAML 1.2, where '
                           f"yes/no/on/off are plain words; write {key.rsplit('.', 1)[-1]}: {fix}")
            if not isinstance(value, bool):
                raise Bad(f"must be true or false, not {self._shown(key, value)}")
            return value
        return check

    def text_list(self) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            if value is None:
                return ()
            if not isinstance(value, list):
                raise Bad(f"must be a list like [a, b], not {self._shown(key, value)}")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    shown = "an item that is not text" if key in SECRET_KEYS else repr(item)
                    raise Bad(f"item {i + 1} must be text, not {shown}; put it in quotes")
            return tuple(value)
        return check


def null_or(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """`key:` left empty (null) means "not set"; anything else goes through `check`."""
    return lambda key, value: None if value is None else check(key, value)


def rate(_key: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise Bad(str(exc)) from None


class Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def from_env_text(value: str) -> Any:
    """A number that arrived as text through ${NAME} is still a number."""
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    return value


def check_url(key: str, value: str, *, loopback_http_only: bool, problems: Problems) -> bool:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(key, f'"{value}" is not an absolute http(s) URL; write it like https://example.com/path')
        return False
    if loopback_http_only and parts.scheme == "http" and not is_loopback(parts.hostname):
        problems.add(key, f'"{value}" must use https (plain http only on a loopback address such as 127.0.0.1)')
        return False
    return True


def read_secret(key: str, path: Path, problems: Problems, *, shown: str) -> str | None:
    """A secret from a file (a *_file key or a systemd credential): UTF-8, trailing newline
    stripped, registered with the log redactor. Never quoted in a message."""
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


def secret(key: str, value: Any, file_text: str | None, *, base_dir: Path, environ: Mapping[str, str],
            problems: Problems) -> Any:
    """The secret `key` from its value, its `<key>_file`, or else systemd's credential."""
    if file_text is not None:
        if value:
            problems.add(f"{key}_file", f"{key} and {key}_file are both set; keep only one of them "
                                        f"(the file keeps the secret out of config.yaml)")
            return value
        path = expand_path(file_text, base_dir=base_dir, environ=environ)
        return read_secret(f"{key}_file", path, problems, shown=f'the file "{path}"') or value
    creds = environ.get("CREDENTIALS_DIRECTORY")
    if not value and creds:
        path = Path(creds) / CREDENTIALS[key]
        if os.path.lexists(path):
            return read_secret(key, path, problems, shown=f"the systemd credential {CREDENTIALS[key]} ({path})") \
                or value
    return value


def section(raw: Mapping[str, Any], name: str, problems: Problems) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(name, f"must be a mapping of keys (indented lines below {name}:), not {value!r}")
        return {}
    return value


def expand_path(value: str, *, base_dir: Path, environ: Mapping[str, str]) -> Path:
    if value == "~" or value.startswith("~/"):
        home = environ.get("HOME") or os.path.expanduser("~")
        value = home + value[1:]
    elif value.startswith("~"):
        value = os.path.expanduser(value)
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


def page_file(value: str | None, key: str, *, base_dir: Path, environ: Mapping[str, str],
               problems: Problems) -> Path | None:
    """web.privacy_policy / web.terms: an existing .txt or .html file (read again on every request)."""
    if not value:
        return None
    path = expand_path(value, base_dir=base_dir, environ=environ)
    if path.suffix.lower() not in (".txt", ".html", ".htm", ".md"):
        problems.add(key, f"{path} must be a text (.txt, .md) or HTML (.html) file")
        return None
    if not path.is_file():
        problems.add(key, f"{path} does not exist (or is not a file); write your own text there, "
                          "or remove the line")
        return None
    return path

