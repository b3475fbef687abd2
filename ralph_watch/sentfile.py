"""Is the file on disk the video that was sent? The two checks around an upload's end.

- `FinalMark` runs right before the final bytes go out (the client's `before_final`).
- `changed_since_sent` runs before a published pair's files are deleted: a file that is no
  longer the one sent is kept.
"""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from .errors import Action, RecordError, TikTokError
from .record import Identity, PublishRecord, RecordStore, file_identity
from .tiktok.errors import LOCAL_ERRORS

__all__ = ["FinalMark", "changed_since_sent"]


class FinalMark:
    """The client's `before_final`: right before the final bytes go out, check that the file the
    upload opened is the one checked before the init, then mark the record durably. Raising
    keeps those bytes back, so TikTok never completes the upload."""

    def __init__(self, records: RecordStore, rec: PublishRecord, ident: Identity) -> None:
        self.records = records
        self.rec = rec
        self.ident = ident
        self.failed: RecordError | None = None
        self._lock = threading.Lock()   # a PUT worker left behind and its retry never write at once

    def __call__(self, st: os.stat_result) -> None:
        with self._lock:
            self._mark(st)

    def _mark(self, st: os.stat_result) -> None:
        if st.st_size != self.ident.size or st.st_mtime_ns != self.ident.mtime_ns:
            rule = LOCAL_ERRORS["file_changed"]
            raise TikTokError("file_changed", f"{self.rec.video} was replaced between its check and its upload",
                              action=rule.action, hint=rule.hint)
        sent = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if self.rec.final_sent and self.rec.sent_file == sent:
            return   # a retry of the last chunk: already marked
        marked = self.rec.with_final_sent(sent)
        try:
            self.records.put(marked)
        except RecordError as exc:
            self.failed = exc
            raise TikTokError("record_unwritable", str(exc), action=Action.PERMANENT,
                              hint=f"Publishing is paused: {exc}.") from None
        self.rec = marked


def changed_since_sent(video: Path, rec: PublishRecord | None, identity: Identity | None) -> bool:
    """Is what stands at `video` no longer the video that was sent (per its publish record `rec`,
    else the `identity` it was validated with)?"""
    try:
        st: os.stat_result | None = os.lstat(video)
    except OSError:
        st = None   # gone, or the deletion reports (and retries) what stands in the way
    if st is not None and not stat.S_ISREG(st.st_mode):
        return True   # a symlink (or anything else) now stands there: not what was sent
    if st is not None and rec is not None and rec.sent_file is not None:
        # Same first and last MiB is no proof for the middle: the file must still be the
        # one the upload read (device, inode, size, mtime), else it is kept.
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != tuple(rec.sent_file):
            return True
    try:
        now_ident = file_identity(video) if st is not None else None
    except OSError:
        now_ident = None
    want = rec.identity if rec is not None else identity
    return now_ident is not None and not now_ident.same_content(want)
