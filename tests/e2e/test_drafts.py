"""Draft mode end to end: the video goes to the creator's TikTok inbox; the files stay until
the creator posts it in the app (PUBLISH_COMPLETE), and a draft left too long is `failed`
with the files kept. Limits are shrunk so follow-up polls come every second."""
from __future__ import annotations

import pytest

from tests.support.videos import small_mp4
from tests.support.wait import wait_file, wait_until

pytestmark = pytest.mark.e2e

QUICK = {"window_seconds": 1, "retry_seconds": 0.5, "followup_seconds": 1, "delete_retry_seconds": 1}


def drop_draft(svc, name: str):
    video = small_mp4(svc.inbox, f"{name}.mp4")
    sidecar = svc.inbox / f"{name}.yaml"
    sidecar.write_text(f'title: "draft {name}"\nmode: draft\n')  # no privacy: TikTok ignores it for drafts
    return video, sidecar


def test_a_draft_waits_in_the_inbox_until_the_creator_posts_it(make_service, emulator):
    svc = make_service(limits=QUICK).start()
    svc.login()
    video, sidecar = drop_draft(svc, "d1")
    task = svc.wait_state("d1.mp4", "in_inbox")
    assert video.exists() and sidecar.exists()  # not posted yet: nothing is deleted
    post = emulator.posts()[0]
    assert post["mode"] == "draft" and task["mode"] == "draft" and task["privacy"] is None
    emulator.complete_draft(post["publish_id"])  # the creator finishes it in the TikTok app
    svc.wait_state("d1.mp4", "published", timeout=30)
    wait_until(lambda: not video.exists() and not sidecar.exists(), 10, "the files deleted after the post")
    assert emulator.stats()["draft_inits"] == 1


def test_a_draft_not_posted_in_time_fails_and_keeps_its_files(make_service, emulator):
    svc = make_service(limits={**QUICK, "draft_wait_hours": 0.001}).start()  # 3.6 s
    svc.login()
    video, sidecar = drop_draft(svc, "d2")
    task = svc.wait_state("d2.mp4", "failed", timeout=40)
    assert "TikTok app" in task["error"] and "Retry" in task["error"]
    wait_file(svc.inbox / "d2.error.txt")
    assert video.exists() and sidecar.exists()
    assert emulator.stats()["draft_inits"] == 1


def test_the_page_names_the_sidecar_keys_tiktok_ignores_for_a_draft(make_service, emulator):
    svc = make_service(limits=QUICK).start()
    svc.login()
    small_mp4(svc.inbox, "d3.mp4")
    (svc.inbox / "d3.yaml").write_text('title: "draft d3"\nmode: draft\nprivacy: public\nallow_comments: true\n')
    svc.wait_state("d3.mp4", "in_inbox")
    page = svc.http.get("/").text
    assert "TikTok ignores privacy, allow_comments for an inbox draft" in page
    assert emulator.posts()[0]["post_info"] == {"title": "draft d3"}   # only the caption went to TikTok
