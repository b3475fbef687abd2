"""The walking skeleton's promise: drop a pair, it publishes, its files are gone.

Real processes, real HTTP on loopback: the service runs as `python -m ralph_watch run`, the
TikTok emulator in this process records exactly what it received.
"""
from __future__ import annotations

import os

import pytest

from tests.support.faults import sha256
from tests.support.wait import wait_file
from tests.support.videos import big_mp4, small_mp4

pytestmark = pytest.mark.e2e




class TestPublish:
    def test_it_publishes_a_big_video_in_chunks_and_deletes_both_files(self, service, emulator):
        assert service.login().status_code == 303
        (service.root / "src").mkdir()
        src = big_mp4(service.root / "src")
        assert src.stat().st_size > 64_000_000
        digest = sha256(src)
        video = service.inbox / "clip.mp4"
        sidecar = service.inbox / "clip.yaml"
        sidecar.write_text('title: "Sunset over the bay #sunset"\nprivacy: private\n', encoding="utf-8")
        os.replace(src, video)  # renamed in: no write events at all
        task = service.wait_state("clip.mp4", "published", timeout=120)
        posts = emulator.posts()
        assert len(posts) == 1
        post = posts[0]
        assert post["sha256"] == digest
        assert post["post_info"]["privacy_level"] == "SELF_ONLY"
        assert post["post_info"]["title"] == "Sunset over the bay #sunset"
        assert post["video_size"] > 64_000_000
        assert task["publish_id"] == post["publish_id"] and task["attempts"] == 1
        assert not video.exists() and not sidecar.exists()
        assert emulator.stats()["inits"] == 1

    def test_a_bad_sidecar_is_invalid_with_a_useful_error_and_files_kept(self, service, emulator):
        service.login()
        video = small_mp4(service.inbox, "bad.mp4")
        sidecar = service.inbox / "bad.yaml"
        sidecar.write_text("title: hi\nprivacy: no\n")
        task = service.wait_state("bad.mp4", "invalid")
        assert "bad.yaml:2" in task["error"] and "privacy" in task["error"]
        assert video.exists() and sidecar.exists()
        error_file = service.inbox / "bad.error.txt"
        assert "privacy" in wait_file(error_file)
        assert emulator.posts() == []
        sidecar.write_text("title: hi\nprivacy: private\n")  # fixing it is just editing it
        service.wait_state("bad.mp4", "published")
        assert not error_file.exists() and not video.exists()

    def test_a_pair_waits_for_login_and_publishes_after_it(self, service, emulator):
        small_mp4(service.inbox, "later.mp4")
        (service.inbox / "later.yaml").write_text("privacy: private\n")
        service.wait_state("later.mp4", "needs_login")
        service.login()
        service.wait_state("later.mp4", "published")
        assert len(emulator.posts()) == 1


class TestTokens:
    def test_no_token_reaches_a_log_a_file_a_page_or_json(self, service, emulator, tmp_path):
        service.login()
        small_mp4(service.inbox, "t.mp4")
        (service.inbox / "t.yaml").write_text("privacy: private\n")
        service.wait_state("t.mp4", "published")
        tokens = emulator.state.issued_tokens()
        assert tokens, "the emulator issued no token?"
        texts = [service.http.get(p).text for p in ("/", "/api/tasks", "/api/account", "/healthz", "/privacy")]
        service.stop()
        texts.append(service.log_text())
        for folder in (service.inbox, service.state_dir, service.root):
            for dirpath, _, files in os.walk(folder):
                for f in files:
                    p = os.path.join(dirpath, f)
                    if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) < 50_000_000:
                        texts.append(open(p, "rb").read().decode("latin-1"))
        blob = "\n".join(texts)
        for tok in tokens:
            assert tok not in blob
        assert emulator.profile.client_secret not in blob.replace("TIKTOK_CLIENT_SECRET", "")


class TestCreatorSettings:
    def test_interactions_the_creator_disabled_are_sent_disabled_and_the_page_says_so(self, service, emulator):
        emulator.patch_account(comment_disabled=True)
        service.login()
        small_mp4(service.inbox, "talk.mp4")
        (service.inbox / "talk.yaml").write_text("privacy: private\nallow_comments: true\nallow_duet: true\n")
        service.wait_state("talk.mp4", "published")
        info = emulator.posts()[0]["post_info"]
        assert info["disable_comment"] is True and info["disable_duet"] is False
        page = service.http.get("/").text
        assert "Comments are turned off in your TikTok settings" in page

    def test_a_privacy_the_account_does_not_offer_fails_with_the_options(self, service, emulator):
        emulator.patch_account(private=True)  # private accounts offer no PUBLIC_TO_EVERYONE
        service.login()
        small_mp4(service.inbox, "pub.mp4")
        (service.inbox / "pub.yaml").write_text("privacy: public\n")
        task = service.wait_state("pub.mp4", "failed")
        assert "PUBLIC_TO_EVERYONE" in task["error"] and "FOLLOWER_OF_CREATOR" in task["error"]
        wait_file(service.inbox / "pub.error.txt")
        assert (service.inbox / "pub.mp4").exists()
        assert emulator.stats()["inits"] == 0
