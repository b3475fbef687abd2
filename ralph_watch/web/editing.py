"""Editing a pair's sidecar from the page."""
from __future__ import annotations

from typing import Any

from bottle import request  # type: ignore[import-untyped]  # bottle ships no type information

from ..tasks import EDITABLE
from .backend import ActionError
from .base import AppBase, Reply, json_body, wants_json
from ..constants import PRIVACY_CHOICES
from ..sidecar import MODES, PROMOTIONS
from ..sidecar_edit import FORM_KEYS, EditRefused, form_values

__all__ = ["EditMixin"]


class EditMixin(AppBase):
    def _edit_page(self, task: Any, values: dict[str, Any], problems: list[str], *, rel: str, exists: bool,
                   status: int = 200, heading: str = "Not saved; nothing was changed:") -> str:
        return self._page("edit", status=status, title=f"Edit {task.video or task.key}", task=task, values=values,
                          problems=problems, heading=heading, rel=rel, exists=exists, privacies=PRIVACY_CHOICES,
                          promotions=PROMOTIONS, modes=MODES, tz_name=getattr(self.tz, "key", str(self.tz)))

    def _editable(self, task_id: str) -> Any:
        task = self._media_task(task_id)
        if task.state not in EDITABLE or task.settle:
            why = ("ralph-watch is asking TikTok how it ended" if task.settle else
                   f"it is {task.state.value}; TikTok has it (or it is done)")
            raise self._message(409, "Cannot edit now", f"{task.video or task.key} cannot be edited now: {why}.")
        return task

    def edit_form(self, task_id: str) -> str:
        task = self._editable(task_id)
        self._session(create=True)
        try:
            data, rel = self.backend.read_sidecar(task_id)
        except ActionError as exc:
            raise self._message(exc.status, "Cannot edit", exc.message)
        values, problems = form_values(data, path=rel, defaults=getattr(self.config, "defaults", {}) or {})
        return self._edit_page(task, values, problems, rel=rel, exists=data is not None,
                               heading="The sidecar cannot be read as it stands, so the form starts from the "
                                       "defaults:" if problems else "")

    def edit(self, task_id: str) -> str | bytes:
        task = self._editable(task_id)
        form = {k: (request.forms.getunicode(k) or "") for k in FORM_KEYS}
        name = task.video or task.key
        try:
            changed = self.backend.edit_sidecar(task_id, form)
        except ActionError as exc:
            raise self._message(exc.status, "Not changed", exc.message)
        except EditRefused as exc:
            if wants_json():
                raise Reply(422, json_body({"ok": False, "error": " ".join(exc.problems), "problems": exc.problems}))
            values = dict(form)
            for k in ("allow_comments", "allow_duet", "allow_stitch", "ai_generated"):
                values[k] = form[k].lower() in ("on", "true", "yes", "1")
            rel = task.sidecar or f"{task.key}.yaml"
            raise Reply(422, self._edit_page(task, values, exc.problems, rel=rel, exists=bool(task.sidecar),
                                              status=422))
        message = (f"Saved {task.sidecar or task.key + '.yaml'}: the task follows once the service has read it."
                   if changed else f"Nothing to change in the sidecar of {name}.")
        if wants_json():
            return json_body({"ok": True, "message": message, "changed": changed})
        return self._see_other(message)
