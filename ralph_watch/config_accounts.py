"""`accounts:` in config.yaml: one inbox folder per TikTok account (issue 15).

Without `accounts:` the top-level `inbox:` is one account named "default"; with it, each name maps
to {inbox, timezone?, defaults?}. A timezone falls back to the top-level one and defaults merge
over the top-level defaults. Two inboxes may not be the same folder or nested inside each other,
since one file would then belong to two accounts.
"""
from __future__ import annotations

import os
import re
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, Final, Mapping, Sequence

from . import sidecar
from .config_model import AccountConfig
from .config_read import Reader, expand_path, unknown_keys, valid_zone
from .config_sections import Context

__all__ = ["ACCOUNT_NAME", "ACCOUNT_KEYS", "read_accounts", "both_given", "inbox_overlaps", "zone_problem"]

ACCOUNT_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
ACCOUNT_KEYS: Final = ("inbox", "timezone", "defaults")


def both_given(inbox_text: str) -> str:
    """The sentence for a config with both `inbox:` and `accounts:` (said of the key `inbox`)."""
    return (f'is given together with accounts:; with accounts, every inbox belongs to an account: remove the line '
            f'"inbox: {inbox_text}" and write the folder under its account, like '
            f"accounts: {{main: {{inbox: {inbox_text}}}}}")


def zone_problem(given: Any) -> str | None:
    """None for a valid IANA zone name, else the sentence (the same for the top level and an account)."""
    if isinstance(given, str) and valid_zone(given):
        return None
    return f"{given!r} is not an IANA time zone name; write it like Europe/Berlin, America/New_York or UTC"


def read_accounts(raw: Mapping[str, Any], ctx: Context, *, timezone: str,
                  defaults: Mapping[str, Any]) -> tuple[AccountConfig, ...]:
    """The accounts `accounts:` lists, in file order; () when it names none usable (problems say why)."""
    problems = ctx.problems
    given = raw.get("accounts")
    if given is None or given == {}:
        problems.add("accounts", "names no account; list at least one, like accounts: {main: {inbox: ./inbox}}")
        return ()
    if not isinstance(given, dict):
        problems.add("accounts", "must be a mapping from account names to their settings (indented lines "
                                 f"below accounts:), not {given!r}")
        return ()
    accounts = [a for a in (_one(str(name), body, ctx, timezone, defaults) for name, body in given.items()) if a]
    for key, message in inbox_overlaps([(a.name, a.inbox) for a in accounts]):
        problems.add(key, message)
    return tuple(accounts)


def _one(name: str, body: Any, ctx: Context, timezone: str, defaults: Mapping[str, Any]) -> AccountConfig | None:
    problems, key = ctx.problems, f"accounts.{name}"
    if not ACCOUNT_NAME.fullmatch(name):
        problems.add(key, f'"{name}" is not an account name; use 1 to 32 lower-case letters, digits and dashes, '
                          "starting with a letter or digit (like main or brand-2)")
        return None
    if not isinstance(body, dict):
        problems.add(key, f"must be a mapping with the account's inbox: (indented lines below {name}:), "
                          f"like {name}: {{inbox: ./inbox/{name}}}")
        return None
    unknown_keys(body, ACCOUNT_KEYS, f"{key}.", problems)
    reader = Reader(body, f"{key}.", problems, ctx.substituted)
    if "inbox" not in body:
        problems.add(f"{key}.inbox", f"is missing; every account needs its own inbox folder, like "
                                     f"inbox: ./inbox/{name}")
        return None
    inbox_text = reader.get("inbox", None, reader.text(empty_ok=False))
    if inbox_text is None:
        return None
    zone = body.get("timezone", timezone)
    bad_zone = zone_problem(zone) if "timezone" in body else None
    if bad_zone:
        problems.add(f"{key}.timezone", bad_zone)
        zone = timezone
    inbox = expand_path(inbox_text, base_dir=ctx.base_dir, environ=ctx.environ)
    return AccountConfig(name=name, inbox=inbox, timezone=zone,
                         defaults=MappingProxyType({**defaults, **_own_defaults(body, key, ctx)}))


def _own_defaults(body: Mapping[str, Any], key: str, ctx: Context) -> Mapping[str, Any]:
    own = body.get("defaults")
    if own is None:
        return {}
    if not isinstance(own, dict):
        ctx.problems.add(f"{key}.defaults", f"must be a mapping of sidecar keys (indented lines below defaults:), "
                                            f"not {own!r}")
        return {}
    for name, message in sidecar.check_defaults(own):
        ctx.problems.add(f"{key}.defaults.{name}", message)
    return own


def inbox_overlaps(inboxes: Sequence[tuple[str, PurePath]]) -> list[tuple[str, str]]:
    """(dotted key, sentence) for each later inbox that is, is inside, or holds an earlier one.

    Compared as written, after normalising `..` and `.` (no file system access: a symlink that
    makes two names one folder is not seen here)."""
    found: list[tuple[str, str]] = []
    seen: list[tuple[str, PurePath]] = []
    for name, path in inboxes:
        here = PurePath(os.path.normpath(path))
        key = f"accounts.{name}.inbox"
        for other, there in seen:
            side = f"put them side by side, like ./inbox/{other} and ./inbox/{name}"
            if here == there:
                found.append((key, f"is the same folder as accounts.{other}.inbox ({there}); give each account "
                                   "a folder of its own"))
            elif here.is_relative_to(there):
                found.append((key, f"{here} is inside accounts.{other}.inbox ({there}); inbox folders may not be "
                                   f"nested: {side}"))
            elif there.is_relative_to(here):
                found.append((key, f"{here} holds accounts.{other}.inbox ({there}); inbox folders may not be "
                                   f"nested: {side}"))
        seen.append((name, here))
    return found
