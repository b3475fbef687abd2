"""The strict YAML dialect: YAML 1.2-ish scalars, and every dangerous feature refused with a line."""
from __future__ import annotations

import json

import pytest

from ralph_watch.errors import SidecarError
from ralph_watch.strictyaml import MAX_DEPTH, load_strict


def load(text: str | bytes, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return load_strict(data, path="clip.yaml", **kwargs)


def refusal(text: str | bytes, **kwargs):
    with pytest.raises(SidecarError) as info:
        load(text, **kwargs)
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.path == "clip.yaml"
    return problem


class TestScalars:
    @pytest.mark.parametrize(
        "text, value",
        [
            pytest.param("true", True, id="true"),
            pytest.param("True", True, id="True"),
            pytest.param("TRUE", True, id="TRUE"),
            pytest.param("false", False, id="false"),
            pytest.param("FALSE", False, id="FALSE"),
            pytest.param("~", None, id="tilde"),
            pytest.param("null", None, id="null"),
            pytest.param("", None, id="empty"),
            pytest.param("0", 0, id="zero"),
            pytest.param("42", 42, id="int"),
            pytest.param("-7", -7, id="negative-int"),
            pytest.param("1.5", 1.5, id="float"),
            pytest.param("-0.25", -0.25, id="negative-float"),
            pytest.param("1.0e+3", 1000.0, id="float-exponent"),
            pytest.param("2.5E-2", 0.025, id="float-exponent-upper"),
        ],
    )
    def test_it_reads_json_like_scalars_as_typed_values(self, text, value):
        data, _ = load(f"v: {text}\n")
        assert data["v"] == value
        assert type(data["v"]) is type(value)

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("no", id="norway-no"),
            pytest.param("NO", id="norway-NO"),
            pytest.param("yes", id="yes"),
            pytest.param("on", id="on"),
            pytest.param("Off", id="Off"),
            pytest.param("y", id="y"),
            pytest.param("18:00", id="sexagesimal-time"),
            pytest.param("1:30:00", id="sexagesimal-long"),
            pytest.param("2026-12-24", id="date"),
            pytest.param("2026-12-24 18:00:00", id="timestamp"),
            pytest.param("0755", id="octal-looking"),
            pytest.param("0o755", id="octal"),
            pytest.param("0x1F", id="hex"),
            pytest.param("1_000", id="underscore"),
            pytest.param("+1", id="plus-sign"),
            pytest.param("1e3", id="exponent-without-dot"),
            pytest.param("1.5e3", id="exponent-without-sign"),
            pytest.param(".5", id="leading-dot"),
            pytest.param("1.", id="trailing-dot"),
            pytest.param(".nan", id="nan"),
            pytest.param(".inf", id="inf"),
            pytest.param("-.inf", id="minus-inf"),
            pytest.param("<<", id="merge-key"),
            pytest.param("=", id="value-key"),
            pytest.param("nULL", id="odd-case-null"),
            pytest.param("tRUE", id="odd-case-true"),
        ],
    )
    def test_it_keeps_yaml_1_1_specials_as_strings(self, text):
        data, _ = load(f"v: {text}\n")
        assert data["v"] == text

    def test_it_keeps_quoted_values_as_strings(self):
        data, _ = load('a: "true"\nb: \'12\'\nc: "~"\n')
        assert data == {"a": "true", "b": "12", "c": "~"}

    def test_it_reads_lists_and_nested_mappings(self):
        data, lines = load("a: [x, 1]\nb:\n  c: true\n  d:\n    - e\n")
        assert data == {"a": ["x", 1], "b": {"c": True, "d": ["e"]}}
        assert lines == {"a": 1, "b": 2, "b.c": 3, "b.d": 4}


class TestLines:
    def test_it_reports_the_line_of_every_top_level_key(self):
        _, lines = load("# comment\ntitle: x\n\nprivacy: public\n")
        assert lines == {"title": 2, "privacy": 4}

    def test_it_gives_no_lines_for_keys_inside_lists(self):
        _, lines = load("a:\n  - title: x\ntitle: y\n")
        assert lines == {"a": 1, "title": 3}


