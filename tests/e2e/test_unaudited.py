"""Unaudited mode end to end: the emulator plays an app that has not passed TikTok's audit.

TikTok's first `unaudited_client_can_only_post_to_private_accounts` answer tells the service;
from then on a non-private direct pair is refused before any init (with the fix), a private one
publishes, and with a public account (config `tiktok.audited: false`) every direct pair is
refused up front. The service never makes a post private on its own."""
from __future__ import annotations

import pytest

from tests.support.videos import small_mp4

pytestmark = pytest.mark.e2e


def drop(svc, name: str, privacy: str) -> None:
    small_mp4(svc.inbox, f"{name}.mp4")
    (svc.inbox / f"{name}.yaml").write_text(f'title: "{name}"\nprivacy: {privacy}\n')


def inits(emulator) -> int:
    return int(emulator.stats()["requests"].get("init", 0))


def test_after_the_first_unaudited_answer_non_private_pairs_are_refused_up_front_and_private_ones_publish(
        make_service, emulator):
    emulator.patch_account(audited=False, private=True)
    svc = make_service().start()
    svc.login()
    drop(svc, "first", "followers")
    first = svc.wait_state("first.mp4", "failed")
    assert "private" in first["error"] and inits(emulator) == 1   # TikTok said so, once

    drop(svc, "second", "friends")
    second = svc.wait_state("second.mp4", "invalid")
    assert "unaudited" in second["error"] and "privacy: private" in second["error"] and "mode: draft" in second["error"]
    assert inits(emulator) == 1                                   # refused before any init
    assert "friends" in (svc.inbox / "second.error.txt").read_text()

    drop(svc, "third", "private")
    svc.wait_state("third.mp4", "published")
    assert inits(emulator) == 2
    post = next(p for p in emulator.posts() if p["post_info"].get("title") == "third")
    assert post["post_info"]["privacy_level"] == "SELF_ONLY"
    page = svc.http.get("/").text
    assert page.count('id="unaudited"') == 1                      # the page says so, once


def test_with_tiktok_audited_false_a_public_account_refuses_every_direct_pair_up_front(make_service, emulator):
    emulator.patch_account(audited=False)                         # the account stays public
    svc = make_service(config={"tiktok": {"audited": False}}).start()
    svc.login()
    drop(svc, "only-me", "private")
    task = svc.wait_state("only-me.mp4", "invalid")
    assert "public" in task["error"] and "Make the TikTok account private" in task["error"]
    assert inits(emulator) == 0
