"""An unaudited app's user cap, end to end (issue 15): TikTok lets an unaudited app post for at
most 5 users in 24 hours. The sixth creator's login (the emulator's `unaudited_login_cap` answers
the consent with error=access_denied) and TikTok's 403 `reached_active_user_cap` at init each get a
plain sentence on the page and in the log: why, and what to do (wait, get audited, log one out)."""
from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from ralph_watch.emulator import EmulatorServer, load_profile
from ralph_watch.emulator.profile import Account as Creator
from tests.e2e.conftest import FAST
from tests.support.service import ServiceProcess, parse_form
from tests.support.videos import small_mp4
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
CREATORS = [f"emu-open-id-{n:04d}" for n in range(1, 7)]   # six: one more than the cap


@pytest.fixture
def emulator():
    profile = load_profile(None)
    others = [Creator(open_id=o, nickname=f"Creator {i}", username=f"creator.{i}")
              for i, o in enumerate(CREATORS[1:], start=2)]
    profile = replace(profile, limits=replace(profile.limits, **FAST), other_accounts=others)
    emu = EmulatorServer(profile).start()
    yield emu
    emu.stop()


def login_as(svc: ServiceProcess, open_id: str) -> httpx.Response:
    """/login -> the consent page, choosing the creator as TikTok's account switcher does -> the callback."""
    r = svc.http.get("/login")
    assert r.status_code in (302, 303), r.text
    consent = httpx.get(r.headers["location"], timeout=10)
    form = parse_form(consent.text)
    data: dict[str, list[str]] = {}
    for k, v in form["fields"]:
        data.setdefault(k, []).append(v)
    data["open_id"], data["decision"] = [open_id], ["authorize"]
    back = httpx.post(httpx.URL(str(consent.url)).join(form["action"]), data=data, timeout=10)
    assert back.status_code in (302, 303), back.text
    return svc.http.get(httpx.URL(back.headers["location"]).raw_path.decode())


def test_the_sixth_creators_login_says_why_and_what_to_do(make_service, emulator):
    emulator.patch_account(audited=False)
    emulator.patch_profile(unaudited_login_cap=True)
    svc = make_service().start()
    for open_id in CREATORS[:5]:
        assert login_as(svc, open_id).status_code in (200, 303), open_id
    refused = login_as(svc, CREATORS[5])
    assert refused.status_code == 400
    page = refused.text.replace("\n", " ")
    for words in ("unaudited", "at most 5 TikTok users in 24 hours", "Wait until 24 hours have passed",
                  "get the app audited", "log out an account you do not need"):
        assert words in page, words
    wait_until(lambda: "TikTok refused a login" in svc.log_text(), 10, "the refusal in the log")
    assert "get the app audited" in svc.log_text()
    assert emulator.logged_in().get(CREATORS[5]) is None       # no token for the sixth


def test_the_active_user_cap_at_init_keeps_the_video_and_says_what_to_do(make_service, emulator):
    svc = make_service().start()
    svc.login()
    emulator.patch_profile(active_user_cap_reached=True)
    small_mp4(svc.inbox, "clip.mp4")
    (svc.inbox / "clip.yaml").write_text('title: "clip"\nprivacy: private\n')
    task = wait_until(lambda: (t := svc.task("clip.mp4")) and t["state"] == "scheduled" and t["error"] and t,
                      30, "the task to be held by the cap")
    for words in ("app's", "at most 5 TikTok users in 24 hours", "get the app audited",
                  "log out an account you do not need"):
        assert words in task["error"], words
    assert (svc.inbox / "clip.mp4").exists()
    wait_until(lambda: "get the app audited" in svc.log_text(), 10, "the sentence in the log")
