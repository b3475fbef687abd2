"""Logging set-up and the redaction that keeps secrets out of every log line.

The privacy promise says tokens never reach a log. Callers try not to log them, but
libraries do: httpx logs request URLs at INFO (an upload URL carries `upload_token`),
httpcore logs response headers at DEBUG, urllib3 (under Apprise) logs URLs, and an
exception message may quote a request. So the `RedactingFilter` sits on the *handlers*
(every record of every logger passes it, not only ours) and scrubs the message, its
args, the exception text and the stack, once per record. Our formatters redact the final
line only for a record the filter did not see (or a JSON extra it could not scrub), so a
line is never redacted twice: that second pass was ~1.2 s of a 10,000-pair start-up.

What is scrubbed (see `redact`):
- values registered at run time with `register_secret` (tokens, client secret, password),
- TikTok token shapes `act.…`, `rft.…`, `clt.…`,
- `Authorization: <scheme> <credentials>`, bare `Bearer <token>`, `Cookie:`/`Set-Cookie:` values,
- sensitive query/form parameters (`access_token=`, `upload_token=`, `code=`, ...),
- sensitive JSON / Python-dict fields (`"access_token": "…"`).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Final, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "setup_logging",
    "RedactingFilter",
    "register_secret",
    "forget_secret",
    "redact",
    "redact_url",
    "MASK",
]

MASK: Final = "***"

# Shorter values are not registered: masking "ab" everywhere would garble every line
# while protecting nothing a person could not guess.
MIN_SECRET_LENGTH: Final = 4

# Query/form parameters whose value is a credential. `code` (the OAuth authorization
# code) is ambiguous in prose ("exit code=1"), so it is masked only in URL/form position.
SENSITIVE_PARAMS: Final = frozenset({
    "access_token", "refresh_token", "client_secret", "code", "code_verifier",
    "upload_token", "token", "password", "secret", "signature", "sig",
})
_UNAMBIGUOUS_PARAMS: Final = ("access_token", "refresh_token", "client_secret",
                              "code_verifier", "upload_token", "password")
_JSON_FIELDS: Final = ("access_token", "refresh_token", "client_secret", "code_verifier",
                       "upload_token", "password", "authorization")

# Libraries that log request lines/headers at DEBUG (and httpx URLs at INFO): quiet
# unless the operator asks for debug output. Their records still pass the filter.
NOISY_LOGGERS: Final = ("httpx", "httpcore", "urllib3", "apprise", "watchdog")

_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9])(act|rft|clt)\.[A-Za-z0-9._~!+/=%\-]{6,}")
# `Authorization: Basic x`, `'authorization': 'Bearer x'`, httpcore's `(b'Authorization', b'Bearer x')`;
# a comma counts as a separator only after a quote, so prose ("authorization, then") is left alone.
_AUTH_HEADER_RE = re.compile(
    r"(?i)(authorization(?:[\"']\s*[:,]|\s*[:=])\s*(?:b?[\"'])?\s*)([A-Za-z][\w-]*)\s+[^\s\"',;)\]}]+")
# Session cookies of the web page grant access like a password.
_COOKIE_RE = re.compile(r"(?i)(\b(?:set-)?cookie(?:[\"']\s*[:,]|\s*:)\s*(?:b?[\"'])?\s*)[^\"'\r\n]+")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+(?!\*\*\*)[^\s\"',;)\]}]+")
_PARAM_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(" + "|".join(_UNAMBIGUOUS_PARAMS) + r")=([^&\s\"'#;,]+)")
_CODE_PARAM_RE = re.compile(r"(?im)(^|[?&\"'])(code|token|secret|signature|sig)=([^&\s\"'#;,]+)")
_JSON_FIELD_RE = re.compile(
    r"(?i)([\"'](?:" + "|".join(_JSON_FIELDS) + r")[\"']\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")

_lock = threading.Lock()
_secrets: Counter[str] = Counter()   # value -> registrations (a value may be registered twice)
_secret_re: re.Pattern[str] | None = None


def _variants(value: str) -> set[str]:
    """The forms a secret takes in a log line: as is, URL-encoded, JSON-escaped."""
    forms = {value, quote(value, safe=""), quote(value, safe="/"), json.dumps(value)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _rebuild() -> None:
    global _secret_re
    forms: set[str] = set()
    for value in _secrets:
        forms |= _variants(value)
    # Longest first so a secret that contains another is masked whole.
    ordered = sorted(forms, key=len, reverse=True)
    _secret_re = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None


def register_secret(value: str) -> None:
    """From now on, mask `value` wherever it appears in a log line (or a notification)."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets[value] += 1
        _rebuild()


