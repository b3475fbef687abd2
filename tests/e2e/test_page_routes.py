"""The page's preview, calendar and edit routes against a real running service and real files:
an edit from the form changes the sidecar on disk and the task follows; a bad edit shows its
error and changes nothing; a symlinked video is never served; Range and thumbnails over HTTP."""
from __future__ import annotations

import pytest

from tests.support.videos import small_mp4
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

SIDE = b'# written by hand\ntitle: "Before"  # the caption\nprivacy: private\nat: "2030-01-01 12:00"\n'


def test_edit_preview_and_calendar_on_a_running_service(make_service, tmp_path):
    svc = make_service(settle=0.2).start()
    (svc.inbox / "clip.yaml").write_bytes(SIDE)
    small_mp4(svc.inbox, "clip.mp4")
    task = svc.wait_state("clip.mp4", "scheduled")
    tid = task["id"]
    origin = {"Origin": svc.url}

    # An edit from the form: the folder changes, and the task follows through the watcher.
    form = svc.http.get(f"/tasks/{tid}/edit")
    assert form.status_code == 200 and "Before" in form.text
    r = svc.http.post(f"/tasks/{tid}/edit", headers=origin, data={
        "csrf": svc.csrf(), "title": "After #edited", "privacy": "private", "at": "2030-01-01 12:00"})
    assert r.status_code == 303, r.text
    text = (svc.inbox / "clip.yaml").read_text()
    assert 'title: "After #edited"' in text and "# written by hand" in text and "# the caption" in text
    wait_until(lambda: svc.task("clip.mp4")["title"] == "After #edited", 30, "the task to take the new title")

    # A bad edit: the problem on the form, the file as it was.
    before = (svc.inbox / "clip.yaml").read_bytes()
    r = svc.http.post(f"/tasks/{tid}/edit", headers=origin, data={
        "csrf": svc.csrf(), "title": "x", "privacy": "publik", "at": "2030-01-01 12:00"})
    assert r.status_code == 422 and "privacy" in r.text and "nothing was changed" in r.text
    assert (svc.inbox / "clip.yaml").read_bytes() == before

    # The video with Range, and its thumbnail.
    size = (svc.inbox / "clip.mp4").stat().st_size
    r = svc.http.get(f"/tasks/{tid}/video", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == (svc.inbox / "clip.mp4").read_bytes()[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{size}" and r.headers["cache-control"] == "no-store"
    r = svc.http.get(f"/tasks/{tid}/thumbnail")
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8" and r.headers["cache-control"] == "no-store"

    # A symlinked video is never served.
    secret = tmp_path / "secret.mp4"
    small_mp4(tmp_path, "secret.mp4")
    (svc.inbox / "link.mp4").symlink_to(secret)
    (svc.inbox / "link.yaml").write_bytes(b"title: link\nprivacy: private\n")
    link = svc.wait_state("link.mp4", "invalid")
    for route in ("video", "thumbnail"):
        r = svc.http.get(f"/tasks/{link['id']}/{route}")
        assert r.status_code == 404 and r.content[:4] != secret.read_bytes()[:4]

    r = svc.http.get("/calendar")
    assert r.status_code == 200 and "The next 14 days" in r.text
