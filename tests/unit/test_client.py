"""tiktok/client.py against an in-process fake TikTok (httpx.MockTransport).

Classes: TestLogin (exchange, scopes, logout, secrets never shown), TestDataCalls (wire
format, every error row through a real call, network errors), TestTokens (refresh ahead,
rotation, 401 replay, two threads), TestLimits (client-side limiter, 429), TestUpload
(chunks, re-iterable bodies, 5xx retry, 416 resync, 403/404 restart, trickle deadline,
cancel, shrinking file), TestAvatar.
"""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from ralph_watch.clock import FakeClock, SystemClock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.tiktok.client import TikTokClient, redact_upload_url
from ralph_watch.tiktok.errors import API_ERRORS, FAIL_REASONS, OAUTH_ERRORS

API = "https://api.test"
UPLOAD_TOKEN = "SECRET-UPLOAD-TOKEN"
UPLOAD_URL = f"https://upload.test/video/?upload_id=777&upload_token={UPLOAD_TOKEN}"
SECRET = "client-secret-XYZ"
ALL_SCOPES = "user.info.basic,video.publish,video.upload"


def ok(data, status=200):
    return httpx.Response(status, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "LOG-OK"}})


def api_error(code, status=400, message="", data=None):
    return httpx.Response(status, json={"data": data or {}, "error": {"code": code, "message": message,
                                                                      "log_id": "LOG-ERR"}})


