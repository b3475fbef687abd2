"""Whole sidecars, generated: nothing but SidecarError ever leaves parse_sidecar (issue 12, item 10).

The YAML layer has its own properties (test_sidecar_properties.py); these go through every
key's checks with values shaped like what people write: random cron lines from the Vixie
grammar (valid and not), `at` strings from the year 1 to 9999 with and without offsets, in
zones with odd DST, and the other keys with right and wrong values, rendered to YAML bytes.
Every problem names the file and, for a key written in the sidecar, its line.
"""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from ralph_watch.errors import SidecarError
from ralph_watch.sidecar import parse_sidecar
from tests.unit.test_sidecar_fuzz import AT_TEXTS, CRON_LINES, SETTINGS, ZONES, _other, sidecars  # the unit half's helpers, shared


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "title": st.one_of(st.text(max_size=60), _other, st.just("Sunset #sunset"), st.just("x" * 2300)),
    "privacy": st.one_of(st.sampled_from(["public", "friends", "followers", "private", "SELF_ONLY", "Private"]), _other),
    "at": st.one_of(AT_TEXTS, _other),
    "cron": st.one_of(CRON_LINES, _other),
    "allow_comments": st.one_of(st.booleans(), _other),
    "allow_duet": st.one_of(st.booleans(), _other),
    "allow_stitch": st.one_of(st.booleans(), _other),
    "cover_ms": st.one_of(st.integers(-5, 700_000), _other),
    "ai_generated": st.one_of(st.booleans(), _other),
    "promotion": st.one_of(st.sampled_from(["none", "own_brand", "branded", "both", "brand"]), _other),
    "mode": st.one_of(st.sampled_from(["direct", "draft", "drafts"]), _other),
}


def render(doc: dict[str, Any], style: str) -> bytes:
    """YAML bytes: safe_dump (quoted where YAML needs it), or plain `key: value` lines as people type."""
    if style == "dump":
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")
    lines = []
    for key, value in doc.items():
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        if style == "quoted" and isinstance(value, str):
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key}: {text}")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def check(data: bytes, zone: str, defaults: dict[str, Any]) -> None:
    try:
        parse_sidecar(data, path="gen.yaml", tz=ZoneInfo(zone), defaults=defaults)
    except SidecarError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.path == "gen.yaml" and p.message, p
            if p.key in ("at", "cron") and not p.message.startswith("at and cron"):
                assert p.line is not None, f"{p} names no line"


class TestWholeSidecars:
    @SETTINGS
    @given(doc=sidecars(), style=st.sampled_from(["dump", "plain", "quoted"]), zone=st.sampled_from(ZONES),
           defaults=st.sampled_from([{}, {"privacy": "private"}, {"privacy": "nope", "mode": 1}]))
    @example(doc={"privacy": "private", "at": "0001-01-01 00:00"}, style="quoted", zone="Europe/Berlin", defaults={})
    @example(doc={"privacy": "private", "at": "9999-12-31 23:59-01:00"}, style="quoted", zone="Europe/Berlin",
             defaults={})
    @example(doc={"privacy": "private", "cron": "0 0 */5,8 * 1"}, style="quoted", zone="UTC", defaults={})
    @example(doc={"privacy": "private", "cron": "0 0 1 * */2,3"}, style="quoted", zone="UTC", defaults={})
    def test_only_sidecar_error_escapes(self, doc: dict[str, Any], style: str, zone: str,
                                        defaults: dict[str, Any]) -> None:
        check(render(doc, style), zone, defaults)
