"""The strict YAML loader's sentences: line counting as an editor counts, and turning PyYAML's
and the decoder's errors into a message a person can act on (see strictyaml.py)."""
from __future__ import annotations

import bisect
import re
from typing import Any, Callable, NoReturn

import yaml

from .errors import SidecarError, SidecarProblem

_BOM = b"\xef\xbb\xbf"
_FIX_SYNTAX = "check the quotes, colons and indentation there (indent with spaces, never tabs)"
_FIX_TAB_INDENT = "YAML does not allow tabs for indentation: use spaces"
_FIX_TAB = ("a tab may separate words or come before a comment or after \"key:\", but not indent a line "
            "or come before a nested key or list item: use spaces there")

# Characters PyYAML (YAML 1.1) reads as line breaks that editors do not show as such.
_ODD_BREAKS = {"\x85": "NEXT LINE", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
_ODD_BREAK_RE = re.compile("[\x85\u2028\u2029]")
_REAL_BREAK_RE = re.compile("\r\n|\r|\n")
_TAB_BEFORE_ENTRY_RE = re.compile("[ ]*[-?][ \t]*\t")


def _line(mark: Any) -> int | None:
    return None if mark is None else mark.line + 1


def _line_counter(text: str) -> Callable[[Any], int | None]:
    """Mark -> 1-based line as an editor counts it (LF, CRLF, CR; not U+0085/U+2028/U+2029)."""
    if not _ODD_BREAK_RE.search(text):
        return _line  # PyYAML's own count is the same then
    starts = [m.end() for m in _REAL_BREAK_RE.finditer(text)]

    def line(mark: Any) -> int | None:
        return None if mark is None else bisect.bisect_right(starts, mark.index) + 1
    return line


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
        line_of = _line_counter(text)
        problem = (exc.problem or "invalid syntax").replace("\t", "\\t")
        context = exc.context or ""
        where = line_of(exc.problem_mark) or line_of(exc.context_mark)
        started = line_of(exc.context_mark)
        message = f"this is not valid YAML: {context + ', ' if context else ''}{problem}"
        if started is not None and where is not None and started != where:
            message += f" (the value started on line {started})"
        if "\\t" in problem:
            message += f"; {_FIX_TAB_INDENT if 'start of the line' in problem else _FIX_TAB}"
        elif where is not None and _TAB_BEFORE_ENTRY_RE.match(_text_line(text, where)):
            message += f"; {_FIX_TAB}"
        elif "mapping values are not allowed" in problem:
            message += '; a value that contains ": " must be in quotes, like title: "Note: read this"'
        elif "cannot start any token" in problem:
            message += '; put the value in double quotes, like title: "@me `code`"'
        elif where is not None and "\t" in _text_line(text, where):
            message += f"; {_FIX_TAB}"
        else:
            message += f"; {_FIX_SYNTAX}"
        return message, where
    return f"this is not valid YAML ({exc}); {_FIX_SYNTAX}", None


def _text_line(text: str, line: int) -> str:
    lines = _REAL_BREAK_RE.split(text)
    return lines[line - 1] if 0 < line <= len(lines) else ""


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
