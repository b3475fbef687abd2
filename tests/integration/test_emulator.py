"""The TikTok emulator over real loopback HTTP (httpx), one class per rule family of
tiktok-api.md "What a faithful fake TikTok server must enforce"."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import webtest

from ralph_watch.clock import FakeClock
from ralph_watch.errors import ConfigError
from ralph_watch.limits import Limits
from ralph_watch.emulator import Account, EmulatorServer, Profile, load_profile, make_emulator_app
from ralph_watch.tiktok.protocol import MIN_CHUNK, plan_chunks
from tests.support.wait import wait_until

CK, CS = "emulator-client-key", "emulator-client-secret"
REDIRECT = "http://127.0.0.1:8080/callback"
ALL = "user.info.basic,video.publish,video.upload"
LOG_ID = re.compile(r"\d{14}[0-9A-F]{20}")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, hashlib.sha256(verifier.encode("ascii")).hexdigest()


class Driver:
    """Speaks TikTok's wire protocol to the emulator with plain httpx (no ralph-watch client)."""

    def __init__(self, server: EmulatorServer, clock: FakeClock) -> None:
        self.server, self.clock = server, clock
        self.http = httpx.Client(base_url=server.base_url, timeout=10)

    # Login Kit
    def authorize_query(self, **over: Any) -> dict[str, str]:
        q = {"client_key": CK, "response_type": "code", "scope": ALL, "redirect_uri": REDIRECT, "state": "s-1",
             "code_challenge": pkce()[1], "code_challenge_method": "S256"}
        q.update(over)
        return {k: v for k, v in q.items() if v is not None}

    def decide(self, q: dict[str, str], *, granted: list[str] | None = None, open_id: str | None = None,
               decision: str = "authorize") -> httpx.Response:
        form = [(k, v) for k, v in q.items()] + [("decision", decision)]
        form += [("granted", s) for s in (granted if granted is not None else q["scope"].split(","))]
        if open_id:
            form.append(("open_id", open_id))
        return self.http.post("/v2/auth/authorize/", content=urlencode(form),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})

    def code(self, *, scope: str = ALL, open_id: str | None = None, redirect: str = REDIRECT) -> tuple[str, str]:
        verifier, challenge = pkce()
        r = self.decide(self.authorize_query(scope=scope, code_challenge=challenge, redirect_uri=redirect),
                        open_id=open_id)
        assert r.status_code == 302, r.text
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0], verifier

    def token(self, **form: str) -> httpx.Response:
        return self.http.post("/v2/oauth/token/", data={"client_key": CK, "client_secret": CS, **form})

    def exchange(self, code: str, verifier: str, redirect: str = REDIRECT) -> httpx.Response:
        return self.token(grant_type="authorization_code", code=code, redirect_uri=redirect, code_verifier=verifier)

    def login(self, *, scope: str = ALL, open_id: str | None = None) -> dict[str, Any]:
        code, verifier = self.code(scope=scope, open_id=open_id)
        r = self.exchange(code, verifier)
        assert r.status_code == 200, r.text
        return r.json()

    # Content Posting
    def api(self, path: str, token: str | None, body: Any = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(path, headers=headers, json={} if body is None else body, **kw)

    def init(self, token: str, size: int, *, chunk: int | None = None, draft: bool = False,
             post_info: dict[str, Any] | None = None, **info: Any) -> httpx.Response:
        chunk_size, count, _ = plan_chunks(size, chunk or 10_000_000)
        body: dict[str, Any] = {"source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk_size,
                                                "total_chunk_count": count}}
        if not draft:
            body["post_info"] = post_info if post_info is not None else {
                "privacy_level": "PUBLIC_TO_EVERYONE", "brand_content_toggle": False, "title": "hi #emu", **info}
        path = "/v2/post/publish/inbox/video/init/" if draft else "/v2/post/publish/video/init/"
        return self.api(path, token, body)

    def init_plan(self, token: str, size: int, chunk: int, count: int) -> httpx.Response:
        """A hand-made plan (plan_chunks uploads anything up to 64,000,000 bytes whole)."""
        return self.api("/v2/post/publish/video/init/", token,
                        {"post_info": {"privacy_level": "PUBLIC_TO_EVERYONE", "brand_content_toggle": False},
                         "source_info": _src(size, chunk, count)})

    def put(self, url: str, data: bytes, first: int, total: int, *, mime: str = "video/mp4",
            headers: dict[str, str] | None = None) -> httpx.Response:
        h = {"Content-Type": mime, "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"}
        h.update(headers or {})
        return httpx.put(url, content=data, headers=h, timeout=10)

    def upload(self, url: str, data: bytes, chunk: int | None = None) -> list[httpx.Response]:
        _, _, chunks = plan_chunks(len(data), chunk or 10_000_000)
        return [self.put(url, data[c.first:c.last + 1], c.first, len(data)) for c in chunks]

    def status(self, token: str, publish_id: str) -> dict[str, Any]:
        r = self.api("/v2/post/publish/status/fetch/", token, {"publish_id": publish_id})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def post_then_upload(self, token: str, data: bytes, **kw: Any) -> str:
        r = self.init(token, len(data), **kw)
        assert r.status_code == 200, r.text
        responses = self.upload(r.json()["data"]["upload_url"], data)
        assert responses[-1].status_code == 201
        return str(r.json()["data"]["publish_id"])


def start(profile: Profile, clock: FakeClock, tmp_path: Path) -> EmulatorServer:
    return EmulatorServer(profile, clock=clock, spool_dir=tmp_path / "spool").start()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def profile() -> Profile:
    return Profile(other_accounts=[Account(open_id="emu-open-id-0002", nickname="Second", username="second")])


@pytest.fixture
def server(profile, clock, tmp_path):
    srv = start(profile, clock, tmp_path)
    yield srv
    srv.stop()


@pytest.fixture
def emu(server, clock) -> Driver:
    d = Driver(server, clock)
    yield d
    d.http.close()


@pytest.fixture
def token(emu) -> str:
    return str(emu.login()["access_token"])