class TestDocuments:
    @pytest.mark.parametrize(
        "text",
        [pytest.param("", id="empty"), pytest.param("# only a comment\n", id="comment"),
         pytest.param("\n\n  \n", id="blank-lines"), pytest.param("---\n", id="bare-document-start")],
    )
    def test_it_reads_an_empty_document_as_an_empty_mapping(self, text):
        assert load(text) == ({}, {})

    def test_it_accepts_a_utf8_bom(self):
        assert load(b"\xef\xbb\xbftitle: x\n") == ({"title": "x"}, {"title": 1})

    def test_it_accepts_one_explicit_document(self):
        assert load("---\na: 1\n...\n")[0] == {"a": 1}

    @pytest.mark.parametrize(
        "text, message",
        [
            pytest.param("- a\n- b\n", "it is a list", id="list"),
            pytest.param("just a string\n", "it is a single text value", id="string"),
            pytest.param("42\n", "it is a single number", id="number"),
            pytest.param("true\n", "it is a single true/false value", id="bool"),
        ],
    )
    def test_it_refuses_a_top_level_that_is_not_a_mapping(self, text, message):
        problem = refusal(text)
        assert problem.message == (
            f"the file must be a list of `key: value` lines (a mapping), but {message}; "
            'write it like: title: "My video"'
        )
        assert problem.line == 1

    def test_it_refuses_a_second_document(self):
        problem = refusal("a: 1\n---\nb: 2\n")
        assert problem.line == 2
        assert problem.message.startswith("a second YAML document starts here (after ---)")


