"""The emulator's world: the TikTok account(s) it pretends to be and the app it pretends to
have registered (client key/secret, audit status, limits). Loaded from a YAML profile."""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ralph_watch.errors import ConfigError
from ralph_watch.limits import Limits
from ralph_watch.media_rules import MAX_DURATION_SEC
from ralph_watch.tiktok.protocol import MAX_SINGLE_CHUNK

__all__ = ["Account", "Profile", "load_profile", "make_avatar_png", "ACCOUNT_FIELDS", "SWITCHES", "check_switch",
           "MAX_CHUNK_SIZE", "MAX_CHUNK_SIZE_MIB", "UNAUDITED_PRIVATE_POSTS"]

MAX_CHUNK_SIZE = MAX_SINGLE_CHUNK    # TikTok's limit since 2026-08 (decimal); 64 MiB is the other reading
MAX_CHUNK_SIZE_MIB = 67_108_864


def make_avatar_png(seed: str, size: int = 64) -> bytes:
    """A small, valid PNG (two colours from `seed`, a diagonal split) made without any imaging library."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    fg, bg = digest[0:3], bytes(255 - b // 3 for b in digest[3:6])
    rows = b"".join(b"\x00" + b"".join(fg if x > y else bg for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Account:
    """One TikTok creator account as the emulator shows it (creator_info, user/info)."""

    open_id: str = "emu-open-id-0001"
    nickname: str = "Ralph Emulator"
    username: str = "ralph.emulator"
    avatar: bytes = b""                   # PNG; generated from open_id when empty
    private: bool = False
    max_video_post_duration_sec: int = MAX_DURATION_SEC
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    banned: bool = False
    bio_description: str = "Posts made by the ralph-watch TikTok emulator."
    is_verified: bool = False
    follower_count: int = 0
    following_count: int = 0
    likes_count: int = 0

    def __post_init__(self) -> None:
        if not self.avatar:
            self.avatar = make_avatar_png(self.open_id)


# Fields a profile file or the control API may set (avatar comes from a file path instead).
ACCOUNT_FIELDS: dict[str, type] = {
    "open_id": str, "nickname": str, "username": str, "private": bool,
    "max_video_post_duration_sec": int, "comment_disabled": bool, "duet_disabled": bool,
    "stitch_disabled": bool, "banned": bool, "bio_description": str, "is_verified": bool,
    "follower_count": int, "following_count": int, "likes_count": int,
}


@dataclass
class Profile:
    """The emulated app registration plus its accounts. `account` is the one the consent page
    logs in by default; `other_accounts` can be chosen there (like TikTok's account switcher)."""

    account: Account = field(default_factory=Account)
    client_key: str = "emulator-client-key"
    client_secret: str = "emulator-client-secret"
    app_name: str = "ralph-watch"
    limits: Limits = field(default_factory=Limits)
    audited: bool = True                  # app-level: unaudited apps may post SELF_ONLY to private accounts only
    verified_url_prefixes: list[str] = field(default_factory=list)   # for PULL_FROM_URL
    redirect_uris: list[str] = field(default_factory=list)  # registered URIs (":*" port wildcard); empty = any valid one
    other_accounts: list[Account] = field(default_factory=list)
    media_checks: bool = True             # False: every upload passes (load tests with random bytes)
    # Switches for behaviours TikTok leaves uncertain (tiktok-api.md); each default is the documented reading.
    require_brand_toggle: bool = False    # True: refuse a direct init without post_info.brand_content_toggle
    accept_ceil_chunk_count: bool = False  # True: total_chunk_count may also be rounded up
    max_chunk_size: int = MAX_CHUNK_SIZE  # 67_108_864: a single chunk up to 64 MiB passes (Postiz's plan)
    unaudited_private_posts: str = "refuse"  # or "make_private": an unaudited non-SELF_ONLY post becomes SELF_ONLY
    cover_public_only: bool = False       # True: video_cover_timestamp_ms is dropped for non-public posts
    draft_drops_caption: bool = False     # True: an inbox draft keeps no title either
    creator_can_post: bool = True         # False: creator_info says creator_can_post=false, init is refused
    active_user_cap_reached: bool = False  # True: the app's daily active-creator cap is reached
    # True: an unaudited app's consent refuses a user when limits.unaudited_users_per_day others
    # authorised it in the last 24 h (error=access_denied on the callback). TikTok documents the
    # cap only at init (reached_active_user_cap), which stays on either way.
    unaudited_login_cap: bool = False

    def accounts(self) -> list[Account]:
        return [self.account, *self.other_accounts]


_PROFILE_KEYS = {"client_key": str, "client_secret": str, "app_name": str, "audited": bool,
                 "verified_url_prefixes": list, "redirect_uris": list, "media_checks": bool,
                 "require_brand_toggle": bool, "accept_ceil_chunk_count": bool, "max_chunk_size": int,
                 "unaudited_private_posts": str, "cover_public_only": bool, "draft_drops_caption": bool,
                 "creator_can_post": bool, "active_user_cap_reached": bool, "unaudited_login_cap": bool}
# The switches above that the control API (/_emulator/profile) may change at run time, too.
SWITCHES: tuple[str, ...] = ("audited", "media_checks", "require_brand_toggle", "accept_ceil_chunk_count",
                             "max_chunk_size", "unaudited_private_posts", "cover_public_only",
                             "draft_drops_caption", "creator_can_post", "active_user_cap_reached",
                             "unaudited_login_cap")
UNAUDITED_PRIVATE_POSTS = ("refuse", "make_private")


def check_switch(key: str, value: Any) -> str | None:
    """Why `value` is not allowed for profile switch `key` (None: it is)."""
    kind = _PROFILE_KEYS[key]
    if not _check(value, kind):
        return f"must be {_type_name(kind)}, not {value!r}"
    if key == "unaudited_private_posts" and value not in UNAUDITED_PRIVATE_POSTS:
        return f"must be one of {', '.join(UNAUDITED_PRIVATE_POSTS)}, not {value!r}"
    if key == "max_chunk_size" and not MAX_CHUNK_SIZE <= value <= MAX_CHUNK_SIZE_MIB:
        return f"must be between {MAX_CHUNK_SIZE} (64 MB) and {MAX_CHUNK_SIZE_MIB} (64 MiB), not {value!r}"
    return None
_SECTION_KEYS = ("account", "other_accounts", "limits")


def _key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Map dotted keys ("account.private", "other_accounts.0.nickname") to 1-based line numbers."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            lines[key] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, key + "."))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[f"{prefix}{i}"] = item.start_mark.line + 1
            lines.update(_key_lines(item, f"{prefix}{i}."))
    return lines


def _type_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", str: "a string", list: "a list of strings"}[kind]


def _check(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def _read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """(the parsed document, dotted key -> line) or ConfigError with one sentence."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the emulator profile ({exc}); pass an existing UTF-8 YAML file"]) from None
    try:
        return yaml.safe_load(text), _key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError([f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the syntax"]) from None


class _Reader:
    """One profile file being read: its keys' lines and every problem found so far."""

    def __init__(self, path: Path, lines: dict[str, int]) -> None:
        self.path = path
        self.lines = lines
        self.problems: list[str] = []

    def at(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}: {key}" if line else f"{self.path}: {key}"

    def switches(self, data: dict[Any, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            key = str(key)
            if key in _PROFILE_KEYS:
                why = check_switch(key, value)
                if why is not None:
                    self.problems.append(f"{self.at(key)}: {why}")
                else:
                    kwargs[key] = value
            elif key not in _SECTION_KEYS:
                known = ", ".join(sorted([*_PROFILE_KEYS, *_SECTION_KEYS]))
                self.problems.append(f"{self.at(key)}: unknown key; known keys are {known}")
        return kwargs

    def account(self, raw: Any, where: str) -> Account | None:
        if not isinstance(raw, dict):
            self.problems.append(f"{self.at(where)}: must be a mapping of account fields ({', '.join(ACCOUNT_FIELDS)})")
            return None
        values: dict[str, Any] = {}
        for k, v in raw.items():
            k = str(k)
            if k == "avatar":
                avatar_path = (self.path.parent / str(v)) if not Path(str(v)).is_absolute() else Path(str(v))
                try:
                    values["avatar"] = avatar_path.read_bytes()
                except OSError as exc:
                    self.problems.append(f"{self.at(f'{where}.{k}')}: cannot read the avatar PNG {avatar_path} "
                                         f"({exc.strerror})")
                continue
            why = _account_value_problem(k, v)
            if why is not None:
                self.problems.append(f"{self.at(f'{where}.{k}')}: {why}")
            else:
                values[k] = v
        return Account(**values)

    def others(self, raw_list: Any) -> list[Account]:
        if not isinstance(raw_list, list):
            self.problems.append(f"{self.at('other_accounts')}: must be a list of account mappings")
            return []
        others = [self.account(item, f"other_accounts.{i}") for i, item in enumerate(raw_list)]
        return [a for a in others if a is not None]

    def limits(self, raw_limits: Any) -> Limits | None:
        if not isinstance(raw_limits, dict):
            self.problems.append(f"{self.at('limits')}: must be a mapping of limit names to numbers")
            return None
        limits, limit_problems = Limits.from_mapping(raw_limits, where="limits")
        for problem in limit_problems:
            line = self.lines.get(problem.split(":", 1)[0])
            self.problems.append(f"{self.path}:{line}: {problem}" if line else f"{self.path}: {problem}")
        return limits


def _account_value_problem(key: str, value: Any) -> str | None:
    if key not in ACCOUNT_FIELDS:
        return f"unknown account key; known keys are avatar, {', '.join(ACCOUNT_FIELDS)}"
    if not _check(value, ACCOUNT_FIELDS[key]):
        return f"must be {_type_name(ACCOUNT_FIELDS[key])}, not {value!r}"
    if key == "max_video_post_duration_sec" and not 1 <= value <= MAX_DURATION_SEC:
        return f"must be between 1 and {MAX_DURATION_SEC} (TikTok's longest is 10 minutes)"
    return None


def load_profile(path: Path | None) -> Profile:
    """Read a profile YAML file (None: the defaults). Raises ConfigError listing every bad key
    as `FILE:LINE: key: what is wrong (how to fix it)`."""
    if path is None:
        return Profile()
    path = Path(path)
    data, lines = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the profile must be a mapping of keys (client_key, account, limits, ...)"])
    reader = _Reader(path, lines)
    kwargs = reader.switches(data)
    if "account" in data:
        account = reader.account(data["account"], "account")
        if account is not None:
            kwargs["account"] = account
    if "other_accounts" in data:
        kwargs["other_accounts"] = reader.others(data["other_accounts"])
    if "limits" in data:
        limits = reader.limits(data["limits"])
        if limits is not None:
            kwargs["limits"] = limits
    profile = Profile(**kwargs)
    ids = [a.open_id for a in profile.accounts()]
    if len(set(ids)) != len(ids):
        reader.problems.append(f"{path}: two accounts share an open_id; give each account its own open_id")
    if reader.problems:
        raise ConfigError(reader.problems)
    return profile


assert {f.name for f in fields(Account)} >= set(ACCOUNT_FIELDS)