class FakeTikTok:
    """Just enough TikTok: OAuth with rotation, the data endpoints, a sequential upload target.

    `script[key]` holds responses (or callables request -> response, or exceptions to raise)
    served before the normal behaviour; key is a path, or "PUT" for the upload.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[httpx.Request] = []
        self.script: dict[str, list] = {}
        self.generation = 0
        self.access = ""
        self.refresh = ""
        self.expires_in = 7200
        self.scope = ALL_SCOPES
        self.refreshes = 0
        self.revoked: list[str] = []
        self.received = 0           # upload: bytes accepted so far
        self.sha = hashlib.sha256()
        self.puts: list[tuple[str, int]] = []   # (Content-Range, body length)
        self.status = {"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0, "publicaly_available_post_id": []}
        self.inits = 0
        self._issue()

    def _issue(self) -> dict:
        self.generation += 1
        self.access = f"act.SECRET-ACCESS-{self.generation}"
        self.refresh = f"rft.SECRET-REFRESH-{self.generation}"
        return {"access_token": self.access, "expires_in": self.expires_in, "open_id": "open-1",
                "refresh_expires_in": 15552000, "refresh_token": self.refresh, "scope": self.scope,
                "token_type": "Bearer"}

    def paths(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            if request.method == "PUT":
                self.puts.append((request.headers["content-range"], len(request.content)))
            key = "PUT" if request.method == "PUT" else request.url.path
            queue = self.script.get(key)
            scripted = queue.pop(0) if queue else None
        if isinstance(scripted, BaseException):
            raise scripted
        if callable(scripted):
            scripted = scripted(request)
        if scripted is not None:
            return scripted
        if request.method == "PUT":
            return self._put(request)
        if request.url.path == "/v2/oauth/token/":
            return self._token(request)
        if request.url.path == "/v2/oauth/revoke/":
            self.revoked.append(parse_qs(request.content.decode())["token"][0])
            return httpx.Response(200, json={})
        if request.url.host == "cdn.test":
            return httpx.Response(200, content=b"\x89PNG avatar", headers={"content-type": "image/png"})
        if request.headers.get("authorization") != f"Bearer {self.access}":
            return api_error("access_token_invalid", 401)
        path = request.url.path
        if path == "/v2/user/info/":
            return ok({"user": {"open_id": "open-1", "display_name": "Ralph", "avatar_url": "https://cdn.test/a.png"}})
        if path == "/v2/post/publish/creator_info/query/":
            return ok({"creator_nickname": "Ralph", "creator_username": "ralph", "creator_avatar_url": "https://cdn.test/a",
                       "privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"], "comment_disabled": False,
                       "duet_disabled": True, "stitch_disabled": False, "max_video_post_duration_sec": 600})
        if path in ("/v2/post/publish/video/init/", "/v2/post/publish/inbox/video/init/"):
            self.inits += 1
            return ok({"publish_id": f"v_pub_file~v2-1.{self.inits}", "upload_url": UPLOAD_URL})
        if path == "/v2/post/publish/status/fetch/":
            return ok(dict(self.status))
        return httpx.Response(404)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if form.get("client_secret") != SECRET:
            return httpx.Response(401, json={"error": "invalid_client", "error_description": "bad", "log_id": "L"})
        if form["grant_type"] == "authorization_code":
            if form.get("code") != "good-code":
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "bad code",
                                                 "log_id": "L"})
            with self.lock:
                return httpx.Response(200, json=self._issue())
        with self.lock:
            if form.get("refresh_token") != self.refresh:
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "old", "log_id": "L"})
            self.refreshes += 1
            return httpx.Response(200, json=self._issue())

    def _put(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        crange = request.headers["content-range"]
        with self.lock:
            if int(request.headers["content-length"]) != len(body):
                return httpx.Response(400)
            span, total = crange.removeprefix("bytes ").split("/")
            first, last = (int(x) for x in span.split("-"))
            if first != self.received:
                return httpx.Response(416, headers={"Content-Range": f"bytes 0-{self.received - 1}/{total}"})
            if last - first + 1 != len(body):
                return httpx.Response(400)
            self.sha.update(body)
            self.received = last + 1
            if self.received == int(total):
                return httpx.Response(201)
            return httpx.Response(206, headers={"Content-Range": f"bytes 0-{last}/{total}"})


@pytest.fixture
def fake():
    return FakeTikTok()


@pytest.fixture
def clock():
    return FakeClock()


def make_client(fake, clock, *, limits=None, **kw) -> TikTokClient:
    kw.setdefault("retry_backoff", 0.0)
    kw.setdefault("sleep", lambda s: clock.advance(s) if isinstance(clock, FakeClock) else None)
    return TikTokClient(client_key="ck", client_secret=SECRET, redirect_uri="http://127.0.0.1:8080/callback",
                        scopes=ALL_SCOPES.split(","), api_base=API,
                        authorize_url="https://www.tiktok.test/v2/auth/authorize/", limits=limits or Limits(),
                        clock=clock, transport=httpx.MockTransport(fake), **kw)


@pytest.fixture
def client(fake, clock):
    c = make_client(fake, clock)
    yield c
    c.close()


@pytest.fixture
def logged_in(client):
    client.exchange_code("good-code", code_verifier="v" * 43)
    return client


def raises(fn, *args, **kw) -> TikTokError:
    with pytest.raises(TikTokError) as info:
        fn(*args, **kw)
    return info.value


class TestLogin:
    def test_it_builds_the_authorize_url_from_the_config(self, client):
        url = client.authorize_url(state="st", code_challenge="c" * 64)
        assert url.startswith("https://www.tiktok.test/v2/auth/authorize/?client_key=ck&response_type=code")
        assert "scope=user.info.basic%2Cvideo.publish%2Cvideo.upload" in url and "code_challenge_method=S256" in url

    def test_it_exchanges_the_code_form_encoded_and_fetches_the_profile(self, client, fake, clock):
        account = client.exchange_code("good-code", code_verifier="v" * 43, granted_scopes=ALL_SCOPES)
        token_req = fake.paths("/v2/oauth/token/")[0]
        assert token_req.headers["content-type"] == "application/x-www-form-urlencoded"
        assert "authorization" not in token_req.headers
        form = {k: v[0] for k, v in parse_qs(token_req.content.decode()).items()}
        assert form == {"client_key": "ck", "client_secret": SECRET, "code": "good-code",
                        "grant_type": "authorization_code", "redirect_uri": "http://127.0.0.1:8080/callback",
                        "code_verifier": "v" * 43}
        assert client.logged_in
        assert account.open_id == "open-1" and account.nickname == "Ralph"
        assert account.avatar_url == "https://cdn.test/a.png"
        assert account.scopes == frozenset(ALL_SCOPES.split(","))
        assert (account.access_expires_at - clock.now()).total_seconds() == 7200
        assert fake.paths("/v2/user/info/")[0].url.params["fields"] == "open_id,union_id,avatar_url,display_name"

    def test_it_refuses_a_login_without_any_posting_scope_and_revokes_it(self, client, fake):
        fake.scope = "user.info.basic"
        err = raises(client.exchange_code, "good-code", code_verifier="v" * 43)
        assert err.action is Action.NEEDS_LOGIN and "video.publish" in err.hint
        assert not client.logged_in and fake.revoked

    def test_it_accepts_drafts_only_and_refuses_direct_posts_without_asking_tiktok(self, client, fake):
        fake.scope = "user.info.basic,video.upload"
        client.exchange_code("good-code", code_verifier="v" * 43)
        err = raises(client.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=1000)
        assert err.action is Action.NEEDS_LOGIN and "video.publish" in err.hint
        assert not fake.paths("/v2/post/publish/video/init/")
        assert client.init_draft(video_size=1000).mode == "draft"

    def test_it_logs_in_without_user_info_basic(self, client, fake):
        fake.scope = "video.publish"
        fake.script["/v2/user/info/"] = [api_error("scope_not_authorized", 401)]
        account = client.exchange_code("good-code", code_verifier="v" * 43)
        assert client.logged_in and account.nickname == "" and account.scopes == {"video.publish"}

    def test_it_takes_the_callbacks_scopes_when_the_token_answer_has_none(self, client, fake):
        fake.script["/v2/oauth/token/"] = [lambda r: httpx.Response(200, json={
            k: v for k, v in fake._issue().items() if k != "scope"})]
        account = client.exchange_code("good-code", code_verifier="v", granted_scopes="video.publish,user.info.basic")
        assert account.scopes == {"video.publish", "user.info.basic"}

    def test_it_raises_needs_login_for_a_bad_code(self, client):
        err = raises(client.exchange_code, "stale-code", code_verifier="v" * 43)
        assert (err.code, err.action) == ("invalid_grant", Action.NEEDS_LOGIN) and not client.logged_in

    def test_it_treats_an_oauth_error_with_http_200_as_an_error(self, client, fake):
        fake.script["/v2/oauth/token/"] = [httpx.Response(200, json={"error": "invalid_request",
                                                                     "error_description": "Redirect_uri is not matched",
                                                                     "log_id": "L9"})]
        err = raises(client.exchange_code, "good-code", code_verifier="v")
        assert err.action is Action.USER_FIX and "redirect_uri" in err.hint and err.log_id == "L9"

    def test_it_revokes_the_access_token_on_logout_and_forgets_it(self, logged_in, fake):
        token = fake.access
        logged_in.logout()
        assert fake.revoked == [token] and not logged_in.logged_in and logged_in.account is None
        req = fake.paths("/v2/oauth/revoke/")[0]
        assert req.headers["content-type"] == "application/x-www-form-urlencoded"
        assert raises(logged_in.creator_info).action is Action.NEEDS_LOGIN

    def test_it_forgets_the_tokens_even_when_revoking_fails(self, logged_in, fake):
        fake.script["/v2/oauth/revoke/"] = [httpx.ConnectTimeout("down")]
        logged_in.logout()
        assert not logged_in.logged_in

    def test_it_never_shows_a_secret_in_a_repr(self, logged_in, fake):
        init = logged_in.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=1000)
        text = repr(logged_in) + repr(logged_in.account) + repr(init) + repr(logged_in.__dict__)
        for secret in (fake.access, fake.refresh, SECRET, UPLOAD_TOKEN):
            assert secret not in text
        assert UPLOAD_TOKEN not in init.redacted_url and "upload_id=777" in init.redacted_url

    def test_it_redacts_every_query_value_but_the_upload_id(self):
        assert redact_upload_url(UPLOAD_URL) == "https://upload.test/video/?upload_id=777&upload_token=***"


class TestDataCalls:
    def test_it_sends_json_with_tiktoks_content_type_and_the_bearer_token(self, logged_in, fake):
        info = logged_in.creator_info()
        req = fake.paths("/v2/post/publish/creator_info/query/")[0]
        assert req.headers["content-type"] == "application/json; charset=UTF-8"
        assert req.headers["authorization"] == f"Bearer {fake.access}"
        assert json.loads(req.content) == {}
        assert info.nickname == "Ralph" and info.privacy_level_options == ("PUBLIC_TO_EVERYONE", "SELF_ONLY")
        assert info.duet_disabled and info.max_video_post_duration_sec == 600 and info.log_id == "LOG-OK"

    def test_it_sends_the_direct_init_with_the_chunk_plan(self, logged_in, fake):
        post_info = {"privacy_level": "SELF_ONLY", "title": "Sunset 🌅", "brand_content_toggle": False}
        init = logged_in.init_direct(post_info=post_info, video_size=150_000_000)
        body = json.loads(fake.paths("/v2/post/publish/video/init/")[0].content)
        assert body == {"post_info": post_info, "source_info": {"source": "FILE_UPLOAD", "video_size": 150_000_000,
                                                                 "chunk_size": 10_000_000, "total_chunk_count": 15}}
        assert (init.publish_id, init.total_chunk_count, init.mode) == ("v_pub_file~v2-1.1", 15, "direct")
        assert init.chunks[-1].last == 149_999_999 and init.upload_url == UPLOAD_URL

    def test_it_sends_the_draft_init_with_the_title_only(self, logged_in, fake):
        logged_in.init_draft(video_size=1234, title="hello")
        body = json.loads(fake.paths("/v2/post/publish/inbox/video/init/")[0].content)
        assert body == {"source_info": {"source": "FILE_UPLOAD", "video_size": 1234, "chunk_size": 1234,
                                        "total_chunk_count": 1}, "post_info": {"title": "hello"}}

    def test_it_reads_the_status_with_post_ids_as_strings(self, logged_in, fake):
        fake.status = {"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7380000000000000001],
                       "uploaded_bytes": 1234}
        status = logged_in.fetch_status("v_pub_file~v2-1.1")
        req = fake.paths("/v2/post/publish/status/fetch/")[0]
        assert json.loads(req.content) == {"publish_id": "v_pub_file~v2-1.1"}
        assert (status.status, status.post_ids, status.uploaded_bytes, status.fail_reason) == (
            "PUBLISH_COMPLETE", ["7380000000000000001"], 1234, None)

    @pytest.mark.parametrize("reason", sorted(FAIL_REASONS), ids=str)
    def test_it_reports_every_fail_reason(self, logged_in, fake, reason):
        fake.status = {"status": "FAILED", "fail_reason": reason, "publicaly_available_post_id": []}
        assert logged_in.fetch_status("p").fail_reason == reason

    @pytest.mark.parametrize("code", sorted(c for c in API_ERRORS if c != "access_token_invalid"), ids=str)
    def test_it_raises_every_data_error_code_with_its_action(self, logged_in, fake, code):
        fake.script["/v2/post/publish/creator_info/query/"] = [api_error(code, 403, "msg")]
        err = raises(logged_in.creator_info)
        assert (err.code, err.action, err.log_id) == (code, API_ERRORS[code].action, "LOG-ERR")

    @pytest.mark.parametrize("code", sorted(OAUTH_ERRORS), ids=str)
    def test_it_raises_every_oauth_error_with_its_action(self, client, fake, code):
        fake.script["/v2/oauth/token/"] = [httpx.Response(400, json={"error": code, "error_description": "d",
                                                                     "log_id": "L"})]
        err = raises(client.exchange_code, "good-code", code_verifier="v")
        assert (err.code, err.action) == (code, OAUTH_ERRORS[code].action)

    def test_it_reads_a_creator_info_cap_answered_with_http_200(self, logged_in, fake):
        fake.script["/v2/post/publish/creator_info/query/"] = [api_error("spam_risk_too_many_posts", 200)]
        err = raises(logged_in.creator_info)
        assert err.action is Action.RETRY_LATER and err.retry_after == 86400.0

    @pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                     httpx.RemoteProtocolError("reset")], ids=["connect", "read_timeout", "reset"])
    def test_it_turns_every_httpx_error_into_a_retry_now_tiktok_error(self, logged_in, fake, exc):
        fake.script["/v2/post/publish/status/fetch/"] = [exc]
        err = raises(logged_in.fetch_status, "p")
        assert (err.code, err.action) == ("network_error", Action.RETRY_NOW)
        assert not isinstance(err, httpx.HTTPError)

    def test_it_retries_later_on_a_5xx_without_json(self, logged_in, fake):
        fake.script["/v2/post/publish/status/fetch/"] = [httpx.Response(502, text="<html>bad gateway</html>")]
        assert raises(logged_in.fetch_status, "p").action is Action.RETRY_NOW

    def test_it_says_when_init_succeeded_without_an_upload_url(self, logged_in, fake):
        fake.script["/v2/post/publish/video/init/"] = [ok({"publish_id": "x"})]
        err = raises(logged_in.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=10)
        assert err.action is Action.PERMANENT and "TikTok app" in err.hint


class TestTokens:
    def test_it_refreshes_ahead_of_expiry_with_the_newest_refresh_token(self, logged_in, fake, clock):
        first_refresh = fake.refresh
        clock.advance(7200 - 200)            # < 5 min left
        logged_in.creator_info()
        assert fake.refreshes == 1
        form = parse_qs(fake.paths("/v2/oauth/token/")[-1].content.decode())
        assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [first_refresh]
        clock.advance(7200 - 200)
        logged_in.creator_info()              # rotation: the second refresh uses the rotated token
        assert fake.refreshes == 2
        assert logged_in.account.access_expires_at == clock.now().__add__(
            logged_in.account.access_expires_at - clock.now())

    def test_it_does_not_refresh_while_plenty_of_time_is_left(self, logged_in, fake, clock):
        clock.advance(6000)
        logged_in.creator_info()
        assert fake.refreshes == 0

    def test_it_scales_the_refresh_margin_to_short_lifetimes(self, client, fake, clock):
        fake.expires_in = 20                  # a shrunk test profile: 10 % = 2 s
        client.exchange_code("good-code", code_verifier="v")
        clock.advance(15)
        client.creator_info()
        assert fake.refreshes == 0
        clock.advance(4)
        client.creator_info()
        assert fake.refreshes == 1

    def test_it_refreshes_once_and_replays_once_on_access_token_invalid(self, logged_in, fake):
        fake.access = "revoked-by-tiktok"
        info = logged_in.creator_info()
        assert info.nickname == "Ralph" and fake.refreshes == 1
        assert len(fake.paths("/v2/post/publish/creator_info/query/")) == 2

    def test_it_needs_login_when_the_replay_is_refused_too(self, logged_in, fake):
        fake.script["/v2/post/publish/creator_info/query/"] = [api_error("access_token_invalid", 401)] * 2
        err = raises(logged_in.creator_info)
        assert err.action is Action.NEEDS_LOGIN and fake.refreshes == 1
        assert len(fake.paths("/v2/post/publish/creator_info/query/")) == 2

    def test_it_forgets_the_tokens_when_the_refresh_token_is_refused(self, logged_in, fake, clock):
        fake.refresh = "rotated-elsewhere"
        clock.advance(7200)
        err = raises(logged_in.creator_info)
        assert (err.code, err.action) == ("invalid_grant", Action.NEEDS_LOGIN)
        assert not logged_in.logged_in

    def test_it_keeps_the_valid_token_when_an_early_refresh_fails_on_the_network(self, logged_in, fake, clock):
        clock.advance(7200 - 100)
        fake.script["/v2/oauth/token/"] = [httpx.ConnectError("down")]
        assert logged_in.creator_info().nickname == "Ralph"
        assert logged_in.logged_in


class TestLimits:
    def test_it_refuses_the_seventh_init_in_a_minute_without_calling_tiktok(self, logged_in, fake, clock):
        for _ in range(6):
            logged_in.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
            clock.advance(1)
        err = raises(logged_in.init_draft, video_size=100)   # direct and draft share the init budget
        assert (err.code, err.action) == ("rate_limited_locally", Action.RETRY_LATER)
        assert err.retry_after == pytest.approx(54.0)
        assert fake.inits == 6

    def test_it_holds_direct_posts_at_the_daily_cap(self, fake, clock):
        c = make_client(fake, clock, limits=Limits(daily_posts=2))
        c.exchange_code("good-code", code_verifier="v")
        for _ in range(2):
            c.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
        err = raises(c.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
        assert (err.code, err.action, err.retry_after) == ("daily_cap_locally", Action.RETRY_LATER, 86400.0)
        assert fake.inits == 2
        assert c.init_draft(video_size=100)    # drafts have their own cap

    def test_it_believes_tiktoks_daily_cap_over_its_own_count(self, logged_in, fake):
        fake.script["/v2/post/publish/video/init/"] = [api_error("spam_risk_too_many_posts", 403)]
        err = raises(logged_in.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
        assert err.action is Action.RETRY_LATER and logged_in.limiter.post_wait() == pytest.approx(86400.0)

    def test_it_waits_briefly_for_a_status_slot_instead_of_failing(self, fake, clock):
        waits = []
        c = make_client(fake, clock, limits=Limits(status_per_window=2),
                        sleep=lambda s: (waits.append(s), clock.advance(s)))
        c.exchange_code("good-code", code_verifier="v")
        for _ in range(3):
            c.fetch_status("p")
        assert waits == [pytest.approx(60.0, abs=0.1)] and len(fake.paths("/v2/post/publish/status/fetch/")) == 3

    def test_it_raises_retry_later_when_the_wait_did_not_free_a_slot(self, fake, clock):
        c = make_client(fake, clock, limits=Limits(creator_info_per_window=1), sleep=lambda s: None)
        c.exchange_code("good-code", code_verifier="v")
        c.creator_info()
        err = raises(c.creator_info)
        assert (err.code, err.action) == ("rate_limited_locally", Action.RETRY_LATER) and err.retry_after > 0

    def test_it_backs_off_a_whole_window_after_tiktoks_429(self, logged_in, fake, clock):
        fake.script["/v2/post/publish/video/init/"] = [api_error("rate_limit_exceeded", 429)]
        err = raises(logged_in.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
        assert err.action is Action.RETRY_LATER and err.retry_after >= 60.0
        again = raises(logged_in.init_direct, post_info={"privacy_level": "SELF_ONLY"}, video_size=100)
        assert again.code == "rate_limited_locally" and again.retry_after == pytest.approx(60.0)
        clock.advance(60)
        assert logged_in.init_direct(post_info={"privacy_level": "SELF_ONLY"}, video_size=100)


# ----------------------------------------------------------------------------- upload


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestAvatar:
    def test_it_downloads_the_avatar(self, logged_in):
        assert logged_in.fetch_avatar() == (b"\x89PNG avatar", "image/png")

    @pytest.mark.parametrize("response", [
        httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}),
        httpx.Response(200, content=b"x" * (2 * 1024 * 1024 + 1), headers={"content-type": "image/jpeg"}),
        httpx.Response(404),
        httpx.ConnectError("down"),
    ], ids=["not-an-image", "too-big", "missing", "unreachable"])
    def test_it_refuses_what_is_not_a_small_image(self, logged_in, fake, response):
        fake.script["/a.png"] = [response]
        assert logged_in.fetch_avatar() is None

    def test_it_refuses_a_non_http_url(self, logged_in, fake):
        fake.script["/v2/user/info/"] = [ok({"user": {"display_name": "R", "avatar_url": "file:///etc/passwd"}})]
        logged_in.user_info()
        assert logged_in.fetch_avatar() is None

    def test_it_has_no_avatar_when_logged_out(self, client):
        assert client.fetch_avatar() is None


class TestLogMasking:
    def test_the_client_secret_and_tokens_of_any_shape_are_masked_in_logs(self):
        # Tokens without TikTok's act./rft. prefixes are masked too, because the client
        # registers them with the log redactor; after logout they are forgotten.
        from ralph_watch.logs import redact

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/oauth/token/"):
                return httpx.Response(200, json={"access_token": "plain-access-0123456789", "expires_in": 7200,
                                                  "open_id": "o1", "refresh_expires_in": 86400,
                                                  "refresh_token": "plain-refresh-0123456789",
                                                  "scope": "user.info.basic,video.publish", "token_type": "Bearer"})
            if request.url.path.endswith("/oauth/revoke/"):
                return httpx.Response(200, json={})
            return httpx.Response(200, json={"data": {"user": {"display_name": "n", "avatar_url": ""}},
                                             "error": {"code": "ok", "message": "", "log_id": "x"}})

        client = TikTokClient(client_key="k", client_secret="secret-of-the-app-42", redirect_uri="http://127.0.0.1:1/cb",
                              scopes=["user.info.basic", "video.publish"], api_base="https://api.test",
                              authorize_url="https://auth.test/", limits=Limits(), clock=SystemClock(),
                              transport=httpx.MockTransport(handler))
        client.exchange_code("code", code_verifier="v" * 43)
        line = redact("secret-of-the-app-42 plain-access-0123456789 plain-refresh-0123456789")
        assert "secret-of-the-app-42" not in line and "plain-access" not in line and "plain-refresh" not in line
        client.logout()
        assert "plain-access-0123456789" in redact("plain-access-0123456789")  # forgotten with the login
        client.close()


class TestSharedPool:
    """Several accounts' clients over one HttpPool (issue 15): one TLS context and pool for all."""

    def test_two_clients_share_one_pool_and_closing_one_leaves_it_open(self, fake, clock):
        from ralph_watch.tiktok.http import HttpPool

        pool = HttpPool(httpx.MockTransport(fake))
        first, second = (TikTokClient(client_key="ck", client_secret=SECRET,
                                      redirect_uri="http://127.0.0.1:8080/callback", scopes=ALL_SCOPES.split(","),
                                      api_base=API, authorize_url="https://www.tiktok.test/v2/auth/authorize/",
                                      limits=Limits(), clock=clock, pool=pool) for _ in range(2))
        first.exchange_code("good-code", code_verifier="v" * 43)
        first.close()
        assert not pool.closed
        second.exchange_code("good-code", code_verifier="v" * 43)
        assert second.creator_info().username == "ralph" and second.account.username == "ralph"
        second.close()
        pool.close()
        assert pool.closed

    def test_a_client_without_a_pool_closes_its_own(self, client):
        client.close()
        assert client._http.closed
