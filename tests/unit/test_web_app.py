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

import json

import base64
import hashlib
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import bottle
import pytest
import webtest

from ralph_watch.tasks import State
from ralph_watch.web import make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config

SECRETS = ("act.SECRET-ACCESS", "rft.SECRET-REFRESH")


class World:
    def __init__(self, **config: object) -> None:
        self.clock = FakeClock(START)
        self.config = web_config(**config)  # type: ignore[arg-type]
        self.backend = FakeBackend(clock=self.clock, config=self.config)
        self.board = self.backend.board
        self.wsgi = make_app(self.backend, self.config, clock=self.clock)
        self.app = self.client()

    def client(self) -> webtest.TestApp:
        return webtest.TestApp(self.wsgi, extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})

    def task(self, key: str, state: State = State.SCHEDULED, **values: object):
        values.setdefault("video", f"{key}.mp4")
        values.setdefault("sidecar", f"{key}.yaml")
        return self.board.create(key, state=state, **values)

    def csrf(self, app: webtest.TestApp | None = None, path: str = "/") -> str:
        page = (app or self.app).get(path)
        m = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert m, "the page carries a CSRF token"
        return m.group(1)

    def login(self, app: webtest.TestApp | None = None, **query: str):
        app = app or self.app
        loc = app.get("/login").headers["Location"]
        state = parse_qs(urlsplit(loc).query)["state"][0]
        return app.get("/callback", {"code": "CODE", "state": state, "scopes": "video.publish", **query}, status="*")


@pytest.fixture
def world() -> World:
    return World()


