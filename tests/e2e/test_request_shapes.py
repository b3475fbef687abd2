"""The service sends TikTok exactly the documented shape, seen from the emulator's record: the
MIME type by container, a floor chunk count of decimal-MB chunks, and both brand toggles."""
from __future__ import annotations

import pytest

from tests.support.videos import big_mp4, mov, webm

pytestmark = pytest.mark.e2e


def test_the_service_labels_each_container_and_always_sends_both_brand_toggles(make_service, emulator):
    svc = make_service().start()
    svc.login()
    mov(svc.inbox, "a.mov")
    (svc.inbox / "a.yaml").write_text('title: "a"\nprivacy: public\npromotion: own_brand\n')
    webm(svc.inbox, "b.webm")
    (svc.inbox / "b.yaml").write_text('title: "b"\nprivacy: private\n')
    svc.wait_state("a.mov", "published")
    svc.wait_state("b.webm", "published")
    posts = {p["post_info"]["title"]: p for p in emulator.posts()}
    assert posts["a"]["content_types"] == ["video/quicktime"]
    assert posts["b"]["content_types"] == ["video/webm"]
    assert (posts["a"]["post_info"]["brand_content_toggle"], posts["a"]["post_info"]["brand_organic_toggle"]) == \
        (False, True)
    assert (posts["b"]["post_info"]["brand_content_toggle"], posts["b"]["post_info"]["brand_organic_toggle"]) == \
        (False, False)


def test_the_service_uploads_a_big_file_in_a_floor_count_of_10_000_000_byte_chunks(make_service, emulator):
    svc = make_service().start()
    svc.login()
    video = big_mp4(svc.inbox, "big.mp4")
    (svc.inbox / "big.yaml").write_text('title: "big"\nprivacy: private\n')
    size = video.stat().st_size
    svc.wait_state("big.mp4", "published", timeout=120)
    (post,) = emulator.posts()
    assert (post["video_size"], post["chunk_size"], post["total_chunk_count"]) == (size, 10_000_000,
                                                                                     size // 10_000_000)
    assert post["content_types"] == ["video/mp4"] * (size // 10_000_000)
