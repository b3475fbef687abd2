"""tiktok/oauth.py: state, TikTok's hex PKCE, and the authorize URL."""
from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from ralph_watch.tiktok.oauth import build_authorize_url, new_pkce, new_state

UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class TestState:
    def test_it_makes_long_unguessable_distinct_states(self):
        states = {new_state() for _ in range(50)}
        assert len(states) == 50 and all(len(s) >= 43 for s in states)


class TestPkce:
    def test_it_makes_a_verifier_from_the_unreserved_set_within_43_to_128_chars(self):
        for _ in range(20):
            verifier, _ = new_pkce()
            assert UNRESERVED.match(verifier), verifier

    def test_it_uses_tiktoks_hex_sha256_challenge_not_base64url(self):
        verifier, challenge = new_pkce()
        assert challenge == hashlib.sha256(verifier.encode("ascii")).hexdigest()
        assert re.fullmatch(r"[0-9a-f]{64}", challenge)

    def test_it_makes_a_fresh_pair_each_time(self):
        assert new_pkce()[0] != new_pkce()[0]


class TestAuthorizeUrl:
    def url(self, base="https://www.tiktok.com/v2/auth/authorize/"):
        return build_authorize_url(base, client_key="ck", scopes=["user.info.basic", "video.publish", "video.upload"],
                                   redirect_uri="http://127.0.0.1:8080/callback", state="st", code_challenge="ab" * 32)

    def test_it_sends_every_parameter_tiktok_wants(self):
        parts = urlsplit(self.url())
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.path == "/v2/auth/authorize/"
        assert q == {"client_key": "ck", "response_type": "code",
                     "scope": "user.info.basic,video.publish,video.upload",
                     "redirect_uri": "http://127.0.0.1:8080/callback", "state": "st",
                     "code_challenge": "ab" * 32, "code_challenge_method": "S256"}

    def test_it_separates_scopes_with_commas_not_spaces(self):
        assert "scope=user.info.basic%2Cvideo.publish%2Cvideo.upload" in self.url()

    def test_it_appends_to_an_authorize_url_that_has_a_query(self):
        assert "?x=1&client_key=ck" in self.url("http://127.0.0.1:9/v2/auth/authorize/?x=1")
