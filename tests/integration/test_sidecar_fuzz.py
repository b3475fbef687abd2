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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ralph_watch.errors import SidecarError
from ralph_watch.sidecar import KEYS, parse_sidecar

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Pacific/Kiritimati",
         "America/Santiago", "Asia/Kathmandu", "UTC", "Etc/GMT+12", "Etc/GMT-14"]

_names = ["MON", "tue", "Sun", "JAN", "dec", "FRIDAY", "L", "W", "5L", "H", "?", "#"]
_number = st.one_of(st.integers(0, 61), st.integers(-3, 100), st.sampled_from([0, 1, 6, 7, 12, 23, 24, 29, 30, 31, 59]))
_atom = st.one_of(_number.map(str), st.sampled_from(_names))
_item = st.one_of(
    st.just("*"),
    _atom,
    st.builds(lambda s: f"*/{s}", _number),
    st.builds(lambda a, b: f"{a}-{b}", _atom, _atom),
    st.builds(lambda a, b, s: f"{a}-{b}/{s}", _atom, _atom, _number),
    st.builds(lambda a, s: f"{a}/{s}", _atom, _number),
    st.sampled_from(["", "*-5", "5#3", "H(0-29)", "%", "٣", "²"]),
)
_field = st.lists(_item, min_size=1, max_size=4).map(",".join)
CRON_LINES = st.one_of(
    st.lists(_field, min_size=5, max_size=5).map(" ".join),
    st.lists(_field, min_size=1, max_size=7).map(" ".join),
    st.sampled_from(["@daily", "@hourly", "@reboot", "@fortnightly", "@", "0 0 */5,8 * 1", "0 0 1 * */2,3",
                     "0 0 30 2 *", "0 0 31 4,6 *", "* * * * *", "0,30 2 * * *"]),
)


def _at_text(year: int, month: int, day: int, hour: int, minute: int, sec: str, sep: str, off: str) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}{sec}{off}"


AT_TEXTS = st.one_of(
    st.builds(
        _at_text,
        st.one_of(st.integers(0, 9999), st.sampled_from([1, 2, 1970, 2027, 9998, 9999])),
        st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
        st.sampled_from(["", ":00", ":59", ":61"]),
        st.sampled_from([" ", "T", "t", "  "]),
        st.sampled_from(["", "Z", "z", "+01:00", "-01:00", "+14:00", "-12:00", "+2359", "-23:59", "+24:00",
                         "+05:45", "+01", " +01:00"]),
    ),
    st.sampled_from(["0001-01-01 00:00", "9999-12-31 23:59-01:00", "9999-12-31 23:59", "0001-01-01 00:00Z",
                     "2027-03-28 02:30", "2027-10-31 02:30", "18:00", "2026-12-24", "tomorrow", ""]),
)

_other = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["no", "yes", "on", "private", "public", "PUBLIC_TO_EVERYONE",
                                           "draft", "direct", "branded", "both", "none", "own_brand"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
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


@st.composite
def sidecars(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(list(KEYS) + ["titel", "schedule"]), unique=True, max_size=7))
    doc: dict[str, Any] = {}
    for key in keys:
        doc[key] = draw(VALUES.get(key, _other))
    return doc


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