class TestRefusals:
    @pytest.mark.parametrize(
        "text, line, message",
        [
            pytest.param("a: 1\nb: &x 2\n", 2,
                         "YAML anchors (&x) are not allowed; remove the anchor and write each value out in full",
                         id="anchor"),
            pytest.param("a: &x [1]\nb: *x\n", 1,
                         "YAML anchors (&x) are not allowed; remove the anchor and write each value out in full",
                         id="anchor-before-alias"),
            pytest.param("a: *x\n", 1, "YAML aliases (*x) are not allowed; write the value out in full",
                         id="alias"),
            pytest.param("a: !!str 1\n", 1,
                         "YAML tags (!!str) are not allowed; remove the tag (put the value in quotes if it should be text)",
                         id="str-tag"),
            pytest.param("a: !!python/object/apply:os.system [ls]\n", 1,
                         "YAML tags (!!python/object/apply:os.system) are not allowed; remove the tag "
                         "(put the value in quotes if it should be text)",
                         id="python-tag"),
            pytest.param("a: !custom x\n", 1,
                         "YAML tags (!custom) are not allowed; remove the tag (put the value in quotes if it should be text)",
                         id="local-tag"),
            pytest.param("a:\n  b: !!map {}\n", 2,
                         "YAML tags (!!map) are not allowed; remove the tag (put the value in quotes if it should be text)",
                         id="tag-on-mapping"),
            pytest.param("title: first\ntitle: second\n", 2,
                         'the key "title" appears twice, on line 1 and line 2; keep only one of them',
                         id="duplicate-key"),
            pytest.param("a: {b: 1, b: 2}\n", 1, 'the key "b" appears twice, on line 1; keep only one of them',
                         id="duplicate-key-same-line"),
            pytest.param("1: a\n", 1,
                         'the key 1 is not text; keys are words such as title or privacy (quote it, "1", if it really is a key)',
                         id="int-key"),
            pytest.param("a: 1\ntrue: b\n", 2,
                         'the key true is not text; keys are words such as title or privacy (quote it, "true", if it really is a key)',
                         id="bool-key"),
            pytest.param("~: a\n", 1,
                         'the key ~ is not text; keys are words such as title or privacy (quote it, "~", if it really is a key)',
                         id="null-key"),
            pytest.param("? [a]\n: 1\n", 1, "a key here is a list or mapping; keys are words such as title or privacy",
                         id="list-key"),
        ],
    )
    def test_it_refuses_with_line_and_fix(self, text, line, message):
        problem = refusal(text)
        assert (problem.line, problem.message) == (line, message)

    def test_it_refuses_nesting_deeper_than_the_cap(self):
        ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
        assert load(ok)[0]["a"] is not None
        problem = refusal("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
        assert problem.message.startswith(f"the values are nested more than {MAX_DEPTH} levels deep")

    def test_it_refuses_50000_nested_brackets_without_crashing(self):
        problem = refusal("[" * 50000 + "]" * 50000, max_bytes=200_000)
        assert "nested more than" in problem.message

    def test_it_refuses_a_file_over_the_size_cap_before_parsing(self):
        problem = refusal(b"a: " + b"x" * 65536)
        assert problem.message.startswith("the file is 65539 bytes, more than the 65536 bytes allowed")
        assert problem.line is None

    def test_it_accepts_a_file_exactly_at_the_size_cap(self):
        data = b"a: " + b"x" * (100 - 4) + b"\n"
        assert len(data) == 100
        assert load(data, max_bytes=100)[0]["a"] == "x" * 96

    def test_it_refuses_a_number_with_too_many_digits(self):
        problem = refusal("cover_ms: " + "9" * 5000 + "\n")
        assert problem.message == "a number with 5000 digits is too long; put it in quotes if it is meant as text"


class TestEncoding:
    def test_it_names_the_offset_and_line_of_invalid_utf8(self):
        problem = refusal(b"title: ok\nprivacy: \xff\n")
        assert problem.line == 2
        assert problem.message == "the file is not UTF-8 text (byte 0xff at offset 19); save it as UTF-8"

    def test_it_recognises_utf16(self):
        problem = refusal("title: x\n".encode("utf-16"))
        assert problem.message == "the file is saved as UTF-16; save it as UTF-8 instead"

    def test_it_refuses_control_characters_with_their_line(self):
        problem = refusal("a: 1\nb: x\x07y\n")
        assert problem.line == 2
        assert problem.message.startswith("the file contains the control character U+0007")


class TestSyntaxErrors:
    def test_it_points_at_an_unclosed_quote(self):
        problem = refusal('title: "abc\nprivacy: public\n')
        assert problem.line == 3
        assert "while scanning a quoted scalar" in problem.message
        assert "(the value started on line 1)" in problem.message

    def test_it_explains_tabs(self):
        problem = refusal("a:\n\tb: 1\n")
        assert problem.line == 2
        assert problem.message.endswith("YAML does not allow tabs for indentation: use spaces")

    def test_it_explains_an_unquoted_colon(self):
        problem = refusal("title: Note: read this\n")
        assert problem.line == 1
        assert problem.message.endswith('a value that contains ": " must be in quotes, like title: "Note: read this"')

    def test_it_explains_characters_that_need_quotes(self):
        problem = refusal("title: @me\n")
        assert problem.message.endswith('put the value in double quotes, like title: "@me `code`"')


class TestTabs:
    """YAML 1.2 allows a tab as separation, never as indentation (issue 14)."""

    @pytest.mark.parametrize(
        "text, value",
        [
            pytest.param("title: My video\t\n", {"title": "My video"}, id="trailing-tab"),
            pytest.param("title:\tx\n", {"title": "x"}, id="tab-after-colon"),
            pytest.param("title:\t\t x \t\n", {"title": "x"}, id="tabs-and-spaces-around"),
            pytest.param("title: My\tvideo\n", {"title": "My\tvideo"}, id="tab-between-words"),
            pytest.param('title: "x"\t\n', {"title": "x"}, id="after-a-quoted-value"),
            pytest.param("title: x\t# note\n", {"title": "x"}, id="before-a-comment"),
            pytest.param("a: [1,\t2]\nb: {c:\t3}\n", {"a": [1, 2], "b": {"c": 3}}, id="inside-flow"),
            pytest.param("a:\n-\tx\n", {"a": ["x"]}, id="after-a-dash"),
            pytest.param("a: 1\n\t\nb: 2\n", {"a": 1, "b": 2}, id="a-line-of-only-a-tab"),
            pytest.param("a: 1\n\t# comment\nb: 2\n", {"a": 1, "b": 2}, id="before-a-comment-line"),
            pytest.param("a: x\n \ty\n", {"a": "x y"}, id="after-the-indentation-of-a-continuation"),
            pytest.param("title\t: x\n", {"title": "x"}, id="before-the-colon"),
            pytest.param('"title"\t: x\n', {"title": "x"}, id="after-a-quoted-key"),
            pytest.param("a:\t[1, 2]\n", {"a": [1, 2]}, id="before-a-flow-list"),
        ],
    )
    def test_it_accepts_a_tab_where_yaml_1_2_allows_separation(self, text, value):
        assert load(text)[0] == value

    def test_it_keeps_the_line_numbers_after_a_tab(self):
        assert load("a: 1\t\n\t\nb: 2\n")[1] == {"a": 1, "b": 3}

    @pytest.mark.parametrize(
        "text, line",
        [
            pytest.param("a:\n\tb: 1\n", 2, id="tab-only"),
            pytest.param("a:\n  \tb: 1\n", 2, id="spaces-then-tab"),
            pytest.param("a: x\n\ty\n", 2, id="continuation"),
        ],
    )
    def test_it_refuses_a_tab_in_the_indentation_and_says_so(self, text, line):
        problem = refusal(text)
        assert problem.line == line
        assert problem.message == ("this is not valid YAML: found a tab character (\\t) at the start of the line; "
                                   "YAML does not allow tabs for indentation: use spaces")

    @pytest.mark.parametrize(
        "text",
        [pytest.param("-\t- x\n", id="nested-list-item"), pytest.param("- \tkey: v\n", id="nested-key")],
    )
    def test_it_refuses_a_tab_before_a_nested_entry_naming_the_tab(self, text):
        # YAML 1.2: after "-\t" only a value may follow on that line (the tab cannot indent).
        problem = refusal(text)
        assert problem.line == 1
        assert problem.message.endswith(
            'a tab may separate words or come before a comment or after "key:", but not indent a line '
            "or come before a nested key or list item: use spaces there")


class TestLineBreakCharacters:
    """U+0085, U+2028, U+2029: line breaks to PyYAML (YAML 1.1), invisible in an editor (issue 14)."""

    @pytest.mark.parametrize("char, name", [("\u2028", "LINE SEPARATOR"), ("\u2029", "PARAGRAPH SEPARATOR"),
                                            ("\x85", "NEXT LINE")])
    def test_it_names_the_character_and_its_real_line(self, char, name):
        problem = refusal(f"privacy: public\ntitle: pasted{char}from an app\n")
        assert problem.line == 2
        assert problem.message == (
            f"character 14 of this line is the invisible U+{ord(char):04X} ({name}), often pasted from another "
            "app; YAML reads it as a line break, which breaks the line there: remove it")

    def test_it_counts_more_than_one(self):
        problem = refusal("title: a\u2028b\u2028c\n")
        assert "(and 1 more like it)" in problem.message

    def test_it_gives_real_lines_for_an_unrelated_error(self):
        # The character is harmless inside quotes; the error is elsewhere and keeps its own message.
        problem = refusal("title: 'a\u2028b'\nprivacy: public\ntitle: again\n")
        assert problem.line == 3
        assert problem.message == 'the key "title" appears twice, on line 1 and line 3; keep only one of them'

    def test_it_reads_one_inside_quotes_as_written_with_real_lines(self):
        # PyYAML's writer puts them raw into quoted values; they read back unchanged.
        assert load("title: 'a\u2028b'\nprivacy: public\n") == ({"title": "a\u2028b", "privacy": "public"},
                                                                 {"title": 1, "privacy": 2})

    def test_it_gives_syntax_errors_their_real_line(self):
        problem = refusal('title: "a\u2028b"\nprivacy: "open\n')
        assert problem.line == 3
        assert "(the value started on line 2)" in problem.message


class TestSurrogatePairs:
    """JSON writes an emoji as an escaped UTF-16 pair; JSON is YAML 1.2 (issue 14)."""

    def test_it_joins_the_pair_json_dumps_writes(self):
        text = json.dumps({"title": "smile 😀", "privacy": "public"})
        assert "\\ud83d\\ude00" in text
        assert load(text)[0] == {"title": "smile 😀", "privacy": "public"}

    def test_it_joins_pairs_in_keys_and_across_an_escaped_line_break(self):
        assert load('"k\\ud83d\\ude00": "a\\ud83d\\\n  \\ude00b"\n')[0] == {"k😀": "a😀b"}

    @pytest.mark.parametrize("text, left", [
        pytest.param('t: "\\ud83d"\n', "\ud83d", id="high-alone"),
        pytest.param('t: "\\ude00\\ud83d"\n', "\ude00\ud83d", id="reversed"),
        pytest.param('t: "\\ud83d x \\ude00"\n', "\ud83d x \ude00", id="apart"),
    ])
    def test_it_leaves_half_a_pair_for_the_schema_to_refuse(self, text, left):
        # parse_sidecar refuses it ("contains an unpaired surrogate ... remove it"), config names the key.
        assert load(text)[0] == {"t": left}

    def test_it_leaves_single_quoted_text_alone(self):
        assert load("t: '\\ud83d\\ude00'\n")[0] == {"t": "\\ud83d\\ude00"}
