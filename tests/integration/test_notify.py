"""notify.py: real Apprise deliveries to a loopback HTTP sink (Apprise's json:// plugin)."""
from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from ralph_watch.errors import ConfigError
from ralph_watch.logs import redact
from ralph_watch.notify import EVENTS, Notifier
from tests.support.wait import wait_until

PAGE = "http://127.0.0.1:8080/"
ACCESS = "act.1d1021d2aee3d41fee2d2add43456badMFZnrhFhfWotu3Ecuiuka27L56lr!2456"


@dataclass
class Sink:
    """A loopback HTTP server that records every POSTed JSON body."""

    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)  # cleared: requests wait

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[str]:
        with self.lock:
            return [b["message"] for b in self.bodies]

    def received(self, needle: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if needle in b["message"]]


@pytest.fixture
def sink() -> Iterator[Sink]:
    holder: dict[str, Sink] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            s = holder["sink"]
            s.gate.wait(10)
            with s.lock:
                s.bodies.append(json.loads(data))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["sink"] = s = Sink(port=server.server_address[1])
    s.gate.set()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sink", daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def refused_url() -> str:
    """A json:// URL on a loopback port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"json://127.0.0.1:{port}/down"


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    made: list[Notifier] = []
    yield made
    for n in made:
        n.stop(timeout=5)


@pytest.fixture
def make(notifiers: list[Notifier]):
    def factory(urls: list[str], **kw: Any) -> Notifier:
        kw.setdefault("events", EVENTS)
        kw.setdefault("include_title", False)
        kw.setdefault("page_url", PAGE)
        kw.setdefault("backoff", 0.01)
        n = Notifier(urls=urls, **kw)
        notifiers.append(n)
        n.start()
        return n

    return factory


def notify_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in list(caplog.records) if r.name == "ralph_watch.notify"]


class TestMessages:
    @pytest.mark.parametrize(
        ("event", "state", "message", "expected"),
        [
            pytest.param("published", "published", "Posted to TikTok.", "Posted to TikTok.", id="published"),
            pytest.param("failed", "failed", "TikTok refused the video: it is longer than 60 s; trim it and press Retry.",
                         "trim it and press Retry", id="failed"),
            pytest.param("invalid", "invalid", "clip.yaml:3: privacy: must be one of public, friends, followers, private",
                         "clip.yaml:3: privacy", id="invalid"),
            pytest.param("missed", "missed", "", "set a new 'at' in the sidecar or press Retry", id="missed-default-fix"),
            pytest.param("needs_login", "needs_login", "", "log in with TikTok again", id="needs-login"),
            pytest.param("mount_lost", "waiting", "", "check that the share or disk is mounted", id="mount-lost"),
        ],
    )
    def test_it_delivers_every_event_kind_with_video_state_and_fix(
        self, make, sink: Sink, event: str, state: str, message: str, expected: str
    ) -> None:
        n = make([sink.url])
        n.send(event, video="sub/clip.mp4", state=state, message=message, title="My holiday", task_id="7")
        [body] = wait_until(lambda: sink.received("sub/clip.mp4"), 10, f"the {event} notification")
        assert body["message"].startswith(f"sub/clip.mp4: {state}.")
        assert expected in body["message"]
        assert body["title"] == f"ralph-watch: sub/clip.mp4 {state} (task 7)"
        assert len(body["message"].splitlines()) <= 2
        assert "My holiday" not in json.dumps(body)

    def test_it_puts_the_page_url_in_needs_login(self, make, sink: Sink) -> None:
        n = make([sink.url])
        n.send("needs_login", video="clip.mp4", state="needs_login", message="The TikTok login expired.")
        [body] = wait_until(lambda: sink.received("clip.mp4"), 10, "the needs_login notification")
        assert f"Log in at {PAGE}" in body["message"]
        assert "The TikTok login expired." in body["message"]

    def test_it_leaves_the_title_out_by_default(self, make, sink: Sink) -> None:
        n = make([sink.url])
        n.send("published", video="clip.mp4", state="published", message="", title="Secret launch")
        [body] = wait_until(lambda: sink.received("clip.mp4"), 10, "the notification")
        assert "Secret launch" not in json.dumps(body)

    def test_it_includes_the_title_when_enabled(self, make, sink: Sink) -> None:
        n = make([sink.url], include_title=True)
        n.send("published", video="clip.mp4", state="published", message="", title="Secret launch")
        [body] = wait_until(lambda: sink.received("clip.mp4"), 10, "the notification")
        assert "Title: Secret launch" in body["message"]

    def test_it_never_carries_a_token(self, make, sink: Sink) -> None:
        n = make([sink.url], include_title=True)
        n.send("failed", video="clip.mp4", state="failed", message=f"refresh with {ACCESS} failed",
               title=f"Bearer {ACCESS}")
        [body] = wait_until(lambda: sink.received("clip.mp4"), 10, "the notification")
        assert ACCESS not in json.dumps(body)

    def test_it_offers_a_drafts_caption_for_copying_in_in_inbox_when_titles_are_on(self, make, sink: Sink) -> None:
        n = make([sink.url], include_title=True, events=["in_inbox"])
        n.send("in_inbox", video="d.mp4", state="in_inbox", message="", title="Caption #here")
        [body] = wait_until(lambda: sink.received("d.mp4"), 10, "the in_inbox notification")
        assert "Caption to paste in TikTok: Caption #here" in body["message"]
        assert "inbox notification" in body["message"]   # the default fix: finish it in the app

    def test_in_inbox_is_off_unless_notify_events_lists_it(self) -> None:
        from ralph_watch.config import NOTIFY_EVENTS, OPTIONAL_NOTIFY_EVENTS, NotifyConfig
        assert "in_inbox" in EVENTS and "in_inbox" in OPTIONAL_NOTIFY_EVENTS
        assert "in_inbox" not in NOTIFY_EVENTS and "in_inbox" not in NotifyConfig().events
        from ralph_watch.feedback import NOTIFY_STATES
        from ralph_watch.tasks import State
        assert NOTIFY_STATES[State.IN_INBOX] == "in_inbox"   # the service sends it when a draft arrives

    def test_it_sends_only_the_configured_events(self, make, sink: Sink) -> None:
        n = make([sink.url], events=["failed"])
        n.send("published", video="a.mp4", state="published", message="")
        n.send("failed", video="b.mp4", state="failed", message="x")
        wait_until(lambda: sink.received("b.mp4"), 10, "the failed notification")
        assert sink.received("a.mp4") == []  # one worker, in order: a.mp4 would have come first


class TestEpisodes:
    @pytest.mark.parametrize("event", ["needs_login", "mount_lost"])
    def test_it_sends_once_per_episode(self, make, sink: Sink, event: str) -> None:
        n = make([sink.url])
        for video in ("a.mp4", "b.mp4", "c.mp4"):
            n.send(event, video=video, state="waiting", message="")
        n.send("published", video="marker.mp4", state="published", message="")
        wait_until(lambda: sink.received("marker.mp4"), 10, "the marker notification")
        assert len(sink.received("a.mp4")) == 1
        assert sink.received("b.mp4") == [] and sink.received("c.mp4") == []

        n.reset_episode(event)
        n.send(event, video="d.mp4", state="waiting", message="")
        n.send(event, video="e.mp4", state="waiting", message="")
        n.send("published", video="marker2.mp4", state="published", message="")
        wait_until(lambda: sink.received("marker2.mp4"), 10, "the second marker")
        assert len(sink.received("d.mp4")) == 1 and sink.received("e.mp4") == []

    def test_it_keeps_other_events_unthrottled(self, make, sink: Sink) -> None:
        n = make([sink.url])
        for _ in range(3):
            n.send("failed", video="f.mp4", state="failed", message="x")
        wait_until(lambda: len(sink.received("f.mp4")) == 3, 10, "three failed notifications")


class TestFailures:
    def test_it_retries_a_refused_destination_then_logs_without_the_url(
        self, make, refused_url: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="ralph_watch.notify")
        n = make([refused_url], retries=2)
        n.send("failed", video="clip.mp4", state="failed", message="x")
        wait_until(lambda: any("not sent after 3 attempt(s)" in m for m in notify_lines(caplog)), 30,
                   "the give-up log line")
        lines = notify_lines(caplog)
        assert sum("retrying in" in m for m in lines) == 2
        assert all("notify.urls[0] (json://)" in m for m in lines)
        port = refused_url.rsplit(":", 1)[1]
        assert not any(port in m or "/down" in m for m in lines)
        assert n.status()["failed"] == 1 and n.status()["last_error_at"] is not None

    def test_it_delivers_to_the_good_destination_when_another_fails(self, make, sink: Sink, refused_url: str) -> None:
        n = make([refused_url, sink.url], retries=1)
        n.send("published", video="clip.mp4", state="published", message="")
        wait_until(lambda: sink.received("clip.mp4"), 30, "the notification at the good destination")

    def test_it_never_blocks_the_caller_and_drops_the_oldest_when_full(
        self, make, sink: Sink, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="ralph_watch.notify")
        sink.gate.clear()  # the destination hangs: the worker is stuck in its first delivery
        n = make([sink.url], queue_size=3)
        n.send("failed", video="v0.mp4", state="failed", message="x")
        wait_until(lambda: n.status()["queued"] == 0, 10, "the worker to take the first message")
        for i in range(1, 11):
            n.send("failed", video=f"v{i}.mp4", state="failed", message="x")  # returns at once, queue or not
        assert n.status()["dropped"] == 7
        assert any("queue full" in m for m in notify_lines(caplog))
        sink.gate.set()
        wait_until(lambda: sink.received("v10.mp4"), 20, "the newest notification")
        assert sink.received("v1.mp4") == [] and len(sink.received("v8.mp4")) == 1

    def test_it_logs_and_ignores_an_unknown_event(self, make, sink: Sink, caplog: pytest.LogCaptureFixture) -> None:
        n = make([sink.url])
        n.send("exploded", video="clip.mp4", state="failed", message="x")
        assert any("'exploded' is unknown" in m for m in notify_lines(caplog))

    def test_it_refuses_a_url_apprise_does_not_know_naming_the_key(self) -> None:
        with pytest.raises(ConfigError, match=r"notify\.urls\[0\] \(nosuchscheme://\)"):
            Notifier(urls=["nosuchscheme://x/y"], events=EVENTS, include_title=False, page_url=PAGE)

    def test_it_refuses_an_unknown_configured_event(self) -> None:
        with pytest.raises(ConfigError, match=r"notify\.events: unknown event 'posted'"):
            Notifier(urls=[], events=["posted"], include_title=False, page_url=PAGE)


class TestSecretsOfUrls:
    def test_it_masks_the_password_of_a_url_while_running(self, make, sink: Sink) -> None:
        url = f"json://ralph:Hunter2Pass99@127.0.0.1:{sink.port}/hook"
        n = make([url])
        assert "Hunter2Pass99" not in redact("apprise said Hunter2Pass99")
        n.stop()
        assert redact("apprise said Hunter2Pass99") == "apprise said Hunter2Pass99"


class TestLifecycle:
    def test_it_is_off_without_urls(self) -> None:
        n = Notifier(urls=[], events=EVENTS, include_title=False, page_url=PAGE)
        n.start()
        assert not n.enabled
        assert not any(t.name == "notify" for t in threading.enumerate())
        n.send("failed", video="clip.mp4", state="failed", message="x")
        assert n.status()["queued"] == 0
        n.stop()

    def test_it_delivers_what_was_queued_then_stop_joins_the_worker(self, make, sink: Sink) -> None:
        n = make([sink.url])
        for i in range(3):
            n.send("failed", video=f"q{i}.mp4", state="failed", message="x")
        n.stop(timeout=10)
        assert n._thread is not None and not n._thread.is_alive()
        assert all(len(sink.received(f"q{i}.mp4")) == 1 for i in range(3))

    def test_it_stops_promptly_during_a_backoff(self, make, refused_url: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="ralph_watch.notify")
        n = make([refused_url], retries=5, backoff=60)
        n.send("failed", video="clip.mp4", state="failed", message="x")
        wait_until(lambda: any("retrying in 60s" in m for m in notify_lines(caplog)), 10, "the first retry")
        n.stop(timeout=5)
        assert n._thread is not None and not n._thread.is_alive()

    def test_it_ignores_sends_after_stop(self, make, sink: Sink) -> None:
        n = make([sink.url])
        n.stop()
        n.send("failed", video="late.mp4", state="failed", message="x")
        assert n.status()["queued"] == 0
