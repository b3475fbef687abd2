"""The web layer's pure defences (ralph_watch/web/security.py).

    TestHostNames     parsing Host headers and the allowlist
    TestOrigin        Origin / Sec-Fetch-Site decisions
    TestPassword      constant-time comparison
    TestThrottle      wrong-password counting per client, with a FakeClock
    TestUrls          only http(s) URLs go into attributes
    TestOauthValues   state and PKCE values
"""
from __future__ import annotations

import hashlib
import re

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.web.security import (SigninThrottle, allowed_hostnames, csrf_ok, host_allowed, hostname_of,
                                      http_url, new_pkce, new_state, origin_ok, password_ok)


class TestHostNames:
    @pytest.mark.parametrize(("header", "name"), [
        pytest.param("localhost:8080", "localhost", id="name_port"),
        pytest.param("Example.COM.", "example.com", id="case_and_dot"),
        pytest.param("[::1]:8080", "[::1]", id="ipv6"),
        pytest.param("127.0.0.1", "127.0.0.1", id="no_port"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="missing"),
        pytest.param("[::1", None, id="open_bracket"),
        pytest.param("a:b", None, id="word_port"),
        pytest.param("evil@127.0.0.1", None, id="userinfo"),
        pytest.param("a/b", None, id="slash"),
    ])
    def test_it_parses_host_headers(self, header, name):
        assert hostname_of(header) == name

    def test_it_allows_loopback_configured_public_and_extra_names(self):
        allowed = allowed_hostnames(host="0.0.0.0", public_url="https://Watch.Example.org:8443/x",
                                    extra=["nas.local:8080", "::1", "Box"])
        assert allowed == {"localhost", "127.0.0.1", "[::1]", "watch.example.org", "nas.local", "box"}

    @pytest.mark.parametrize(("header", "ok"), [
        pytest.param("localhost:1", True, id="loopback_any_port"),
        pytest.param("192.168.1.9:8080", True, id="web_host"),
        pytest.param("evil.example:8080", False, id="rebinding"),
        pytest.param("localhost.evil.example", False, id="suffix_trick"),
    ])
    def test_it_checks_hosts_by_name(self, header, ok):
        assert host_allowed(header, allowed_hostnames(host="192.168.1.9", public_url=None)) is ok


class TestOrigin:
    @pytest.mark.parametrize(("origin", "site", "public", "ok"), [
        pytest.param(None, None, None, True, id="none_sent"),
        pytest.param("http://127.0.0.1:8080", "same-origin", None, True, id="same_origin"),
        pytest.param(None, "none", None, True, id="typed_by_user"),
        pytest.param("http://127.0.0.1:9999", None, None, False, id="other_port"),
        pytest.param("https://evil.example", None, None, False, id="foreign"),
        pytest.param("null", None, None, False, id="null"),
        pytest.param(None, "cross-site", None, False, id="cross_site"),
        pytest.param(None, "same-site", None, False, id="same_site"),
        pytest.param("https://watch.example.org", None, "https://watch.example.org/", True, id="public_url"),
        pytest.param("http://watch.example.org", None, "https://watch.example.org/", False, id="public_url_scheme"),
    ])
    def test_it_decides_on_origin_and_fetch_site(self, origin, site, public, ok):
        assert origin_ok(origin=origin, sec_fetch_site=site, host_header="127.0.0.1:8080", public_url=public) is ok

    def test_it_compares_csrf_tokens(self):
        assert csrf_ok("abc", "abc")
        assert not csrf_ok("abc", "abd") and not csrf_ok("abc", None) and not csrf_ok(None, None)
        assert not csrf_ok("abc", "\udcff")


class TestPassword:
    @pytest.mark.parametrize(("given", "expected", "ok"), [
        pytest.param("pässword", "pässword", True, id="same"),
        pytest.param("pässwor", "pässword", False, id="prefix"),
        pytest.param("", "pässword", False, id="empty"),
        pytest.param(None, "pässword", False, id="none"),
        pytest.param("x", None, False, id="no_password_configured"),
    ])
    def test_it_compares_passwords(self, given, expected, ok):
        assert password_ok(given, expected) is ok


class TestThrottle:
    def test_it_refuses_after_five_failures_until_the_window_passes(self):
        clock = FakeClock()
        t = SigninThrottle(clock=clock, max_failures=5, window=900)
        for _ in range(4):
            t.failed("10.0.0.1")
        assert t.retry_after("10.0.0.1") == 0
        t.failed("10.0.0.1")
        assert t.retry_after("10.0.0.1") == pytest.approx(900)
        assert t.retry_after("10.0.0.2") == 0
        clock.advance(600)
        assert t.retry_after("10.0.0.1") == pytest.approx(300)
        clock.advance(301)
        assert t.retry_after("10.0.0.1") == 0

    def test_it_forgets_failures_after_a_success(self):
        t = SigninThrottle(clock=FakeClock(), max_failures=2)
        t.failed("a")
        t.succeeded("a")
        t.failed("a")
        assert t.retry_after("a") == 0

    def test_it_bounds_its_memory(self):
        clock = FakeClock()
        t = SigninThrottle(clock=clock, max_clients=3)
        for i in range(10):
            clock.advance(1)
            t.failed(f"10.0.0.{i}")
        assert len(t._failures) == 3



class TestUrls:
    @pytest.mark.parametrize(("url", "ok"), [
        pytest.param("https://www.tiktok.com/v2/auth/authorize/?a=b", True, id="https"),
        pytest.param("http://127.0.0.1:9000/authorize", True, id="http"),
        pytest.param("javascript:alert(1)", False, id="javascript"),
        pytest.param("data:text/html,x", False, id="data"),
        pytest.param("//evil.example", False, id="scheme_relative"),
        pytest.param("https://a\r\nSet-Cookie: x", False, id="crlf"),
        pytest.param(None, False, id="none"),
    ])
    def test_it_accepts_only_http_urls(self, url, ok):
        assert (http_url(url) is not None) is ok


class TestOauthValues:
    def test_it_makes_unguessable_states(self):
        states = {new_state() for _ in range(50)}
        assert len(states) == 50 and all(len(s) >= 43 for s in states)

    def test_it_makes_a_hex_s256_pkce_pair(self):
        verifier, challenge = new_pkce()
        assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier)
        assert challenge == hashlib.sha256(verifier.encode()).hexdigest()
