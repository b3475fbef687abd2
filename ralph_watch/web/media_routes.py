"""A task's thumbnail and its video (byte ranges), with the bounded caches behind them."""
from __future__ import annotations

import os
from typing import Any

from bottle import request, response  # type: ignore[import-untyped]  # bottle ships no type information

from ..tasks import State
from . import media
from .backend import ActionError
from .base import AppBase, Reply

__all__ = ["MediaMixin"]


class MediaMixin(AppBase):
    def forget_task(self, task_id: str) -> None:
        """The task is published, cancelled or gone: its thumbnail leaves memory."""
        self.thumbs.drop_where(lambda k: k[0] == task_id)

    def _open_video(self, task_id: str) -> tuple[int, Any, str]:
        try:
            return self.backend.open_video(task_id)
        except ActionError as exc:
            raise self._message(exc.status, "No video", exc.message)

    def thumbnail(self, task_id: str) -> Any:
        from .thumbnails import ThumbnailError, make_thumbnail
        task = self._media_task(task_id)
        if task.state in (State.PUBLISHED, State.CANCELLED):
            raise self._message(404, "No preview", f"{task.video or task.key} is {task.state.value}: its files "
                                "are no longer in the inbox, so there is no preview.")
        fd, st, name = self._open_video(task_id)
        cover = int(getattr(task.sidecar_data, "cover_ms", 0) or 0)
        key = (task_id, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, cover)
        data = self.thumbs.get(key)
        if data is None:
            try:
                with self._thumb_slots, os.fdopen(fd, "rb") as f:
                    fd = -1
                    data = make_thumbnail(f, cover_ms=cover)
            except ThumbnailError as exc:
                raise self._message(404, "No preview", f"{name} has no preview: {exc}.")
            self.thumbs.drop_where(lambda k: k[0] == task_id)   # an older file's picture
            self.thumbs.put(key, data)
        if fd >= 0:
            os.close(fd)
        response.content_type = "image/jpeg"
        response.set_header("Cache-Control", "no-store")
        return data

    def video(self, task_id: str) -> Any:
        self._media_task(task_id)
        fd, st, name = self._open_video(task_id)
        size = st.st_size
        try:
            rng = None if request.get_header("If-Range") else media.parse_range(request.get_header("Range"), size)
        except media.Unsatisfiable:
            os.close(fd)
            raise Reply(416, "", headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
        response.content_type = media.video_type(name)
        response.set_header("Accept-Ranges", "bytes")
        response.set_header("Cache-Control", "no-store")
        if rng is None:
            start, length = 0, size
        else:
            response.status = 206
            response.set_header("Content-Range", rng.content_range(size))
            start, length = rng.start, rng.length
        response.set_header("Content-Length", str(length))
        if request.method == "HEAD":
            os.close(fd)
            return ""
        return media.FileBody(fd, start, length)