class TestPages:
    def test_it_shows_a_login_button_and_what_the_service_does_when_logged_out(self, world):
        page = world.app.get("/")
        assert 'href="/login"' in page.text and "Log in with TikTok" in page.text
        assert "deleted" in page.text and 'href="/privacy"' in page.text
        assert 'data-logged-in="no"' in page.text

    def test_it_shows_the_account_music_notice_and_token_health_when_logged_in(self, world):
        world.login()
        page = world.app.get("/")
        assert "Logged in as" in page.text and "Ralph" in page.text
        assert '<img class="avatar" src="/avatar"' in page.text
        assert "By posting, you agree to TikTok's" in page.text
        assert 'href="https://www.tiktok.com/legal/page/global/music-usage-confirmation/en"' in page.text
        assert "A new TikTok login will be needed by" in page.text and "2027-06-22" in page.text
        assert 'action="/logout"' in page.text

    def test_it_never_shows_a_token_even_if_the_account_dict_holds_one(self, world):
        world.login()
        for path in ("/", "/api/account", "/api/tasks", "/healthz"):
            body = world.app.get(path).text
            for secret in SECRETS:
                assert secret not in body, path

    def test_it_shows_due_times_in_the_configured_zone_with_offset_and_relative(self, world):
        world.task("clip", due=START + timedelta(hours=3))
        world.task("old", state=State.MISSED, due=START - timedelta(minutes=5))
        page = world.app.get("/").text
        assert "2026-12-24 16:00 +01:00" in page and "in 3 h" in page
        assert "2026-12-24 12:55 +01:00" in page and "5 min ago" in page

    def test_it_shows_progress_error_and_post_link(self, world):
        world.task("up", state=State.UPLOADING, progress=0.25)
        world.task("bad", state=State.FAILED, error="TikTok refused the video (TikTok spam_risk).")
        world.task("done", state=State.PUBLISHED, post_id="7312345678901234567", video=None)
        page = world.app.get("/").text
        assert '<progress max="1" value="0.250">25 %</progress>' in page
        assert "TikTok refused the video (TikTok spam_risk)." in page
        assert 'href="https://www.tiktok.com/video/7312345678901234567"' in page

    def test_it_uses_the_handle_in_post_links_when_the_account_has_one(self, world):
        world.backend.logged_in_as = {"nickname": "R", "username": "ralph.w"}
        world.task("done", state=State.PUBLISHED, post_id="42", video=None)
        assert 'href="https://www.tiktok.com/@ralph.w/video/42"' in world.app.get("/").text

    @pytest.mark.parametrize(("state", "video", "kept", "actions"), [
        pytest.param(State.SCHEDULED, "x.mp4", False, ["publish-now", "cancel"], id="scheduled"),
        pytest.param(State.FAILED, "x.mp4", False, ["retry", "cancel"], id="failed"),
        pytest.param(State.MISSED, "x.mp4", False, ["retry", "cancel"], id="missed"),
        pytest.param(State.PUBLISHED, "x.mp4", True, ["retry"], id="published_files_kept"),
        pytest.param(State.PUBLISHED, "x.mp4", False, [], id="published_files_deleted_name_kept"),
        pytest.param(State.PUBLISHED, None, False, [], id="published_files_gone"),
        pytest.param(State.UPLOADING, "x.mp4", False, [], id="uploading"),
        pytest.param(State.PROCESSING, "x.mp4", False, [], id="processing"),
        pytest.param(State.WAITING, "x.mp4", False, ["cancel"], id="waiting"),
        pytest.param(State.CANCELLED, "x.mp4", False, [], id="cancelled"),
    ])
    def test_it_offers_the_actions_that_fit_the_state(self, world, state, video, kept, actions):
        t = world.task("x", state=state, video=video, files_kept=kept)
        page = world.app.get("/").text
        shown = re.findall(rf'action="/tasks/{t.id}/([a-z-]+)"', page)
        assert shown == actions

    def test_it_explains_the_unaudited_mode_when_an_error_mentions_it(self, world):
        assert "has not passed TikTok's audit" not in world.app.get("/").text
        world.task("x", state=State.FAILED, error="TikTok: unaudited_client_can_only_post_to_private_accounts")
        page = world.app.get("/").text
        assert "has not passed TikTok's audit" in page and "mode: draft" in page

    def test_it_shows_warnings_and_watcher_health(self, world):
        world.backend.warning_list = ["the queue as scheduled exceeds 15 posts on 2026-12-24"]
        world.backend.health_answer = (False, {"ok": False, "watch_mode": "polling", "watch_reason": "network mount",
                                               "inbox_ok": False, "last_scan": START - timedelta(seconds=120),
                                               "reason": "the inbox is not reachable"})
        page = world.app.get("/").text
        assert "exceeds 15 posts on 2026-12-24" in page
        assert "polling (network mount)" in page and "not reachable" in page
        assert "Problem: the inbox is not reachable" in page and "2 min ago" in page

    def test_it_filters_by_state(self, world):
        world.task("a", state=State.FAILED)
        world.task("b", state=State.SCHEDULED)
        page = world.app.get("/?state=failed").text
        assert "a.mp4" in page and "b.mp4" not in page
        assert 'href="/?state=scheduled"' in page

    @pytest.mark.parametrize("query", ["state=bogus", "page=0", "page=x", "page=-1"], ids=["state", "zero", "word", "negative"])
    def test_it_refuses_bad_page_parameters_with_a_sentence(self, world, query):
        page = world.app.get(f"/?{query}", status=400)
        assert "Back to the status page" in page.text

    def test_it_pages_through_many_tasks(self, world):
        for i in range(250):
            world.task(f"v{i:03d}", due=START + timedelta(minutes=i))
        first = world.app.get("/").text
        assert first.count('<tr id="task-') == 100 and "page 1 of 3" in first
        last = world.app.get("/?page=3").text
        assert last.count('<tr id="task-') == 50 and "v249.mp4" in last and "v000.mp4" not in last
        assert 'href="/?page=2"' in last

    def test_it_serves_the_privacy_policy_linked_from_every_page(self, world):
        page = world.app.get("/privacy")
        assert "Privacy Policy describes how" in page.text and "<h2>2.1 Information from TikTok</h2>" in page.text
        for path in ("/", "/privacy", "/signin"):
            assert 'href="/privacy"' in world.app.get(path).maybe_follow().text

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


    def test_it_serves_static_files_and_nothing_outside_their_folder(self, world):
        assert "text/css" in world.app.get("/static/style.css").content_type
        js = world.app.get("/static/app.js")
        assert ".innerHTML" not in js.text and "textContent" in js.text
        world.app.get("/static/../app.py", status=(403, 404))
        world.app.get("/static/%2e%2e/app.py", status=(403, 404))

    def test_it_serves_the_avatar_bytes_and_404_without_one(self, world):
        world.app.get("/avatar", status=404)
        world.backend.avatar_image = (b"\x89PNG...", "image/png")
        r = world.app.get("/avatar")
        assert r.body == b"\x89PNG..." and r.content_type == "image/png"
        world.backend.avatar_image = (b"<script>", "text/html")
        world.app.get("/avatar", status=404)

    def test_it_answers_unknown_pages_with_a_friendly_404(self, world):
        r = world.app.get("/nope", status=404)
        assert "There is nothing at this address" in r.text

    def test_it_hides_exception_details_on_500_and_logs_them(self, world, caplog):
        def boom() -> None:
            raise RuntimeError("internal detail 1234")
        world.backend.pause = boom  # type: ignore[method-assign]
        csrf = world.csrf()
        with caplog.at_level(logging.ERROR):
            r = world.app.post("/pause", {"csrf": csrf}, status=500, expect_errors=True)
        assert "internal detail 1234" not in r.text and "Traceback" not in r.text
        assert "could not answer this request" in r.text
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "internal detail 1234" in caplog.text

    def test_it_sends_the_security_headers_on_every_response(self, world):
        for path, status in [("/", 200), ("/api/tasks", 200), ("/healthz", 200), ("/nope", 404), ("/privacy", 200),
                             ("/static/style.css", 200)]:
            r = world.app.get(path, status=status)
            assert r.headers["Content-Security-Policy"] == (
                "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"), path
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["Referrer-Policy"] == "same-origin"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/", "/api/tasks", "/api/account"):
            assert world.app.get(path).headers["Cache-Control"] == "no-store"
        r = world.app.get("/nope", headers={"Host": "evil.example"}, status=403)
        assert r.headers["X-Frame-Options"] == "DENY"