def error_of(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


# ---------------------------------------------------------------------------------------------
class TestProfile:
    def test_it_has_working_defaults(self):
        p = load_profile(None)
        assert (p.client_key, p.client_secret, p.audited) == (CK, CS, True)
        assert p.account.avatar.startswith(b"\x89PNG\r\n\x1a\n")

    def test_it_reads_account_and_limits_from_yaml(self, tmp_path):
        f = tmp_path / "emu.yaml"
        f.write_text("client_key: k\naudited: false\naccount:\n  private: true\n  nickname: Zoe\n"
                     "  max_video_post_duration_sec: 180\nlimits:\n  daily_posts: 3\n  window_seconds: 0.5\n")
        p = load_profile(f)
        assert (p.client_key, p.audited, p.account.private, p.account.nickname) == ("k", False, True, "Zoe")
        assert p.account.max_video_post_duration_sec == 180
        assert p.limits.daily_posts == 3 and p.limits.window_seconds == 0.5

    @pytest.mark.parametrize("text, expected", [
        pytest.param("client_kee: x\n", "emu.yaml:1: client_kee: unknown key", id="unknown-top-key"),
        pytest.param("account:\n  private: yes please\n", "emu.yaml:2: account.private: must be true or false",
                     id="bad-bool"),
        pytest.param("account:\n  max_video_post_duration_sec: 900\n", "must be between 1 and 600", id="max-duration"),
        pytest.param("limits:\n  daily_post: 3\n", "emu.yaml:2: limits.daily_post: unknown key", id="unknown-limit"),
        pytest.param("a: [\n", "emu.yaml:2: not valid YAML", id="bad-yaml"),
    ])
    def test_it_names_file_line_and_key_of_every_problem(self, tmp_path, text, expected):
        f = tmp_path / "emu.yaml"
        f.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_profile(f)
        assert expected in str(info.value)


# ---------------------------------------------------------------------------------------------
class TestAuthorizePage:
    def test_it_shows_app_name_scopes_checked_and_both_buttons(self, emu):
        r = emu.http.get("/v2/auth/authorize/", params=emu.authorize_query())
        assert r.status_code == 200
        assert "ralph-watch" in r.text and 'action="/v2/auth/authorize/"' in r.text and 'method="post"' in r.text
        for scope in ALL.split(","):
            assert f'name="granted" value="{scope}" checked' in r.text
        assert ">Authorize</button>" in r.text and ">Deny</button>" in r.text

    @pytest.mark.parametrize("over, error_type", [
        pytest.param({"client_key": "nope"}, "client_key", id="unknown-client"),
        pytest.param({"response_type": "token"}, "response_type", id="response-type"),
        pytest.param({"redirect_uri": "http://example.com:8080/cb"}, "redirect_uri", id="http-not-loopback"),
        pytest.param({"redirect_uri": "http://127.0.0.1/cb"}, "redirect_uri", id="loopback-without-port"),
        pytest.param({"redirect_uri": "https://example.com/cb?x=1"}, "redirect_uri", id="query-in-uri"),
        pytest.param({"scope": "video.publish,video.delete"}, "scope", id="unknown-scope"),
        pytest.param({"code_challenge": None, "code_challenge_method": None}, "code_challenge", id="loopback-no-pkce"),
        pytest.param({"code_challenge_method": "plain"}, "code_challenge", id="plain-method"),
    ])
    def test_it_shows_tiktoks_error_page(self, emu, over, error_type):
        r = emu.http.get("/v2/auth/authorize/", params=emu.authorize_query(**over))
        assert r.status_code == 400
        assert f"error_type={error_type}" in r.text and "correct the following" in r.text

    def test_it_lets_https_redirects_skip_pkce(self, emu):
        q = emu.authorize_query(redirect_uri="https://app.example.com/cb", code_challenge=None,
                                code_challenge_method=None)
        assert emu.http.get("/v2/auth/authorize/", params=q).status_code == 200

    def test_it_redirects_with_code_granted_scopes_and_state(self, emu):
        r = emu.decide(emu.authorize_query(), granted=["video.upload"])
        assert r.status_code == 302
        parts = urlsplit(r.headers["location"])
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT
        q = parse_qs(parts.query)
        assert q["scopes"] == ["user.info.basic,video.upload"] and q["state"] == ["s-1"] and q["code"][0]

    def test_it_redirects_a_denial_with_access_denied(self, emu):
        q = parse_qs(urlsplit(emu.decide(emu.authorize_query(), decision="deny").headers["location"]).query)
        assert q["error"] == ["access_denied"] and q["state"] == ["s-1"] and "code" not in q

    def test_it_revalidates_the_posted_form(self, emu):
        r = emu.decide(emu.authorize_query(redirect_uri="http://evil.example:80/cb"))
        assert r.status_code == 400 and "error_type=redirect_uri" in r.text


# ---------------------------------------------------------------------------------------------
class TestToken:
    def test_it_exchanges_a_code_with_hex_pkce_for_a_flat_body(self, emu):
        body = emu.login()
        assert set(body) == {"access_token", "expires_in", "open_id", "refresh_expires_in", "refresh_token",
                             "scope", "token_type"}
        assert body["access_token"].startswith("act.") and body["refresh_token"].startswith("rft.")
        assert (body["expires_in"], body["refresh_expires_in"]) == (7200, 15552000)
        assert body["token_type"] == "Bearer" and body["scope"] == ALL

    def test_it_rejects_an_rfc_base64url_challenge_at_the_exchange(self, emu):
        verifier = secrets.token_urlsafe(48)
        b64 = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        r = emu.decide(emu.authorize_query(code_challenge=b64))
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        r = emu.exchange(code, verifier)
        assert r.json()["error"] == "invalid_grant"
        assert r.json()["error_description"] == "Code verifier or code challenge is invalid."

    @pytest.mark.parametrize("verifier", [pytest.param("", id="missing"), pytest.param("x" * 43, id="wrong")])
    def test_it_checks_the_verifier(self, emu, verifier):
        code, _ = emu.code()
        assert emu.exchange(code, verifier).json()["error_description"] == "Code verifier or code challenge is invalid."

    def test_it_uses_a_code_once(self, emu):
        code, verifier = emu.code()
        assert emu.exchange(code, verifier).status_code == 200
        r = emu.exchange(code, verifier)
        assert r.json()["error"] == "invalid_grant" and LOG_ID.fullmatch(r.json()["log_id"])

    def test_it_expires_codes(self, emu, clock):
        code, verifier = emu.code()
        clock.advance(Limits().auth_code_seconds)
        assert emu.exchange(code, verifier).json()["error"] == "invalid_grant"

    def test_it_binds_the_code_to_the_exact_redirect_uri(self, emu):
        code, verifier = emu.code()
        r = emu.exchange(code, verifier, redirect=REDIRECT + "/")
        assert r.json() | {"log_id": ""} == {"error": "invalid_request", "log_id": "",
                                             "error_description": "Redirect_uri is not matched with the uri when requesting code."}

    @pytest.mark.parametrize("form, error", [
        pytest.param({"client_secret": "wrong"}, "invalid_client", id="bad-secret"),
        pytest.param({"client_key": "other"}, "invalid_client", id="bad-key"),
        pytest.param({"grant_type": "client_credentials"}, "unsupported_grant_type", id="client-credentials"),
        pytest.param({"grant_type": ""}, "invalid_request", id="no-grant-type"),
    ])
    def test_it_refuses_bad_requests_flat(self, emu, form, error):
        r = emu.http.post("/v2/oauth/token/", data={"client_key": CK, "client_secret": CS, "grant_type": "refresh_token",
                                                    "refresh_token": "rft.x", **form})
        assert r.json()["error"] == error and set(r.json()) == {"error", "error_description", "log_id"}

    def test_it_accepts_only_form_bodies(self, emu):
        r = emu.http.post("/v2/oauth/token/", json={"client_key": CK, "client_secret": CS})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"

    def test_it_rotates_refresh_tokens_and_refuses_the_old_one(self, emu, clock):
        first = emu.login()
        clock.advance(1000)
        second = emu.token(grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["refresh_expires_in"] == first["refresh_expires_in"] - 1000   # rotation does not extend
        old = emu.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert old.json()["error"] == "invalid_grant"
        assert emu.token(grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 200

    def test_it_expires_access_tokens(self, emu, clock, token):
        assert emu.api("/v2/post/publish/creator_info/query/", token).status_code == 200
        clock.advance(7200)
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token)) == (401, "access_token_invalid")

    def test_it_expires_refresh_tokens(self, emu, clock):
        body = emu.login()
        clock.advance(body["refresh_expires_in"])
        assert emu.token(grant_type="refresh_token", refresh_token=body["refresh_token"]).json()["error"] == "invalid_grant"


class TestRevoke:
    def test_it_revokes_the_access_token_and_its_refresh_chain(self, emu):
        body = emu.login()
        r = emu.http.post("/v2/oauth/revoke/", data={"client_key": CK, "client_secret": CS, "token": body["access_token"]})
        assert (r.status_code, r.json()) == (200, {})
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", body["access_token"]))[1] == "access_token_invalid"
        assert emu.token(grant_type="refresh_token", refresh_token=body["refresh_token"]).json()["error"] == "invalid_grant"

    def test_it_needs_the_client_secret(self, emu, token):
        r = emu.http.post("/v2/oauth/revoke/", data={"client_key": CK, "client_secret": "x", "token": token})
        assert r.json()["error"] == "invalid_client"


# ---------------------------------------------------------------------------------------------
class TestDataEndpointGate:
    @pytest.mark.parametrize("path", ["/v2/post/publish/creator_info/query/", "/v2/post/publish/video/init/",
                                      "/v2/post/publish/inbox/video/init/", "/v2/post/publish/status/fetch/"])
    def test_it_needs_a_bearer_token(self, emu, path):
        for token in (None, "act.unknown"):
            r = emu.api(path, token)
            assert error_of(r) == (401, "access_token_invalid") and LOG_ID.fullmatch(r.json()["error"]["log_id"])

    @pytest.mark.parametrize("path, scope", [
        pytest.param("/v2/post/publish/creator_info/query/", "user.info.basic,video.upload", id="creator-info"),
        pytest.param("/v2/post/publish/video/init/", "user.info.basic,video.upload", id="direct-init"),
        pytest.param("/v2/post/publish/inbox/video/init/", "user.info.basic,video.publish", id="draft-init"),
        pytest.param("/v2/post/publish/status/fetch/", "user.info.basic", id="status"),
    ])
    def test_it_checks_scopes(self, emu, path, scope):
        token = emu.login(scope=scope)["access_token"]
        assert error_of(emu.api(path, token)) == (401, "scope_not_authorized")

    def test_it_gives_every_answer_a_fresh_log_id(self, emu, token):
        ids = {emu.api("/v2/post/publish/creator_info/query/", token).json()["error"]["log_id"] for _ in range(3)}
        assert len(ids) == 3

    def test_it_limits_each_token_in_a_sliding_window(self, emu, clock, token):
        for _ in range(20):
            assert emu.api("/v2/post/publish/creator_info/query/", token).status_code == 200
            clock.advance(1)
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token)) == (429, "rate_limit_exceeded")
        other = emu.login()["access_token"]
        assert emu.api("/v2/post/publish/creator_info/query/", other).status_code == 200   # per token
        clock.advance(41)   # the first request leaves the 60 s window
        assert emu.api("/v2/post/publish/creator_info/query/", token).status_code == 200
        assert emu.server.stats()["rate_limited"] == {"creator_info": 1}

    def test_it_shares_the_init_window_between_direct_and_draft(self, emu, token):
        for i in range(6):
            assert emu.init(token, 1000, draft=bool(i % 2)).status_code in (200, 403)
        assert error_of(emu.init(token, 1000, draft=True)) == (429, "rate_limit_exceeded")

    def test_it_limits_status_fetches(self, emu, token):
        pid = emu.init(token, 1000).json()["data"]["publish_id"]
        for _ in range(30):
            emu.status(token, pid)
        assert error_of(emu.api("/v2/post/publish/status/fetch/", token, {"publish_id": pid}))[0] == 429


