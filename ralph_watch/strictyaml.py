"""A strict, small YAML dialect for sidecars and config.yaml.

PyYAML speaks YAML 1.1, where `no` is False, `18:00` is 1080 and `0755` is 493, and where
anchors, tags and duplicate keys are allowed. People write sidecars by hand, so this loader
(a pure-Python `yaml.SafeLoader` subclass, plus a fast path over libyaml's events -- never
PyYAML's C loader or composer, whose crashes cannot be caught) reads a safer subset:

* Size is checked before parsing; the text must be UTF-8 (a UTF-8 BOM is accepted).
* Refused: aliases, anchors, every explicit tag (`!!python/...`, `!foo`, even `!!str`),
  duplicate keys, keys that are not text, several documents, a top level that is not a
  mapping, nesting deeper than MAX_DEPTH.
* Implicit types (a subset of both YAML 1.1 and JSON, so whatever `yaml.safe_dump` writes
  plain reads back the same):
    - booleans: true/True/TRUE, false/False/FALSE
    - null: ~, null/Null/NULL, or nothing
    - integers: JSON-style, `-?(0|[1-9][0-9]*)` (no leading zeros, octal, hex, `_`, `:`)
    - floats: JSON-style with a dot, `-?(0|[1-9][0-9]*).[0-9]+`, optionally an exponent
      with a sign: `1.5e+3`. `1e3`, `.5`, `.nan` and `.inf` stay text.
  Everything else -- `no`, `yes`, `on`, `18:00`, `2026-12-24`, `0755`, `0x1F` -- is a string.
* An empty document (nothing or only comments) is an empty mapping.
* Tabs: YAML 1.2 allows them as separation (between words, before a comment, after `key:`,
  at the end of a line, inside `[ ]`/`{ }`) but never as indentation; PyYAML refused them
  everywhere, so the scanner is taught the 1.2 rule (see `_StrictLoader.scan_to_next_token`).
* U+0085, U+2028 and U+2029 stay line breaks, as PyYAML (YAML 1.1) reads them: PyYAML's own
  writer puts them raw into single-quoted values as breaks, so reading them as YAML 1.2
  characters would change what `yaml.safe_dump` files read back as. Line numbers, though,
  count only the breaks an editor shows (LF, CRLF, CR), and a file they break is refused
  naming the character and its line.
* `\\ud83d\\ude00` (a UTF-16 surrogate pair, as `json.dumps` writes an emoji) in a double-quoted
  value is joined into its character; half a pair is left for the schema to refuse.

Speed: when PyYAML has libyaml (`yaml._yaml.CParser`), a text without tabs, U+0085, U+2028,
U+2029 or U+FEFF is read from libyaml's events by `_load_c`, which applies the same rules
without messages: whatever it does not accept (a refusal, a libyaml error, anything) is read
again by the pure loader, whose value or message is the answer. So the C path only ever
returns what the pure path returns (`tests/unit/test_strictyaml_differential.py` holds it to
that), about 15 times faster. Nothing recurses past the depth cap: libyaml's parser is a state
machine, our composers stop at MAX_DEPTH, and PyYAML's C composer (which crashed 6.0.3 on
deep nesting) is never used.

Every failure is a `SidecarError` holding one `SidecarProblem` with a line and a sentence a
person can act on; no PyYAML exception leaves this module.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import yaml
from yaml.events import (AliasEvent, CollectionStartEvent, DocumentEndEvent, DocumentStartEvent,
                         MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent,
                         SequenceStartEvent, StreamEndEvent, StreamStartEvent)
from yaml.nodes import MappingNode, ScalarNode
from yaml.scanner import ScannerError

_CParser: type[Any] | None
try:  # libyaml's parser, shipped in PyYAML's wheels; absent in a source build without libyaml
    from yaml._yaml import CParser
    _CParser = CParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None

from .errors import SidecarError
from .strictyaml_messages import (  # noqa: F401 - the loader and load_strict use them
    _BOM,
    _FIX_SYNTAX,
    _FIX_TAB,
    _FIX_TAB_INDENT,
    _ODD_BREAKS,
    _ODD_BREAK_RE,
    _REAL_BREAK_RE,
    _TAB_BEFORE_ENTRY_RE,
    _decode,
    _fail,
    _kind,
    _line,
    _line_counter,
    _text_line,
    _yaml_message,
)

__all__ = ["load_strict", "MAX_DEPTH", "SIDECAR_MAX_BYTES"]

MAX_DEPTH = 20
SIDECAR_MAX_BYTES = 65536
MAX_INT_DIGITS = 100  # a longer "number" is a mistake; Python also refuses > 4300 digits

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

_SURROGATE_PAIR_RE = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Texts the C path leaves to the pure one: libyaml's tab rules are not YAML 1.2's either,
# libyaml counts the odd breaks as lines, and it skips a U+FEFF that PyYAML reads as text.
_PURE_ONLY_RE = re.compile("[\t\x85\u2028\u2029\ufeff]")


class _Refusal(Exception):
    """Raised inside the loader; turned into a SidecarProblem by load_strict."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line



