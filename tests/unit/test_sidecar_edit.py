"""The page's sidecar edit: the text rewrite (table), and GET/POST /tasks/<id>/edit through WebTest
on real files: saved atomically, a bad edit shows its problem and changes nothing, 409 where the
contract says edits wait, a new sidecar for a lone video, CSRF required."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from ralph_watch.sidecar import parse_sidecar
from ralph_watch.sidecar_edit import EditRefused, form_values, new_text, rewrite

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


