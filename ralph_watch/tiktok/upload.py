"""The chunked upload to TikTok's upload_url: chunk bodies read from one descriptor, each PUT
watched against its deadline and `cancel`, retries with backoff, resync on 206/416.

Every failure leaves as a TikTokError (`file_changed`, `upload_stalled`, `cancelled`,
`upload_range_mismatch`, or the upload row of `tiktok.errors` for the PUT's status).
"""
from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx

from ralph_watch.clock import Clock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.tiktok.errors import classify, tiktok_error
from ralph_watch.tiktok.http import HttpPool, network_error
from ralph_watch.tiktok.protocol import Chunk, InitResult, received_from_range
from ralph_watch.tiktok.ratecap import Pacer

__all__ = ["ChunkBody", "Uploader", "UploadSettings", "open_video", "stat_key", "BLOCK", "MIN_UPLOAD_RATE"]

log = logging.getLogger("ralph_watch.tiktok")

BLOCK = 1024 * 1024                     # upload body block: bounded memory, cancel checked per block
MIN_UPLOAD_RATE = 64 * 1024             # bytes/s: below this a chunk counts as stalled (per-chunk deadline)
MIN_CHUNK_DEADLINE = 120.0              # seconds: the least a chunk gets, however small
MAX_BACKOFF = 30.0                      # seconds: the longest wait before sending a chunk again
ANSWER_MAX_BYTES = 65536                # the PUT's answer is small; never hold a trickle open

Progress = Callable[[int, int], None]
FinalCheck = Callable[[int], None]


class _Aborted(Exception):
    """The body stopped on purpose (cancel or deadline); not a TikTok answer."""


class _FileChanged(Exception):
    pass


Stat = tuple[int, int, int]   # (st_size, st_mtime_ns, st_ctime_ns): what a rewrite or a swap changes


