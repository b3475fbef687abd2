"""postplan: what TikTok will refuse or ignore, decided before any byte is sent (tables), and
`check` saying the same as the service."""
from __future__ import annotations

from tests.integration.test_cli import run
from tests.unit.test_postplan import pair

PUBLIC_OPTIONS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVATE_OPTIONS = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]


def test_check_refuses_non_private_pairs_when_tiktok_audited_is_false(capsys, tmp_path):
    inbox = tmp_path / "inbox"
    pair(inbox, "pub", 'title: "a"\nprivacy: public\n')
    pair(inbox, "own", 'title: "b"\nprivacy: private\n')
    pair(inbox, "draft", 'title: "c"\nmode: draft\n')
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"inbox: {inbox}\ntiktok:\n  audited: false\n")
    code, out, _ = run(capsys, "check", "-c", str(cfg))
    assert code == 1
    assert f"{inbox}/pub.yaml:2: This TikTok app is unaudited" in out and "privacy: private" in out
    assert "own.yaml" not in out and "draft.yaml" not in out
    cfg.write_text(f"inbox: {inbox}\n")               # unknown: TikTok decides, check does not guess
    assert run(capsys, "check", "-c", str(cfg))[0] == 0


def test_check_notes_ignored_draft_keys_and_a_non_public_cover_without_failing(capsys, tmp_path):
    inbox = tmp_path / "inbox"
    pair(inbox, "d", 'title: "c"\nmode: draft\nprivacy: public\nallow_comments: true\n')
    pair(inbox, "c", 'title: "c"\nprivacy: friends\ncover_ms: 500\n')
    code, out, _ = run(capsys, "check", str(inbox))
    assert code == 0
    assert "d.yaml: warning: TikTok ignores privacy, allow_comments for an inbox draft" in out
    assert "c.yaml: warning: TikTok is reported to use cover_ms only for public posts" in out
