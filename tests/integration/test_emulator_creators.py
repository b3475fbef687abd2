"""The emulator holding several creators at once (issue 15 groundwork), driven through
EmulatorState's handlers directly: no server, no sockets, a fake clock.

- every creator has its own grants and tokens; revoking one leaves the others logged in;
- rate limits are counted per user token, the daily post cap per creator;
- an unaudited app under the `unaudited_login_cap` switch refuses a sixth distinct user
  authorised within 24 h at the consent (error=access_denied on the callback)."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.emulator import Account, EmulatorState, Profile
from ralph_watch.emulator.oauth import UNAUDITED_LOGIN_REFUSED
from ralph_watch.limits import Limits

FORM = "application/x-www-form-urlencoded"
REDIRECT = "http://127.0.0.1:8080/callback"
SCOPES = ["user.info.basic", "video.publish", "video.upload"]
A, B = "emu-open-id-0001", "emu-open-id-0002"


def make_state(tmp_path: Path, *, creators: int = 2, **switches: Any) -> tuple[EmulatorState, FakeClock]:
    others = [Account(open_id=f"emu-open-id-{i:04d}", nickname=f"Creator {i}", username=f"creator{i}", private=True)
              for i in range(2, creators + 1)]
    profile = replace(Profile(other_accounts=others), **switches)
    profile.account.private = True
    clock = FakeClock()
    return EmulatorState(profile, clock=clock, base_url="http://127.0.0.1:1", spool_dir=tmp_path), clock


def authorize(state: EmulatorState, open_id: str) -> tuple[dict[str, list[str]], str]:
    """The consent page's Authorize for `open_id`: (the callback's query, the PKCE verifier)."""
    verifier = secrets.token_urlsafe(48)
    q = {"client_key": state.profile.client_key, "response_type": "code", "scope": ",".join(SCOPES),
         "redirect_uri": REDIRECT, "state": "s-1", "code_challenge_method": "S256",
         "code_challenge": hashlib.sha256(verifier.encode("ascii")).hexdigest()}
    assert state.validate_authorize(q) == (None, SCOPES)
    return parse_qs(urlsplit(state.approve(q, SCOPES, open_id)).query), verifier


def login(state: EmulatorState, open_id: str) -> str:
    query, verifier = authorize(state, open_id)
    reply = state.token(FORM, {"client_key": state.profile.client_key, "client_secret": state.profile.client_secret,
                               "grant_type": "authorization_code", "code": query["code"][0],
                               "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert reply.status == 200 and reply.body["open_id"] == open_id
    return str(reply.body["access_token"])


def init(state: EmulatorState, token: str) -> tuple[int, str]:
    body = {"post_info": {"privacy_level": "SELF_ONLY", "brand_content_toggle": False},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}}
    reply = state.init(f"Bearer {token}", "application/json", json.dumps(body).encode(), draft=False)
    return reply.status, reply.body["error"]["code"]


def creator(state: EmulatorState, token: str) -> tuple[int, str, Any]:
    reply = state.creator_info(f"Bearer {token}")
    return reply.status, reply.body["error"]["code"], reply.body["data"].get("creator_username")


def test_two_creators_are_logged_in_at_once_each_with_its_own_token(tmp_path):
    state, _ = make_state(tmp_path)
    a, b = login(state, A), login(state, B)
    assert state.logged_in() == {A: 1, B: 1}
    assert creator(state, a) == (200, "ok", "ralph.emulator")
    assert creator(state, b) == (200, "ok", "creator2")


def test_the_rate_limit_is_counted_per_user_token(tmp_path):
    state, _ = make_state(tmp_path)
    a, b = login(state, A), login(state, B)
    for _ in range(state.profile.limits.init_per_window):
        assert init(state, a) == (200, "ok")
    assert init(state, a) == (429, "rate_limit_exceeded")
    assert init(state, b) == (200, "ok")


def test_the_daily_post_cap_is_counted_per_creator(tmp_path):
    state, clock = make_state(tmp_path)
    a, b = login(state, A), login(state, B)
    for _ in range(state.profile.limits.daily_posts):
        assert init(state, a) == (200, "ok")
        clock.advance(60)   # stay under the init rate limit
    assert init(state, a) == (403, "spam_risk_too_many_posts")
    assert creator(state, a)[:2] == (200, "spam_risk_too_many_posts")
    assert init(state, b) == (200, "ok")


def test_revoking_one_creator_leaves_the_other_logged_in(tmp_path):
    state, _ = make_state(tmp_path)
    a, b = login(state, A), login(state, B)
    form = {"client_key": state.profile.client_key, "client_secret": state.profile.client_secret, "token": a}
    assert state.revoke(FORM, form).status == 200
    assert creator(state, a)[:2] == (401, "access_token_invalid")
    assert creator(state, b) == (200, "ok", "creator2")
    assert state.logged_in() == {B: 1}


def _refused(query: dict[str, list[str]]) -> bool:
    return query.get("error") == ["access_denied"] and "code" not in query


@pytest.mark.parametrize("audited, switch, earlier, who, refused", [
    pytest.param(False, True, 5, 6, True, id="unaudited-sixth-user-refused"),
    pytest.param(False, True, 4, 5, False, id="unaudited-fifth-user-passes"),
    pytest.param(False, True, 5, 1, False, id="unaudited-one-of-the-five-logs-in-again"),
    pytest.param(False, False, 5, 6, False, id="switch-off-documented-reading-init-caps-instead"),
    pytest.param(True, True, 5, 6, False, id="audited-app-no-user-cap"),
])
def test_the_unaudited_login_cap(tmp_path, audited, switch, earlier, who, refused):
    state, _ = make_state(tmp_path, creators=6, audited=audited, unaudited_login_cap=switch)
    for i in range(1, earlier + 1):
        assert "code" in authorize(state, f"emu-open-id-{i:04d}")[0]
    query, _ = authorize(state, f"emu-open-id-{who:04d}")
    assert _refused(query) is refused
    if refused:
        assert query["error_description"] == [UNAUDITED_LOGIN_REFUSED.format(cap=5)]
        assert query["state"] == ["s-1"]


def test_the_unaudited_login_cap_is_a_rolling_day(tmp_path):
    state, clock = make_state(tmp_path, creators=3, audited=False, unaudited_login_cap=True)
    state.profile.limits = Limits(unaudited_users_per_day=2)
    login(state, A)
    clock.advance(3600)
    login(state, B)
    assert _refused(authorize(state, "emu-open-id-0003")[0])
    clock.advance(86400 - 3600)   # A's authorisation is now a day old
    assert not _refused(authorize(state, "emu-open-id-0003")[0])
    assert _refused(authorize(state, A)[0])   # B and the third user fill the two places now
