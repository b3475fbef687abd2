"""The sidecar NAME.yaml: what to publish, how and when.

`parse_sidecar` reads the bytes with the strict loader, checks every key, merges the
config's `defaults:` (a sidecar value wins) and either returns a `Sidecar` or raises one
`SidecarError` listing every problem, each with its line, its key and the fix.
A key with no value (`title:` or `title: ~`) counts as not given.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from .errors import SidecarError, SidecarProblem
from .constants import MAX_TITLE_UTF16, PRIVACY_NAMES
from .strictyaml import SIDECAR_MAX_BYTES, load_strict
from .tiktok.protocol import utf16_len
from .cron import parse_cron
from .schedule import parse_at

__all__ = [
    "Sidecar",
    "parse_sidecar",
    "render_sidecar",
    "check_defaults",
    "KEYS",
    "DEFAULTABLE_KEYS",
    "PRIVACY_NAMES",
    "PROMOTIONS",
    "MODES",
    "MAX_TITLE_UTF16",
]

KEYS: tuple[str, ...] = (
    "title", "privacy", "at", "cron", "allow_comments", "allow_duet", "allow_stitch",
    "cover_ms", "ai_generated", "promotion", "mode",
)
# A default time would put every pair in the same slot: `at`/`cron` belong to each sidecar.
DEFAULTABLE_KEYS: tuple[str, ...] = tuple(k for k in KEYS if k not in ("at", "cron"))
PROMOTIONS: tuple[str, ...] = ("none", "own_brand", "branded", "both")
MODES: tuple[str, ...] = ("direct", "draft")
BOOL_KEYS: tuple[str, ...] = ("allow_comments", "allow_duet", "allow_stitch", "ai_generated")
MAX_COVER_MS = 600_000  # TikTok videos are at most 10 minutes long

# YAML 1.1 booleans that other tools (and older habits) treat as true/false; here they are words.
_YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_YAML11_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})
_TIME_ONLY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")
_PRIVACY_HELP = "use one of public, friends, followers, private"


@dataclass(frozen=True)
class Sidecar:
    title: str = ""
    privacy: str | None = None        # TikTok enum (public -> PUBLIC_TO_EVERYONE, ...)
    at: datetime | None = None        # aware (UTC) instant
    at_text: str | None = None
    cron: str | None = None           # canonical line of its queue (schedule.CronSpec.key)
    cron_text: str | None = None      # the line as the user wrote it
    allow_comments: bool = False
    allow_duet: bool = False
    allow_stitch: bool = False
    cover_ms: int = 0
    ai_generated: bool = False
    promotion: str = "none"           # none | own_brand | branded | both
    mode: str = "direct"              # direct | draft
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # key -> line


# -- value checks: each returns (normalized value, None) or (None, problem body) ----------------

def _show(value: Any) -> str:
    """A value as the user would recognise it in a message (short)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 40 else value[:37] + "...", ensure_ascii=False)
        return shown
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    for choice in choices:
        if word.lower() == choice.lower():
            return f'; did you mean "{choice}"?'
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _check_title(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        if isinstance(value, (bool, int, float)):
            return None, f'{_show(value)} is not text; put the title in quotes: title: "{_show(value)}"'
        return None, f"must be text, not {_show(value)}; put the title in quotes on one line"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return None, "contains an unpaired surrogate (a \\ud800-\\udfff escape); remove it"
    units = utf16_len(value)
    if units > MAX_TITLE_UTF16:
        return None, (
            f"is {units} UTF-16 units long; TikTok allows at most {MAX_TITLE_UTF16} "
            f"(most emoji count as 2), so shorten it by {units - MAX_TITLE_UTF16}"
        )
    return value, None


def _check_privacy(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        if value in PRIVACY_NAMES:
            return PRIVACY_NAMES[value], None
        if value in PRIVACY_NAMES.values():
            return value, None
        return None, f"{_show(value)} is not a privacy level; {_PRIVACY_HELP}" + _suggest(
            value, list(PRIVACY_NAMES) + list(PRIVACY_NAMES.values())
        )
    return None, f"{_show(value)} is not a privacy level; {_PRIVACY_HELP}"


def _check_bool(key: str, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and (value in _YAML11_TRUE or value in _YAML11_FALSE):
        fix = "true" if value in _YAML11_TRUE else "false"
        return None, (
            f"{_show(value)} is not true or false here: ralph-watch reads YAML 1.2, where "
            f"yes/no/on/off are plain words (YAML 1.1 traps); write {key}: {fix}"
        )
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return None, f"{_show(value)} is text because of the quotes; write {key}: {value.lower()} without quotes"
    return None, f"must be true or false, not {_show(value)}"


def _check_cover(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None, f"must be a whole number of milliseconds (0 or more), not {_show(value)}; e.g. cover_ms: 1500"
    if value < 0:
        return None, f"{value} is negative; use 0 or more milliseconds from the start of the video"
    if value > MAX_COVER_MS:
        return None, f"{value} is past the end of any TikTok video (at most {MAX_COVER_MS} ms = 10 minutes)"
    return value, None


def _check_choice(key: str, value: Any, choices: tuple[str, ...], what: str) -> tuple[Any, str | None]:
    if isinstance(value, str) and value in choices:
        return value, None
    body = f"{_show(value)} is not {what}; use one of {', '.join(choices)}"
    hint = _suggest(value, choices) if isinstance(value, str) else ""
    if hint:
        body += hint
    elif key == "promotion" and (value is False or (isinstance(value, str) and value in _YAML11_FALSE)):
        body += " (for no promotion write none)"
    return None, body


def _check_at(value: Any, tz: ZoneInfo) -> tuple[Any, str | None]:
    example = 'at: "2026-12-24 18:00"'
    if not isinstance(value, str):
        return None, f"{_show(value)} is not a date and time; write it in quotes, like {example}"
    if _TIME_ONLY.fullmatch(value.strip()):
        return None, (
            f"{_show(value)} is only a time of day; give the date too, in quotes, like {example} "
            "(unquoted, YAML 1.1 tools read 18:00 as the number 1080)"
        )

    try:
        return (parse_at(value, tz), value), None
    except ValueError as exc:
        return None, _without_key("at", str(exc))


def _check_cron(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, f'{_show(value)} is not a cron line; write it in quotes, like cron: "0 18 * * FRI"'

    try:
        return (parse_cron(value).key, value), None
    except ValueError as exc:
        return None, _without_key("cron", str(exc))


def _without_key(key: str, sentence: str) -> str:
    """schedule's sentences may already start with "at:"/"cron:"; the key is added once, later."""
    prefix = f"{key}:"
    return sentence[len(prefix):].lstrip() if sentence.startswith(prefix) else sentence


def _check_value(key: str, value: Any, tz: ZoneInfo | None) -> tuple[Any, str | None]:
    if key == "title":
        return _check_title(value)
    if key == "privacy":
        return _check_privacy(value)
    if key in BOOL_KEYS:
        return _check_bool(key, value)
    if key == "cover_ms":
        return _check_cover(value)
    if key == "promotion":
        return _check_choice(key, value, PROMOTIONS, "a promotion kind")
    if key == "mode":
        return _check_choice(key, value, MODES, "a mode")
    if key == "at":
        assert tz is not None
        return _check_at(value, tz)
    if key == "cron":
        return _check_cron(value)
    raise KeyError(key)  # pragma: no cover - callers check the key first


def _unknown(key: str, allowed: tuple[str, ...]) -> str:
    hint = _suggest(key, allowed)
    return f"unknown key{hint}" if hint else f"unknown key; known keys are {', '.join(allowed)}"


def _normalize(
    raw: Mapping[str, Any], *, allowed: tuple[str, ...], tz: ZoneInfo | None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check each key of `raw`; return (normalized values, [(key, problem body)])."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        key = str(key)
        if key not in allowed:
            if key in ("at", "cron"):
                problems.append((key, "cannot be a default: give each pair its own at or cron in its sidecar"))
            else:
                problems.append((key, _unknown(key, allowed)))
            continue
        if value is None:
            continue
        normalized, problem = _check_value(key, value, tz)
        if problem is not None:
            problems.append((key, problem))
        else:
            values[key] = normalized
    return values, problems


def check_defaults(defaults: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems of a config `defaults:` mapping as (key, sentence); config prefixes "defaults.".

    Unknown keys give 'unknown key; did you mean "title"?'."""
    return _normalize(defaults, allowed=DEFAULTABLE_KEYS, tz=None)[1]


def _title_comment_trap(text: str, line: int | None) -> str | None:
    """`title: Sunset #sunset` loses "#sunset" as a YAML comment; hashtags make this common."""
    if line is None:
        return None
    lines = text.splitlines()
    if line > len(lines):
        return None
    match = re.match(r"""\s*(?:title|"title"|'title')\s*:(.*)""", lines[line - 1])
    if match is None:
        return None
    rest = match.group(1)
    stripped = rest.strip()
    if not stripped or stripped[0] in "\"'|>":
        return None
    if stripped.startswith("#") or re.search(r"\s#", rest):
        return (
            'the text from " #" on is a YAML comment, so it is not part of the title; '
            'put the whole title in double quotes, like title: "Sunset over the bay #sunset"'
        )
    return None


def _render(key: str, body: str) -> str:
    if body.startswith("unknown key"):
        return f'unknown key "{key}"{body[len("unknown key"):]}'
    return f"{key}: {body}"


def _combination_problems(raw: Mapping[str, Any], own: Mapping[str, Any], merged: Mapping[str, Any],
                          given: set[str], lines: Mapping[str, int], *, path: str) -> list[SidecarProblem]:
    """Keys that are fine alone but not together (or a key TikTok requires that is missing)."""
    problems: list[SidecarProblem] = []
    mode = merged.get("mode", "direct")
    privacy = merged.get("privacy")
    if raw.get("at") is not None and raw.get("cron") is not None:
        later = max((lines.get("at") or 0, "at"), (lines.get("cron") or 0, "cron"))[1]
        problems.append(SidecarProblem(
            path=path,
            message="at and cron are both given; keep one: at for a single date and time, "
                    "cron for a repeating slot",
            line=lines.get(later), key=later,
        ))
    if mode == "direct" and "privacy" not in given:
        problems.append(SidecarProblem(
            path=path,
            message="privacy is missing: TikTok requires an explicit privacy choice for every "
                    "direct post; add a line such as privacy: private (or public, friends, followers), "
                    "or set it for every pair under defaults: in the config",
            line=None, key="privacy",
        ))
    if mode == "direct" and privacy == "SELF_ONLY" and merged.get("promotion") in ("branded", "both"):
        key = "promotion" if "promotion" in own else "privacy"
        problems.append(SidecarProblem(
            path=path,
            message=f"Branded content cannot be private on TikTok: promotion: {merged['promotion']} "
                    "needs privacy public, friends or followers; change privacy, or set promotion "
                    "to none or own_brand",
            line=lines.get(key), key=key,
        ))
    return problems


def parse_sidecar(data: bytes, *, path: str, tz: ZoneInfo, defaults: Mapping[str, Any]) -> Sidecar:
    """Read a sidecar; raise SidecarError listing every problem (each with line and key)."""
    raw, lines = load_strict(data, path=path, max_bytes=SIDECAR_MAX_BYTES)
    own, own_problems = _normalize(raw, allowed=KEYS, tz=tz)
    problems = [
        SidecarProblem(path=path, message=_render(key, body), line=lines.get(key), key=key)
        for key, body in own_problems
    ]
    if "title" in raw and (raw["title"] is None or isinstance(raw["title"], str)):
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        trap = _title_comment_trap(text, lines.get("title"))
        if trap:
            problems.append(SidecarProblem(path=path, message=f"title: {trap}", line=lines.get("title"), key="title"))

    usable_defaults = {k: v for k, v in defaults.items() if k not in ("at", "cron")}
    merged, default_problems = _normalize(usable_defaults, allowed=DEFAULTABLE_KEYS, tz=tz)
    for key, body in default_problems:
        problems.append(SidecarProblem(path=path, message=f"config defaults.{key}: {body}", key=key))
    merged.update(own)

    given = {k for k, v in raw.items() if v is not None} | {k for k, v in usable_defaults.items() if v is not None}
    mode = merged.get("mode", "direct")
    privacy = merged.get("privacy")
    problems += _combination_problems(raw, own, merged, given, lines, path=path)
    if problems:
        raise SidecarError(problems)

    at, at_text = merged.get("at", (None, None))
    cron, cron_text = merged.get("cron", (None, None))
    return Sidecar(
        title=merged.get("title", ""),
        privacy=privacy,
        at=at,
        at_text=at_text,
        cron=cron,
        cron_text=cron_text,
        allow_comments=merged.get("allow_comments", False),
        allow_duet=merged.get("allow_duet", False),
        allow_stitch=merged.get("allow_stitch", False),
        cover_ms=merged.get("cover_ms", 0),
        ai_generated=merged.get("ai_generated", False),
        promotion=merged.get("promotion", "none"),
        mode=mode,
        lines=MappingProxyType({k: v for k, v in lines.items() if "." not in k}),
    )


# -- writing --------------------------------------------------------------------------------------

_LINE_BREAKS = {"\n": "\\n", "\r": "\\r", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}


def _quote(text: str) -> str:
    """A YAML double-quoted scalar on one line that reads back as exactly `text`."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _LINE_BREAKS:
            out.append(_LINE_BREAKS[ch])
        elif ch == "\t":
            out.append("\\t")
        elif (0x20 <= code <= 0x7E) or (0xA0 <= code <= 0xD7FF) or (0xE000 <= code <= 0xFFFD and code != 0xFEFF) \
                or code >= 0x10000:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:  # pragma: no cover - every code point above 0xFFFF is printed raw
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def render_sidecar(values: Mapping[str, Any]) -> str:
    """A sidecar text for `values` (sidecar keys; None = leave out), every string quoted.

    `parse_sidecar` reads it back to the same values. Raises ValueError for an unknown key
    or a value type a sidecar cannot hold."""
    unknown = [k for k in values if k not in KEYS]
    if unknown:
        raise ValueError(f"not sidecar keys: {', '.join(map(str, unknown))}")
    lines = ["# ralph-watch sidecar: publishes the video with the same name"]
    for key in KEYS:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, datetime):
            text = _quote(value.isoformat())
        elif isinstance(value, str):
            text = _quote(value)
        else:
            raise ValueError(f"{key}: cannot write a {type(value).__name__} into a sidecar")
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"
