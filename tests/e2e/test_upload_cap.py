"""upload.max_rate through the running service: a capped service still publishes every byte, and a
video the cap makes too slow for TikTok's upload link is named on the page before it starts."""
from __future__ import annotations

import html

import pytest

from tests.support.faults import sha256
from tests.support.videos import padded_mp4, small_mp4

pytestmark = pytest.mark.e2e


def test_a_capped_service_publishes_the_whole_video(make_service, emulator):
    svc = make_service(config={"upload": {"max_rate": "2MB/s"}}).start()
    svc.login()
    video = padded_mp4(svc.root, "capped.mp4", total_bytes=3_000_000)
    digest = sha256(video)
    (svc.inbox / "capped.yaml").write_text("privacy: private\n")
    video.rename(svc.inbox / "capped.mp4")
    svc.wait_state("capped.mp4", "published", timeout=60)
    posts = emulator.posts()
    assert len(posts) == 1 and posts[0]["sha256"] == digest


def test_the_page_says_before_the_upload_when_the_cap_outlasts_the_upload_link(make_service, emulator):
    # 64 KiB/s and a 60 s link: anything over ~3.5 MB cannot finish in time.
    svc = make_service(config={"upload": {"max_rate": "64KiB/s"}}, limits={"upload_url_seconds": 60}).start()
    padded_mp4(svc.inbox, "huge.mp4", total_bytes=20_000_000)
    (svc.inbox / "huge.yaml").write_text("privacy: private\n")
    small_mp4(svc.inbox, "fine.mp4")
    (svc.inbox / "fine.yaml").write_text("privacy: private\n")
    svc.wait_state("huge.mp4", "needs_login")
    svc.wait_state("fine.mp4", "needs_login")
    page = html.unescape(svc.http.get("/").text)
    assert "huge.mp4: at upload.max_rate 66 kB/s this 20 MB video takes about 5 minutes" in page
    assert "raise upload.max_rate to at least" in page and "fine.mp4:" not in page
    assert emulator.stats()["inits"] == 0