def forget_secret(value: str) -> None:
    """Undo one `register_secret(value)` (after logout / token rotation)."""
    if not isinstance(value, str):
        return
    with _lock:
        if _secrets.get(value, 0) <= 0:
            return
        _secrets[value] -= 1
        if _secrets[value] <= 0:
            del _secrets[value]
        _rebuild()


def redact(text: str) -> str:
    """`text` with every known secret shape and registered secret replaced by `***`."""
    if not text:
        return text
    pattern = _secret_re  # read once: a concurrent rebuild swaps the object, never mutates it
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _AUTH_HEADER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)} {MASK}", text)
    text = _COOKIE_RE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _TOKEN_RE.sub(lambda m: f"{m.group(1)}.{MASK}", text)
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _CODE_PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", text)
    text = _JSON_FIELD_RE.sub(lambda m: f"{m.group(1)}{m.group(2)[0]}{MASK}{m.group(2)[0]}", text)
    return text


def _redact_query(query: str) -> str:
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}={MASK}" if sep and name.lower() in SENSITIVE_PARAMS else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """Scheme, host and path of `url`; sensitive query values and any password become `***`.

    Other query parameters are kept byte for byte (no re-encoding), so the line still
    tells which upload or which callback it was.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_pw, _pw = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if has_pw else f"{MASK}@{hostport}"
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path,
                          _redact_query(parts.query), _redact_query(parts.fragment)))
    return redact(rebuilt)


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs a record in place; it never drops a record.

    The message is formatted here (msg % args) and the args dropped, so a token passed as
    an argument is masked too; the exception text is rendered and masked here as well, so
    a formatter reuses the masked `exc_text` instead of rendering the traceback again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _REDACTED, False):  # a second handler: already scrubbed
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what we can, still masked
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        setattr(record, _REDACTED, True)
        return True


# Set on a record by RedactingFilter; the leading underscore keeps it out of JSON extras.
_REDACTED: Final = "_ralph_watch_redacted"
_PLAIN: Final = (str, int, float, bool, type(None))


_STANDARD_ATTRS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


class _TextFormatter(logging.Formatter):
    """`2026-11-29 12:00:00 INFO ralph_watch.publisher: task 12 clip.mp4: scheduled -> uploading`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # One record, one line: a file name like "x\n2026-01-01 ... INFO ..." cannot forge a
        # log line. Control characters in the message are shown escaped (tracebacks stay as is).
        record.message = _escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line if getattr(record, _REDACTED, False) else redact(line)


_CONTROLS: Final = {c: repr(chr(c))[1:-1] for c in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]}


def _escape_controls(text: str) -> str:
    return text.translate(_CONTROLS)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        scrubbed = bool(getattr(record, _REDACTED, False))
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
                # The filter scrubs text extras only; a dict or list extra is scrubbed below.
                scrubbed = scrubbed and isinstance(value, _PLAIN)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        line = json.dumps(entry, default=str, ensure_ascii=False)
        return line if scrubbed else redact(line)


_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR, "critical": logging.CRITICAL}
_OURS: Final = "_ralph_watch_handler"


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Configure the root logger: one stream handler (stderr by default) with redaction.

    Calling it again replaces our handler (not anyone else's). The redaction filter is
    also put on every other root handler present, so no handler sees an unmasked record
    after ours ran. Raises ValueError naming the option when `level` or `fmt` is unknown.
    """
    lvl = _LEVELS.get(str(level).strip().lower())
    if lvl is None:
        raise ValueError(f"--log-level: unknown level {level!r}; use one of {', '.join(_LEVELS)}")
    if fmt not in ("text", "json"):
        raise ValueError(f"--log-format: unknown format {fmt!r}; use text or json")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)  # not closed: the stream belongs to the caller
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _OURS, True)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root.addHandler(handler)
    for h in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
    root.setLevel(lvl)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if lvl == logging.DEBUG else logging.WARNING)
