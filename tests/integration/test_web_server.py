"""The waitress server in a thread (ralph_watch/web/server.py), with real loopback HTTP.

    TestLifecycle   start on port 0, answer, stop, thread gone; a taken port is a clear error
    TestLimits      oversized bodies are refused; several clients are served at once
"""
from __future__ import annotations

import threading

import httpx
import pytest

from ralph_watch.web import WebServer, WebServerError, make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config
from tests.support.wait import wait_until


@pytest.fixture
def server():
    clock = FakeClock(START)
    config = web_config(port=0)
    backend = FakeBackend(clock=clock, config=config)
    srv = WebServer(make_app(backend, config, clock=clock), "127.0.0.1", 0).start()
    yield srv
    srv.stop()


class TestLifecycle:
    def test_it_serves_on_a_free_port_and_stops_its_thread(self, server):
        assert server.port and server.port > 0 and server.alive
        r = httpx.get(f"{server.url}/healthz", timeout=5)
        assert r.status_code == 200 and r.json()["ok"] is True
        assert r.headers["X-Frame-Options"] == "DENY"
        workers = server._server.task_dispatcher.threads
        server.stop()
        assert not server.alive
        wait_until(lambda: not workers, 5, "waitress worker threads to end")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/healthz", timeout=2)

    def test_it_stops_with_a_keep_alive_connection_open(self, server):
        with httpx.Client(timeout=5) as client:
            assert client.get(f"{server.url}/api/account").status_code == 200
            server.stop()
            assert not server.alive

    def test_it_reports_a_taken_port_with_the_config_keys(self, server):
        with pytest.raises(WebServerError, match=r"web\.port"):
            WebServer(lambda e, s: [], "127.0.0.1", server.port).start()

    def test_it_refuses_foreign_host_names_over_the_wire(self, server):
        r = httpx.get(f"{server.url}/healthz", headers={"Host": "evil.example"}, timeout=5)
        assert r.status_code == 403


class TestLimits:
    def test_it_refuses_huge_bodies(self, server):
        r = httpx.post(f"{server.url}/pause", content=b"x" * (2 * 1024 * 1024), timeout=10)
        assert r.status_code == 413

    def test_it_serves_several_clients_at_once(self, server):
        results: list[int] = []

        def fetch() -> None:
            results.append(httpx.get(f"{server.url}/api/tasks", timeout=5).status_code)

        threads = [threading.Thread(target=fetch) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results == [200] * 16