def _join_surrogates(value: str) -> str:
    """Join each valid UTF-16 surrogate pair (from \\uXXXX escapes) into its character."""
    def join(m: re.Match[str]) -> str:
        pair = m.group()
        high, low = pair[0], pair[1]
        return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))
    return _SURROGATE_PAIR_RE.sub(join, value)


class _StrictLoader(yaml.SafeLoader):
    # A fresh resolver table: nothing inherited from YAML 1.1.
    yaml_implicit_resolvers: dict[Any, Any] = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._line = _line_counter(stream)
        self._depth = 0
        self.key_lines: dict[str, int] = {}
        # id(mapping node) -> dotted prefix of its keys ("watch."); only the root mapping and
        # mappings nested in mappings are listed, so keys inside lists get no line entry.
        self._prefixes: dict[int, str] = {}

    # -- scanning: tabs as YAML 1.2 has them ------------------------------------------------
    def scan_to_next_token(self) -> None:
        # PyYAML's, skipping tabs as well as spaces where they only separate (its own TODO
        # describes this rule): never in the indentation; after a block "-", "?" or ":" only
        # a value on the same line may follow (no nested key or list item), as in YAML 1.2.
        if self.index == 0 and self.peek() == "\ufeff":
            self.forward()
        found = False
        while not found:
            while self.peek() == " ":
                self.forward()
            if self.peek() == "\t":
                length = 1
                while self.peek(length) in " \t":
                    length += 1
                self._tab_separation(length)
                self.forward(length)
            if self.peek() == "#":
                while self.peek() not in "\0\r\n\x85\u2028\u2029":
                    self.forward()
            if self.scan_line_break():  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
                if not self.flow_level:
                    self.allow_simple_key = True
            else:
                found = True

    def _tab_separation(self, length: int) -> None:
        # At a tab, with `length` blanks from here: may they be skipped?
        if self.flow_level or self.peek(length) in "#\0\r\n\x85\u2028\u2029":
            return  # inside [ ] or { }, or a line holding only blanks (and a comment)
        i = self.pointer - 1
        while i >= 0 and self.buffer[i] == " ":
            i -= 1
        if i < 0 or self.buffer[i] in "\r\n\x85\u2028\u2029\ufeff":
            raise ScannerError(None, None, "found a tab character (\\t) at the start of the line", self.get_mark())
        if self.allow_simple_key:  # right after a block indicator
            self.allow_simple_key = False

    def scan_plain_spaces(self, indent: int, start_mark: Any) -> Any:
        # PyYAML's, with tabs between words and at the end of a line (YAML 1.2), and after
        # the indentation of a continuation line (never in it).
        chunks = []
        length = 0
        while self.peek(length) in " \t":
            length += 1
        whitespaces = self.prefix(length)
        self.forward(length)
        ch = self.peek()
        if ch in "\r\n\x85\u2028\u2029":
            line_break = self.scan_line_break()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            self.allow_simple_key = True
            prefix = self.prefix(3)
            if (prefix == "---" or prefix == "...") and self.peek(3) in "\0 \t\r\n\x85\u2028\u2029":
                return None
            breaks = []
            while True:
                ch = self.peek()
                if ch == " " or (ch == "\t" and (self.flow_level or self.column >= indent)):
                    self.forward()
                elif ch in "\r\n\x85\u2028\u2029":
                    breaks.append(self.scan_line_break())  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
                    prefix = self.prefix(3)
                    if (prefix == "---" or prefix == "...") and self.peek(3) in "\0 \t\r\n\x85\u2028\u2029":
                        return None
                else:
                    break
            if line_break != "\n":
                chunks.append(line_break)
            elif not breaks:
                chunks.append(" ")
            chunks.extend(breaks)
        elif whitespaces:
            chunks.append(whitespaces)
        return chunks

    # -- composing: refuse aliases, anchors, tags; bound the depth -------------------------
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        line = self._line(event.start_mark)
        if isinstance(event, AliasEvent):
            raise _Refusal(
                f"YAML aliases (*{event.anchor}) are not allowed; write the value out in full",
                line,
            )
        if isinstance(event, (ScalarEvent, CollectionStartEvent)):
            if event.anchor is not None:
                raise _Refusal(
                    f"YAML anchors (&{event.anchor}) are not allowed; remove the anchor and "
                    "write each value out in full",
                    line,
                )
            if event.tag is not None:
                shown = event.tag.replace("tag:yaml.org,2002:", "!!")
                raise _Refusal(
                    f"YAML tags ({shown}) are not allowed; remove the tag "
                    "(put the value in quotes if it should be text)",
                    line,
                )
        if isinstance(event, ScalarEvent) and event.style == '"' and _SURROGATE_RE.search(event.value):
            event.value = _join_surrogates(event.value)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refusal(
                    f"the values are nested more than {MAX_DEPTH} levels deep; "
                    "a sidecar or config needs only one or two levels",
                    line,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        # Like SafeLoader's, with a readable message for a second document.
        self.get_event()  # type: ignore[no-untyped-call]  # StreamStartEvent; untyped in types-PyYAML
        document = None
        if not self.check_event(StreamEndEvent):
            document = self.compose_document()
            if isinstance(document, MappingNode):
                self._prefixes[id(document)] = ""
        if not self.check_event(StreamEndEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            raise _Refusal(
                "a second YAML document starts here (after ---); "
                "a file holds exactly one mapping, so remove the --- line and what follows "
                "or move it into its own file",
                self._line(event.start_mark),
            )
        self.get_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        return document

    # -- constructing: text keys only, no duplicates, remember lines ------------------------
    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):  # pragma: no cover - PyYAML only calls us with mappings
            raise _Refusal("expected a mapping", self._line(node.start_mark))
        prefix = self._prefixes.get(id(node))
        result: dict[str, Any] = {}
        seen: dict[str, int | None] = {}
        for key_node, value_node in node.value:
            line = self._line(key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                raise _Refusal(
                    "a key here is a list or mapping; keys are words such as title or privacy",
                    line,
                )
            if key_node.tag != _STR:
                raise _Refusal(
                    f"the key {key_node.value} is not text; keys are words such as title or "
                    f'privacy (quote it, "{key_node.value}", if it really is a key)',
                    line,
                )
            key = key_node.value
            if key in seen:
                where = f"on line {line}" if seen[key] == line else f"on line {seen[key]} and line {line}"
                raise _Refusal(f'the key "{key}" appears twice, {where}; keep only one of them', line)
            seen[key] = line
            if prefix is not None and line is not None:
                self.key_lines[f"{prefix}{key}"] = line
                if isinstance(value_node, MappingNode):
                    self._prefixes[id(value_node)] = f"{prefix}{key}."
            result[key] = self.construct_object(value_node, deep=True)
        return result

    def construct_yaml_map(self, node: Any) -> Any:
        # Build mappings eagerly (not as generators) so errors carry their own line.
        return self.construct_mapping(node)

    def construct_yaml_int(self, node: Any) -> int:
        text = self.construct_scalar(node)
        digits = text.lstrip("-")
        if len(digits) > MAX_INT_DIGITS:
            raise _Refusal(
                f"a number with {len(digits)} digits is too long; "
                "put it in quotes if it is meant as text",
                self._line(node.start_mark),
            )
        return int(text)

    def construct_yaml_float(self, node: Any) -> float:
        return float(self.construct_scalar(node))


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_StrictLoader.add_implicit_resolver(_INT, re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789"))
_StrictLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+][0-9]+)?$"), list("-0123456789")
)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_yaml_map)
_StrictLoader.add_constructor(_INT, _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor(_FLOAT, _StrictLoader.construct_yaml_float)


def _odd_break_message(text: str) -> tuple[str, int] | None:
    """If U+0085/U+2028/U+2029 is what breaks `text`, the sentence and line that say so."""
    found = _ODD_BREAK_RE.findall(text)
    try:
        _load_pure(_ODD_BREAK_RE.sub(" ", text), path="")
    except SidecarError:
        return None  # broken anyway: the syntax message is the better guide
    first = _ODD_BREAK_RE.search(text)
    assert first is not None
    char = first.group()
    breaks = list(_REAL_BREAK_RE.finditer(text, 0, first.start()))
    line = len(breaks) + 1
    column = first.start() - (breaks[-1].end() if breaks else 0) + 1
    more = f" (and {len(found) - 1} more like it)" if len(found) > 1 else ""
    return (
        f"character {column} of this line is the invisible U+{ord(char):04X} ({_ODD_BREAKS[char]}){more}, "
        "often pasted from another app; YAML reads it as a line break, which breaks the line there: "
        "remove it",
        line,
    )


def load_strict(data: bytes, *, path: str, max_bytes: int = SIDECAR_MAX_BYTES) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse `data` as the strict dialect; return (top-level mapping, dotted key -> 1-based line).

    Nested mapping keys appear in the line table as "parent.child" ("watch.mode").
    Raises SidecarError (one problem) for anything it refuses; nothing else escapes.
    """
    if len(data) > max_bytes:
        _fail(
            path,
            f"the file is {len(data)} bytes, more than the {max_bytes} bytes allowed; "
            "this file should hold only a few short lines (is it really a YAML file?)",
            None,
        )
    text = _decode(data, path)
    fast = _load_c(text)
    if fast is not None:
        return fast
    return _load_pure(text, path=path)


def _load_pure(text: str, *, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The reference reader (PyYAML's pure scanner and parser, our composer and rules)."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        value = loader.get_single_data()
        lines = dict(loader.key_lines)
    except _Refusal as exc:
        _fail(path, exc.message, exc.line)
    except yaml.YAMLError as exc:
        odd = _odd_break_message(text) if _ODD_BREAK_RE.search(text) else None
        message, line = odd if odd is not None else _yaml_message(exc, text)
        _fail(path, message, line)
    except RecursionError:
        _fail(path, f"the values are nested too deeply; {_FIX_SYNTAX}", None)
    except (UnicodeDecodeError, ValueError, OverflowError) as exc:
        _fail(path, f"a value could not be read ({exc}); {_FIX_SYNTAX}", None)
    except Exception as exc:  # noqa: BLE001 - the contract: only SidecarError leaves this module
        _fail(path, f"the file could not be read as YAML ({type(exc).__name__}); {_FIX_SYNTAX}", None)
    finally:
        if loader is not None:
            loader.dispose()
    if value is None:
        return {}, {}
    if not isinstance(value, dict):
        _fail(
            path,
            f"the file must be a list of `key: value` lines (a mapping), but it is {_kind(value)}; "
            "write it like: title: \"My video\"",
            1,
        )
    return value, lines


# -- the C path: libyaml's events, the same rules, no messages --------------------------------

class _Unsure(Exception):
    """The C path does not decide this text; the pure path will (and word any refusal)."""


_NO_KEY: Any = object()
_BOOLS = {"true": True, "false": False}


def _plain_value(text: str) -> Any:
    """A plain scalar's value, resolved with the pure loader's own table and constructors."""
    for tag, regexp in _StrictLoader.yaml_implicit_resolvers.get(text[0] if text else "", ()):
        if regexp.match(text):
            if tag == _INT:
                if len(text.lstrip("-")) > MAX_INT_DIGITS:
                    raise _Unsure
                return int(text)
            if tag == _FLOAT:
                return float(text)
            if tag == "tag:yaml.org,2002:bool":
                return _BOOLS[text.lower()]
            return None  # null
    return text


def _load_c(text: str) -> tuple[dict[str, Any], dict[str, int]] | None:
    """Read `text` from libyaml's events, or None when the pure path must decide."""
    if _CParser is None or _PURE_ONLY_RE.search(text):
        return None
    try:
        return _compose_c(_CParser(text).get_event)
    except Exception:  # noqa: BLE001 - _Unsure, libyaml's errors, anything: the pure path decides
        return None


def _compose_c(get_event: Callable[[], Any]) -> tuple[dict[str, Any], dict[str, int]]:
    # One loop with an explicit stack, so nesting never recurses. A frame is
    # [container, pending key (or _NO_KEY; lists always _NO_KEY), line prefix or None].
    if type(get_event()) is not StreamStartEvent:
        raise _Unsure
    event = get_event()
    if type(event) is StreamEndEvent:
        return {}, {}
    if type(event) is not DocumentStartEvent:
        raise _Unsure
    lines: dict[str, int] = {}
    stack: list[list[Any]] = []
    root: Any = _NO_KEY
    while True:
        event = get_event()
        kind = type(event)
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            value = stack.pop()[0]
            is_text = False
        else:
            if kind is not ScalarEvent and kind is not MappingStartEvent and kind is not SequenceStartEvent:
                raise _Unsure  # an alias, or something out of place
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                raise _Unsure
            if kind is ScalarEvent:
                value = _plain_value(event.value) if event.implicit[0] else event.value
                is_text = type(value) is str
            else:
                prefix = None
                if stack:
                    parent = stack[-1]
                    if parent[1] is not _NO_KEY and parent[2] is not None and kind is MappingStartEvent:
                        prefix = f"{parent[2]}{parent[1]}."
                elif kind is MappingStartEvent:
                    prefix = ""
                stack.append([{} if kind is MappingStartEvent else [], _NO_KEY, prefix])
                continue
        if not stack:
            root = value
            break
        frame = stack[-1]
        container = frame[0]
        if type(container) is list:
            container.append(value)
        elif frame[1] is _NO_KEY:  # this node is a key
            if not is_text or value in container:
                raise _Unsure
            frame[1] = value
            if frame[2] is not None:
                lines[f"{frame[2]}{value}"] = event.start_mark.line + 1
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY
    if type(get_event()) is not DocumentEndEvent or type(get_event()) is not StreamEndEvent:
        raise _Unsure
    if root is None:
        return {}, {}
    if type(root) is not dict:
        raise _Unsure
    return root, lines
