"""The page's sidecar edit: the text rewrite (table), and GET/POST /tasks/<id>/edit through WebTest
on real files: saved atomically, a bad edit shows its problem and changes nothing, 409 where the
contract says edits wait, a new sidecar for a lone video, CSRF required."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import webtest

from ralph_watch.tasks import State
from ralph_watch.web import make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config
from tests.unit.test_sidecar_edit import HAND, SAME  # the unit half's helpers, shared


class World:
    def __init__(self, inbox: Path) -> None:
        self.clock = FakeClock(START)
        self.config = web_config()
        self.config.defaults = {}
        self.inbox = inbox
        self.backend = FakeBackend(clock=self.clock, config=self.config, inbox=inbox)
        self.board = self.backend.board
        self.app = webtest.TestApp(make_app(self.backend, self.config, clock=self.clock),
                                   extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})

    def task(self, key: str, state: State = State.SCHEDULED, **values: object):
        values.setdefault("video", f"{key}.mp4")
        values.setdefault("sidecar", f"{key}.yaml")
        return self.board.create(key, state=state, **values)

    def form(self, task_id: str):
        page = self.app.get(f"/tasks/{task_id}/edit")
        return page.forms[0]


@pytest.fixture
def world(tmp_path) -> World:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "clip.mp4").write_bytes(b"video")
    (inbox / "clip.yaml").write_text(HAND)
    return World(inbox)


class TestEditRoutes:
    def test_the_form_shows_the_sidecar_and_works_without_javascript(self, world):
        t = world.task("clip")
        form = world.form(t.id)
        assert form["title"].value == "Sunset" and form["privacy"].value == "public"
        assert form["at"].value == "2026-12-24 18:00" and form["allow_comments"].checked
        assert form.method.lower() == "post" and form.action == f"/tasks/{t.id}/edit"

    def test_a_saved_edit_rewrites_the_sidecar_and_keeps_its_comments(self, world):
        t = world.task("clip")
        form = world.form(t.id)
        form["title"] = "Dawn over the bay #dawn"
        r = form.submit(status=303)
        assert r.headers["Location"] == "/"
        text = (world.inbox / "clip.yaml").read_text()
        assert 'title: "Dawn over the bay #dawn"' in text and "# my clip, written by hand" in text
        assert "# the caption" in text
        assert sorted(p.name for p in world.inbox.iterdir()) == ["clip.mp4", "clip.yaml"], "no temp file left"
        assert "Saved clip.yaml" in world.app.get("/").text

    def test_a_bad_edit_shows_its_problem_and_changes_nothing(self, world):
        t = world.task("clip")
        before = (world.inbox / "clip.yaml").read_bytes()
        form = world.form(t.id)
        form["title"] = "Kept in the form"
        form["cron"] = "0 18 * * *"
        r = form.submit(status=422)
        assert "at and cron are both given" in r.text and "Kept in the form" in r.text
        assert (world.inbox / "clip.yaml").read_bytes() == before
        assert sorted(p.name for p in world.inbox.iterdir()) == ["clip.mp4", "clip.yaml"]

    @pytest.mark.parametrize("state", [State.UPLOADING, State.PROCESSING, State.IN_INBOX, State.PUBLISHED])
    def test_it_is_refused_with_409_where_edits_wait(self, world, state):
        ok = world.task("clip")
        csrf = re.search(r'name="csrf" value="([^"]+)"', world.app.get(f"/tasks/{ok.id}/edit").text).group(1)
        t = world.task("other", state=state)
        world.app.get(f"/tasks/{t.id}/edit", status=409)
        r = world.app.post(f"/tasks/{t.id}/edit", {"csrf": csrf, "title": "x"}, status=409)
        assert "cannot be edited now" in r.text
        assert not any(c[0] == "edit_sidecar" for c in world.backend.calls)

    def test_it_is_refused_while_the_pair_is_settled_with_tiktok(self, world):
        t = world.task("clip", state=State.NEEDS_LOGIN, settle=True)
        r = world.app.get(f"/tasks/{t.id}/edit", status=409)
        assert "asking TikTok" in r.text

    def test_a_lone_video_gets_a_new_sidecar(self, world):
        (world.inbox / "lone.mp4").write_bytes(b"video")
        t = world.task("lone", state=State.WAITING, sidecar=None)
        form = world.form(t.id)
        assert "a new sidecar" in world.app.get(f"/tasks/{t.id}/edit").text
        form["title"] = "Lone"
        form["privacy"] = "private"
        form.submit(status=303)
        text = (world.inbox / "lone.yaml").read_text()
        assert text.startswith("# ralph-watch sidecar") and 'title: "Lone"' in text

    def test_a_symlinked_sidecar_is_never_written_through(self, world, tmp_path):
        target = tmp_path / "elsewhere.yaml"
        target.write_text(HAND)
        (world.inbox / "linked.mp4").write_bytes(b"video")
        (world.inbox / "linked.yaml").symlink_to(target)
        t = world.task("linked")
        csrf = re.search(r'name="csrf" value="([^"]+)"', world.app.get("/").text)
        token = csrf.group(1) if csrf else re.search(r'name="csrf-token" content="([^"]+)"',
                                                      world.app.get("/").text).group(1)
        r = world.app.post(f"/tasks/{t.id}/edit", {"csrf": token, "title": "pwned", "privacy": "public"}, status=422)
        assert "cannot be opened" in r.text
        assert target.read_text() == HAND and (world.inbox / "linked.yaml").is_symlink()

    def test_it_needs_the_csrf_token(self, world):
        t = world.task("clip")
        world.app.get("/")
        world.app.post(f"/tasks/{t.id}/edit", {"title": "x"}, status=403)
        assert (world.inbox / "clip.yaml").read_text() == HAND

    def test_json_answers(self, world):
        t = world.task("clip")
        token = re.search(r'name="csrf-token" content="([^"]+)"', world.app.get("/").text).group(1)
        r = world.app.post(f"/tasks/{t.id}/edit", {**SAME, "title": "J", "csrf": token},
                           headers={"Accept": "application/json"})
        assert r.json == {"ok": True, "changed": True, "message": r.json["message"]}
        r = world.app.post(f"/tasks/{t.id}/edit", {**SAME, "privacy": "nope", "csrf": token},
                           headers={"Accept": "application/json"}, status=422)
        assert r.json["ok"] is False and any("privacy" in p for p in r.json["problems"])


def test_the_form_for_an_unreadable_sidecar_says_so(world):
    (world.inbox / "clip.yaml").write_text("title: [unclosed\n")
    t = world.task("clip", state=State.INVALID)
    page = world.app.get(f"/tasks/{t.id}/edit")
    assert "cannot be read as it stands" in page.text and "clip.yaml" in page.text
    form = page.forms[0]
    form["title"] = "x"
    r = form.submit(status=422)
    assert "text editor" in r.text and (world.inbox / "clip.yaml").read_text() == "title: [unclosed\n"