PROBES = [
    pytest.param("<script>alert(1)</script>", id="script_tag"),
    pytest.param("{{7*7}}", id="template_expression"),
    pytest.param("% import os\n% os.getuid()", id="template_code_line"),
    pytest.param('" onmouseover="alert(1)', id="double_quote"),
    pytest.param("' onclick='x", id="single_quote"),
    pytest.param("\u202egnp.exe \u200f rtl", id="rtl_marks"),
    pytest.param("sunset 🌅 #fyp", id="emoji"),
    pytest.param("javascript:alert(1)", id="javascript_url"),
]


class TestLiteralText:
    @pytest.mark.parametrize("text", PROBES)
    def test_it_renders_titles_names_errors_and_nicknames_literally(self, world, text):
        world.backend.logged_in_as = {"nickname": text}
        world.backend.warning_list = [text]
        world.task("x", state=State.FAILED, title=text, video=f"{text}.mp4", error=text)
        page = world.app.get("/").text
        escaped = bottle.html_escape(text)
        assert page.count(escaped) >= 4
        if any(c in text for c in "<>\"'"):
            assert text not in page
        assert ">49<" not in page and " 49" not in page  # {{7*7}} was not evaluated

    def test_it_renders_query_strings_literally_in_error_pages(self, world):
        r = world.app.get("/?state=%7B%7B7*7%7D%7D%3Cb%3E", status=400)
        assert "{{7*7}}&lt;b&gt;" in r.text and ">49<" not in r.text

    def test_it_never_puts_a_javascript_url_in_a_link(self, world):
        world.task("x", state=State.PUBLISHED, post_id="javascript:alert(1)", video=None)
        assert "javascript:" not in world.app.get("/").text


class TestLogin:
    def test_it_redirects_to_tiktok_with_state_and_a_pkce_challenge(self, world):
        r = world.app.get("/login", status=(302, 303))
        q = parse_qs(urlsplit(r.headers["Location"]).query)
        assert r.headers["Location"].startswith("https://www.tiktok.com/v2/auth/authorize/")
        assert len(q["state"][0]) >= 43 and re.fullmatch(r"[0-9a-f]{64}", q["code_challenge"][0])
        world.app.get("/callback", {"code": "C0DE", "state": q["state"][0], "scopes": "video.publish"})
        (_, code, verifier, scopes), = [c for c in world.backend.calls if c[0] == "finish_login"]
        assert code == "C0DE" and scopes == "video.publish"
        assert hashlib.sha256(verifier.encode()).hexdigest() == q["code_challenge"][0]
        assert 43 <= len(verifier) <= 128

    def test_it_finishes_the_login_rotates_the_session_and_goes_home(self, world):
        world.app.get("/")
        before = world.app.cookies["rw_session"]
        r = world.login()
        assert r.status_int == 303 and r.headers["Location"] == "/"
        assert r.headers["Referrer-Policy"] == "same-origin" and r.headers["Cache-Control"] == "no-store"
        assert world.app.cookies["rw_session"] != before
        assert "Logged in to TikTok as Ralph." in world.app.get("/").text

    def test_it_refuses_a_missing_or_wrong_state(self, world):
        world.app.get("/login")
        for query in ({"code": "C"}, {"code": "C", "state": "forged"}):
            r = world.app.get("/callback", query, status=400)
            assert "Log in with TikTok" in r.text
        assert not [c for c in world.backend.calls if c[0] == "finish_login"]

    def test_it_accepts_a_state_only_once(self, world):
        loc = world.app.get("/login").headers["Location"]
        state = parse_qs(urlsplit(loc).query)["state"][0]
        world.app.get("/callback", {"code": "C", "state": state}, status=303)
        r = world.app.get("/callback", {"code": "C", "state": state}, status=400)
        assert "already used" in r.text
        assert len([c for c in world.backend.calls if c[0] == "finish_login"]) == 1

    def test_it_refuses_a_state_older_than_ten_minutes(self, world):
        loc = world.app.get("/login").headers["Location"]
        state = parse_qs(urlsplit(loc).query)["state"][0]
        world.clock.advance(601)
        world.app.get("/callback", {"code": "C", "state": state}, status=400)
        assert not [c for c in world.backend.calls if c[0] == "finish_login"]

    def test_it_refuses_a_state_from_another_browser(self, world):
        loc = world.app.get("/login").headers["Location"]
        state = parse_qs(urlsplit(loc).query)["state"][0]
        other = world.client()
        other.get("/")
        r = other.get("/callback", {"code": "C", "state": state}, status=400)
        assert "another browser" in r.text
        assert not [c for c in world.backend.calls if c[0] == "finish_login"]

    @pytest.mark.parametrize(("query", "sentence"), [
        pytest.param({"error": "access_denied"}, "You did not allow ralph-watch", id="access_denied"),
        pytest.param({"error": "access_denied", "error_type": "non_sandbox_target"}, "not one of its target users",
                     id="non_sandbox_target"),
        pytest.param({"error": "invalid_request", "error_description": "<b>bad</b> redirect_uri"},
                     "TikTok could not log you in (invalid_request: &lt;b&gt;bad&lt;/b&gt; redirect_uri)", id="other"),
    ])
    def test_it_turns_tiktok_errors_into_sentences(self, world, query, sentence):
        r = world.login(**query)
        assert r.status_int == 400 and sentence in r.text and "Traceback" not in r.text
        assert not [c for c in world.backend.calls if c[0] == "finish_login"]

    def test_it_refuses_a_huge_code_politely(self, world):
        r = world.login(code="x" * 10_000)
        assert r.status_int == 400 and "authorization code" in r.text

    def test_it_shows_the_backends_login_error(self, world):
        world.backend.login_error = "TikTok did not grant video.publish: allow it on TikTok's consent page."
        r = world.login()
        assert r.status_int == 400 and "did not grant video.publish" in r.text

    def test_it_logs_out_by_post_and_forgets_the_session(self, world):
        world.login()
        csrf = world.csrf()
        old = world.app.cookies["rw_session"]
        r = world.app.post("/logout", {"csrf": csrf}, status=303)
        assert r.headers["Location"] == "/" and ("logout",) in world.backend.calls
        assert world.app.cookies["rw_session"] != old
        assert "Logged out" in world.app.get("/").text
        # the old session id and its CSRF token are dead
        world.app.set_cookie("rw_session", old)
        world.app.post("/pause", {"csrf": csrf}, status=403)
        assert ("pause",) not in world.backend.calls


