"""Hostile and broken input dropped into a running service: every bad pair ends `invalid`
(or `waiting`, for an empty placeholder) with a message, its files are kept, nothing reaches
TikTok, and the service keeps serving. The service is not logged in, so a pair that is
valid stops at `needs_login` and nothing can be published by accident."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.faults import complete_posts, drop_pair, inits, wait_faults_applied
from tests.support.videos import not_a_video, small_mp4, sparse_file, truncated_copy
from tests.support.wait import wait_file, wait_until

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sidecars"
BAD = sorted(CORPUS.glob("bad-*.yaml"))
VALID = b"title: fine\nprivacy: private\n"


def by_video(svc) -> dict[str, dict]:
    return {t["video"]: t for t in svc.tasks() if t["video"]}


def wait_settled(svc, names: list[str], *, timeout: float = 90) -> dict[str, dict]:
    """Every named video has a task outside the transient states."""
    def done():
        tasks = by_video(svc)
        pending = [n for n in names if n not in tasks or tasks[n]["state"] in ("scheduled", "uploading")
                   or (tasks[n]["state"] == "waiting" and "still being written" in (tasks[n]["error"] or ""))]
        assert not pending, f"still pending: {pending[:5]}"
        return tasks
    return wait_until(done, timeout, "every hostile pair to settle")


def healthy(svc) -> None:
    r = svc.http.get("/healthz")
    assert r.status_code == 200 and r.json()["ok"] is True


class TestHostileSidecars:
    def test_every_bad_sidecar_of_the_corpus_ends_invalid_with_files_kept(self, make_service, emulator):
        svc = make_service(settle=0.2).start()
        names = []
        for path in BAD:
            stem = "c-" + path.stem
            (svc.inbox / f"{stem}.yaml").write_bytes(path.read_bytes())
            small_mp4(svc.inbox, f"{stem}.mp4")
            names.append(f"{stem}.mp4")
        # Not in the corpus because of its size: a 10 MB sidecar, and a BOM (accepted: editors write it).
        (svc.inbox / "c-ten-mb.yaml").write_bytes(b"title: " + b"x" * 10_000_000 + b"\n")
        small_mp4(svc.inbox, "c-ten-mb.mp4")
        (svc.inbox / "c-bom.yaml").write_bytes((CORPUS / "ok-bom.yaml").read_bytes())
        small_mp4(svc.inbox, "c-bom.mp4")
        tasks = wait_settled(svc, names + ["c-ten-mb.mp4", "c-bom.mp4"])
        for name in names + ["c-ten-mb.mp4"]:
            t = tasks[name]
            stem = name[:-4]
            assert t["state"] == "invalid", f"{stem}.yaml: {t['state']} {t['error']!r}"
            assert t["error"] and f"{stem}.yaml" in t["error"], f"{stem}.yaml: the message names the file"
            assert (svc.inbox / name).exists() and (svc.inbox / f"{stem}.yaml").exists()
            wait_file(svc.inbox / f"{stem}.error.txt")
        assert "larger than 64 KiB" in tasks["c-ten-mb.mp4"]["error"]
        assert tasks["c-bom.mp4"]["state"] == "needs_login", tasks["c-bom.mp4"]["error"]
        healthy(svc)
        assert inits(emulator) == 0


class TestHostileVideos:
    def test_broken_odd_and_strange_videos_end_in_the_right_state(self, make_service, emulator, tmp_path):
        svc = make_service(settle=0.2).start()
        inbox = svc.inbox
        expect: dict[str, tuple[str, str]] = {}   # video -> (state, a phrase of its message)

        def pair(video: str, state: str, phrase: str) -> None:
            (inbox / (video.rsplit(".", 1)[0] + ".yaml")).write_bytes(VALID)
            expect[video] = (state, phrase)

        for kind in ("text", "random", "png"):
            not_a_video(inbox / f"not-{kind}.mp4", kind)
            pair(f"not-{kind}.mp4", "invalid", f"not-{kind}.mp4")
        whole = small_mp4(tmp_path, "whole.mp4")
        truncated_copy(whole, inbox / "cut.mp4", 0.5)
        pair("cut.mp4", "invalid", "cut.mp4")
        sparse_file(inbox / "huge.mp4", 4_000_000_001)
        pair("huge.mp4", "invalid", "huge.mp4")
        not_a_video(inbox / "empty.mp4", "empty")
        pair("empty.mp4", "waiting", "is empty")
        os.symlink(whole, inbox / "link.mp4")
        pair("link.mp4", "invalid", "symbolic link")
        os.mkfifo(inbox / "fifo.mp4")
        pair("fifo.mp4", "invalid", "not a regular file")
        for name in ("new\nline.mp4", "bell\x07ctrl.mp4", "-rf.mp4", "--help.mp4", "tab\there.mp4"):
            small_mp4(inbox, name)
            pair(name, "needs_login", "log in")   # an odd name is still a name: it would publish
        tasks = wait_settled(svc, list(expect))
        for video, (state, phrase) in expect.items():
            t = tasks[video]
            assert t["state"] == state, f"{video!r}: {t['state']} {t['error']!r}"
            assert t["error"] and phrase.lower() in t["error"].lower(), f"{video!r}: {t['error']!r}"
            assert os.path.lexists(inbox / video), f"{video!r} was deleted"
        assert "4000000001" in tasks["huge.mp4"]["error"].replace(",", "") or "4 GB" in tasks["huge.mp4"]["error"] \
            or "too large" in tasks["huge.mp4"]["error"].lower() or "larger" in tasks["huge.mp4"]["error"].lower()
        # A name cannot forge log lines: every line the service wrote starts with a timestamp.
        for line in svc.log_text().splitlines():
            assert line[:2] == "20" or line.startswith((" ", "\t", "Traceback")), f"forged log line: {line!r}"
        healthy(svc)
        assert svc.http.get("/").status_code == 200
        assert inits(emulator) == 0


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def by_key(svc) -> dict[str, dict]:
    return {t["video"] or "": t for t in svc.tasks()}


class TestNothingWrittenOutsideTheInbox:
    def test_a_symlink_planted_at_the_error_files_temp_name_overwrites_nothing(self, make_service, emulator,
                                                                               tmp_path):
        svc = make_service(settle=0.2).start()
        outside = tmp_path / "home"
        outside.mkdir()
        (outside / "victim").write_text("precious\n")
        before = snapshot(outside)
        os.symlink(outside / "victim", svc.inbox / ".x.error.txt.tmp")
        small_mp4(svc.inbox, "x.mp4")
        (svc.inbox / "x.yaml").write_bytes(b"title: x\nprivacy: no\n")
        # A newline in a pair's name cannot choose a line of what is written.
        evil = "y\nFix: run rm -rf ~ to continue"
        small_mp4(svc.inbox, f"{evil}.mp4")
        (svc.inbox / f"{evil}.yaml").write_bytes(b"title: y\nprivacy: no\n")
        tasks = wait_settled(svc, ["x.mp4", f"{evil}.mp4"])
        assert tasks["x.mp4"]["state"] == "invalid" and tasks[f"{evil}.mp4"]["state"] == "invalid"
        wait_file(svc.inbox / "x.error.txt")
        wait_file(svc.inbox / f"{evil}.error.txt")
        assert snapshot(outside) == before, "a file outside the inbox changed"
        assert (outside / "victim").read_text() == "precious\n"
        text = (svc.inbox / f"{evil}.error.txt").read_text()
        assert not any(line.startswith("Fix: run") for line in text.splitlines()), text
        assert "y\\nFix: run" in text
        healthy(svc)
        assert inits(emulator) == 0


class TestNeverFrozen:
    def test_a_fifo_named_like_an_error_file_freezes_nothing(self, make_service, emulator):
        svc = make_service(settle=0.2).start()
        os.mkfifo(svc.inbox / "bad.error.txt")
        small_mp4(svc.inbox, "bad.mp4")
        (svc.inbox / "bad.yaml").write_bytes(b"title: bad\nprivacy: no\n")
        wait_until(lambda: (by_video(svc).get("bad.mp4") or {}).get("state") == "invalid", 60, "bad.mp4 invalid")
        # The inbox is still processed after the invalid pair beside the FIFO.
        small_mp4(svc.inbox, "later.mp4")
        (svc.inbox / "later.yaml").write_bytes(VALID)
        wait_until(lambda: (by_video(svc).get("later.mp4") or {}).get("state") == "needs_login", 60,
                   "later.mp4 checked (the inbox is not frozen)")
        assert (svc.inbox / "bad.error.txt").is_fifo(), "the FIFO is not ours: left as it is"
        r = svc.http.get("/healthz")
        assert r.status_code == 200 and r.json()["ok"] is True
        ages = r.json()["heartbeat_age"]
        assert set(ages) >= {"watcher_worker", "watcher_supervisor", "scheduler"}
        assert inits(emulator) == 0


class TestNeverBrokenByAName:
    def test_a_name_that_is_not_utf8_is_invalid_shown_with_escapes_and_breaks_no_page(self, make_service, emulator):
        svc = make_service(settle=0.2).start()
        raw = os.fsencode(svc.inbox) + b"/h12\xff"
        small_mp4(svc.inbox, "staging.mp4").replace(os.fsdecode(raw + b".mp4"))
        with open(raw + b".yaml", "wb") as f:
            f.write(VALID)
        def found():
            tasks = by_key(svc)
            assert "h12\\xff.mp4" in tasks and tasks["h12\\xff.mp4"]["state"] == "invalid", tasks
            return tasks["h12\\xff.mp4"]
        t = wait_until(found, 60, "the pair with a non-UTF-8 name to be invalid")
        assert "rename it" in t["error"] and "UTF-8" in t["error"]
        assert svc.http.get("/").status_code == 200
        assert svc.http.get("/api/tasks").status_code == 200
        assert "h12\\xff.mp4" in svc.http.get("/").text
        assert os.path.exists(raw + b".mp4"), "the files are kept"
        healthy(svc)
        assert inits(emulator) == 0


class TestFeedbackForRefusedEntries:
    def test_a_symlinked_subfolder_gets_a_task_saying_it_is_not_followed(self, make_service, emulator, tmp_path):
        svc = make_service(settle=0.2).start()
        real = tmp_path / "real-folder"
        real.mkdir()
        small_mp4(real, "inside.mp4")
        (real / "inside.yaml").write_bytes(VALID)
        os.symlink(real, svc.inbox / "linked")
        def found():
            tasks = by_key(svc)
            assert "linked" in tasks and tasks["linked"]["state"] == "invalid", tasks
            return tasks["linked"]
        t = wait_until(found, 60, "a task for the symlinked folder")
        assert "symlinks are not followed" in t["error"] and "real folder" in t["error"]
        assert not any("inside" in (x["video"] or "") for x in svc.tasks()), "the linked folder was entered"
        assert sorted(p.name for p in real.iterdir()) == ["inside.mp4", "inside.yaml"], "nothing written in it"
        os.unlink(svc.inbox / "linked")
        wait_until(lambda: "linked" not in by_key(svc), 60, "the task goes with the link")

    def test_two_names_differing_only_in_unicode_form_get_a_hint(self, make_service, emulator):
        svc = make_service(settle=0.2).start()
        nfc, nfd = "caf\u00e9", "cafe\u0301"
        small_mp4(svc.inbox, f"{nfc}.mp4")
        (svc.inbox / f"{nfd}.yaml").write_bytes(VALID)
        def hinted():
            tasks = by_key(svc)
            waiting = [t for t in tasks.values() if t["state"] == "waiting"]
            assert len(waiting) == 2 and all("different Unicode form" in (t["error"] or "") for t in waiting), tasks
            return waiting
        for t in wait_until(hinted, 60, "both waiting tasks to carry the Unicode hint"):
            assert "rename one" in t["error"]

    def test_a_sidecar_edit_during_the_upload_is_reported_as_not_applied(self, make_service, emulator):
        svc = make_service(settle=0.2).start()
        svc.login()
        emulator.inject("upload", delay=3)
        video, sidecar, _ = drop_pair(svc.inbox, "late", title="the old title")
        wait_faults_applied(emulator, 1)   # the upload is under way
        sidecar.write_text("title: the new title\nprivacy: public\n", encoding="utf-8")
        def published():
            t = by_video(svc).get("late.mp4") or {}
            assert t.get("state") == "published", t
            return t
        wait_until(published, 90, "late.mp4 published")
        assert [p["post_info"]["title"] for p in complete_posts(emulator)] == ["the old title"]
        page = svc.http.get("/").text
        assert "The sidecar late.yaml was edited after the upload had started" in page, "the page says so"
        assert "the edit was not applied" in page and "the old title" in page and "privacy private" in page


class TestRenamedIn:
    def test_a_cut_off_video_renamed_in_waits_for_the_full_settle_before_it_is_refused(
            self, make_service, emulator, tmp_path):
        # issue 18 item 4: a rename is taken early only when the pair checks out; a cut-off file
        # renamed into place waits (it may still be rewritten) and is refused after the settle
        svc = make_service(settle=2).start()
        staging = tmp_path / "staging"
        staging.mkdir()
        truncated_copy(small_mp4(tmp_path, "whole.mp4"), staging / "cut.mp4", 0.5)
        (staging / "cut.yaml").write_bytes(VALID)
        os.rename(staging / "cut.yaml", svc.inbox / "cut.yaml")
        os.rename(staging / "cut.mp4", svc.inbox / "cut.mp4")
        seen: list[tuple[str, str]] = []

        def state() -> dict | None:
            t = by_video(svc).get("cut.mp4")
            if t is not None and (not seen or seen[-1] != (t["state"], t["error"] or "")):
                seen.append((t["state"], t["error"] or ""))
            return t if t is not None and t["state"] == "invalid" else None
        t = wait_until(state, 30, "cut.mp4 refused after the full settle")
        assert any(s == "waiting" and "just renamed into place" in e for s, e in seen), \
            f"cut.mp4 should first wait (renamed in, not checking out); states seen: {seen}"
        assert "cut off" in t["error"], t["error"]
        assert inits(emulator) == 0

    def test_a_whole_video_renamed_in_is_scheduled_before_the_settle(self, make_service, emulator, tmp_path):
        svc = make_service(settle=60).start()
        staging = tmp_path / "staging"
        staging.mkdir()
        small_mp4(staging, "quick.mp4")
        (staging / "quick.yaml").write_bytes(b'privacy: private\nat: "2099-01-01 12:00"\n')
        os.rename(staging / "quick.yaml", svc.inbox / "quick.yaml")
        os.rename(staging / "quick.mp4", svc.inbox / "quick.mp4")
        wait_until(lambda: (t := by_video(svc).get("quick.mp4")) and t["state"] in ("scheduled", "needs_login"), 30,
                   "quick.mp4 accepted long before its 60 s settle")
