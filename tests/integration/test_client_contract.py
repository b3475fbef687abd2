"""The TikTok client against the real emulator over loopback HTTP (contract tests).

The emulator enforces TikTok's documented rules (tiktok-api.md "What a faithful fake TikTok
server must enforce"); these tests show the client speaks them: the login through the
consent form with hex PKCE, creator_info, direct and draft posts with chunked uploads, and
the faults a real network brings (5xx, 429, dropped connections, expired URLs and tokens).
"""
from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from ralph_watch.clock import SystemClock
from ralph_watch.errors import Action, TikTokError
from ralph_watch.tiktok.client import TikTokClient
from ralph_watch.emulator import EmulatorServer, load_profile
from ralph_watch.tiktok.errors import classify_fail_reason
from ralph_watch.tiktok.oauth import new_pkce, new_state
from tests.support.videos import padded_mp4, small_mp4
from tests.support.wait import wait_until

REDIRECT = "http://127.0.0.1:8080/callback"
SCOPES = ["user.info.basic", "video.publish", "video.upload"]


@pytest.fixture(scope="module")
def server():
    srv = EmulatorServer(load_profile(None)).start()
    yield srv
    srv.stop()


@pytest.fixture
def emulator(server):
    server.reset()
    yield server
    server.reset()


def make_client(emulator: EmulatorServer, **kw) -> TikTokClient:
    profile = emulator.profile
    kw.setdefault("retry_backoff", 0.05)
    return TikTokClient(client_key=profile.client_key, client_secret=profile.client_secret, redirect_uri=REDIRECT,
                        scopes=SCOPES, api_base=emulator.base_url,
                        authorize_url=emulator.base_url + "/v2/auth/authorize/", limits=profile.limits,
                        clock=SystemClock(), **kw)


