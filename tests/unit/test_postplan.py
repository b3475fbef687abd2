"""postplan: what TikTok will refuse or ignore, decided before any byte is sent (tables), and
`check` saying the same as the service."""
from __future__ import annotations

from pathlib import Path

import pytest

from ralph_watch import postplan
from ralph_watch.sidecar import Sidecar
from tests.integration.test_cli import vid

PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]


@pytest.mark.parametrize("options, public", [
    (PUBLIC_OPTIONS, True), (PRIVATE_OPTIONS, False), (["SELF_ONLY"], None), ([], None), (None, None),
])
def test_it_tells_a_public_account_from_creator_infos_options(options, public):
    assert postplan.account_is_public(options) is public


@pytest.mark.parametrize("mode, privacy, audited, public_account, refused", [
    # audited or unknown: nothing is refused up front (TikTok decides)
    ("direct", "PUBLIC_TO_EVERYONE", None, True, None),
    ("direct", "PUBLIC_TO_EVERYONE", True, True, None),
    ("direct", "FOLLOWER_OF_CREATOR", None, False, None),
    # unaudited, private account: only SELF_ONLY
    ("direct", "SELF_ONLY", False, False, None),
    ("direct", "FOLLOWER_OF_CREATOR", False, False, "private_only"),
    ("direct", "MUTUAL_FOLLOW_FRIENDS", False, None, "private_only"),
    ("direct", "PUBLIC_TO_EVERYONE", False, None, "private_only"),
    # unaudited, public account: every direct pair, even SELF_ONLY
    ("direct", "SELF_ONLY", False, True, "public_account"),
    ("direct", "PUBLIC_TO_EVERYONE", False, True, "public_account"),
    # drafts are never refused for the audit
    ("draft", None, False, True, None),
    ("draft", "PUBLIC_TO_EVERYONE", False, False, None),
])
def test_it_refuses_what_tiktok_refuses_from_an_unaudited_app(mode, privacy, audited, public_account, refused):
    sentence = postplan.audit_refusal(mode=mode, privacy=privacy, audited=audited, public_account=public_account)
    if refused is None:
        assert sentence is None
        return
    assert sentence is not None and "unaudited" in sentence and "mode: draft" in sentence
    if refused == "private_only":
        assert "privacy: private" in sentence
    else:
        assert "Make the TikTok account private" in sentence


@pytest.mark.parametrize("promotion, content, organic", [
    ("none", False, False), ("own_brand", False, True), ("branded", True, False), ("both", True, True)])
def test_post_info_always_carries_both_brand_toggles_as_booleans(promotion, content, organic):
    info = postplan.post_info(Sidecar(privacy="PUBLIC_TO_EVERYONE", promotion=promotion, cover_ms=0),
                              disable={"allow_comments": False, "allow_duet": True, "allow_stitch": True})
    assert (info["brand_content_toggle"], info["brand_organic_toggle"]) == (content, organic)
    assert info == {"privacy_level": "PUBLIC_TO_EVERYONE", "disable_comment": False, "disable_duet": True,
                    "disable_stitch": True, "video_cover_timestamp_ms": 0, "brand_content_toggle": content,
                    "brand_organic_toggle": organic, "is_aigc": False}   # no title: none was given


@pytest.mark.parametrize("given, ignored", [
    ({"title", "mode"}, None),
    ({"title", "mode", "privacy"}, "privacy"),
    ({"mode", "privacy", "allow_comments", "cover_ms"}, "privacy, allow_comments, cover_ms"),
])
def test_it_names_the_keys_tiktok_ignores_for_an_inbox_draft(given, ignored):
    notes = postplan.draft_notes(given)
    if ignored is None:
        assert notes == []
    else:
        assert notes and f"TikTok ignores {ignored} for an inbox draft" in notes[0]


@pytest.mark.parametrize("mode, privacy, cover_ms, given, noted", [
    ("direct", "SELF_ONLY", 1500, {"cover_ms"}, True),
    ("direct", "MUTUAL_FOLLOW_FRIENDS", 1500, {"cover_ms"}, True),
    ("direct", "PUBLIC_TO_EVERYONE", 1500, {"cover_ms"}, False),
    ("direct", "SELF_ONLY", 1500, set(), False),        # from defaults: not this pair's choice
    ("direct", "SELF_ONLY", 0, {"cover_ms"}, False),    # the first frame anyway
    ("draft", None, 1500, {"cover_ms"}, False),         # the draft note covers it
])
def test_it_notes_that_the_cover_is_reported_to_count_only_for_public_posts(mode, privacy, cover_ms, given, noted):
    note = postplan.cover_note(mode=mode, privacy=privacy, cover_ms=cover_ms, given=given)
    assert (note is not None) is noted
    if noted:
        assert "only for public posts" in note


# ---- `check` says the same ---------------------------------------------------------------------
def pair(folder: Path, name: str, sidecar: str) -> None:
    vid(folder, f"{name}.mp4")
    (folder / f"{name}.yaml").write_text(sidecar)


