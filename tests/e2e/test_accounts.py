"""Several TikTok accounts in one service (issue 15), end to end: the emulator holds two
creators, the service (a subprocess) has two accounts, each with its own inbox, and logs each
in through the real redirects and consent page, choosing the creator there."""
from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
import yaml

from ralph_watch.emulator import EmulatorServer, load_profile
from ralph_watch.emulator.profile import Account as Creator
from tests.e2e.conftest import FAST
from tests.support.faults import FAST_LIMITS, complete_posts, drop_pair, records
from tests.support.service import ServiceProcess, parse_form
from tests.support.wait import wait_until



pytestmark = pytest.mark.e2e
MAIN = "emu-open-id-0001"      # the profile's default creator
BRAND = "emu-open-id-0002"


@pytest.fixture
def emulator():
    profile = load_profile(None)
    brand = Creator(open_id=BRAND, nickname="Brand Emulator", username="brand.emulator")
    profile = replace(profile, limits=replace(profile.limits, **FAST), other_accounts=[brand])
    emu = EmulatorServer(profile).start()
    yield emu
    emu.stop()


def with_accounts(svc: ServiceProcess, names: tuple[str, ...] = ("main", "brand")) -> ServiceProcess:
    """Rewrite the service's config: `accounts:` instead of the top-level inbox, one folder each
    (root/inbox-NAME); `main` keeps the top-level inbox's folder."""
    data = yaml.safe_load(svc.config_path.read_text())
    del data["inbox"]
    folders = {name: svc.inbox if name == "main" else svc.root / f"inbox-{name}" for name in names}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    data["accounts"] = {name: {"inbox": str(folder)} for name, folder in folders.items()}
    svc.config_path.write_text(yaml.safe_dump(data))
    svc.inboxes = folders   # type: ignore[attr-defined]
    return svc


def login(svc: ServiceProcess, account: str, open_id: str) -> httpx.Response:
    """/login?account=NAME -> the consent page (choosing the creator) -> the callback."""
    r = svc.http.get("/login", params={"account": account})
    assert r.status_code in (302, 303), r.text
    consent = httpx.get(r.headers["location"], timeout=10)
    form = parse_form(consent.text)
    data: dict[str, list[str]] = {}
    for k, v in form["fields"]:
        data.setdefault(k, []).append(v)
    data["open_id"] = [open_id]
    data["decision"] = ["authorize"]
    back = httpx.post(httpx.URL(str(consent.url)).join(form["action"]), data=data, timeout=10)
    assert back.status_code in (302, 303), back.text
    return svc.http.get(httpx.URL(back.headers["location"]).raw_path.decode())


def accounts(svc: ServiceProcess) -> dict[str, dict]:
    r = svc.http.get("/api/accounts")
    r.raise_for_status()
    return {a["name"]: a for a in r.json()}


def tasks_of(svc: ServiceProcess, account: str) -> list[dict]:
    r = svc.http.get("/api/tasks", params={"account": account})
    r.raise_for_status()
    return r.json()


def logout(svc: ServiceProcess, account: str) -> httpx.Response:
    return svc.http.post("/logout", data={"csrf": svc.csrf(), "account": account}, headers={"Origin": svc.url})


def two(make_service) -> ServiceProcess:
    return with_accounts(make_service(limits=FAST_LIMITS, settle=0.2)).start()


def creator_of(emulator, digest: str) -> str:
    return next(p["open_id"] for p in complete_posts(emulator) if p["sha256"] == digest)