def stat_key(st: os.stat_result) -> Stat:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def open_video(path: Path) -> int:
    """The one descriptor an upload reads: never through a symlink, never a FIFO or device
    (O_NONBLOCK keeps a FIFO from blocking the open; fstat then refuses it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _FileChanged(f"{path} is not a regular file any more")
    except BaseException:
        os.close(fd)
        raise
    return fd


class ChunkBody:
    """A re-iterable request body for one chunk, read with pread from one descriptor.

    httpx sends a seeked file object with the whole file's length, and a reused generator
    as an empty body on retry (reliability.md §6.1); this class avoids both. Blocks are at
    most 1 MiB; `stop` (an Event) is checked between blocks; `sent` counts bytes handed over.
    `before_final(fd)` runs after the chunk's last block is read and before it is handed over:
    it may raise to keep those final bytes from ever going out. Given a path instead of a
    descriptor, each iteration opens it afresh (without following a symlink).
    """

    def __init__(self, source: Path | int, offset: int, length: int, *, stop: threading.Event | None = None,
                 block: int = BLOCK, pacer: Pacer | None = None,
                 before_final: Callable[[int], None] | None = None) -> None:
        self.source = source
        self.offset = offset
        self.length = length
        self.stop = stop
        self.pacer = pacer
        self.block = min(block, pacer.block) if pacer is not None else block
        self.before_final = before_final
        self.sent = 0
        self.paced = 0.0   # seconds spent waiting for upload.max_rate: our pause, not a stalled TikTok

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        if isinstance(self.source, int):
            yield from self._blocks(self.source)
            return
        fd = open_video(Path(self.source))
        try:
            yield from self._blocks(fd)
        finally:
            os.close(fd)

    def _blocks(self, fd: int) -> Iterator[bytes]:
        left = self.length
        while left > 0:
            if self.stop is not None and self.stop.is_set():
                raise _Aborted()
            at = self.offset + self.length - left
            data = os.pread(fd, min(self.block, left), at)
            if not data:
                raise _FileChanged(f"{self.source} shrank while uploading: expected {left} more bytes "
                                   f"at offset {at}")
            if self.pacer is not None:
                wait = self.pacer.reserve(len(data))
                if wait > 0:
                    self.paced += wait   # counted first: the stall watch never mistakes our pause for TikTok's
                    if (self.stop or threading.Event()).wait(wait):
                        raise _Aborted()
            if len(data) == left and self.before_final is not None:
                self.before_final(fd)   # last, right before the final bytes are handed over
            left -= len(data)
            self.sent += len(data)
            yield data


@dataclass(frozen=True)
class UploadSettings:
    """How hard an upload tries. `chunk_deadline` None: from the chunk's size at MIN_UPLOAD_RATE,
    at least MIN_CHUNK_DEADLINE; `retry_backoff` doubles per attempt, at most MAX_BACKOFF."""

    chunk_attempts: int = 5
    retry_backoff: float = 1.0
    chunk_deadline: float | None = None

    def deadline_for(self, chunk: Chunk) -> float:
        if self.chunk_deadline is not None:
            return self.chunk_deadline
        return max(MIN_CHUNK_DEADLINE, chunk.length / MIN_UPLOAD_RATE)

    def backoff(self, attempt: int) -> float:
        return min(MAX_BACKOFF, self.retry_backoff * 2.0 ** (attempt - 2))


def file_changed(detail: str) -> TikTokError:
    return tiktok_error("file_changed", detail)


def cancelled() -> TikTokError:
    return tiktok_error("cancelled")


@dataclass
class _Put:
    """One PUT in flight: what its worker thread hands back to the watching thread."""

    body: ChunkBody
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[int, httpx.Headers] | None = None
    error: BaseException | None = None


class Uploader:
    """Sends one InitResult's chunks through a shared `HttpPool`."""

    def __init__(self, pool: HttpPool, *, clock: Clock, limits: Limits, settings: UploadSettings,
                 pacer: Pacer | None = None) -> None:
        self.pool = pool
        self.clock = clock
        self.limits = limits
        self.settings = settings
        self.pacer = pacer

    def upload(self, init: InitResult, path: Path, *, mime: str, progress: Progress, cancel: threading.Event,
               before_final: Callable[[os.stat_result], None] | None = None) -> None:
        """See TikTokClient.upload."""
        path = Path(path)
        total = init.video_size
        try:
            fd = open_video(path)
        except _FileChanged as exc:
            raise file_changed(str(exc)) from None
        except OSError as exc:
            raise file_changed(f"{path}: {exc.strerror}") from None
        try:
            start = os.fstat(fd)
            if start.st_size != total:
                raise file_changed(f"{path} is {start.st_size} bytes, TikTok expects {total}")

            def final_check(body_fd: int) -> None:
                now = os.fstat(body_fd)
                if stat_key(now) != stat_key(start):
                    raise _FileChanged(f"{path} changed while uploading (size, modification or change time "
                                       "differ from the start): the final bytes were not sent")
                if before_final is not None:
                    before_final(start)

            self._upload_from(init, fd, path, mime=mime, progress=progress, cancel=cancel, final_check=final_check)
        finally:
            os.close(fd)

    def _upload_from(self, init: InitResult, fd: int, path: Path, *, mime: str, progress: Progress,
                     cancel: threading.Event, final_check: FinalCheck) -> None:
        total = init.video_size
        by_first = {c.first: c for c in init.chunks}
        last_first = max(by_first)
        offset = 0
        resyncs = 0
        log.info("uploading publish_id=%s to %s: %d bytes in %d chunk(s)", init.publish_id, init.redacted_url,
                 total, len(init.chunks))
        progress(0, total)
        while offset < total:
            chunk = by_first.get(offset)
            if chunk is None:
                raise tiktok_error("upload_range_mismatch", action=Action.RESTART,
                                   hint=f"TikTok's upload stopped at byte {offset}, which is not a chunk boundary: "
                                        "ralph-watch starts the upload again.")
            status, headers = self._put_with_retries(init, chunk, fd, path, mime=mime, progress=progress,
                                                     cancel=cancel,
                                                     final_check=final_check if chunk.first == last_first else None)
            if status == 201 or 200 <= status < 300 and status != 206:
                progress(total, total)
                log.info("publish_id=%s: upload complete", init.publish_id)
                return
            offset, resyncs = self._resync(init, chunk, offset, resyncs, status, headers)
            progress(offset, total)
        progress(total, total)

    def _resync(self, init: InitResult, chunk: Chunk, offset: int, resyncs: int, status: int,
                headers: httpx.Headers) -> tuple[int, int]:
        """Where to go on after a 206 or 416: TikTok's Content-Range, trusted over our arithmetic.
        -> (new offset, resyncs without progress)."""
        received = received_from_range(headers.get("content-range"))
        if status == 416:
            resyncs = 0 if received is not None and received > offset else resyncs + 1
            if received is None or resyncs > 3:
                raise tiktok_error("upload_range_mismatch", action=Action.RESTART, http_status=416,
                                   hint="TikTok's upload progress could not be matched: ralph-watch starts the "
                                        "upload again.")
            log.info("publish_id=%s: TikTok has %d bytes, continuing there", init.publish_id, received)
            return received, resyncs
        new_offset = received if received is not None else chunk.last + 1
        resyncs = 0 if new_offset > offset else resyncs + 1
        if new_offset <= offset and resyncs > 3:
            raise tiktok_error("upload_range_mismatch", action=Action.RESTART, http_status=status,
                               hint="TikTok's upload does not advance: ralph-watch starts the upload again.")
        return new_offset, resyncs

    def _put_with_retries(self, init: InitResult, chunk: Chunk, fd: int, path: Path, *, mime: str,
                          progress: Progress, cancel: threading.Event,
                          final_check: FinalCheck | None = None) -> tuple[int, httpx.Headers]:
        last: TikTokError | None = None
        attempts = max(1, self.settings.chunk_attempts)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                delay = self.settings.backoff(attempt)
                log.info("publish_id=%s: chunk %d again in %.1f s (attempt %d/%d, %s)", init.publish_id,
                         chunk.index, delay, attempt, attempts, last.code if last else "")
                if delay > 0 and cancel.wait(delay):
                    raise cancelled()
            if cancel.is_set():
                raise cancelled()
            try:
                status, headers = self._put_once(init, chunk, fd, path, mime=mime, progress=progress, cancel=cancel,
                                                 final_check=final_check)
            except TikTokError as exc:
                if exc.action is not Action.RETRY_NOW:
                    raise
                last = exc
                continue
            if status >= 500 or status == 429:
                last = classify(http_status=status, code=None, endpoint="upload", limits=self.limits)
                continue
            if status in (200, 201, 206, 416):
                return status, headers
            refused = classify(http_status=status, code=None, endpoint="upload", limits=self.limits)
            log.warning("publish_id=%s chunk %d: HTTP %d (%s)", init.publish_id, chunk.index, status, refused.code)
            raise refused
        assert last is not None
        raise last

    def _put_once(self, init: InitResult, chunk: Chunk, fd: int, path: Path, *, mime: str, progress: Progress,
                  cancel: threading.Event, final_check: FinalCheck | None = None) -> tuple[int, httpx.Headers]:
        """One PUT of one chunk in a worker thread, watched from here: the per-chunk deadline and
        `cancel` fire even while the server trickles bytes (httpx has no total timeout)."""
        stop = threading.Event()
        # The worker reads its own duplicate: a worker left behind (deadline, cancel) can never
        # read a closed descriptor, or another file that reused its number.
        own = os.dup(fd)
        put = _Put(ChunkBody(own, chunk.first, chunk.length, stop=stop, pacer=self.pacer, before_final=final_check))
        headers = {"Content-Type": mime, "Content-Length": str(chunk.length),
                   "Content-Range": chunk.content_range(init.video_size)}
        worker = threading.Thread(target=self._send, args=(put, init.upload_url, headers, own, stop),
                                  name=f"upload-{init.publish_id[-12:]}-{chunk.index}", daemon=True)
        deadline = self.clock.monotonic() + self.settings.deadline_for(chunk)
        worker.start()
        try:
            self._watch(put, init, chunk, deadline, progress=progress, cancel=cancel)
        finally:
            stop.set()   # a worker left behind stops sending at its next block
        if cancel.is_set():
            raise cancelled()
        if put.error is not None:
            raise self._translate(put.error, chunk, path)
        assert put.result is not None
        status, resp_headers = put.result
        if status in (200, 201, 206):
            progress(chunk.last + 1, init.video_size)
        return status, resp_headers

    def _send(self, put: _Put, url: str, headers: dict[str, str], own: int, stop: threading.Event) -> None:
        """The worker thread: send the body, read the (small) answer, hand the outcome back."""
        try:
            resp = self.pool.send_stream("PUT", url, content=put.body, headers=headers)
            try:
                read = 0
                for piece in resp.iter_bytes():
                    read += len(piece)
                    if stop.is_set() or read > ANSWER_MAX_BYTES:
                        break
                put.result = (resp.status_code, resp.headers)
            finally:
                resp.close()
        except BaseException as exc:  # handed to the watching thread
            put.error = exc
        finally:
            os.close(own)
            put.done.set()

    def _watch(self, put: _Put, init: InitResult, chunk: Chunk, deadline: float, *, progress: Progress,
               cancel: threading.Event) -> None:
        reported = -1
        while not put.done.wait(0.05):
            if put.body.sent != reported:
                reported = put.body.sent
                progress(chunk.first + reported, init.video_size)
            if cancel.is_set():
                raise cancelled()
            if self.clock.monotonic() > deadline + put.body.paced:
                log.warning("publish_id=%s chunk %d: no answer within %.0f s", init.publish_id, chunk.index,
                            self.settings.deadline_for(chunk))
                raise tiktok_error("upload_stalled")

    @staticmethod
    def _translate(err: BaseException, chunk: Chunk, path: Path) -> BaseException:
        """The worker's exception as the caller sees it."""
        if isinstance(err, _FileChanged):
            return file_changed(str(err))
        if isinstance(err, httpx.HTTPError):
            cause = err.__cause__ or err.__context__
            if isinstance(cause, _FileChanged):
                return file_changed(str(cause))
            if isinstance(cause, TikTokError):   # raised by the caller's before_final
                return cause
            return network_error(err, f"upload chunk {chunk.index}")
        if isinstance(err, _Aborted):
            return cancelled()
        if isinstance(err, OSError):
            return file_changed(f"{path}: {err.strerror or err}")
        return err