class TestUserInfo:
    def test_it_returns_only_the_requested_fields(self, emu, server, token):
        r = emu.http.get("/v2/user/info/", params={"fields": "open_id,display_name,avatar_url"},
                         headers={"Authorization": f"Bearer {token}"})
        user = r.json()["data"]["user"]
        assert set(user) == {"open_id", "display_name", "avatar_url"} and user["display_name"] == "Ralph Emulator"
        png = httpx.get(user["avatar_url"])
        assert png.headers["content-type"] == "image/png" and png.content == server.profile.account.avatar

    def test_it_needs_fields(self, emu, token):
        r = emu.http.get("/v2/user/info/", headers={"Authorization": f"Bearer {token}"})
        assert error_of(r) == (400, "invalid_params")

    def test_it_checks_field_scopes(self, emu, token):
        r = emu.http.get("/v2/user/info/", params={"fields": "open_id,follower_count"},
                         headers={"Authorization": f"Bearer {token}"})
        assert error_of(r) == (400, "scope_permission_missed")


# ---------------------------------------------------------------------------------------------
class TestCreatorInfo:
    def test_it_describes_a_public_account(self, emu, token):
        data = emu.api("/v2/post/publish/creator_info/query/", token).json()["data"]
        assert data["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        assert (data["creator_nickname"], data["creator_username"]) == ("Ralph Emulator", "ralph.emulator")
        assert data["max_video_post_duration_sec"] == 600 and data["duet_disabled"] is False

    def test_it_describes_a_private_account(self, emu, server, token):
        server.patch_account(private=True, comment_disabled=True)
        data = emu.api("/v2/post/publish/creator_info/query/", token).json()["data"]
        assert data["privacy_level_options"] == ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        assert data["duet_disabled"] and data["stitch_disabled"] and data["comment_disabled"]

    def test_it_answers_banned_with_http_200(self, emu, server, token):
        server.patch_account(banned=True)
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token)) == (200, "spam_risk_user_banned_from_posting")

    def test_it_answers_the_daily_cap_with_http_200(self, emu, token, clock):
        for _ in range(15):
            assert emu.init(token, 1000).status_code == 200
            clock.advance(60)   # stay under the init rate limit
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token)) == (200, "spam_risk_too_many_posts")

    def test_it_answers_the_unaudited_user_cap_with_http_200(self, emu, server, clock, tmp_path):
        server.patch_account(audited=False, private=True)
        server.patch_account(open_id="emu-open-id-0002", private=True)
        server.state.profile.limits = Limits(unaudited_users_per_day=1)
        first = emu.login()["access_token"]
        assert emu.init(first, 1000, privacy_level="SELF_ONLY").status_code == 200
        second = emu.login(open_id="emu-open-id-0002")["access_token"]
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", second)) == (200, "reached_active_user_cap")


