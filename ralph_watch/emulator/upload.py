"""The upload host: one chunk PUT at a time, checked the way TikTok checks it (tiktok-api.md
items 16-18), written to a sparse spool file and hashed while it streams."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import BinaryIO

from ralph_watch.emulator.core import Core, Reply
from ralph_watch.emulator.posting import Posts, Publish

__all__ = ["Uploads", "UPLOAD_MIME", "READ_BLOCK"]

UPLOAD_MIME = ("video/mp4", "video/quicktime", "video/webm")
READ_BLOCK = 4 * 1024 * 1024          # large reads: the upload path must keep up with curl
_RANGE = re.compile(r"bytes (\d{1,12})-(\d{1,12})/(\d{1,12})")


def _bad(why: str) -> Reply:
    return Reply(400, why.encode("utf-8"), content_type="text/plain; charset=utf-8")


def _progress(status: int, p: Publish) -> Reply:
    rng = f"bytes 0-{p.received - 1}/{p.video_size}" if p.received else f"bytes */{p.video_size}"
    return Reply(status, b"", headers={"Content-Range": rng}, content_type="text/plain")


def header_refusal(headers: dict[str, str], video_size: int) -> tuple[tuple[int, int] | None, Reply | None]:
    """((first, last) byte of the chunk, None), or (None, TikTok's 400) for the chunk's headers."""
    mime = headers.get("content-type", "").split(";")[0].strip().lower()
    if mime not in UPLOAD_MIME:
        return None, _bad(f"Content-Type must be one of {', '.join(UPLOAD_MIME)}.")
    match = _RANGE.fullmatch(headers.get("content-range", "").strip())
    if not match:
        return None, _bad("Content-Range must be 'bytes FIRST-LAST/TOTAL'.")
    first, last, total = (int(g) for g in match.groups())
    if total != video_size or last < first or last >= total:
        return None, _bad("Content-Range does not fit the video_size given at init.")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        # TikTok: "Malformated request headers" -> 400; the chunk length must be declared.
        return None, _bad("Content-Length is required: send each chunk with its length, not as a chunked transfer.")
    length_text = headers.get("content-length", "")
    if not length_text.isdigit() or int(length_text) != last - first + 1:
        return None, _bad("Content-Length must equal the byte count of Content-Range.")
    return (first, last), None


class Uploads:
    def __init__(self, core: Core, posts: Posts) -> None:
        self.core = core
        self.posts = posts

    def _task(self, query: dict[str, str]) -> tuple[Publish | None, Reply | None]:
        with self.core.lock:
            p = self.posts.uploads.get(query.get("upload_id", ""))
            if p is None or not secrets.compare_digest(p.upload_token, query.get("upload_token", "")) \
                    or p.failed_reason is not None:
                return None, Reply(404, b"", content_type="text/plain")
            if self.core.clock.monotonic() >= p.url_expires:
                return None, Reply(403, b"", content_type="text/plain")
        return p, None

    def upload(self, query: dict[str, str], headers: dict[str, str], body: BinaryIO, *,
               drop_after_bytes: int | None = None, hold: float = 0.0) -> tuple[Reply, bool]:
        """One chunk PUT. Returns (reply, drop): drop=True means close without answering.

        `hold` (a delay fault): the bytes are taken at once, then the chunk counts (and the answer
        goes out) `hold` seconds later, like a slow TikTok. It counts even if the client has gone
        meanwhile; a retry of the same chunk during the hold is taken in its place."""
        p, refusal = self._task(query)
        if refusal is not None:
            return refusal, False
        assert p is not None
        span, refusal = header_refusal(headers, p.video_size)
        if refusal is not None:
            return refusal, False
        assert span is not None
        first, length = span[0], span[1] - span[0] + 1
        with p.lock:   # sequential: a parallel PUT waits, then sees the new progress (416)
            if first != p.received:
                return _progress(416, p), False
            expected = p.expected_length(first)
            if expected is None or length != expected:
                return _bad(f"This chunk must be {expected} bytes long by the chunk plan given at init."
                            if expected else "No chunk of the plan starts at this byte."), False
            return self._take(p, first, length, body, headers.get("content-type", ""),
                              drop_after_bytes=drop_after_bytes, hold=hold)

    def _take(self, p: Publish, first: int, length: int, body: BinaryIO, content_type: str, *,
              drop_after_bytes: int | None, hold: float) -> tuple[Reply, bool]:
        """Read the chunk into the spool and count it (the caller holds p.lock)."""
        limit = length if drop_after_bytes is None else min(length, drop_after_bytes)
        assert p.sha is not None
        sha = p.sha.copy()
        got = self._spool(p, first, length, limit, body, sha)
        with self.core.lock:
            self.core.stats["upload_bytes"] += got
        if got != length:
            if drop_after_bytes is not None:
                return Reply(200), True      # chunk not taken; the connection is cut
            return _bad("The body is shorter than Content-Length."), False
        if hold > 0:
            p.lock.release()   # nothing counted yet: status shows the bytes before this chunk
            try:
                self.core.stop.wait(hold)
            finally:
                p.lock.acquire()
            if first != p.received:   # a retry of this chunk was taken meanwhile
                return _progress(201 if p.received >= p.video_size else 206, p), False
        p.sha = sha
        p.received += length
        p.content_types.append(content_type)
        if p.received < p.video_size:
            return _progress(206, p), drop_after_bytes is not None
        p.sha256 = sha.hexdigest()
        p.sha = None
        self.posts.complete(p, self.core.clock.monotonic(), media_ok=False)
        return _progress(201, p), drop_after_bytes is not None

    def _spool(self, p: Publish, first: int, length: int, limit: int, body: BinaryIO,
               sha: "hashlib._Hash") -> int:
        """Copy up to `limit` body bytes to the spool at `first`; returns how many came."""
        if p.spool is None:
            fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.core.spool_dir)
            os.close(fd)
            p.spool = Path(name)
        got = 0
        with open(p.spool, "r+b") as out:
            out.seek(first)
            while got < limit:
                block = body.read(min(READ_BLOCK, limit - got))
                if not block:
                    break
                sha.update(block)
                if block == bytes(len(block)):   # zeros (padding): leave a hole, spare the disk
                    out.seek(len(block), os.SEEK_CUR)
                else:
                    out.write(block)
                got += len(block)
            if got == length:
                out.truncate(first + length)
        return got
