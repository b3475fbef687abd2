"""The status page and JSON API, in-process with WebTest, a fake backend and a real TaskBoard.

    TestPages          the status page's content, filters, paging, privacy, static, avatar, errors
    TestLiteralText    XSS and template-injection strings render as text
    TestLogin          /login, the OAuth callback (state, PKCE, errors), logout
    TestCsrf           tokens, Origin / Sec-Fetch-Site, GET never changes state
    TestHost           Host allowlist, X-Forwarded-* ignored, no open redirects
    TestSessions       cookie flags, tampered/old cookies
    TestActions        cancel (confirmation, 409), retry, publish-now, pause/resume, JSON answers
    TestApiTasks       /api/tasks order/filter/paging/params/ETag, /api/account, /healthz
    TestPasswordMode   sign-in, throttle, Basic auth for GET /api/* only
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import webtest

from ralph_watch.tasks import State
from ralph_watch.web import make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock
from tests.unit.test_web_app import World  # the unit half's helpers, shared
from tests.unit import test_web_app as unit_half

# The unit half's fixtures, used here too.
world = unit_half.world


class TestPages:
    @staticmethod
    def own_pages(tmp_path, *, password: str | None = None, terms: bool = True) -> World:
        policy = tmp_path / "privacy.html"
        policy.write_text("<!doctype html><title>Acme privacy</title><h1>Acme Ltd privacy</h1>"
                          "<p>Write to privacy@acme.example</p>", encoding="utf-8")
        (tmp_path / "terms.txt").write_text("1. Terms of Acme\n- be nice\n", encoding="utf-8")
        w = World(password=password)
        w.config.web.privacy_policy = policy
        w.config.web.terms = tmp_path / "terms.txt" if terms else None
        w.wsgi = make_app(w.backend, w.config, clock=w.clock)
        w.app = w.client()
        return w

    def test_the_operators_policy_and_terms_replace_the_shipped_ones_public_in_password_mode(self, tmp_path):
        w = self.own_pages(tmp_path, password="pw")
        page = w.app.get("/privacy")
        assert page.text.startswith("<!doctype html><title>Acme privacy</title>") and "Privacy Policy describes" \
            not in page.text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        terms = w.app.get("/terms")
        assert "<h1>Terms of service</h1>" in terms.text and "<li>be nice</li>" in terms.text
        assert 'href="/terms"' in w.app.get("/signin").text

    def test_without_web_terms_there_is_no_terms_page_and_no_link(self, tmp_path, world):
        world.app.get("/terms", status=404)
        for path in ("/", "/privacy"):
            assert 'href="/terms"' not in world.app.get(path).text
        w = self.own_pages(tmp_path, terms=False)
        w.app.get("/terms", status=404)
        assert "Acme Ltd privacy" in w.app.get("/privacy").text


class TestRealConfig:
    def test_it_works_with_the_real_config_object(self, tmp_path):
        from ralph_watch.config import Config, TikTokConfig, WebConfig
        config = Config(inbox=tmp_path, state_dir=tmp_path, timezone="Europe/Berlin",
                        web=WebConfig(allowed_hosts=("nas.local",)),
                        tiktok=TikTokConfig(redirect_uri="http://127.0.0.1:8080/oauth/done"))
        clock = FakeClock(START)
        backend = FakeBackend(clock=clock, config=config)
        backend.board.create("clip", state=State.SCHEDULED, video="clip.mp4", due=START)
        app = webtest.TestApp(make_app(backend, config, clock=clock), extra_environ={"HTTP_HOST": "nas.local:8080"})
        assert "2026-12-24 13:00 +01:00" in app.get("/").text
        loc = app.get("/login").headers["Location"]
        state = parse_qs(urlsplit(loc).query)["state"][0]
        assert app.get("/oauth/done", {"code": "c", "state": state}).headers["Location"] == "/"
