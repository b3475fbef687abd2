"""tiktok/protocol.py: TikTok's wire format, built and read as pure functions (tables)."""
from __future__ import annotations

import pytest

from ralph_watch import postplan
from ralph_watch.tiktok import protocol as p


@pytest.mark.parametrize("size, chunk_size, count", [
    (1, 1, 1),
    (64_000_000, 64_000_000, 1),
    (64_000_001, 10_000_000, 6),
])
def test_source_info_follows_the_chunk_plan(size, chunk_size, count):
    assert p.source_info(size, p.plan_chunks(size)) == {"source": "FILE_UPLOAD", "video_size": size,
                                                        "chunk_size": chunk_size, "total_chunk_count": count}


BASE = dict(title="", privacy="SELF_ONLY", disable_comment=False, disable_duet=False, disable_stitch=False,
            cover_ms=0, promotion="none", ai_generated=False)


@pytest.mark.parametrize("change, key, value", [
    ({"promotion": "branded"}, "brand_content_toggle", True),
    ({"promotion": "branded"}, "brand_organic_toggle", False),
    ({"promotion": "own_brand"}, "brand_organic_toggle", True),
    ({"promotion": "both"}, "brand_content_toggle", True),
    ({"promotion": "none"}, "brand_content_toggle", False),
    ({"cover_ms": 1500}, "video_cover_timestamp_ms", 1500),
    ({"ai_generated": True}, "is_aigc", True),
    ({"disable_duet": True}, "disable_duet", True),
    ({"title": "Hello"}, "title", "Hello"),
])
def test_post_info_fields(change, key, value):
    info = p.post_info(**{**BASE, **change})
    assert info[key] == value and type(info[key]) is type(value)


def test_post_info_leaves_an_empty_title_out():
    assert "title" not in p.post_info(**BASE)


class _Sc:
    title = "T"
    privacy = "PUBLIC_TO_EVERYONE"
    allow_comments = True
    allow_duet = True
    allow_stitch = False
    cover_ms = 10
    ai_generated = False
    promotion = "both"
    mode = "direct"


def test_postplan_delegates_to_the_protocol():
    disable = {"allow_comments": False, "allow_duet": True, "allow_stitch": True}
    assert postplan.post_info(_Sc(), disable=disable) == p.post_info(
        title="T", privacy="PUBLIC_TO_EVERYONE", disable_comment=False, disable_duet=True, disable_stitch=True,
        cover_ms=10, promotion="both", ai_generated=False)


@pytest.mark.parametrize("title, body_keys", [
    (None, {"source_info"}),
    ("", {"source_info"}),
    ("Caption", {"source_info", "post_info"}),
])
def test_a_draft_init_carries_only_the_title(title, body_keys):
    body = p.draft_init_body(100, p.plan_chunks(100), title)
    assert set(body) == body_keys
    if title:
        assert body["post_info"] == {"title": title}


def test_a_direct_init_carries_both():
    body = p.direct_init_body({"privacy_level": "SELF_ONLY"}, 100, p.plan_chunks(100))
    assert body == {"post_info": {"privacy_level": "SELF_ONLY"}, "source_info": p.source_info(100, p.plan_chunks(100))}


@pytest.mark.parametrize("value, received", [
    ("bytes 0-99/200", 100),
    ("bytes */200", 0),
    ("bytes 10-99/200", None),
    ("items 0-9/10", None),
    ("bytes x-y/10", None),
    ("", None),
    (None, None),
])
def test_content_range(value, received):
    assert p.received_from_range(value) == received


@pytest.mark.parametrize("data, status, post_ids, uploaded, fail", [
    ({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7, "8"]}, "PUBLISH_COMPLETE", ["7", "8"],
     None, None),
    ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 10.0}, "PROCESSING_UPLOAD", [], 10, None),
    ({"status": "FAILED", "fail_reason": "internal"}, "FAILED", [], None, "internal"),
    ({"status": "FAILED", "fail_reason": ""}, "FAILED", [], None, None),
    ({}, "", [], None, None),
])
def test_status_answers(data, status, post_ids, uploaded, fail):
    st = p.publish_status_from(data, "L")
    assert (st.status, st.post_ids, st.uploaded_bytes, st.fail_reason, st.log_id) == (status, post_ids, uploaded,
                                                                                     fail, "L")


@pytest.mark.parametrize("data, field, value", [
    ({"creator_username": "ralph"}, "username", "ralph"),
    ({}, "username", ""),
    ({"privacy_level_options": ["SELF_ONLY"]}, "privacy_level_options", ("SELF_ONLY",)),
    ({"max_video_post_duration_sec": 600}, "max_video_post_duration_sec", 600),
    ({"stitch_disabled": 1}, "stitch_disabled", True),
])
def test_creator_info_answers(data, field, value):
    assert getattr(p.creator_info_from(data, None), field) == value


@pytest.mark.parametrize("url, shown", [
    ("https://up.test/upload/?upload_id=7&upload_token=secret", "https://up.test/upload/?upload_id=7&upload_token=***"),
    ("https://up.test/upload/", "https://up.test/upload/"),
])
def test_the_upload_url_in_a_log_line(url, shown):
    assert p.redact_upload_url(url) == shown


def test_the_account_has_a_typed_handle():
    assert p.Account(open_id="o", scopes=frozenset()).username == ""