class TestCsrf:
    @pytest.mark.parametrize("path", ["/logout", "/pause", "/resume", "/tasks/1/cancel", "/tasks/1/retry",
                                      "/tasks/1/publish-now"])
    @pytest.mark.parametrize("token", [None, "wrong"], ids=["missing", "wrong"])
    def test_it_refuses_posts_without_the_right_token(self, world, path, token):
        world.login()
        world.task("x", state=State.SCHEDULED)
        world.app.get("/")
        calls = list(world.backend.calls)
        form = {"confirmed": "yes"} | ({"csrf": token} if token else {})
        r = world.app.post(path, form, status=403)
        assert "nothing was changed" in r.text
        assert world.backend.calls == calls and world.board.get("1").state is State.SCHEDULED
        assert world.backend.logged_in_as is not None

    @pytest.mark.parametrize("headers", [
        pytest.param({"Origin": "https://evil.example"}, id="foreign_origin"),
        pytest.param({"Origin": "null"}, id="null_origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross_site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="same_site"),
    ])
    def test_it_refuses_cross_site_posts_even_with_the_token(self, world, headers):
        csrf = world.csrf()
        world.app.post("/pause", {"csrf": csrf}, headers=headers, status=403)
        assert ("pause",) not in world.backend.calls

    @pytest.mark.parametrize("headers", [
        pytest.param({"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, id="same_origin"),
        pytest.param({}, id="no_origin"),
    ])
    def test_it_accepts_same_origin_posts(self, world, headers):
        csrf = world.csrf()
        world.app.post("/pause", {"csrf": csrf}, headers=headers, status=303)
        assert ("pause",) in world.backend.calls

    def test_it_accepts_the_token_in_a_header_for_scripts(self, world):
        csrf = world.csrf()
        r = world.app.post("/pause", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        assert r.json == {"ok": True, "message": r.json["message"]} and world.backend.paused

    @pytest.mark.parametrize("path", ["/logout", "/pause", "/resume", "/tasks/1/cancel", "/signout"])
    def test_it_never_changes_state_on_get(self, world, path):
        world.login()
        world.task("x")
        world.app.get(path, status=405)
        assert world.backend.logged_in_as is not None and not world.backend.paused
        assert world.board.get("1").state is State.SCHEDULED


class TestHost:
    @pytest.mark.parametrize("path", ["/", "/login", "/callback?code=c&state=s", "/api/tasks", "/api/account",
                                      "/healthz", "/privacy", "/avatar", "/static/style.css", "/signin", "/nope"])
    def test_it_refuses_foreign_host_names_on_every_route(self, world, path):
        r = world.app.get(path, headers={"Host": "evil.example:8080"}, status=403)
        assert "web.allowed_hosts" in r.text

    def test_it_refuses_foreign_hosts_on_posts_too(self, world):
        csrf = world.csrf()
        world.app.post("/pause", {"csrf": csrf}, headers={"Host": "evil.example"}, status=403)
        assert not world.backend.paused

    @pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST:9999",
                                      "127.0.0.1"])
    def test_it_accepts_loopback_names(self, world, host):
        world.app.get("/healthz", headers={"Host": host})

    def test_it_accepts_configured_names(self):
        w = World(host="192.168.1.20", public_url="https://watch.example.org/", allowed_hosts=("nas.local",),
                  password="pw")
        for host in ("192.168.1.20:8080", "watch.example.org", "nas.local:8080", "nas.local"):
            w.app.get("/healthz", headers={"Host": host})
        w.app.get("/healthz", headers={"Host": "other.example.org"}, status=403)

    @pytest.mark.parametrize("host", ["", "a b", "evil.example@127.0.0.1", "127.0.0.1:80x"])
    def test_it_refuses_malformed_hosts(self, world, host):
        world.app.get("/healthz", headers={"Host": host}, status=403)

    def test_it_ignores_forwarded_headers_for_redirects(self, world):
        csrf = world.csrf()
        forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"}
        r = world.app.post("/pause?next=https://evil.example", {"csrf": csrf}, headers=forged, status=303)
        assert r.headers["Location"] == "/"
        loc = world.app.get("/login", headers=forged).headers["Location"]
        assert loc.startswith("https://www.tiktok.com/")
        state = parse_qs(urlsplit(loc).query)["state"][0]
        r = world.app.get("/callback", {"code": "c", "state": state, "next": "//evil.example"}, headers=forged)
        assert r.headers["Location"] == "/"


class TestSessions:
    def test_it_sets_a_plain_httponly_lax_cookie(self, world):
        cookie = world.app.get("/").headers["Set-Cookie"]
        assert re.match(r"rw_session=[A-Za-z0-9_-]{43};", cookie)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie

    def test_it_marks_the_cookie_secure_behind_an_https_public_url(self):
        w = World(public_url="https://watch.example.org", password="pw")
        assert "Secure" in w.app.get("/signin").headers["Set-Cookie"]

    @pytest.mark.parametrize("value", ["random", "A" * 43, "gASVAAAAAAAAAAB9lC4=", "'; drop"],
                             ids=["short", "unknown", "pickle_like", "junk"])
    def test_it_treats_a_tampered_cookie_as_a_new_visitor(self, world, value):
        world.app.set_cookie("rw_session", value)
        r = world.app.get("/")
        assert value not in r.headers["Set-Cookie"]
        world.app.set_cookie("rw_session", value)
        world.app.post("/pause", {"csrf": "x"}, status=403)

    def test_it_expires_idle_sessions(self, world):
        csrf = world.csrf()
        world.clock.advance(13 * 3600)
        world.app.post("/pause", {"csrf": csrf}, status=403)
        assert not world.backend.paused


class TestActions:
    def test_it_asks_for_confirmation_before_cancelling_without_javascript(self, world):
        t = world.task("clip", title="Sunset")
        csrf = world.csrf()
        page = world.app.post(f"/tasks/{t.id}/cancel", {"csrf": csrf})
        assert page.status_int == 200 and "Cancel clip.mp4?" in page.text and "Sunset" in page.text
        assert not [c for c in world.backend.calls if c[0] == "cancel"]
        (form,) = [f for f in page.forms.values() if f.action.endswith("/cancel")]
        r = form.submit()
        assert r.status_int == 303 and ("cancel", t.id) in world.backend.calls
        assert "Cancelled clip.mp4" in world.app.get("/").text
        assert world.board.get(t.id).state is State.CANCELLED

    def test_it_shows_the_409_message_when_cancelling_while_uploading(self, world):
        t = world.task("clip", state=State.UPLOADING)
        csrf = world.csrf()
        r = world.app.post(f"/tasks/{t.id}/cancel", {"csrf": csrf, "confirmed": "yes"}, status=409)
        assert "cannot be cancelled; wait until TikTok answers" in r.text
        r = world.app.post(f"/tasks/{t.id}/cancel", headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
                           status=409)
        assert r.json["ok"] is False and "cannot be cancelled" in r.json["error"]
        assert world.board.get(t.id).state is State.UPLOADING

    @pytest.mark.parametrize(("action", "state", "call"), [
        pytest.param("retry", State.FAILED, "retry", id="retry"),
        pytest.param("publish-now", State.SCHEDULED, "publish_now", id="publish_now"),
    ])
    def test_it_runs_task_actions_and_comes_back_with_a_message(self, world, action, state, call):
        t = world.task("clip", state=state)
        csrf = world.csrf()
        r = world.app.post(f"/tasks/{t.id}/{action}", {"csrf": csrf}, status=303)
        assert r.headers["Location"] == "/" and (call, t.id) in world.backend.calls
        assert "clip.mp4 will be published" in world.app.get("/").text

    def test_it_answers_json_when_asked(self, world):
        t = world.task("clip")
        csrf = world.csrf()
        r = world.app.post(f"/tasks/{t.id}/cancel", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        assert r.json == {"ok": True, "message": "Cancelled clip.mp4: both files were deleted from the inbox."}

    def test_it_pauses_and_resumes(self, world):
        csrf = world.csrf()
        world.app.post("/pause", {"csrf": csrf}, status=303)
        page = world.app.get("/").text
        assert world.backend.paused and "Paused: no publish starts" in page and 'action="/resume"' in page
        world.app.post("/resume", {"csrf": csrf}, status=303)
        assert not world.backend.paused and 'action="/pause"' in world.app.get("/").text

    def test_it_refuses_unknown_tasks_and_actions(self, world):
        csrf = world.csrf()
        r = world.app.post("/tasks/999/retry", {"csrf": csrf}, status=404)
        assert "There is no task 999" in r.text
        world.app.post("/tasks/1/explode", {"csrf": csrf}, status=404)

    def test_it_reports_a_refused_action_as_a_sentence(self, world):
        t = world.task("clip", state=State.WAITING)
        csrf = world.csrf()
        r = world.app.post(f"/tasks/{t.id}/publish-now", {"csrf": csrf}, status=409)
        assert "only scheduled tasks can be published now" in r.text


class TestApiTasks:
    def fill(self, world):
        world.task("b", due=START + timedelta(hours=2))
        world.task("a", due=START + timedelta(hours=2))
        world.task("z", state=State.WAITING, due=None)
        world.task("c", state=State.FAILED, due=START + timedelta(hours=1), error="nope")

    def test_it_lists_tasks_in_the_contracts_order_and_shape(self, world):
        self.fill(world)
        data = world.app.get("/api/tasks").json
        assert [t["video"] for t in data] == ["c.mp4", "a.mp4", "b.mp4", "z.mp4"]
        # issue 16 adds account, size, bytes_sent, published_at, post_url, kind (and the page's helpers)
        assert set(data[0]) >= {"id", "video", "sidecar", "state", "title", "privacy", "mode", "due", "progress",
                                "error", "publish_id", "post_id", "attempts",
                                "account", "size", "bytes_sent", "published_at", "post_url", "kind"}
        assert data[0]["due"] == "2026-12-24T13:00:00+00:00" and data[0]["state"] == "failed"
        assert data[3]["due"] is None

    def test_it_sends_gzip_when_asked_and_the_same_json(self, world):
        for i in range(300):  # large enough to be worth compressing
            world.task(f"k{i:03}", due=START + timedelta(minutes=i), title="x" * 40)
        plain = world.app.get("/api/tasks")
        zipped = world.app.get("/api/tasks", headers={"Accept-Encoding": "gzip"})
        assert "Accept-Encoding" in plain.headers.get("Vary", "")
        if zipped.headers.get("Content-Encoding") == "gzip":
            import gzip
            body = gzip.decompress(zipped.body)
            assert len(zipped.body) < len(body)
        else:
            body = zipped.body
        assert json.loads(body) == plain.json

    def test_a_changed_task_is_never_served_from_the_cache(self, world):
        t = world.task("a", due=START + timedelta(hours=1))
        assert world.app.get("/api/tasks").json[0]["state"] == "scheduled"
        assert ">scheduled<" in world.app.get("/").text
        world.board.transition(t.id, State.FAILED, error="TikTok said no")
        assert world.app.get("/api/tasks").json[0]["state"] == "failed"
        page = world.app.get("/").text
        assert ">failed<" in page and "TikTok said no" in page

    @pytest.mark.parametrize(("query", "videos"), [
        pytest.param("state=scheduled", ["a.mp4", "b.mp4"], id="state"),
        pytest.param("limit=2", ["c.mp4", "a.mp4"], id="limit"),
        pytest.param("limit=2&offset=1", ["a.mp4", "b.mp4"], id="limit_offset"),
        pytest.param("offset=3", ["z.mp4"], id="offset"),
        pytest.param("limit=0", [], id="limit_zero"),
        pytest.param("state=missed", [], id="empty_state"),
    ])
    def test_it_filters_and_pages(self, world, query, videos):
        self.fill(world)
        assert [t["video"] for t in world.app.get(f"/api/tasks?{query}").json] == videos

    @pytest.mark.parametrize(("query", "words"), [
        pytest.param("state=bogus", "state='bogus' is not a task state", id="state"),
        pytest.param("limit=-1", "limit='-1' must be a whole number", id="negative"),
        pytest.param("limit=abc", "limit='abc' must be a whole number", id="word"),
        pytest.param("offset=1.5", "offset='1.5' must be a whole number", id="fraction"),
        pytest.param("stat=failed", "unknown parameter 'stat'", id="unknown"),
    ])
    def test_it_refuses_bad_parameters_with_a_message(self, world, query, words):
        r = world.app.get(f"/api/tasks?{query}", status=400)
        assert words in r.json["error"] and r.json["error"].startswith("/api/tasks:")

    def test_it_answers_304_while_nothing_changed(self, world):
        t = world.task("x")
        r = world.app.get("/api/tasks")
        etag = r.headers["ETag"]
        world.app.get("/api/tasks", headers={"If-None-Match": etag}, status=304)
        other = world.app.get("/api/tasks?state=failed").headers["ETag"]
        assert other != etag
        world.board.update(t.id, progress=0.5)
        r = world.app.get("/api/tasks", headers={"If-None-Match": etag}, status=200)
        assert r.headers["ETag"] != etag and r.json[0]["progress"] == 0.5

    def test_it_reports_the_account(self, world):
        assert world.app.get("/api/account").json == {"logged_in": False, "nickname": None}
        world.login()
        assert world.app.get("/api/account").json == {"logged_in": True, "nickname": "Ralph"}

    def test_it_reports_health_with_200_or_503(self, world):
        r = world.app.get("/healthz")
        assert r.json["ok"] is True and r.json["paused"] is False and r.json["watch_mode"] == "events"
        world.backend.health_answer = (False, {"ok": False, "reason": "watcher thread died",
                                               "last_scan": START})
        r = world.app.get("/healthz", status=503)
        assert r.json["reason"] == "watcher thread died" and r.json["last_scan"] == "2026-12-24T12:00:00+00:00"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def locked() -> World:
    return World(password="s3cret pässword")


class TestPasswordMode:
    @pytest.mark.parametrize("path", ["/", "/login", "/avatar", "/?state=failed"])
    def test_it_sends_pages_to_the_sign_in_form(self, locked, path):
        r = locked.app.get(path, status=303)
        assert r.headers["Location"] == "/signin"

    @pytest.mark.parametrize("path", ["/healthz", "/privacy", "/static/style.css", "/signin"])
    def test_it_leaves_public_routes_open(self, locked, path):
        locked.app.get(path, status=200)

    def test_it_leaves_the_oauth_callback_open(self, locked):
        r = locked.app.get("/callback", {"code": "c", "state": "s"}, status=400)
        assert "expired" in r.text

    def test_it_signs_in_with_the_password_and_rotates_the_session(self, locked):
        csrf = locked.csrf(path="/signin")
        old = locked.app.cookies["rw_session"]
        r = locked.app.post("/signin", {"csrf": csrf, "password": "wrong"}, status=401)
        assert "Wrong password" in r.text
        r = locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=303)
        assert r.headers["Location"] == "/" and locked.app.cookies["rw_session"] != old
        assert "Log in with TikTok" in locked.app.get("/").text
        locked.app.get("/signin", status=303)

    def test_it_slows_down_guessing_with_429(self, locked):
        csrf = locked.csrf(path="/signin")
        for _ in range(5):
            locked.app.post("/signin", {"csrf": csrf, "password": "guess"}, status=401)
        r = locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=429)
        assert int(r.headers["Retry-After"]) > 0 and "Too many wrong passwords" in r.text
        other_client = webtest.TestApp(locked.wsgi, extra_environ={"HTTP_HOST": "127.0.0.1:8080",
                                                                   "REMOTE_ADDR": "10.0.0.9"})
        other_csrf = locked.csrf(app=other_client, path="/signin")
        other_client.post("/signin", {"csrf": other_csrf, "password": "s3cret pässword"}, status=303)
        locked.clock.advance(901)
        locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=303)

    def test_it_ignores_x_forwarded_for_in_the_throttle(self, locked):
        csrf = locked.csrf(path="/signin")
        for i in range(5):
            locked.app.post("/signin", {"csrf": csrf, "password": "guess"},
                            headers={"X-Forwarded-For": f"10.1.1.{i}"}, status=401)
        locked.app.post("/signin", {"csrf": csrf, "password": "guess"}, headers={"X-Forwarded-For": "10.9.9.9"},
                        status=429)

    def test_it_lets_the_right_password_in_one_short_step_after_many_wrong_ones(self, locked):
        # Before: five wrong passwords locked the address out for 15 minutes, the right one included.
        csrf = locked.csrf(path="/signin")
        for _ in range(30):
            locked.app.post("/signin", {"csrf": csrf, "password": "guess"}, status="*")
            locked.clock.advance(1)
        r = locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=(303, 429))
        if r.status_int == 429:
            wait = int(r.headers["Retry-After"])
            assert 0 < wait <= 5 and f"Try again in {wait} s" in r.text
            locked.clock.advance(wait)
            locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=303)

    def test_it_accepts_basic_auth_for_get_api_only(self, locked):
        locked.task("x")
        assert locked.app.get("/api/tasks", headers=basic("any", "s3cret pässword")).json[0]["video"] == "x.mp4"
        locked.app.get("/api/account", headers=basic("", "s3cret pässword"))
        r = locked.app.get("/api/tasks", status=401)
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        locked.app.get("/api/tasks", headers=basic("any", "nope"), status=401)
        locked.app.get("/", headers=basic("any", "s3cret pässword"), status=303)
        r = locked.app.post("/pause", headers={**basic("any", "s3cret pässword"), "X-CSRF-Token": "x"}, status=403)
        assert ("pause",) not in locked.backend.calls

    def test_it_refuses_actions_without_a_signed_in_session_even_with_a_token(self, locked):
        csrf = locked.csrf(path="/signin")
        locked.app.post("/pause", {"csrf": csrf}, status=403)
        assert ("pause",) not in locked.backend.calls

    def test_it_throttles_basic_auth_guessing_too(self, locked):
        for _ in range(5):
            locked.app.get("/api/tasks", headers=basic("a", "guess"), status=401)
        locked.app.get("/api/tasks", headers=basic("a", "s3cret pässword"), status=429)

    def test_it_treats_a_random_cookie_as_signed_out(self, locked):
        locked.app.set_cookie("rw_session", "x" * 43)
        locked.app.get("/", status=303)

    def test_it_signs_out(self, locked):
        csrf = locked.csrf(path="/signin")
        locked.app.post("/signin", {"csrf": csrf, "password": "s3cret pässword"}, status=303)
        csrf = locked.csrf()
        r = locked.app.post("/signout", {"csrf": csrf}, status=303)
        assert r.headers["Location"] == "/signin"
        locked.app.get("/", status=303)


