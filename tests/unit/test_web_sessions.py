"""Server-side sessions (ralph_watch/web/sessions.py), with a FakeClock.

    TestLifecycle   create, look up, idle expiry, rotate, destroy, the cap
    TestLogins      pending OAuth states: one-time, 10 minutes, this session only
    TestFlashes     messages survive a redirect once
"""
from __future__ import annotations

import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.web.sessions import SessionStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock) -> SessionStore:
    return SessionStore(clock=clock, idle_seconds=3600, max_sessions=3)


class TestLifecycle:
    def test_it_finds_a_session_by_its_id_only(self, store):
        s = store.create()
        assert store.get(s.id) is s
        assert s.csrf != s.id and len(s.id) == 43
        for bad in (None, "", s.id[:-1], s.id + "x", "A" * 43, s.csrf):
            assert store.get(bad) is None

    def test_it_expires_idle_sessions_but_not_active_ones(self, store, clock):
        idle, active = store.create(), store.create()
        for _ in range(3):
            clock.advance(1800)
            assert store.get(active.id) is active
        assert store.get(idle.id) is None

    def test_it_rotates_ids_and_tokens_keeping_flashes(self, store):
        s = store.create()
        store.flash(s, "hello")
        new = store.rotate(s, signed_in=True)
        assert new.id != s.id and new.csrf != s.csrf and new.signed_in
        assert store.get(s.id) is None and store.pop_flashes(new) == [("info", "hello")]

    def test_it_destroys_sessions(self, store):
        s = store.create()
        store.destroy(s.id)
        assert store.get(s.id) is None

    def test_it_caps_the_number_evicting_anonymous_sessions_first(self, store, clock):
        signed = store.rotate(store.create(), signed_in=True)
        clock.advance(1)
        a = store.create()
        clock.advance(1)
        b = store.create()
        clock.advance(1)
        c = store.create()
        assert len(store) == 3
        assert store.get(signed.id) is signed and store.get(a.id) is None
        assert store.get(b.id) is b and store.get(c.id) is c

    def test_it_evicts_the_least_recently_used_when_all_are_signed_in(self, store, clock):
        ids = []
        for _ in range(3):
            clock.advance(1)
            ids.append(store.rotate(store.create(), signed_in=True).id)
        store.get(ids[0])  # used again: now the freshest
        clock.advance(1)
        store.create()
        assert store.get(ids[0]) is not None and store.get(ids[1]) is None


class TestLogins:
    def test_it_hands_out_a_verifier_once(self, store):
        s = store.create()
        store.begin_login(s, state="st", verifier="v")
        assert store.take_login(s, "st") == "v"
        assert store.take_login(s, "st") is None

    def test_it_refuses_expired_states_and_consumes_them(self, store, clock):
        s = store.create()
        store.begin_login(s, state="st", verifier="v")
        clock.advance(601)
        assert store.take_login(s, "st") is None
        assert s.logins == {}

    def test_it_keeps_states_to_their_session(self, store):
        a, b = store.create(), store.create()
        store.begin_login(a, state="st", verifier="v")
        assert store.take_login(b, "st") is None and store.take_login(None, "st") is None
        assert store.take_login(a, "st") == "v"

    def test_it_keeps_a_few_pending_logins_per_session(self, store, clock):
        s = store.create()
        for i in range(8):
            clock.advance(1)
            store.begin_login(s, state=f"s{i}", verifier=f"v{i}")
        assert store.take_login(s, "s0") is None and store.take_login(s, "s7") == "v7"
        assert len(s.logins) == 4


class TestFlashes:
    def test_it_pops_flashes_once_and_keeps_only_a_few(self, store):
        s = store.create()
        for i in range(8):
            store.flash(s, f"m{i}", kind="error")
        assert [t for _, t in store.pop_flashes(s)] == ["m3", "m4", "m5", "m6", "m7"]
        assert store.pop_flashes(s) == []


def test_rotating_keeps_the_other_pending_logins_for_a_second_tab(store):
    s = store.create()
    store.begin_login(s, state="for-main", verifier="v1", account="main")
    store.begin_login(s, state="for-brand", verifier="v2", account="brand")
    assert store.take_pending(s, "for-main") == ("v1", "main")
    new = store.rotate(s)
    assert store.take_pending(new, "for-brand") == ("v2", "brand")
    assert store.take_pending(new, "for-brand") is None
