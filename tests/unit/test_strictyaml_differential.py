"""The libyaml fast path of the strict loader against the pure one (issue 18).

`_load_c` may decline any text (None: the pure path decides), but whatever it returns must be
exactly what `_load_pure` returns: the same values with the same types, the same lines in the
same order. Then `load_strict` (C first, pure on anything else) is the pure loader, only faster.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ralph_watch import strictyaml
from ralph_watch.errors import SidecarError
from ralph_watch.strictyaml import _decode, _load_c, _load_pure, load_strict

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sidecars"
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HAS_C = strictyaml._CParser is not None
needs_c = pytest.mark.skipif(not HAS_C, reason="this PyYAML has no libyaml (yaml._yaml.CParser)")


def same(a: Any, b: Any) -> bool:
    """Equality that also insists on the same types (True == 1 must not pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


def pure(text: str) -> tuple[dict, dict[str, int]] | SidecarError:
    try:
        return _load_pure(text, path="clip.yaml")
    except SidecarError as exc:
        return exc


def assert_agrees(text: str) -> tuple[dict, dict[str, int]] | None:
    fast = _load_c(text)
    if fast is not None:
        reference = pure(text)
        assert not isinstance(reference, SidecarError), f"C accepted what pure refuses: {text!r}: {reference}"
        assert same(fast[0], reference[0]), (text, fast[0], reference[0])
        assert list(fast[1].items()) == list(reference[1].items()), (text, fast[1], reference[1])
    return fast


def corpus_texts() -> list[tuple[str, str]]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        try:
            out.append((path.stem, _decode(path.read_bytes(), path.name)))
        except SidecarError:
            pass  # not UTF-8: refused before either path runs
    return out


@needs_c
class TestCorpus:
    @pytest.mark.parametrize("name, text", corpus_texts(), ids=[n for n, _ in corpus_texts()])
    def test_the_c_path_agrees_with_the_pure_path(self, name, text):
        fast = assert_agrees(text)
        # libyaml refuses \\ud83d-style escapes outright, so JSON's surrogate pairs go the pure way.
        if name.startswith("ok-") and not strictyaml._PURE_ONLY_RE.search(text) and "\\ud" not in text:
            assert fast is not None, "every plain ok- sidecar should take the fast path"

    def test_a_typical_sidecar_takes_the_fast_path(self):
        text = 'title: "Friday clip 😀"\nprivacy: public\nat: "2026-12-24 18:00"\ncover_ms: 1500\nallow_duet: true\n'
        assert _load_c(text) == ({"title": "Friday clip 😀", "privacy": "public", "at": "2026-12-24 18:00",
                                  "cover_ms": 1500, "allow_duet": True},
                                 {"title": 1, "privacy": 2, "at": 3, "cover_ms": 4, "allow_duet": 5})


scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["no", "yes", "18:00", "0755", "0x1F", "1e3", ".nan", "~", "null", "true", "TRUE", "",
                       " ", "#", "- a", "&a", "*a", "!!str", "<<", "=", "-0", "1.5e+3", "9" * 120, "\ufeff",
                       "\r", "a\r\nb", "\t", "\x85", "\u2028", "😀", "\ud83d"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
documents = st.one_of(st.dictionaries(st.text(max_size=10), values, max_size=6), values)


@needs_c
class TestGenerated:
    @SETTINGS
    @given(doc=documents, unicode=st.booleans(), flow=st.sampled_from([None, True, False]),
           width=st.sampled_from([80, 20]))
    def test_it_agrees_on_whatever_safe_dump_writes(self, doc, unicode, flow, width):
        text = yaml.safe_dump(doc, allow_unicode=unicode, default_flow_style=flow, sort_keys=False, width=width)
        assert_agrees(text)

    @SETTINGS
    @given(doc=documents)
    def test_it_agrees_on_whatever_json_dumps_writes(self, doc):
        try:
            text = json.dumps(doc, ensure_ascii=False)
        except ValueError:
            return
        assert_agrees(text)
        assert_agrees(json.dumps(doc, indent=1))

    @SETTINGS
    @given(parts=st.lists(st.sampled_from(list("ab:- \n\r\t[]{},&*!|>'\"#%@`?~0123456789.\\eE+_")
                                          + ["\ufeff", "\u2028", "😀", "---", "...", "\\u", "d83d", "\\x41"]),
                          max_size=120))
    def test_it_agrees_on_yaml_shaped_noise(self, parts):
        assert_agrees("".join(parts))

    @SETTINGS
    @given(lines=st.lists(st.tuples(st.sampled_from(["", " ", "  ", "    "]),
                                    st.sampled_from(["- ", "", "? ", ": "]),
                                    st.sampled_from(["a", "b", "title", '"q"', "'s'", "1", "true", "~", "[x, y]",
                                                     "{k: v}", "&x a", "*x", "!t a", "|", ">-", "x # c", ""]),
                                    st.sampled_from([":", ": ", ": v", ": 1", ": [1, 2]", ": |", "", ": &a 1"])),
                          max_size=12))
    def test_it_agrees_on_block_shaped_documents(self, lines):
        assert_agrees("".join(f"{i}{d}{k}{v}\n" for i, d, k, v in lines))


class TestLoadStrict:
    """load_strict is the pure loader's outcome, whichever path decided it."""

    @pytest.mark.parametrize("text", [
        "title: My video\t\n", "title:\tx\n", "a:\n\tb: 1\n", "title: a\u2028b\n", "title: 'a\u2028b'\nb: 1\n",
        json.dumps({"title": "smile 😀"}), '{"title": "\\ud83d"}', "a: 1\na: 2\n", "a: &x 1\n", "[1]\n",
        "a: " + "[" * 30000, "title: x\nprivacy: public\n", "~\n", "",
    ])
    def test_it_gives_the_pure_paths_value_or_message(self, text):
        try:
            got: Any = load_strict(text.encode("utf-8"), path="clip.yaml", max_bytes=10**6)
        except SidecarError as exc:
            got = exc
        want = pure(text)
        if isinstance(want, SidecarError):
            assert isinstance(got, SidecarError) and got.problems == want.problems
        else:
            assert not isinstance(got, SidecarError) and same(got[0], want[0]) and got[1] == want[1]

    def test_it_falls_back_to_the_pure_path_without_libyaml(self, monkeypatch):
        monkeypatch.setattr(strictyaml, "_CParser", None)
        assert _load_c("a: 1\n") is None
        assert load_strict(b"a: 1\n", path="clip.yaml") == ({"a": 1}, {"a": 1})

    @needs_c
    def test_deep_nesting_stops_the_c_path_at_the_cap(self):
        # libyaml's parser is a state machine; the cap stops the composer before any recursion.
        assert _load_c("a: " + "[" * 50000 + "]" * 50000) is None
        assert _load_c("- " * 30000 + "x") is None
        assert _load_c("a: " + "[" * 19 + "]" * 19) is not None