def via_proxy(world: World, client: str | None, *, peer: str = "127.0.0.1") -> webtest.TestApp:
    """A browser whose requests arrive from `peer` (the reverse proxy) naming `client` in X-Forwarded-For."""
    env = {"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": peer}
    if client is not None:
        env["HTTP_X_FORWARDED_FOR"] = client
    return webtest.TestApp(world.wsgi, extra_environ=env)


@pytest.fixture
def proxied() -> World:
    return World(password="s3cret pässword", trusted_proxies=("127.0.0.0/8", "::1"))


class TestBehindAProxy:
    """Issue 12 item 13: behind the documented reverse proxy every request comes from 127.0.0.1."""

    def fail(self, world: World, app: webtest.TestApp, times: int = 5) -> str:
        csrf = world.csrf(app=app, path="/signin")
        for _ in range(times):
            app.post("/signin", {"csrf": csrf, "password": "guess"}, status=401)
        return csrf

    def test_a_guesser_does_not_lock_out_the_owner(self, proxied):
        guesser = via_proxy(proxied, "198.51.100.66")
        csrf = self.fail(proxied, guesser)
        guesser.post("/signin", {"csrf": csrf, "password": "guess"}, status=429)
        owner = via_proxy(proxied, "203.0.113.10")
        owner_csrf = proxied.csrf(app=owner, path="/signin")
        owner.post("/signin", {"csrf": owner_csrf, "password": "s3cret pässword"}, status=303)

    def test_a_forged_left_part_of_the_header_changes_nothing(self, proxied):
        guesser = via_proxy(proxied, "198.51.100.66")
        csrf = proxied.csrf(app=guesser, path="/signin")
        for i in range(5):
            guesser.post("/signin", {"csrf": csrf, "password": "guess"},
                         headers={"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.66"}, status=401)
        guesser.post("/signin", {"csrf": csrf, "password": "guess"},
                     headers={"X-Forwarded-For": "10.9.9.99, 198.51.100.66"}, status=429)

    def test_a_peer_that_is_not_a_proxy_cannot_pick_its_address(self, proxied):
        direct = via_proxy(proxied, None, peer="203.0.113.99")
        csrf = proxied.csrf(app=direct, path="/signin")
        for i in range(5):
            direct.post("/signin", {"csrf": csrf, "password": "guess"},
                        headers={"X-Forwarded-For": f"10.1.1.{i}"}, status=401)
        direct.post("/signin", {"csrf": csrf, "password": "guess"}, headers={"X-Forwarded-For": "10.1.1.99"},
                    status=429)

    def test_basic_auth_is_counted_per_client_too(self, proxied):
        proxied.task("x")
        guesser = via_proxy(proxied, "198.51.100.66")
        for _ in range(5):
            guesser.get("/api/tasks", headers=basic("a", "guess"), status=401)
        guesser.get("/api/tasks", headers=basic("a", "guess"), status=429)
        script = via_proxy(proxied, "203.0.113.10")
        assert script.get("/api/tasks", headers=basic("a", "s3cret pässword")).json[0]["video"] == "x.mp4"