# ---------------------------------------------------------------------------------------------
def _src(size: Any, chunk: Any, count: Any) -> dict[str, Any]:
    return {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": count}


OK_POST = {"privacy_level": "SELF_ONLY", "brand_content_toggle": False}


class TestInitValidation:
    @pytest.mark.parametrize("post_info, status, code, words", [
        pytest.param(None, 400, "invalid_params", "post_info", id="no-post-info"),
        pytest.param({"brand_content_toggle": False}, 403, "privacy_level_option_mismatch", "privacy_level",
                     id="no-privacy"),
        pytest.param({**OK_POST, "privacy_level": "FOLLOWER_OF_CREATOR"}, 403, "privacy_level_option_mismatch", "",
                     id="private-only-option-on-public-account"),
        pytest.param({"privacy_level": "SELF_ONLY"}, 400, "invalid_params", "brand_content_toggle", id="no-brand-toggle"),
        pytest.param({**OK_POST, "brand_content_toggle": "false"}, 400, "invalid_params", "JSON boolean",
                     id="string-bool"),
        pytest.param({**OK_POST, "disable_comment": 0}, 400, "invalid_params", "disable_comment", id="int-bool"),
        pytest.param({**OK_POST, "is_aigc": "true"}, 400, "invalid_params", "is_aigc", id="aigc-string"),
        pytest.param({**OK_POST, "title": "😀" * 1101}, 400, "invalid_params", "2200", id="title-2202-utf16"),
        pytest.param({**OK_POST, "title": 5}, 400, "invalid_params", "title", id="title-not-string"),
        pytest.param({**OK_POST, "video_cover_timestamp_ms": "1"}, 400, "invalid_params", "cover", id="cover-string"),
    ])
    def test_it_checks_post_info(self, emu, server, token, post_info, status, code, words):
        if words == "brand_content_toggle":   # required only under the profile switch (the default accepts it)
            server.patch_profile(require_brand_toggle=True)
        body = {"source_info": _src(1000, 1000, 1)}
        if post_info is not None:
            body["post_info"] = post_info
        r = emu.api("/v2/post/publish/video/init/", token, body)
        assert error_of(r) == (status, code) and words in r.json()["error"]["message"]

    def test_it_accepts_a_title_of_exactly_2200_utf16_units(self, emu, token):
        r = emu.api("/v2/post/publish/video/init/", token,
                    {"post_info": {**OK_POST, "title": "😀" * 1100}, "source_info": _src(1000, 1000, 1)})
        assert r.status_code == 200

    @pytest.mark.parametrize("raw, ctype", [
        pytest.param(b"{not json", "application/json", id="bad-json"),
        pytest.param(b"[1]", "application/json", id="not-an-object"),
        pytest.param(b'{"post_info": {}}', "text/plain", id="not-json-content-type"),
    ])
    def test_it_needs_a_json_object_body(self, emu, token, raw, ctype):
        r = emu.http.post("/v2/post/publish/video/init/", content=raw,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
        assert error_of(r) == (400, "invalid_params")

    @pytest.mark.parametrize("source, ok, words", [
        pytest.param(_src(1000, 1000, 1), True, "", id="whole-small"),
        pytest.param(_src(50_000_123, 10_000_000, 5), True, "", id="docs-example"),
        pytest.param(_src(64_000_000, 64_000_000, 1), True, "", id="single-64e6"),
        pytest.param(_src(10_485_761, MIN_CHUNK, 2), True, "", id="two-5MiB-chunks"),
        pytest.param(_src(4_000_000, 2_000_000, 2), False, "under 5 MB", id="small-split"),
        pytest.param(_src(4_000_000, 3_000_000, 1), False, "chunk size", id="small-chunk-not-size"),
        pytest.param(_src(64_000_001, 64_000_001, 1), False, "The chunk size is invalid", id="single-over-64e6"),
        pytest.param(_src(200_000_000, 67_108_864, 2), False, "The chunk size is invalid", id="64MiB-chunk"),
        pytest.param(_src(50_000_123, 10_000_000, 6), False, "total chunk count", id="ceil-count"),
        pytest.param(_src(20_000_000, 4_000_000, 5), False, "at least 5 MB", id="non-final-under-5MB"),
        pytest.param(_src(10_000_000, 20_000_000, 0), False, "", id="chunk-bigger-than-video"),
        pytest.param(_src(4_000_000_001, 10_000_000, 400), False, "4 GB", id="over-4GB"),
        pytest.param(_src(0, 0, 0), False, "positive integer", id="zero"),
        pytest.param(_src(True, 1, 1), False, "video_size", id="bool-size"),
        pytest.param(_src(1000.0, 1000, 1), False, "video_size", id="float-size"),
        pytest.param({"source": "FILE_UPLOAD"}, False, "video_size", id="missing-sizes"),
        pytest.param({"source": "URL"}, False, "source", id="unknown-source"),
    ])
    def test_it_enforces_the_chunk_rules(self, emu, token, source, ok, words):
        r = emu.api("/v2/post/publish/video/init/", token, {"post_info": OK_POST, "source_info": source})
        if ok:
            assert r.status_code == 200, r.text
        else:
            assert error_of(r) == (400, "invalid_params") and words in r.json()["error"]["message"]

    @pytest.mark.parametrize("size", [1, 4_999_999, 5_000_000, 64_000_000, 64_000_001, 1_000_000_007, 4_000_000_000])
    def test_it_accepts_every_plan_from_plan_chunks(self, emu, clock, token, size):
        r = emu.init(token, size)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["publish_id"].startswith("v_pub_file~v2-1.") and len(data["publish_id"]) <= 64
        url = urlsplit(data["upload_url"])
        assert f"{url.scheme}://{url.netloc}" == emu.server.base_url and len(data["upload_url"]) <= 256
        assert set(parse_qs(url.query)) == {"upload_id", "upload_token"}

    def test_it_creates_a_new_task_on_every_call(self, emu, token):
        ids = {emu.init(token, 1000).json()["data"]["publish_id"] for _ in range(2)}
        assert len(ids) == 2 and emu.server.stats()["inits"] == 2

    def test_it_checks_pull_urls_against_verified_prefixes(self, emu, server, token):
        server.state.profile.verified_url_prefixes = ["https://media.example.com/v/"]
        def pull(url: str) -> httpx.Response:
            return emu.api("/v2/post/publish/video/init/", token,
                           {"post_info": OK_POST, "source_info": {"source": "PULL_FROM_URL", "video_url": url}})
        assert error_of(pull("https://other.example.com/v/a.mp4")) == (403, "url_ownership_unverified")
        assert error_of(pull("http://media.example.com/v/a.mp4")) == (403, "url_ownership_unverified")
        ok = pull("https://media.example.com/v/a.mp4").json()["data"]
        assert ok["publish_id"].startswith("v_pub_url~") and "upload_url" not in ok


class TestCaps:
    def test_it_enforces_the_daily_post_cap_over_a_rolling_day(self, emu, token, clock):
        for _ in range(15):
            assert emu.init(token, 1000).status_code == 200
            clock.advance(60)
        assert error_of(emu.init(token, 1000)) == (403, "spam_risk_too_many_posts")
        clock.advance(86400 - 15 * 60 + 1)   # the first init leaves the day
        assert emu.init(emu.login()["access_token"], 1000).status_code == 200

    def test_it_refuses_a_banned_user(self, emu, server, token):
        server.patch_account(banned=True)
        assert error_of(emu.init(token, 1000)) == (403, "spam_risk_user_banned_from_posting")
        assert error_of(emu.init(token, 1000, draft=True)) == (403, "spam_risk_user_banned_from_posting")

    @pytest.mark.parametrize("private, privacy", [
        pytest.param(False, "SELF_ONLY", id="public-account-self-only"),
        pytest.param(True, "FOLLOWER_OF_CREATOR", id="private-account-followers"),
    ])
    def test_it_keeps_unaudited_apps_to_private_self_only(self, emu, server, token, private, privacy):
        server.patch_account(audited=False, private=private)
        assert error_of(emu.init(token, 1000, privacy_level=privacy)) == (
            403, "unaudited_client_can_only_post_to_private_accounts")

    def test_it_lets_unaudited_apps_post_self_only_to_private_accounts(self, emu, server, token):
        server.patch_account(audited=False, private=True)
        assert emu.init(token, 1000, privacy_level="SELF_ONLY").status_code == 200

    def test_it_caps_distinct_posting_users_of_unaudited_apps(self, emu, server, clock):
        server.state.profile.limits = Limits(unaudited_users_per_day=1)
        server.patch_account(audited=False, private=True)
        server.patch_account(open_id="emu-open-id-0002", private=True)
        first = emu.login()["access_token"]
        second = emu.login(open_id="emu-open-id-0002")["access_token"]
        assert emu.init(first, 1000, privacy_level="SELF_ONLY").status_code == 200
        assert error_of(emu.init(second, 1000, privacy_level="SELF_ONLY")) == (403, "reached_active_user_cap")
        assert emu.init(first, 1000, privacy_level="SELF_ONLY").status_code == 200   # the same user may go on
        clock.advance(86400)
        second = emu.login(open_id="emu-open-id-0002")["access_token"]
        assert emu.init(second, 1000, privacy_level="SELF_ONLY").status_code == 200

    def test_it_caps_pending_drafts(self, emu, token, clock):
        for _ in range(5):
            assert emu.init(token, 1000, draft=True).status_code == 200
            clock.advance(60)
        assert error_of(emu.init(token, 1000, draft=True)) == (403, "spam_risk_too_many_pending_share")

    def test_it_frees_a_draft_slot_when_the_user_posts_it(self, emu, server, token, clock):
        server.profile.media_checks = False
        ids = []
        for _ in range(5):
            ids.append(emu.post_then_upload(token, b"v" * 1000, draft=True))
            clock.advance(60)
        server.complete_draft(ids[0])
        assert emu.init(token, 1000, draft=True).status_code == 200

    def test_it_ignores_post_settings_on_drafts(self, emu, server, token):
        body = {"post_info": {"title": "draft", "privacy_level": "NOT_A_LEVEL", "brand_content_toggle": "x"},
                "source_info": _src(1000, 1000, 1)}
        r = emu.api("/v2/post/publish/inbox/video/init/", token, body)
        assert r.json()["data"]["publish_id"].startswith("v_inbox_file~")
        assert server.posts()[0]["post_info"] == {"title": "draft"} and server.posts()[0]["mode"] == "draft"


# ---------------------------------------------------------------------------------------------
DATA = bytes(range(256)) * 41_000 + b"tail"   # 10,496,004 bytes: two chunks of MIN_CHUNK, the last longer


class TestUpload:
    def init_two_chunks(self, emu, token) -> str:
        r = emu.init_plan(token, len(DATA), MIN_CHUNK, 2)
        assert r.status_code == 200
        return str(r.json()["data"]["upload_url"])

    def test_it_answers_206_then_201_with_progress(self, emu, server, token):
        url = self.init_two_chunks(emu, token)
        first = emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-{MIN_CHUNK - 1}/{len(DATA)}"
        last = emu.put(url, DATA[MIN_CHUNK:], MIN_CHUNK, len(DATA))
        assert last.status_code == 201 and last.headers["content-range"] == f"bytes 0-{len(DATA) - 1}/{len(DATA)}"
        post = server.posts()[0]
        assert post["received_bytes"] == len(DATA) and post["sha256"] == hashlib.sha256(DATA).hexdigest()
        assert not list((server.state.spool_dir).iterdir())   # the spool is gone

    def test_it_answers_416_with_the_progress_for_an_out_of_order_chunk(self, emu, token):
        url = self.init_two_chunks(emu, token)
        r = emu.put(url, DATA[MIN_CHUNK:], MIN_CHUNK, len(DATA))
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(DATA)}"
        emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        again = emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        assert again.status_code == 416 and again.headers["content-range"] == f"bytes 0-{MIN_CHUNK - 1}/{len(DATA)}"

    def test_it_answers_416_after_completion(self, emu, token):
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        assert emu.put(url, b"x" * 1000, 0, 1000).status_code == 201
        assert emu.put(url, b"x" * 1000, 0, 1000).status_code == 416

    def test_it_answers_404_for_an_unknown_upload(self, emu, token):
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        assert emu.put(url.replace("upload_token=", "upload_token=x"), b"x" * 1000, 0, 1000).status_code == 404
        assert emu.put(emu.server.base_url + "/upload/video/?upload_id=1&upload_token=2", b"x", 0, 1).status_code == 404

    def test_it_answers_403_once_the_url_expired(self, emu, clock, token):
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        clock.advance(3600)
        assert emu.put(url, b"x" * 1000, 0, 1000).status_code == 403

    @pytest.mark.parametrize("headers, data, first, total", [
        pytest.param({"Content-Type": "application/octet-stream"}, MIN_CHUNK, 0, None, id="content-type"),
        pytest.param({"Content-Range": "bytes=0-5242879/10496004"}, MIN_CHUNK, 0, None, id="range-syntax"),
        pytest.param({}, MIN_CHUNK, 0, 10_496_005, id="total-not-video-size"),
        pytest.param({}, MIN_CHUNK - 1, 0, None, id="short-chunk"),
        pytest.param({}, MIN_CHUNK + 1, 0, None, id="long-non-final-chunk"),
        pytest.param({"Content-Range": "bytes 0-99/10496004"}, MIN_CHUNK, 0, None, id="length-not-range"),
    ])
    def test_it_answers_400_for_bad_headers_or_lengths(self, emu, server, token, headers, data, first, total):
        url = self.init_two_chunks(emu, token)
        r = emu.put(url, DATA[:data], first, total or len(DATA), headers=headers)
        assert r.status_code == 400 and r.text
        assert server.posts()[0]["received_bytes"] == 0

    @pytest.mark.parametrize("mime", ["video/mp4", "video/quicktime", "video/webm"])
    def test_it_accepts_the_three_video_types(self, emu, token, mime):
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        assert emu.put(url, b"x" * 1000, 0, 1000, mime=mime).status_code == 201

    def test_it_serialises_parallel_chunks(self, emu, server, token):
        url = self.init_two_chunks(emu, token)
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA)).status_code))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [206, 416] and server.posts()[0]["received_bytes"] == MIN_CHUNK


