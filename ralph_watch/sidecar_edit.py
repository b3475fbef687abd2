"""The page's edit form for a sidecar: the values it shows and the new text it writes. Pure.

Writing uses ruamel.yaml's round-trip mode so that the person's comments and key order
survive an edit from the page; reading (what the service acts on) stays the strict loader:
`check` parses the new text with `parse_sidecar` exactly as a hand edit would be parsed.
Rules for the text:
* a key already in the file gets the new value in place (its comment stays);
* an empty choice (privacy, at, cron, promotion, mode) removes the key;
* a key not in the file is added at the end only when the form's value differs from what
  the file means without it (so an unchanged form leaves the file byte for byte as it was).
"""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from .errors import SidecarError, SidecarProblem
from .sidecar import BOOL_KEYS, MODES, PROMOTIONS, Sidecar, parse_sidecar, render_sidecar
from .strictyaml import load_strict

__all__ = ["FORM_KEYS", "CHOICE_KEYS", "EditRefused", "form_values", "rewrite", "check", "new_text"]

CHOICE_KEYS: tuple[str, ...] = ("privacy", "at", "cron", "promotion", "mode")
FORM_KEYS: tuple[str, ...] = ("title", *CHOICE_KEYS, *BOOL_KEYS)
_BOM = "\ufeff"
_WORD = re.compile(r"^[A-Za-z][A-Za-z_]*$")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


class EditRefused(Exception):
    """The edit cannot be made; `problems` are sentences for the form, nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _bool(value: Any) -> bool:
    return value is True


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def form_values(data: bytes | None, *, path: str, defaults: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What the form shows for a sidecar's bytes (None: no sidecar yet): the file's own values,
    switches at their effective value (the file's, else `defaults`'). Also the problems that
    kept the file from being read (then the form starts from the defaults)."""
    raw: dict[str, Any] = {}
    problems: list[str] = []
    if data is not None:
        try:
            raw, _ = load_strict(data, path=path)
        except SidecarError as exc:
            problems = [str(p) for p in exc.problems]
    out: dict[str, Any] = {k: _text(raw.get(k)) for k in ("title", *CHOICE_KEYS)}
    for k in BOOL_KEYS:
        out[k] = _bool(raw[k]) if k in raw and isinstance(raw[k], bool) else _bool(defaults.get(k))
    return out, problems


def _form(form: Mapping[str, str]) -> dict[str, Any]:
    """The submitted form as sidecar values: strings trimmed (title kept as typed), switches bool."""
    out: dict[str, Any] = {"title": form.get("title", "")}
    for k in CHOICE_KEYS:
        out[k] = (form.get(k) or "").strip()
    for k in BOOL_KEYS:
        out[k] = (form.get(k) or "").strip().lower() in ("on", "true", "yes", "1")
    return out


def _yaml() -> Any:
    from ruamel.yaml import YAML  # only the writer needs it

    y = YAML(typ="rt")
    y.width = 1 << 16          # one line per value: never fold a long caption
    y.allow_unicode = True
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def rewrite(text: str | None, form: Mapping[str, str], *, defaults: Mapping[str, Any]) -> str:
    """The sidecar text after the edit in `form` (None: write a new one, as `ralph-watch new`)."""
    values = _form(form)
    if text is None:
        return render_sidecar({k: (v if v != "" or k == "title" else None) for k, v in values.items()
                               if not (k in BOOL_KEYS and v is _bool(defaults.get(k)))})
    from ruamel.yaml.comments import CommentedMap

    bom = text.startswith(_BOM)
    body = text[1:] if bom else text
    y = _yaml()
    try:
        doc = y.load(body)
    except Exception as exc:  # noqa: BLE001 - any parser failure is one sentence for the form
        raise EditRefused([f"the sidecar cannot be read as YAML ({type(exc).__name__}), so the page cannot edit "
                           "it without losing what it says; fix it in a text editor"]) from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise EditRefused(["the sidecar is not a list of `key: value` lines, so the page cannot edit it; fix it in "
                           "a text editor"])
    before = _form({k: _text(v) if not isinstance(v, bool) else ("on" if v else "") for k, v in doc.items()
                    if isinstance(k, str)})
    for k in BOOL_KEYS:
        if k not in doc:
            before[k] = _bool(defaults.get(k))
    changed = False
    for key in FORM_KEYS:
        new = values[key]
        if key in doc:
            if key in BOOL_KEYS:
                if doc[key] is not new:
                    doc[key] = new
                    changed = True
            elif new == "" and key != "title":
                del doc[key]
                changed = True
            elif _text(doc[key]) != new:
                doc[key] = _scalar(key, new)
                changed = True
        elif new != before[key] and not (new == "" and key != "title"):
            doc[key] = new if key in BOOL_KEYS else _scalar(key, new)
            changed = True
    if not changed:
        return text
    out = io.StringIO()
    y.dump(doc, out)
    result = out.getvalue()
    if result.strip() == "{}":
        result = ""
    return (_BOM if bom else "") + result


def _scalar(key: str, value: str) -> Any:
    """Choices that are plain words stay plain (privacy: public); everything else is quoted."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if key in ("privacy", "promotion", "mode") and _WORD.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return DoubleQuotedScalarString(value)


def check(text: str, *, path: str, tz: ZoneInfo, defaults: Mapping[str, Any]) -> Sidecar:
    """Parse the new text as the service will; raises EditRefused with its problems."""
    try:
        return parse_sidecar(text.encode("utf-8"), path=path, tz=tz, defaults=defaults)
    except SidecarError as exc:
        raise EditRefused([_problem(p) for p in exc.problems]) from None


def _problem(p: SidecarProblem) -> str:
    return f"{p.message} (line {p.line})" if p.line is not None else p.message


def new_text(text: str | None, form: Mapping[str, str], *, path: str, tz: ZoneInfo,
             defaults: Mapping[str, Any]) -> str:
    """rewrite + check: the text to write, or EditRefused."""
    problems = [f"{k}: use one of {', '.join(c)}" for k, c in (("promotion", PROMOTIONS), ("mode", MODES))
                if (form.get(k) or "").strip() not in ("", *c)]
    if problems:
        raise EditRefused(problems)
    result = rewrite(text, form, defaults=defaults)
    check(result, path=path, tz=tz, defaults=defaults)
    return result
