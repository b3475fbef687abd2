"""The hostile corpus (reliability.md §9, 16-20): every file parses or fails cleanly."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.errors import SidecarError
from ralph_watch.sidecar import Sidecar, parse_sidecar

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sidecars"
FILES = sorted(CORPUS.glob("*.yaml"))
BERLIN = ZoneInfo("Europe/Berlin")


def outcome(data: bytes) -> Sidecar | SidecarError:
    try:
        return parse_sidecar(data, path="clip.yaml", tz=BERLIN, defaults={})
    except SidecarError as exc:
        return exc


def test_it_has_a_corpus():
    kinds = {f.name.split("-", 1)[0] for f in FILES}
    assert kinds == {"ok", "bad", "any"}, "every corpus file is named ok-, bad- or any-"
    assert len(FILES) >= 50


class TestCorpus:
    @pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
    def test_it_parses_or_raises_only_sidecar_error(self, path):
        result = outcome(path.read_bytes())
        kind = path.name.split("-", 1)[0]
        if kind == "bad":
            assert isinstance(result, SidecarError), f"{path.name} should be refused"
            assert result.problems and all(p.message for p in result.problems)
            assert all(p.path == "clip.yaml" for p in result.problems)
        elif kind == "ok":
            assert isinstance(result, Sidecar), f"{path.name} should parse: {result}"

    @pytest.mark.parametrize(
        "name, title",
        [
            pytest.param("ok-title-no.yaml", "no", id="norway"),
            pytest.param("ok-title-time.yaml", "12:30", id="sexagesimal"),
            pytest.param("ok-title-date.yaml", "2025-03-30", id="date"),
            pytest.param("ok-bom.yaml", "with BOM", id="bom"),
            pytest.param("ok-crlf.yaml", "windows", id="crlf"),
            pytest.param("ok-block-title.yaml", "line one\nline two #not-a-comment", id="block-scalar"),
            pytest.param("ok-title-template-injection.yaml",
                         "{{7*7}} % import os <script>alert(1)</script> ${HOME} javascript:x", id="injection"),
        ],
    )
    def test_it_keeps_tricky_titles_as_written(self, name, title):
        assert outcome((CORPUS / name).read_bytes()).title == title

    @pytest.mark.parametrize(
        "name, needle",
        [
            pytest.param("bad-billion-laughs.yaml", "anchors (&a) are not allowed", id="laughs"),
            pytest.param("bad-python-tag.yaml", "YAML tags (!!python/object/apply:os.system)", id="python-tag"),
            pytest.param("bad-deep-nesting.yaml", "nested more than 20 levels deep", id="deep"),
            pytest.param("bad-deep-block-nesting.yaml", "nested more than 20 levels deep", id="deep-block"),
            pytest.param("bad-merge-key.yaml", "anchors (&base) are not allowed", id="merge"),
            pytest.param("bad-invalid-utf8.yaml", "not UTF-8 text (byte 0xe9 at offset 10)", id="utf8"),
            pytest.param("bad-path-outside-inbox.yaml", 'unknown key "video"', id="path-key"),
            pytest.param("bad-empty.yaml", "privacy is missing", id="empty"),
            pytest.param("bad-octal-cover.yaml", 'cover_ms: must be a whole number of milliseconds (0 or more), '
                                                 'not "0755"', id="octal"),
        ],
    )
    def test_it_names_the_reason(self, name, needle):
        result = outcome((CORPUS / name).read_bytes())
        assert isinstance(result, SidecarError)
        assert needle in str(result)


class TestGenerated:
    def test_it_refuses_a_10_mb_file_by_size(self):
        result = outcome(b"title: " + b"x" * (10 * 1024 * 1024) + b"\n")
        assert isinstance(result, SidecarError)
        assert result.problems[0].message.startswith("the file is 10485768 bytes, more than the 65536 bytes allowed")

    def test_it_refuses_50000_nested_brackets(self):
        result = outcome(b"[" * 50000 + b"]" * 50000)
        assert isinstance(result, SidecarError)

    def test_it_refuses_50000_nested_brackets_under_the_cap_too(self):
        # Under the size cap the depth limit must catch it (PyYAML 6.0.3's C loader crashed here).
        result = outcome(b"title: " + b"[" * 30000)
        assert isinstance(result, SidecarError)
        assert "nested more than 20 levels deep" in str(result)

    def test_it_refuses_50000_nested_block_lists(self):
        result = outcome(b"- " * 30000 + b"x")
        assert isinstance(result, SidecarError)