def consent(client: TikTokClient, *, deny_scopes: tuple[str, ...] = (), decision: str = "authorize",
            challenge_of=None) -> dict[str, str]:
    """Open the consent page like a browser, submit its form, return the callback's query."""
    state = new_state()
    verifier, hex_challenge = new_pkce()
    challenge = challenge_of(verifier) if challenge_of else hex_challenge
    page = httpx.get(client.authorize_url(state=state, code_challenge=challenge))
    assert page.status_code == 200, page.text
    fields = re.findall(r'<input type="(hidden|checkbox)" name="([^"]+)" value="([^"]*)"', page.text)
    form = [(name, html.unescape(value)) for kind, name, value in fields
            if not (kind == "checkbox" and html.unescape(value) in deny_scopes)]
    form.append(("decision", decision))
    answer = httpx.post(page.url.copy_with(query=None), content=urlencode(form),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == state
    query["verifier"] = verifier
    return query


def login(client: TikTokClient, **kw):
    q = consent(client, **kw)
    return client.exchange_code(q["code"], code_verifier=q["verifier"], granted_scopes=q.get("scopes"))


@pytest.fixture
def client(emulator):
    c = make_client(emulator)
    login(c)
    yield c
    c.close()


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def post_for(emulator, publish_id: str) -> dict:
    return next(p for p in emulator.posts() if p["publish_id"] == publish_id)


def upload(client: TikTokClient, init, path: Path, **kw):
    sent = []
    client.upload(init, path, mime="video/mp4", progress=lambda s, t: sent.append(s),
                  cancel=kw.pop("cancel", threading.Event()), **kw)
    return sent


PUBLIC = {"privacy_level": "PUBLIC_TO_EVERYONE", "title": "Sunset #sunset", "disable_comment": True,
          "disable_duet": True, "disable_stitch": True, "brand_content_toggle": False, "brand_organic_toggle": False}


class TestLogin:
    def test_it_logs_in_through_the_consent_form_with_hex_pkce(self, emulator):
        c = make_client(emulator)
        account = login(c)
        assert c.logged_in and account.open_id == emulator.profile.account.open_id
        assert account.nickname == emulator.profile.account.nickname
        assert account.scopes == set(SCOPES)
        assert account.access_expires_at is not None and account.refresh_expires_at is not None

    def test_it_records_a_partly_denied_consent(self, emulator):
        c = make_client(emulator)
        account = login(c, deny_scopes=("video.publish",))
        assert account.scopes == {"user.info.basic", "video.upload"}
        err = pytest.raises(TikTokError, c.init_direct, post_info=PUBLIC, video_size=1000).value
        assert err.action is Action.NEEDS_LOGIN and "video.publish" in err.hint

    def test_it_refuses_a_login_that_grants_no_posting_scope(self, emulator):
        c = make_client(emulator)
        with pytest.raises(TikTokError) as info:
            login(c, deny_scopes=("video.publish", "video.upload"))
        assert info.value.action is Action.NEEDS_LOGIN and not c.logged_in

    def test_it_fails_the_exchange_with_an_rfc_base64url_challenge(self, emulator):
        # Why oauth.py uses hex: TikTok's S256 is hex(sha256(verifier)), not RFC 7636's base64url.
        c = make_client(emulator)
        rfc = lambda v: base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
        q = consent(c, challenge_of=rfc)
        err = pytest.raises(TikTokError, c.exchange_code, q["code"], code_verifier=q["verifier"]).value
        assert not c.logged_in and err.action is not Action.RETRY_NOW

    def test_it_fails_the_exchange_with_the_wrong_verifier(self, emulator):
        c = make_client(emulator)
        q = consent(c)
        err = pytest.raises(TikTokError, c.exchange_code, q["code"], code_verifier="x" * 43).value
        assert err.action in (Action.NEEDS_LOGIN, Action.USER_FIX) and not c.logged_in

    def test_it_cannot_use_a_code_twice(self, emulator):
        c = make_client(emulator)
        q = consent(c)
        c.exchange_code(q["code"], code_verifier=q["verifier"])
        err = pytest.raises(TikTokError, c.exchange_code, q["code"], code_verifier=q["verifier"]).value
        assert err.action is Action.NEEDS_LOGIN

    def test_it_revokes_on_logout_so_the_token_is_dead(self, client, emulator):
        token = client._tokens.access
        client.logout()
        assert not client.logged_in
        answer = httpx.post(emulator.base_url + "/v2/post/publish/creator_info/query/",
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json; charset=UTF-8"}, content=b"{}")
        assert answer.json()["error"]["code"] == "access_token_invalid"

    def test_it_downloads_the_avatar(self, client):
        data, ctype = client.fetch_avatar()
        assert ctype == "image/png" and data.startswith(b"\x89PNG")


class TestPosting:
    def test_it_reads_creator_info(self, client, emulator):
        info = client.creator_info()
        assert info.nickname == emulator.profile.account.nickname
        assert "SELF_ONLY" in info.privacy_level_options and info.max_video_post_duration_sec > 0

    def test_it_posts_a_multi_chunk_video_to_publish_complete(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=69_000_123)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        assert init.total_chunk_count == 6
        sent = upload(client, init, path)
        assert sent[-1] == init.video_size and sent == sorted(sent)
        post = post_for(emulator, init.publish_id)
        assert post["sha256"] == sha(path) and post["received_bytes"] == init.video_size
        status = wait_until(lambda: (s := client.fetch_status(init.publish_id)).status == "PUBLISH_COMPLETE" and s
                            and s.post_ids and s, timeout=20, what="PUBLISH_COMPLETE with a post id", interval=0.3)
        assert status.fail_reason is None and status.post_ids[0].isdigit() and len(status.post_ids[0]) == 19

    def test_it_sends_a_draft_that_the_creator_then_posts(self, client, emulator, tmp_path):
        path = small_mp4(tmp_path)
        init = client.init_draft(video_size=path.stat().st_size, title="draft title")
        upload(client, init, path)
        wait_until(lambda: client.fetch_status(init.publish_id).status == "SEND_TO_USER_INBOX", 20, "the inbox", 0.3)
        emulator.complete_draft(init.publish_id)
        wait_until(lambda: client.fetch_status(init.publish_id).status == "PUBLISH_COMPLETE", 20, "the draft posted", 0.3)

    def test_it_reports_a_failed_post_with_its_reason(self, client, emulator, tmp_path):
        emulator.fail_next("internal")
        path = small_mp4(tmp_path)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        upload(client, init, path)
        status = wait_until(lambda: (s := client.fetch_status(init.publish_id)).status == "FAILED" and s, 20, "FAILED", 0.3)
        assert status.fail_reason == "internal"
        assert classify_fail_reason(status.fail_reason).action is Action.RETRY_NOW

    def test_it_explains_the_unaudited_refusal(self, client, emulator):
        emulator.patch_account(audited=False)
        try:
            err = pytest.raises(TikTokError, client.init_direct, post_info=PUBLIC, video_size=1000).value
        finally:
            emulator.patch_account(audited=True)
        assert err.code == "unaudited_client_can_only_post_to_private_accounts" and err.action is Action.USER_FIX
        assert err.log_id

    def test_it_sends_a_privacy_the_account_does_not_offer_as_user_fix(self, client):
        err = pytest.raises(TikTokError, client.init_direct,
                            post_info={**PUBLIC, "privacy_level": "FOLLOWER_OF_CREATOR"}, video_size=1000).value
        assert (err.code, err.action) == ("privacy_level_option_mismatch", Action.USER_FIX)


class TestFaults:
    def test_a_trickling_answer_ends_at_the_client_deadline(self, client, emulator):
        # One byte every 0.3 s never trips httpx's per-read timeout; the client's own deadline does.
        client.api_deadline = 1.0
        emulator.inject("creator_info", trickle=True, trickle_interval=0.3, times=1)
        started = time.monotonic()
        with pytest.raises(TikTokError) as err:
            client.creator_info()
        assert err.value.code == "network_error" and err.value.action is Action.RETRY_NOW
        assert time.monotonic() - started < 5
        assert client.creator_info().privacy_level_options  # the next call is fine

    def test_it_resends_a_chunk_after_a_5xx(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=69_000_123)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.inject("upload", status=500, times=1)
        upload(client, init, path)
        assert post_for(emulator, init.publish_id)["sha256"] == sha(path)
        assert emulator.stats()["statuses"]["upload"]["500"] == 1

    def test_it_recovers_from_a_connection_dropped_mid_chunk(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=69_000_123)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.inject("upload", drop_after_bytes=3_000_000, times=1)
        upload(client, init, path)
        assert post_for(emulator, init.publish_id)["sha256"] == sha(path)

    def test_it_resyncs_when_the_answer_to_an_accepted_chunk_is_lost(self, client, emulator, tmp_path):
        path = padded_mp4(tmp_path, total_bytes=69_000_123)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.inject("upload", drop=True, after=True, times=1)   # chunk taken, answer lost
        upload(client, init, path)
        assert post_for(emulator, init.publish_id)["sha256"] == sha(path)
        assert "416" in emulator.stats()["statuses"]["upload"]

    def test_it_backs_off_after_a_429_on_init_without_calling_again(self, client, emulator):
        emulator.inject("init", status=429, times=1)
        err = pytest.raises(TikTokError, client.init_direct, post_info=PUBLIC, video_size=1000).value
        assert err.action is Action.RETRY_LATER and err.retry_after >= emulator.profile.limits.window_seconds
        again = pytest.raises(TikTokError, client.init_direct, post_info=PUBLIC, video_size=1000).value
        assert again.code == "rate_limited_locally"
        assert emulator.stats()["requests"]["init"] == 1 and not emulator.posts()

    def test_it_abandons_a_chunk_with_no_answer_by_the_deadline_and_sends_it_again(self, emulator, tmp_path):
        c = make_client(emulator, chunk_deadline=0.5)
        login(c)
        path = small_mp4(tmp_path)
        init = c.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.inject("upload", delay=5, times=1)       # the server sits on the first PUT
        started = time.monotonic()
        upload(c, init, path)
        assert time.monotonic() - started < 4
        assert post_for(emulator, init.publish_id)["sha256"] == sha(path)

    def test_it_restarts_when_the_upload_url_expired(self, client, emulator, tmp_path):
        path = small_mp4(tmp_path)
        init = client.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.expire("upload_url")
        err = pytest.raises(TikTokError, upload, client, init, path).value
        assert (err.action, err.http_status) == (Action.RESTART, 403)

    def test_it_refreshes_and_replays_when_the_access_token_expired(self, client, emulator):
        emulator.expire("access_token")
        assert client.creator_info().nickname
        assert emulator.stats()["requests"]["token"] == 2        # the login and one refresh
        assert emulator.stats()["statuses"]["creator_info"] == {"401": 1, "200": 1}

    def test_it_needs_login_when_the_refresh_token_expired_too(self, client, emulator):
        emulator.expire("all")
        err = pytest.raises(TikTokError, client.creator_info).value
        assert err.action is Action.NEEDS_LOGIN and not client.logged_in

    def test_it_retries_later_when_creator_info_says_the_daily_cap_is_reached(self, client, emulator):
        emulator.inject("creator_info", status=200, code="spam_risk_too_many_posts", times=1)
        err = pytest.raises(TikTokError, client.creator_info).value
        assert err.action is Action.RETRY_LATER and err.retry_after == emulator.profile.limits.day_seconds

    def test_it_gives_up_on_a_chunk_the_server_keeps_failing(self, emulator, tmp_path):
        c = make_client(emulator, chunk_attempts=2)
        login(c)
        path = small_mp4(tmp_path)
        init = c.init_direct(post_info=PUBLIC, video_size=path.stat().st_size)
        emulator.inject("upload", status=503, times=5)
        err = pytest.raises(TikTokError, upload, c, init, path).value
        assert err.action is Action.RETRY_NOW and emulator.stats()["statuses"]["upload"]["503"] == 2


class TestRateLimits:
    @pytest.fixture
    def tight(self, tmp_path):
        profile = tmp_path / "profile.yaml"
        profile.write_text("limits:\n  window_seconds: 1.5\n  status_per_window: 3\n  creator_info_per_window: 2\n")
        srv = EmulatorServer(load_profile(profile)).start()
        yield srv
        srv.stop()

    def test_it_paces_its_calls_so_tiktok_never_answers_429(self, tight):
        c = make_client(tight)
        login(c)
        for _ in range(4):
            c.creator_info()
        for _ in range(7):
            with pytest.raises(TikTokError, match="invalid_publish_id"):
                c.fetch_status("v_pub_file~v2-1.unknown")
        statuses = tight.stats()["statuses"]
        assert "429" not in statuses["status"] and "429" not in statuses["creator_info"]
        assert statuses["creator_info"] == {"200": 4}
