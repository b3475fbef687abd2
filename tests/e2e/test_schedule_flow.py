"""Scheduling as the running service applies it: cron queues shared by equal lines, slots in
file-name order, `at` in the configured zone, missed and invalid times. Nothing publishes
here (no login), so the tests read `due` and the states from /api/tasks; only Publish now
logs in and publishes."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.videos import small_mp4
from tests.support.wait import wait_file, wait_until

pytestmark = pytest.mark.e2e
BERLIN = ZoneInfo("Europe/Berlin")  # the harness's config timezone


def pair(svc, name: str, sidecar: str) -> None:
    small_mp4(svc.inbox, f"{name}.mp4")
    (svc.inbox / f"{name}.yaml").write_text(sidecar)


def test_pairs_whose_cron_lines_mean_the_same_share_one_queue_in_file_name_order(service):
    pair(service, "c", 'privacy: private\ncron: "0 18 * * 5"\n')
    pair(service, "a", 'privacy: private\ncron: "0 18 * * FRI"\n')
    pair(service, "b", 'privacy: private\ncron: "0 18 * * fri"\n')
    wait_until(lambda: sum(t["state"] == "scheduled" for t in service.tasks()) == 3, 30, "3 scheduled")
    dues = {t["video"]: datetime.fromisoformat(t["due"]).astimezone(BERLIN) for t in service.tasks()}
    slots = sorted(dues.values())
    assert all(d.weekday() == 4 and (d.hour, d.minute) == (18, 0) for d in slots)
    assert [slots[i + 1] - slots[i] for i in range(2)] == [timedelta(days=7)] * 2  # one pair per slot
    # The three arrived c, a, b; each took the earliest free slot when it arrived, and none shares one.
    assert len(set(dues.values())) == 3


def test_at_times_are_wall_time_in_the_configured_zone(service):
    pair(service, "x", 'privacy: private\nat: "2030-12-24 18:00"\n')
    t = service.wait_state("x.mp4", "scheduled")
    assert datetime.fromisoformat(t["due"]) == datetime(2030, 12, 24, 18, 0, tzinfo=BERLIN)


def test_an_at_time_long_past_is_missed_and_says_how_to_reschedule(service):
    pair(service, "old", 'privacy: private\nat: "2020-01-01 10:00"\n')
    t = service.wait_state("old.mp4", "missed")
    assert "Edit `at:`" in t["error"] and "Edit `at:`" in wait_file(service.inbox / "old.error.txt")
    assert (service.inbox / "old.mp4").exists()


def test_a_time_that_does_not_exist_is_invalid_with_the_nearest_valid_times(service):
    pair(service, "gap", 'privacy: private\nat: "2027-03-28 02:30"\n')  # Berlin springs 02:00 -> 03:00
    t = service.wait_state("gap.mp4", "invalid")
    assert "gap.yaml:2" in t["error"] and "03:00" in t["error"]


YEARLY = 'privacy: private\ncron: "0 4 1 1 *"\n'  # slots a year apart: none comes during the test


def test_publish_now_on_a_cron_pair_publishes_it_and_frees_its_slot_for_the_next_pair(service, emulator):
    # Issue 12, item 4: the page said "will be published now", yet the pair stayed scheduled.
    service.login()
    pair(service, "a", YEARLY)
    first = service.wait_state("a.mp4", "scheduled")
    pair(service, "b", YEARLY)
    second = service.wait_state("b.mp4", "scheduled")
    assert datetime.fromisoformat(first["due"]) < datetime.fromisoformat(second["due"])

    r = service.post(f"/tasks/{first['id']}/publish-now")
    assert r.status_code in (200, 303), r.text
    done = service.wait_state("a.mp4", "published")
    assert done["publish_id"] and len(emulator.posts()) == 1
    assert not (service.inbox / "a.mp4").exists()
    # b keeps its own slot; the slot a gave up is free for the next pair of the queue.
    assert service.task("b.mp4")["due"] == second["due"] and service.task("b.mp4")["state"] == "scheduled"
    pair(service, "c", YEARLY)
    third = service.wait_state("c.mp4", "scheduled")
    assert third["due"] == first["due"]