class TestTwoAccounts:
    def test_each_inbox_lands_on_its_own_creator_and_tasks_carry_their_account(self, make_service, emulator):
        svc = two(make_service)
        assert {n: a["logged_in"] for n, a in accounts(svc).items()} == {"main": False, "brand": False}
        login(svc, "main", MAIN)
        login(svc, "brand", BRAND)
        got = accounts(svc)
        assert got["main"]["nickname"] == "Ralph Emulator" and got["brand"]["nickname"] == "Brand Emulator"
        assert got["brand"]["inbox"] == str(svc.inboxes["brand"])
        _, _, main_digest = drop_pair(svc.inboxes["main"], "clip")
        _, _, brand_digest = drop_pair(svc.inboxes["brand"], "clip")   # the same name in both inboxes
        wait_until(lambda: len(complete_posts(emulator)) == 2, 60, "both videos to be published")
        assert creator_of(emulator, main_digest) == MAIN
        assert creator_of(emulator, brand_digest) == BRAND
        wait_until(lambda: all(t["state"] == "published" for n in ("main", "brand") for t in tasks_of(svc, n)), 30,
                   "both tasks to be published")
        assert [t["account"] for t in tasks_of(svc, "brand")] == ["brand"]
        assert sorted(t["account"] for t in svc.tasks()) == ["brand", "main"]
        assert svc.http.get("/api/tasks", params={"account": "nobody"}).status_code == 404

    def test_logging_one_out_leaves_the_other_publishing(self, make_service, emulator):
        svc = two(make_service)
        login(svc, "main", MAIN)
        login(svc, "brand", BRAND)
        assert logout(svc, "brand").status_code in (302, 303)
        assert emulator.state.logged_in().get(BRAND, 0) == 0, "brand's token was revoked"
        assert emulator.state.logged_in().get(MAIN, 0) == 1, "main's token was not"
        drop_pair(svc.inboxes["brand"], "later")
        _, _, digest = drop_pair(svc.inboxes["main"], "now")
        wait_until(lambda: [t["state"] for t in tasks_of(svc, "brand")] == ["needs_login"], 30,
                   "brand's pair to wait for its login")
        wait_until(lambda: [t["state"] for t in tasks_of(svc, "main")] == ["published"], 60,
                   "main's pair to be published")
        assert creator_of(emulator, digest) == MAIN
        assert accounts(svc)["brand"]["needs_login"] == 1

    def test_the_same_creator_in_two_slots_is_refused_and_nothing_changes(self, make_service, emulator):
        svc = two(make_service)
        login(svc, "main", MAIN)
        done = login(svc, "brand", MAIN)
        page = svc.http.get("/").text if done.status_code in (302, 303) else done.text
        assert "is already logged in as main" in page
        got = accounts(svc)
        assert got["main"]["logged_in"] and not got["brand"]["logged_in"]
        assert "already logged in as main" in svc.log_text()
        _, _, digest = drop_pair(svc.inboxes["main"], "still")
        wait_until(lambda: len(complete_posts(emulator)) == 1, 60, "main to keep publishing")
        assert creator_of(emulator, digest) == MAIN


class TestRecordsAcrossRestarts:
    def test_sigkill_and_restart_keep_each_accounts_records_apart(self, make_service, emulator):
        svc = two(make_service)
        login(svc, "main", MAIN)
        login(svc, "brand", BRAND)
        emulator.inject("upload", delay=120, drop=True)      # main's upload: held, never answered
        drop_pair(svc.inboxes["main"], "clip", big=True)
        wait_until(lambda: any(r["outcome"] == "uploading" for r in records(svc.state_dir)), 30, "main's record")
        svc.kill()
        folders = sorted(p for p in (svc.state_dir / "records").iterdir() if p.is_dir())
        assert len(folders) == 2, "one folder per account"
        assert sorted(len(list(f.glob("*.json"))) for f in folders) == [0, 1], "the record is main's alone"
        svc2 = with_accounts(make_service(root=svc.root, limits=FAST_LIMITS, settle=0.2)).start()
        drop_pair(svc2.inboxes["brand"], "clip")    # the same key in the other account: no record of its own
        wait_until(lambda: [t["state"] for t in tasks_of(svc2, "brand")] == ["needs_login"], 30, "brand's pair")
        wait_until(lambda: [t["state"] for t in tasks_of(svc2, "main")] == ["needs_login"], 30, "main's pair")
        main = tasks_of(svc2, "main")[0]
        assert "before a restart" in (main["error"] or ""), "main's record was found again"
        brand = tasks_of(svc2, "brand")[0]
        assert "before a restart" not in (brand["error"] or ""), "brand's clip is not main's interrupted one"

    def test_moving_from_one_inbox_to_accounts_keeps_the_record(self, make_service, emulator):
        """`inbox: X` -> `accounts: {main: {inbox: X}, brand: ...}`: a pair with a record is not
        published anew as if new; its record (the flat layout of earlier versions) is main's."""
        single = make_service(limits=FAST_LIMITS, settle=0.2).start()
        single.login()
        emulator.inject("upload", delay=120, drop=True)
        drop_pair(single.inbox, "kept", big=True)
        wait_until(lambda: any(r["outcome"] == "uploading" for r in records(single.state_dir)), 60, "the record")
        single.kill()
        flat = single.state_dir / "records"     # back to the layout of earlier versions
        for folder in [p for p in flat.iterdir() if p.is_dir()]:
            for rec in folder.glob("*.json"):
                rec.replace(flat / rec.name)
            folder.rmdir()
        svc = with_accounts(make_service(root=single.root, limits=FAST_LIMITS, settle=0.2)).start()
        assert len(records(svc.state_dir)) == 1, "the record moved into main's folder"
        task = svc.wait_state("kept.mp4", "needs_login")
        assert task["account"] == "main" and "before a restart" in task["error"]
        login(svc, "main", MAIN)
        svc.wait_state("kept.mp4", "published", timeout=120)
        assert "cut off by a restart; publishing anew" in svc.log_text()
        assert len(complete_posts(emulator)) == 1
