"""The web layer's pure defences (ralph_watch/web/security.py).

    TestHostNames     parsing Host headers and the allowlist
    TestOrigin        Origin / Sec-Fetch-Site decisions
    TestPassword      constant-time comparison
    TestThrottle      wrong-password backoff per client, with a FakeClock (a table of steps)
    TestClientAddress the client behind a trusted reverse proxy (X-Forwarded-For)
    TestUrls          only http(s) URLs go into attributes
    TestOauthValues   state and PKCE values
"""
from __future__ import annotations

import hashlib
import re

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.web.security import (SigninThrottle, allowed_hostnames, backoff_step, client_address, csrf_ok,
                                      host_allowed, hostname_of, http_url, new_pkce, new_state, origin_ok,
                                      password_ok, trusted_networks)


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
    @pytest.mark.parametrize(("failures", "step"), [
        pytest.param(0, 0, id="none"), pytest.param(4, 0, id="four_typos_free"),
        pytest.param(5, 1, id="fifth"), pytest.param(6, 2, id="sixth"), pytest.param(7, 4, id="seventh"),
        pytest.param(8, 5, id="capped"), pytest.param(1000, 5, id="still_capped"),
    ])
    def test_its_step_grows_and_is_capped(self, failures, step):
        assert backoff_step(failures, free=5, first=1.0, cap=5.0) == step

    # (seconds to advance, what happens: "fail" / "ok" = a try that was checked, "wait" = refused
    #  unchecked, expected retry_after afterwards)
    GUESSING = [
        *[(0, "fail", 0)] * 4,   # typos: answered at once
        (0, "fail", 1),          # 5th: wait 1 s
        (0.5, "wait", 0.5),      # too soon: refused, not counted
        (0.5, "fail", 2),        # 6th: wait 2 s
        (2, "fail", 4),          # 7th
        (4, "fail", 5),          # 8th: capped
        (5, "fail", 5),
        (5, "fail", 5),
    ]

    def test_it_slows_down_a_guesser_step_by_step(self):
        clock = FakeClock()
        t = SigninThrottle(clock=clock, max_failures=5, window=900, first_step=1.0, max_step=5.0)
        for advance, what, after in self.GUESSING:
            clock.advance(advance)
            if what == "wait":
                assert t.retry_after("10.0.0.1") > 0
            else:
                assert t.retry_after("10.0.0.1") == 0
                t.failed("10.0.0.1")
            assert t.retry_after("10.0.0.1") == pytest.approx(after)
        assert t.retry_after("10.0.0.2") == 0  # per client

    def test_it_never_locks_the_right_password_out_for_more_than_a_step(self):
        # The old throttle refused every try for 15 minutes after five failures (issue 12 item 13).
        clock = FakeClock()
        t = SigninThrottle(clock=clock, max_failures=5, window=900, max_step=5.0)
        for _ in range(50):
            t.failed("proxy")
            clock.advance(t.retry_after("proxy"))
        t.failed("proxy")
        assert 0 < t.retry_after("proxy") <= 5.0
        clock.advance(5.0)
        assert t.retry_after("proxy") == 0  # the owner's next try is checked
        t.succeeded("proxy")
        assert t.retry_after("proxy") == 0

    def test_it_forgets_failures_after_the_window(self):
        clock = FakeClock()
        t = SigninThrottle(clock=clock, max_failures=2, window=900, max_step=5.0)
        for _ in range(6):
            t.failed("a")
            clock.advance(5)
        clock.advance(901)
        t.failed("a")
        assert t.retry_after("a") == 0  # counting starts again: one failure

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



TRUSTED = trusted_networks(["127.0.0.0/8", "::1", "10.0.0.0/24"])


class TestClientAddress:
    @pytest.mark.parametrize(("peer", "xff", "trusted", "client"), [
        pytest.param("203.0.113.7", None, TRUSTED, "203.0.113.7", id="direct"),
        pytest.param("203.0.113.7", "198.51.100.1", TRUSTED, "203.0.113.7", id="untrusted_peer_header_ignored"),
        pytest.param("127.0.0.1", "198.51.100.1", (), "127.0.0.1", id="no_trusted_proxies"),
        pytest.param("127.0.0.1", None, TRUSTED, "127.0.0.1", id="proxy_without_header"),
        pytest.param("127.0.0.1", "198.51.100.1", TRUSTED, "198.51.100.1", id="one_proxy"),
        pytest.param("127.0.0.1", "6.6.6.6, 198.51.100.1", TRUSTED, "198.51.100.1", id="forged_left_part"),
        pytest.param("127.0.0.1", "198.51.100.1, 10.0.0.5", TRUSTED, "198.51.100.1", id="two_proxies"),
        pytest.param("127.0.0.1", "10.0.0.9, 10.0.0.5", TRUSTED, "10.0.0.9", id="all_trusted_first"),
        pytest.param("::1", "2001:db8::7", TRUSTED, "2001:db8::7", id="ipv6"),
        pytest.param("::ffff:127.0.0.1", "198.51.100.1", TRUSTED, "198.51.100.1", id="v4_mapped_peer"),
        pytest.param("127.0.0.1", "198.51.100.1:5555", TRUSTED, "198.51.100.1", id="v4_with_port"),
        pytest.param("127.0.0.1", "[2001:db8::7]:443", TRUSTED, "2001:db8::7", id="v6_with_port"),
        pytest.param("127.0.0.1", "198.51.100.1, garbage", TRUSTED, "127.0.0.1", id="garbage_counts_as_proxy"),
        pytest.param("127.0.0.1", " , ", TRUSTED, "127.0.0.1", id="empty_items"),
        pytest.param(None, None, TRUSTED, "unknown", id="no_peer"),
    ])
    def test_it_takes_the_rightmost_untrusted_address(self, peer, xff, trusted, client):
        assert client_address(peer, xff, trusted) == client

    def test_it_parses_addresses_and_networks(self):
        assert [str(n) for n in trusted_networks(["10.0.0.1", " 192.168.0.0/16 ", "::1", "10.1.2.3/8"])] == [
            "10.0.0.1/32", "192.168.0.0/16", "::1/128", "10.0.0.0/8"]
        with pytest.raises(ValueError):
            trusted_networks(["proxy.local"])


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
