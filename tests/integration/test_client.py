"""tiktok/client.py against an in-process fake TikTok (httpx.MockTransport).

Classes: TestLogin (exchange, scopes, logout, secrets never shown), TestDataCalls (wire
format, every error row through a real call, network errors), TestTokens (refresh ahead,
rotation, 401 replay, two threads), TestLimits (client-side limiter, 429), TestUpload
(chunks, re-iterable bodies, 5xx retry, 416 resync, 403/404 restart, trickle deadline,
cancel, shrinking file), TestAvatar.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import pytest

from ralph_watch.clock import SystemClock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.tiktok.client import ChunkBody, InitResult
from ralph_watch.tiktok.protocol import Chunk
from tests.support.wait import wait_until
from tests.unit.test_client import sha
from tests.unit.test_client import SECRET, UPLOAD_TOKEN, UPLOAD_URL, api_error, make_client, raises  # the unit half's helpers, shared
from tests.unit import test_client as unit_half

# The unit half's fixtures, used here too.
client, clock, fake, logged_in = unit_half.client, unit_half.clock, unit_half.fake, unit_half.logged_in


def small_init(size: int, chunk: int) -> InitResult:
    """A hand-made plan with tiny chunks (TikTok's real minimum is 5 MB; the client follows any plan)."""
    count = size // chunk
    chunks = [Chunk(i, i * chunk, (i + 1) * chunk - 1) for i in range(count)]
    chunks[-1] = Chunk(count - 1, chunks[-1].first, size - 1)
    return InitResult(publish_id="v_pub_file~v2-1.9", upload_url=UPLOAD_URL, chunk_size=chunk,
                      total_chunk_count=count, chunks=tuple(chunks), video_size=size, mode="direct")


class Progress:
    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def __call__(self, sent, total):
        self.calls.append((sent, total))


@pytest.fixture
def video(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 40 + b"tail!")     # 10,245 bytes
    return path


class TestTokens:
    def test_it_refreshes_exactly_once_for_two_threads_near_expiry(self, logged_in, fake, clock):
        clock.advance(7200 - 10)
        entered = threading.Barrier(2)
        fake.script["/v2/oauth/token/"] = [lambda r: (time.sleep(0.05), fake._token(r))[1]]  # widen the race
        results = []

        def call():
            entered.wait()
            results.append(logged_in.creator_info().nickname)

        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == ["Ralph", "Ralph"] and fake.refreshes == 1

    def test_it_refreshes_exactly_once_when_two_threads_get_401_together(self, logged_in, fake):
        both_in = threading.Barrier(2, timeout=5)

        def stale(request):
            both_in.wait()                   # both calls carry the same, now invalid, token
            return api_error("access_token_invalid", 401)

        fake.script["/v2/post/publish/creator_info/query/"] = [stale, stale]
        results = []
        threads = [threading.Thread(target=lambda: results.append(logged_in.creator_info().nickname))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == ["Ralph", "Ralph"] and fake.refreshes == 1

    def test_it_never_logs_a_token_or_secret(self, fake, clock, caplog, tmp_path):
        caplog.set_level(logging.DEBUG)
        c = make_client(fake, clock)
        c.exchange_code("good-code", code_verifier="v")
        clock.advance(7200)
        c.creator_info()
        video = tmp_path / "v.mp4"
        video.write_bytes(b"x" * 3000)
        c.upload(c.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=3000), video,
                 mime="video/mp4", progress=lambda s, t: None, cancel=threading.Event())
        c.logout()
        text = caplog.text + "".join(str(r.args) for r in caplog.records)
        assert fake.refreshes == 1 and caplog.records
        assert "upload_token=***" in caplog.text          # httpx's own request log line, redacted
        for secret in ("SECRET-ACCESS", "SECRET-REFRESH", SECRET, UPLOAD_TOKEN):
            assert secret not in text


class TestUpload:
    def test_it_puts_the_chunks_in_order_with_exact_headers(self, logged_in, fake, video):
        progress = Progress()
        init = small_init(10_245, 2000)
        logged_in.upload(init, video, mime="video/mp4", progress=progress, cancel=threading.Event())
        assert fake.puts == [("bytes 0-1999/10245", 2000), ("bytes 2000-3999/10245", 2000),
                             ("bytes 4000-5999/10245", 2000), ("bytes 6000-7999/10245", 2000),
                             ("bytes 8000-10244/10245", 2245)]
        put = [r for r in fake.requests if r.method == "PUT"][0]
        assert put.headers["content-type"] == "video/mp4" and put.headers["content-length"] == "2000"
        assert "authorization" not in put.headers and "transfer-encoding" not in put.headers
        assert fake.sha.hexdigest() == sha(video)
        assert progress.calls[-1] == (10_245, 10_245)
        sent = [s for s, _ in progress.calls]
        assert sent == sorted(sent)

    def test_it_retries_a_chunk_after_a_5xx_with_a_full_fresh_body(self, logged_in, fake, video):
        fake.script["PUT"] = [None, httpx.Response(503)]          # chunk 0 ok, chunk 1 fails once
        logged_in.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                         cancel=threading.Event())
        assert fake.puts[1:3] == [("bytes 2000-3999/10245", 2000), ("bytes 2000-3999/10245", 2000)]
        assert fake.sha.hexdigest() == sha(video)

    def test_it_retries_a_chunk_after_a_dropped_connection(self, logged_in, fake, video):
        fake.script["PUT"] = [httpx.RemoteProtocolError("peer closed"), httpx.ConnectError("refused")]
        logged_in.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                         cancel=threading.Event())
        assert fake.sha.hexdigest() == sha(video)

    def test_it_gives_up_after_the_bounded_attempts(self, fake, clock, video):
        c = make_client(fake, clock, chunk_attempts=3)
        c.exchange_code("good-code", code_verifier="v")
        fake.script["PUT"] = [httpx.Response(500)] * 10
        err = raises(c.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                     cancel=threading.Event())
        assert err.action is Action.RETRY_NOW and len(fake.puts) == 3

    def test_it_resyncs_from_content_range_after_416(self, logged_in, fake, video):
        data = video.read_bytes()
        fake.received = 4000                               # TikTok already has two chunks
        fake.sha.update(data[:4000])
        logged_in.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                         cancel=threading.Event())
        assert fake.puts[0] == ("bytes 0-1999/10245", 2000)
        assert fake.puts[1][0] == "bytes 4000-5999/10245"
        assert fake.sha.hexdigest() == sha(video)

    def test_it_restarts_when_416_gives_no_usable_range(self, logged_in, fake, video):
        fake.script["PUT"] = [httpx.Response(416)]
        err = raises(logged_in.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                     cancel=threading.Event())
        assert err.action is Action.RESTART

    @pytest.mark.parametrize("status, action", [(403, Action.RESTART), (404, Action.RESTART),
                                                (400, Action.PERMANENT)], ids=["expired", "unknown", "bad"])
    def test_it_maps_a_refused_chunk(self, logged_in, fake, video, status, action):
        fake.script["PUT"] = [None, httpx.Response(status)]
        err = raises(logged_in.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                     cancel=threading.Event())
        assert err.action is action and err.http_status == status and len(fake.puts) == 2

    def test_it_aborts_a_chunk_whose_answer_trickles_past_the_deadline(self, fake, video):
        stop = threading.Event()

        class Trickle(httpx.SyncByteStream):
            def __iter__(self):
                while not stop.wait(0.02):
                    yield b"."

        c = make_client(fake, SystemClock(), chunk_attempts=2, chunk_deadline=0.4)
        c.exchange_code("good-code", code_verifier="v")
        fake.script["PUT"] = [lambda r: httpx.Response(206, stream=Trickle())] * 2
        started = time.monotonic()
        try:
            err = raises(c.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                         cancel=threading.Event())
        finally:
            stop.set()
            c.close()
        assert (err.code, err.action) == ("upload_stalled", Action.RETRY_NOW)
        assert time.monotonic() - started < 5
        assert len(fake.puts) == 2

    def test_it_stops_between_chunks_when_cancelled(self, logged_in, fake, video):
        cancel = threading.Event()

        def progress(sent, total):
            if sent >= 2000:
                cancel.set()

        err = raises(logged_in.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=progress,
                     cancel=cancel)
        assert (err.code, err.action) == ("cancelled", Action.PERMANENT) and len(fake.puts) == 1

    def test_it_aborts_promptly_while_a_put_hangs(self, fake, video):
        in_put, release = threading.Event(), threading.Event()

        def hang(request):
            in_put.set()
            release.wait(10)
            return httpx.Response(500)

        c = make_client(fake, SystemClock())
        c.exchange_code("good-code", code_verifier="v")
        fake.script["PUT"] = [hang]
        cancel = threading.Event()
        outcome = {}

        def run():
            try:
                c.upload(small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(), cancel=cancel)
            except TikTokError as exc:
                outcome["err"] = exc

        t = threading.Thread(target=run)
        t.start()
        try:
            wait_until(in_put.is_set, 5, "the PUT to start")
            cancel.set()
            t.join(2)
            assert not t.is_alive() and outcome["err"].code == "cancelled"
        finally:
            release.set()
            c.close()

    def test_it_refuses_a_file_whose_size_changed_since_init(self, logged_in, video):
        err = raises(logged_in.upload, small_init(20_000, 5000), video, mime="video/mp4", progress=Progress(),
                     cancel=threading.Event())
        assert err.code == "file_changed" and "20000" in err.message

    def test_it_fails_cleanly_when_the_file_shrinks_mid_upload(self, logged_in, fake, video):
        def shrink(request):
            with open(video, "r+b") as f:
                f.truncate(3000)
            return fake._put(request)

        fake.script["PUT"] = [shrink]
        err = raises(logged_in.upload, small_init(10_245, 2000), video, mime="video/mp4", progress=Progress(),
                     cancel=threading.Event())
        assert err.code == "file_changed"

    def test_it_uploads_a_multi_chunk_file_over_64_mb(self, logged_in, fake, tmp_path):
        path = tmp_path / "big.mp4"
        with open(path, "wb") as f:          # sparse except a few marked places
            f.truncate(64_000_123)
            for off in (0, 10_000_000, 63_999_000):
                f.seek(off)
                f.write(b"mark" * 100)
        init = logged_in.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=64_000_123)
        logged_in.upload(init, path, mime="video/mp4", progress=Progress(), cancel=threading.Event())
        assert len(fake.puts) == 6 and fake.puts[-1] == ("bytes 50000000-64000122/64000123", 14_000_123)
        assert fake.sha.hexdigest() == sha(path)


class TestChunkBody:
    def test_it_yields_at_most_one_mib_and_can_be_iterated_again(self, tmp_path):
        path = tmp_path / "f"
        path.write_bytes(b"a" * 100 + b"b" * 3_000_000 + b"c" * 100)
        body = ChunkBody(path, 100, 3_000_000)
        first = list(body)
        assert max(len(b) for b in first) <= 1024 * 1024 and b"".join(first) == b"b" * 3_000_000
        assert b"".join(body) == b"b" * 3_000_000      # a retry gets the whole chunk again

    def test_it_raises_when_the_file_is_shorter_than_promised(self, tmp_path):
        path = tmp_path / "f"
        path.write_bytes(b"x" * 10)
        with pytest.raises(Exception, match="shrank"):
            list(ChunkBody(path, 5, 10))
