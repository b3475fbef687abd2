"""A strict, small YAML dialect for sidecars and config.yaml.

PyYAML speaks YAML 1.1, where `no` is False, `18:00` is 1080 and `0755` is 493, and where
anchors, tags and duplicate keys are allowed. People write sidecars by hand, so this loader
(a pure-Python `yaml.SafeLoader` subclass -- never the C loader, whose crashes cannot be
caught) reads a safer subset:

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

Every failure is a `SidecarError` holding one `SidecarProblem` with a line and a sentence a
person can act on; no PyYAML exception leaves this module.
"""
from __future__ import annotations

import re
from typing import Any, NoReturn

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent, StreamEndEvent
from yaml.nodes import MappingNode, ScalarNode

from .errors import SidecarError, SidecarProblem

__all__ = ["load_strict", "MAX_DEPTH", "SIDECAR_MAX_BYTES"]

MAX_DEPTH = 20
SIDECAR_MAX_BYTES = 65536
MAX_INT_DIGITS = 100  # a longer "number" is a mistake; Python also refuses > 4300 digits

_BOM = b"\xef\xbb\xbf"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

_FIX_SYNTAX = "check the quotes, colons and indentation there (indent with spaces, never tabs)"


class _Refusal(Exception):
    """Raised inside the loader; turned into a SidecarProblem by load_strict."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _line(mark: Any) -> int | None:
    return None if mark is None else mark.line + 1


class _StrictLoader(yaml.SafeLoader):
    # A fresh resolver table: nothing inherited from YAML 1.1.
    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self.key_lines: dict[str, int] = {}
        # id(mapping node) -> dotted prefix of its keys ("watch."); only the root mapping and
        # mappings nested in mappings are listed, so keys inside lists get no line entry.
        self._prefixes: dict[int, str] = {}

    # -- composing: refuse aliases, anchors, tags; bound the depth -------------------------
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = _line(event.start_mark)
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
        self.get_event()  # StreamStartEvent
        document = None
        if not self.check_event(StreamEndEvent):
            document = self.compose_document()
            if isinstance(document, MappingNode):
                self._prefixes[id(document)] = ""
        if not self.check_event(StreamEndEvent):
            event = self.peek_event()
            raise _Refusal(
                "a second YAML document starts here (after ---); "
                "a file holds exactly one mapping, so remove the --- line and what follows "
                "or move it into its own file",
                _line(event.start_mark),
            )
        self.get_event()
        return document

    # -- constructing: text keys only, no duplicates, remember lines ------------------------
    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        if not isinstance(node, MappingNode):  # pragma: no cover - PyYAML only calls us with mappings
            raise _Refusal("expected a mapping", _line(node.start_mark))
        prefix = self._prefixes.get(id(node))
        result: dict[str, Any] = {}
        seen: dict[str, int | None] = {}
        for key_node, value_node in node.value:
            line = _line(key_node.start_mark)
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
                _line(node.start_mark),
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


def _fail(path: str, message: str, line: int | None) -> NoReturn:
    raise SidecarError([SidecarProblem(path=path, message=message, line=line)])


def _decode(data: bytes, path: str) -> str:
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _fail(path, "the file is saved as UTF-16; save it as UTF-8 instead", 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(
            path,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            line,
        )


def _yaml_message(exc: yaml.YAMLError, text: str) -> tuple[str, int | None]:
    if isinstance(exc, yaml.reader.ReaderError):
        position = min(max(exc.position, 0), len(text))
        line = text[:position].count("\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return (
            f"the file contains the control character U+{ord(char):04X}, which YAML does not "
            "allow; remove it (write \\t, \\n or \\u escapes inside double quotes instead)",
            line,
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = (exc.problem or "invalid syntax").replace("\t", "\\t")
        context = exc.context or ""
        line = _line(exc.problem_mark) or _line(exc.context_mark)
        started = _line(exc.context_mark)
        message = f"this is not valid YAML: {context + ', ' if context else ''}{problem}"
        if started is not None and line is not None and started != line:
            message += f" (the value started on line {started})"
        if "\\t" in problem:
            message += "; YAML does not allow tabs for indentation: use spaces"
        elif "mapping values are not allowed" in problem:
            message += '; a value that contains ": " must be in quotes, like title: "Note: read this"'
        elif "cannot start any token" in problem:
            message += '; put the value in double quotes, like title: "@me `code`"'
        else:
            message += f"; {_FIX_SYNTAX}"
        return message, line
    return f"this is not valid YAML ({exc}); {_FIX_SYNTAX}", None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single text value"
    if isinstance(value, bool):
        return "a single true/false value"
    if isinstance(value, (int, float)):
        return "a single number"
    return "a single value"


def load_strict(data: bytes, *, path: str, max_bytes: int = SIDECAR_MAX_BYTES) -> tuple[dict, dict[str, int]]:
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
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        value = loader.get_single_data()
        lines = dict(loader.key_lines)
    except _Refusal as exc:
        _fail(path, exc.message, exc.line)
    except yaml.YAMLError as exc:
        message, line = _yaml_message(exc, text)
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