# ---------------------------------------------------------------------------------------------
def probe_available() -> bool:
    try:
        import ralph_watch.probe  # noqa: F401
    except ImportError:
        return False
    return True


needs_probe = pytest.mark.skipif(not probe_available(), reason="ralph_watch.probe is not importable yet")


class TestStatus:
    def test_it_walks_a_public_post_to_complete_and_then_to_a_post_id(self, emu, clock, token):
        r = emu.init_plan(token, len(DATA), MIN_CHUNK, 2)
        pid, url = r.json()["data"]["publish_id"], r.json()["data"]["upload_url"]
        assert emu.status(token, pid) == {"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0, "publicaly_available_post_id": []}
        emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        assert emu.status(token, pid)["uploaded_bytes"] == MIN_CHUNK
        emu.server.profile.media_checks = False   # DATA is not a video; media checks have their own tests
        emu.put(url, DATA[MIN_CHUNK:], MIN_CHUNK, len(DATA))
        assert emu.status(token, pid)["status"] == "PROCESSING_UPLOAD"
        clock.advance(1)
        done = emu.status(token, pid)
        assert done["status"] == "PUBLISH_COMPLETE" and done["publicaly_available_post_id"] == []
        clock.advance(1)
        ids = emu.status(token, pid)["publicaly_available_post_id"]
        assert len(ids) == 1 and isinstance(ids[0], int) and len(str(ids[0])) == 19

    @needs_probe
    def test_it_completes_a_real_video_and_keeps_private_posts_without_a_post_id(self, emu, clock, token, tmp_path):
        from tests.support.videos import small_mp4
        data = small_mp4(tmp_path).read_bytes()
        pid = emu.post_then_upload(token, data, privacy_level="SELF_ONLY")
        clock.advance(1000)
        assert emu.status(token, pid) == {"status": "PUBLISH_COMPLETE", "uploaded_bytes": len(data),
                                          "publicaly_available_post_id": []}

    @needs_probe
    def test_it_fails_media_that_is_not_a_video(self, emu, clock, token):
        pid = emu.post_then_upload(token, b"this is not a video" * 10)
        clock.advance(1)
        data = emu.status(token, pid)
        assert (data["status"], data["fail_reason"]) == ("FAILED", "file_format_check_failed")

    @needs_probe
    def test_it_fails_a_video_longer_than_the_creator_may_post(self, emu, server, clock, token, tmp_path):
        from tests.support.videos import small_mp4
        server.patch_account(max_video_post_duration_sec=1)
        data = small_mp4(tmp_path, seconds=2).read_bytes()
        pid = emu.post_then_upload(token, data)
        clock.advance(1)
        assert emu.status(token, pid)["fail_reason"] == "duration_check_failed"

    @needs_probe
    def test_it_fails_a_video_at_15_fps(self, emu, clock, token, tmp_path):
        from tests.support.videos import small_mp4
        pid = emu.post_then_upload(token, small_mp4(tmp_path, fps=15).read_bytes())
        clock.advance(1)
        assert emu.status(token, pid)["fail_reason"] == "frame_rate_check_failed"

    def test_it_fails_the_next_publish_on_request(self, emu, server, clock, token):
        server.fail_next("spam_risk_text")
        pid = emu.post_then_upload(token, b"x" * 1000)
        assert emu.status(token, pid)["status"] == "PROCESSING_UPLOAD"
        clock.advance(1)
        assert emu.status(token, pid) | {"uploaded_bytes": 0} == {
            "status": "FAILED", "fail_reason": "spam_risk_text", "publicaly_available_post_id": [], "uploaded_bytes": 0}

    def test_it_refuses_unknown_and_other_users_publish_ids(self, emu, token):
        pid = emu.init(token, 1000).json()["data"]["publish_id"]
        other = emu.login(open_id="emu-open-id-0002")["access_token"]
        assert error_of(emu.api("/v2/post/publish/status/fetch/", other, {"publish_id": pid})) == (
            400, "token_not_authorized_for_specified_publish_id")
        assert error_of(emu.api("/v2/post/publish/status/fetch/", token, {"publish_id": "v_pub_file~v2-1.1"})) == (
            400, "invalid_publish_id")
        assert error_of(emu.api("/v2/post/publish/status/fetch/", token, {})) == (400, "invalid_params")

    def test_it_fails_with_auth_removed_when_revoked_mid_processing(self, emu, clock):
        body = emu.login()
        pid = emu.post_then_upload(body["access_token"], b"x" * 1000)
        emu.http.post("/v2/oauth/revoke/", data={"client_key": CK, "client_secret": CS, "token": body["access_token"]})
        clock.advance(10)
        again = emu.login()["access_token"]
        assert emu.status(again, pid)["fail_reason"] == "auth_removed"

    def test_it_sends_drafts_to_the_inbox_until_the_user_posts_them(self, emu, server, clock, token):
        server.profile.media_checks = False
        pid = emu.post_then_upload(token, b"d" * 1000, draft=True)
        with pytest.raises(ValueError):
            server.complete_draft(pid)   # still processing
        clock.advance(1)
        assert emu.status(token, pid)["status"] == "SEND_TO_USER_INBOX"
        r = httpx.post(server.base_url + "/_emulator/complete_draft", json={"publish_id": pid})
        assert r.status_code == 200
        assert emu.status(token, pid) == {"status": "PUBLISH_COMPLETE", "uploaded_bytes": 1000,
                                          "publicaly_available_post_id": []}


# ---------------------------------------------------------------------------------------------
class TestFaults:
    def control(self, emu, path: str, body: Any) -> httpx.Response:
        return emu.http.post(f"/_emulator/{path}", json=body)

    def test_it_fails_the_next_init_and_then_works(self, emu, server, token):
        assert self.control(emu, "faults", {"endpoint": "init", "status": 500, "times": 1}).status_code == 200
        assert error_of(emu.init(token, 1000)) == (500, "internal_error")
        assert not server.posts()
        assert emu.init(token, 1000).status_code == 200
        assert server.stats()["statuses"]["init"] == {"500": 1, "200": 1}

    def test_it_can_lose_the_answer_after_doing_the_work(self, emu, server, token):
        server.inject("init", status=502, after=True)
        assert emu.init(token, 1000).status_code == 502
        assert len(server.posts()) == 1   # the task exists: a blind retry would duplicate it

    def test_it_retries_a_chunk_after_a_5xx(self, emu, server, token):
        server.inject("upload", status=503, times=2)
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        assert [emu.put(url, b"x" * 1000, 0, 1000).status_code for _ in range(3)] == [503, 503, 201]

    def test_it_drops_the_connection_mid_chunk_without_taking_it(self, emu, server, token):
        server.inject("upload", drop_after_bytes=1_000_000)
        url = emu.init_plan(token, len(DATA), MIN_CHUNK, 2).json()["data"]["upload_url"]
        with pytest.raises(httpx.TransportError):
            emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        assert server.posts()[0]["received_bytes"] == 0
        assert emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA)).status_code == 206

    def test_it_drops_the_answer_after_taking_the_whole_chunk(self, emu, server, token):
        server.inject("upload", drop_after_bytes=MIN_CHUNK)
        url = emu.init_plan(token, len(DATA), MIN_CHUNK, 2).json()["data"]["upload_url"]
        with pytest.raises(httpx.TransportError):
            emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA))
        assert server.posts()[0]["received_bytes"] == MIN_CHUNK
        assert emu.put(url, DATA[:MIN_CHUNK], 0, len(DATA)).status_code == 416

    def test_it_delays_an_answer(self, emu, server, token):
        server.inject("creator_info", delay=2)
        with pytest.raises(httpx.ReadTimeout):
            emu.http.post("/v2/post/publish/creator_info/query/", headers={"Authorization": f"Bearer {token}"},
                          json={}, timeout=httpx.Timeout(10, read=0.2))

    def test_it_trickles_an_answer_byte_by_byte(self, emu, server, token):
        server.inject("creator_info", trickle=True, trickle_interval=0.001)
        chunks = []
        with emu.http.stream("POST", "/v2/post/publish/creator_info/query/", json={},
                             headers={"Authorization": f"Bearer {token}"}) as r:
            for piece in r.iter_raw():
                chunks.append(piece)
        body = b"".join(chunks)
        assert b'"code": "ok"' in body and len(chunks) > 10

    def test_it_answers_oauth_faults_flat(self, emu, server):
        server.inject("token", status=503)
        r = emu.token(grant_type="refresh_token", refresh_token="rft.x")
        assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"

    def test_it_returns_200_cap_codes_on_request(self, emu, server, token):
        server.inject("creator_info", status=200, code="spam_risk_too_many_posts")
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token)) == (200, "spam_risk_too_many_posts")

    @pytest.mark.parametrize("body", [
        pytest.param({"endpoint": "nope", "status": 500}, id="unknown-endpoint"),
        pytest.param({"endpoint": "init", "status": "500"}, id="string-status"),
        pytest.param({"endpoint": "init", "drop_after_bytes": 5}, id="drop-bytes-not-upload"),
        pytest.param({"endpoint": "init", "statsu": 500}, id="unknown-key"),
    ])
    def test_it_explains_a_bad_fault(self, emu, body):
        r = self.control(emu, "faults", body)
        assert r.status_code == 400 and r.json()["error"]


