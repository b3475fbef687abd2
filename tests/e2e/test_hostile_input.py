"""Hostile and broken input dropped into a running service: every bad pair ends `invalid`
(or `waiting`, for an empty placeholder) with a message, its files are kept, nothing reaches
TikTok, and the service keeps serving. The service is not logged in, so a pair that is
valid stops at `needs_login` and nothing can be published by accident."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.faults import inits
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