class TestNamesThatAreNotUtf8:
    """A file name with bytes that are not UTF-8 (os.listdir gives lone surrogates) is shown with
    escapes and never breaks the page or the JSON."""

    def test_the_page_and_the_json_show_the_name_with_escapes(self, world):
        name = "h12\udcff.mp4"
        world.task("h12\udcff", state=State.INVALID, video=name, sidecar="h12\udcff.yaml",
                   error=f"{name}: the name is not valid UTF-8; rename it")
        page = world.app.get("/")
        assert page.status_code == 200 and "h12\\xff.mp4" in page.text
        api = world.app.get("/api/tasks")
        assert api.status_code == 200
        (task,) = json.loads(api.body.decode("utf-8"))
        assert task["video"] == "h12\\xff.mp4" and task["error"].startswith("h12\\xff.mp4")
        gz = world.app.get("/api/tasks?state=invalid", headers={"Accept-Encoding": "gzip"})
        assert gz.status_code == 200


class TestCaches:
    def test_it_keeps_only_the_newest_board_version(self):
        # 10,000 tasks make a ~3 MB /api/tasks answer: 32 stale versions of it were ~100 MB (issue 12 item 16).
        from collections import OrderedDict

        from ralph_watch.web.app import _keep_newest
        cache: OrderedDict = OrderedDict()
        _keep_newest(cache, (1, None), "v1-all")
        _keep_newest(cache, (1, "failed"), "v1-failed")
        _keep_newest(cache, (2, None), "v2-all")
        assert list(cache) == [(2, None)]
        _keep_newest(cache, (1, "scheduled"), "late")  # a slow request for an older version evicts nothing newer
        assert cache[(2, None)] == "v2-all"
        for i in range(100):
            _keep_newest(cache, (2, i), i)
        assert len(cache) <= 32