class TestControl:
    def test_it_expires_tokens_and_urls_on_request(self, emu, token):
        url = emu.init(token, 1000).json()["data"]["upload_url"]
        emu.http.post("/_emulator/expire", json={"what": "upload_url"})
        assert emu.put(url, b"x" * 1000, 0, 1000).status_code == 403
        emu.http.post("/_emulator/expire", json={"what": "access_token"})
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token))[1] == "access_token_invalid"

    def test_it_patches_the_account(self, emu, token):
        r = emu.http.post("/_emulator/account", json={"private": True, "max_video_post_duration_sec": 180})
        assert r.json()["private"] is True
        data = emu.api("/v2/post/publish/creator_info/query/", token).json()["data"]
        assert data["max_video_post_duration_sec"] == 180 and "FOLLOWER_OF_CREATOR" in data["privacy_level_options"]
        assert emu.http.post("/_emulator/account", json={"private": "yes"}).status_code == 400

    def test_it_resets_everything_including_account_patches(self, emu, server, token):
        server.patch_account(private=True, audited=False)
        emu.init(token, 1000, privacy_level="SELF_ONLY")
        assert emu.http.post("/_emulator/reset", json={}).status_code == 200
        assert server.posts() == [] and server.stats()["inits"] == 0
        assert server.profile.account.private is False and server.profile.audited is True
        assert error_of(emu.api("/v2/post/publish/creator_info/query/", token))[1] == "access_token_invalid"

    def test_it_lists_posts_and_stats_without_secrets(self, emu, token):
        emu.init(token, 1000)
        posts = emu.http.get("/_emulator/posts").json()
        assert posts[0]["mode"] == "direct" and posts[0]["video_size"] == 1000 and posts[0]["status"] == "PROCESSING_UPLOAD"
        text = emu.http.get("/_emulator/posts").text + emu.http.get("/_emulator/stats").text
        assert "upload_token" not in text and token not in text
        assert "hi #emu" in emu.http.get("/").text

    def test_it_lists_the_creators_logged_in_at_once(self, emu, server):
        first = emu.login()["access_token"]
        emu.login(open_id="emu-open-id-0002")
        assert emu.http.get("/_emulator/logins").json() == {"emu-open-id-0001": 1, "emu-open-id-0002": 1}
        emu.token(grant_type="refresh_token", refresh_token=emu.login()["refresh_token"])
        assert server.logged_in() == {"emu-open-id-0001": 3, "emu-open-id-0002": 1}
        assert emu.http.post("/v2/oauth/revoke/", data={"client_key": CK, "client_secret": CS,
                                                        "token": first}).status_code == 200
        assert server.logged_in() == {"emu-open-id-0002": 1}

    def test_it_answers_the_control_api_only_on_loopback(self, profile, clock):
        app = webtest.TestApp(make_emulator_app(profile, clock=clock, base_url="http://emu").wsgi,
                              extra_environ={"REMOTE_ADDR": "192.0.2.7"})
        assert app.get("/_emulator/posts", status=403).json["error"]
        assert app.post_json("/_emulator/reset", {}, status=403)


class TestServer:
    def test_it_stops_promptly_while_an_answer_trickles(self, profile, clock, tmp_path):
        srv = start(profile, clock, tmp_path)
        srv.inject("creator_info", trickle=True, trickle_interval=5, times=1)
        got: list[object] = []

        def slow_call() -> None:
            try:
                got.append(httpx.post(srv.base_url + "/v2/post/publish/creator_info/query/", json={}, timeout=30))
            except httpx.HTTPError as exc:
                got.append(exc)
        t = threading.Thread(target=slow_call)
        t.start()
        wait_until(lambda: srv.stats()["requests"].get("creator_info"), 5, "the trickled request")
        srv.stop()
        t.join(10)
        assert not t.is_alive() and got
        assert not (tmp_path / "spool").exists() or not list((tmp_path / "spool").iterdir())

    def test_it_serves_on_its_own_port_and_reports_it(self, server):
        assert server.base_url == f"http://127.0.0.1:{server.port}" and server.port > 0
        assert httpx.get(server.base_url + "/").status_code == 200
