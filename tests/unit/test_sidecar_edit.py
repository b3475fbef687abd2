"""The page's sidecar edit: the text rewrite (table), and GET/POST /tasks/<id>/edit through WebTest
on real files: saved atomically, a bad edit shows its problem and changes nothing, 409 where the
contract says edits wait, a new sidecar for a lone video, CSRF required."""
from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import webtest

from ralph_watch.sidecar import parse_sidecar
from ralph_watch.sidecar_edit import EditRefused, form_values, new_text, rewrite
from ralph_watch.tasks import State
from ralph_watch.web import make_app
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config

TZ = ZoneInfo("Europe/Berlin")
HAND = """# my clip, written by hand
title: "Sunset"   # the caption
privacy: public
at: "2026-12-24 18:00"
allow_comments: true
"""
SAME = {"title": "Sunset", "privacy": "public", "at": "2026-12-24 18:00", "allow_comments": "on"}


def test_an_unchanged_form_leaves_the_text_byte_for_byte():
    assert rewrite(HAND, SAME, defaults={}) == HAND


@pytest.mark.parametrize("change, lines_in, lines_out", [
    ({"title": "Dawn"}, ['title: "Dawn"', "# the caption", "# my clip, written by hand"], ['"Sunset"']),
    ({"privacy": "private"}, ["privacy: private"], ["privacy: public"]),
    ({"at": "", "cron": "0 18 * * FRI"}, ['cron: "0 18 * * FRI"'], ["at:"]),
    ({"allow_comments": ""}, ["allow_comments: false"], ["allow_comments: true"]),
    ({"ai_generated": "on"}, ["ai_generated: true"], []),
    ({"mode": "draft"}, ["mode: draft"], []),
    ({"title": 'Quote " and # hash: colon\nnew line'}, [r'title: "Quote \" and # hash: colon\nnew line"'], []),
])
def test_rewrite_changes_only_what_the_form_changed(change, lines_in, lines_out):
    out = rewrite(HAND, {**SAME, **change}, defaults={})
    for line in lines_in:
        assert line in out, out
    for line in lines_out:
        assert line not in out, out
    keys = [ln.split(":")[0] for ln in out.splitlines() if ln and not ln.startswith("#")]
    assert keys[:2] == ["title", "privacy"], "key order is kept"
    sc = parse_sidecar(out.encode(), path="a.yaml", tz=TZ, defaults={})
    if "title" in change:
        assert sc.title == change["title"]


def test_switches_at_their_default_are_not_added():
    out = rewrite("title: x\nprivacy: public\n", {"title": "x", "privacy": "public", "allow_duet": "on"},
                  defaults={"allow_duet": True})
    assert out == "title: x\nprivacy: public\n"


def test_a_missing_sidecar_is_written_as_ralph_watch_new_would():
    out = rewrite(None, {"title": "Hi", "privacy": "private", "at": "2026-12-24 18:00"}, defaults={})
    assert out.startswith("# ralph-watch sidecar") and 'privacy: "private"' in out
    assert parse_sidecar(out.encode(), path="a.yaml", tz=TZ, defaults={}).privacy == "SELF_ONLY"


@pytest.mark.parametrize("form, words", [
    ({**SAME, "privacy": "publik"}, "privacy"),
    ({**SAME, "cron": "0 18 * * *"}, "at and cron are both given"),
    ({**SAME, "at": "24.12.2026"}, "at"),
    ({**SAME, "mode": "later"}, "mode: use one of direct, draft"),
    ({**SAME, "title": "x" * 2201}, "title"),
])
def test_a_bad_edit_is_refused_with_its_problem(form, words):
    with pytest.raises(EditRefused) as err:
        new_text(HAND, form, path="a.yaml", tz=TZ, defaults={})
    assert words in " ".join(err.value.problems)


def test_text_the_page_cannot_read_is_refused_not_replaced():
    with pytest.raises(EditRefused, match="text editor"):
        rewrite("title: [unclosed\n", SAME, defaults={})
    with pytest.raises(EditRefused, match="key: value"):
        rewrite("- a\n- b\n", SAME, defaults={})


def test_form_values_show_the_files_own_values_and_effective_switches():
    values, problems = form_values(HAND.encode(), path="a.yaml", defaults={"allow_duet": True})
    assert problems == []
    assert values["title"] == "Sunset" and values["privacy"] == "public" and values["at"] == "2026-12-24 18:00"
    assert values["allow_comments"] is True and values["allow_duet"] is True and values["allow_stitch"] is False
    values, problems = form_values(b"title: [x\n", path="a.yaml", defaults={})
    assert problems and values["title"] == ""


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
