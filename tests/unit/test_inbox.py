"""inbox.py: names, pairs, in-flight markers and stability, as pure functions.

TestIgnored        - temp/system names are never inbox content
TestClassify       - video/sidecar recognition, case rules, odd names
TestInflight       - sync tools' temporary names map to the file they will become
TestStability      - StabilityTracker with time as an argument (no sleeps)
TestBuildSnapshots - grouping entries into PairSnapshots
TestDiff           - what the watcher reports
"""
from __future__ import annotations

import pytest

from ralph_watch.inbox import (
    Entry,
    FileState,
    PairSnapshot,
    StabilityTracker,
    build_snapshots,
    classify,
    diff_snapshots,
    gone,
    inflight_sibling,
    inflight_target,
    is_ignored,
    is_utf8_name,
    shown_name,
)


class TestIgnored:
    @pytest.mark.parametrize("name", [
        pytest.param(".DS_Store", id="macos_finder"),
        pytest.param("._clip.mp4", id="macos_resource_fork"),
        pytest.param("Thumbs.db", id="windows_thumbs"),
        pytest.param("thumbs.DB", id="windows_thumbs_any_case"),
        pytest.param("desktop.ini", id="windows_desktop_ini"),
        pytest.param("@eaDir", id="synology"),
        pytest.param(".stfolder", id="syncthing_marker"),
        pytest.param(".stversions", id="syncthing_versions"),
        pytest.param(".syncthing.clip.mp4.tmp", id="syncthing_temp"),
        pytest.param("~syncthing~clip.mp4.tmp", id="syncthing_windows_temp"),
        pytest.param(".dropbox", id="dropbox"),
        pytest.param(".dropbox.cache", id="dropbox_cache"),
        pytest.param(".sync", id="resilio_folder"),
        pytest.param("clip.mp4.!sync", id="resilio_partial"),
        pytest.param("clip.mp4.part", id="firefox_part"),
        pytest.param("clip.mp4.PART", id="part_upper"),
        pytest.param("clip.mp4.partial", id="partial"),
        pytest.param("clip.mp4.1a2b3c4d.partial", id="rclone_175"),
        pytest.param("clip.mp4.partial~", id="rclone_old"),
        pytest.param("clip.mp4.crdownload", id="chrome"),
        pytest.param("clip.mp4.download", id="safari"),
        pytest.param("clip.yaml.tmp", id="tmp"),
        pytest.param(".clip.mp4.Ab12Cd", id="rsync_temp"),
        pytest.param("~$clip.yaml", id="office_lock"),
        pytest.param("clip.error.txt", id="own_feedback"),
        pytest.param("", id="empty"),
    ])
    def test_it_ignores_temporary_and_system_names(self, name: str) -> None:
        assert is_ignored(name)

    @pytest.mark.parametrize("name", [
        pytest.param("clip.mp4", id="video"),
        pytest.param("clip.yaml", id="sidecar"),
        pytest.param("-rf clip.mp4", id="leading_dash"),
        pytest.param("a b.mov", id="space"),
        pytest.param("clip.txt", id="other_extension"),
        pytest.param("error.txt.mp4", id="error_word_inside"),
        pytest.param("Sonnenuntergang über der Bucht 🌅.webm", id="unicode"),
    ])
    def test_it_keeps_ordinary_names(self, name: str) -> None:
        assert not is_ignored(name)


class TestClassify:
    @pytest.mark.parametrize(("name", "expected"), [
        pytest.param("clip.mp4", ("video", "clip"), id="mp4"),
        pytest.param("clip.MP4", ("video", "clip"), id="mp4_upper"),
        pytest.param("clip.MoV", ("video", "clip"), id="mov_mixed"),
        pytest.param("clip.webm", ("video", "clip"), id="webm"),
        pytest.param("clip.yaml", ("sidecar", "clip"), id="yaml"),
        pytest.param("clip.yml", ("sidecar", "clip"), id="yml"),
        pytest.param("clip.YAML", ("sidecar", "clip"), id="yaml_upper"),
        pytest.param("Clip.Final.v2.mp4", ("video", "Clip.Final.v2"), id="dots_in_stem_kept_exactly"),
        pytest.param("-x.mp4", ("video", "-x"), id="leading_dash"),
        pytest.param("line\nbreak.mp4", ("video", "line\nbreak"), id="newline"),
        pytest.param("日本語 clip.yaml", ("sidecar", "日本語 clip"), id="unicode"),
        pytest.param("clip.mkv", None, id="unsupported_video"),
        pytest.param("clip.json", None, id="unsupported_sidecar"),
        pytest.param("mp4", None, id="no_dot"),
        pytest.param(".mp4", None, id="hidden"),
        pytest.param("clip.mp4.part", None, id="partial"),
        pytest.param("clip.error.txt", None, id="feedback_file"),
    ])
    def test_it_classifies_names(self, name: str, expected: tuple[str, str] | None) -> None:
        assert classify(name) == expected


class TestInflight:
    @pytest.mark.parametrize(("marker", "target"), [
        pytest.param(".syncthing.clip.mp4.tmp", "clip.mp4", id="syncthing"),
        pytest.param("~syncthing~clip.mp4.tmp", "clip.mp4", id="syncthing_windows"),
        pytest.param("clip.mp4.part", "clip.mp4", id="part"),
        pytest.param("clip.mp4.partial~", "clip.mp4", id="rclone_old"),
        pytest.param("clip.mp4.3f9a0c1e.partial", "clip.mp4", id="rclone_175"),
        pytest.param("clip.mp4.partial", "clip.mp4", id="partial"),
        pytest.param(".clip.mp4.Xy12Ab", "clip.mp4", id="rsync"),
        pytest.param("clip.mp4.crdownload", "clip.mp4", id="chrome"),
        pytest.param("clip.mp4.download", "clip.mp4", id="safari"),
        pytest.param("clip.yaml.!sync", "clip.yaml", id="resilio"),
        pytest.param(".my clip.yaml.a1B2c3", "my clip.yaml", id="rsync_space"),
    ])
    def test_it_maps_markers_to_the_final_name(self, marker: str, target: str) -> None:
        assert inflight_target(marker) == target

    @pytest.mark.parametrize("name", ["clip.mp4", ".DS_Store", "clip.tmp", "Thumbs.db", ".stfolder"])
    def test_it_sees_no_marker_in_ordinary_names(self, name: str) -> None:
        assert inflight_target(name) is None

    def test_it_finds_the_sibling_for_a_name(self) -> None:
        names = ["clip.yaml", "other.mp4.part", ".syncthing.clip.mp4.tmp", "clip.mp4"]
        assert inflight_sibling("clip.mp4", names) == ".syncthing.clip.mp4.tmp"
        assert inflight_sibling("clip.yaml", names) is None
        assert inflight_sibling("other.mp4", names) == "other.mp4.part"

    def test_it_matches_the_name_exactly(self) -> None:
        assert inflight_sibling("Clip.mp4", ["clip.mp4.part"]) is None


class TestStability:
    def test_it_is_not_stable_on_first_sight(self) -> None:
        t = StabilityTracker(3, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=100)
        assert not t.is_stable("a.mp4", 100)
        assert t.next_check(100) == 103

    def test_it_needs_a_second_unchanged_observation_after_settle(self) -> None:
        t = StabilityTracker(3, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=100)
        t.observe("a.mp4", size=10, mtime_ns=1, now=102.9)
        assert not t.is_stable("a.mp4", 103)  # time alone proves nothing: look again
        assert t.due(103) == ["a.mp4"]
        t.observe("a.mp4", size=10, mtime_ns=1, now=103)
        assert t.is_stable("a.mp4", 103)
        assert t.next_check(103) is None and t.due(103) == []

    @pytest.mark.parametrize(("size", "mtime"), [(11, 1), (10, 2)], ids=["size_grew", "mtime_moved"])
    def test_it_restarts_the_wait_on_any_change(self, size: int, mtime: int) -> None:
        t = StabilityTracker(3, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=100)
        t.observe("a.mp4", size=size, mtime_ns=mtime, now=102)
        t.observe("a.mp4", size=size, mtime_ns=mtime, now=104)
        assert not t.is_stable("a.mp4", 104)
        assert t.next_check(104) == 105

    def test_it_unconfirms_a_stable_file_that_changes(self) -> None:
        t = StabilityTracker(1, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=0)
        t.observe("a.mp4", size=10, mtime_ns=1, now=1)
        assert t.is_stable("a.mp4", 1)
        t.observe("a.mp4", size=0, mtime_ns=5, now=2)  # an overwrite truncates first
        assert not t.is_stable("a.mp4", 2)

    def test_it_takes_a_file_renamed_in_after_the_quick_period(self) -> None:
        t = StabilityTracker(5, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=0, renamed_in=True)
        assert t.next_check(0) == 1
        t.observe("a.mp4", size=10, mtime_ns=1, now=1)
        assert t.is_stable("a.mp4", 1)

    def test_it_uses_the_full_settle_after_a_renamed_file_changes(self) -> None:
        t = StabilityTracker(5, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=0, renamed_in=True)
        t.observe("a.mp4", size=20, mtime_ns=2, now=0.5)  # still being written after the move
        t.observe("a.mp4", size=20, mtime_ns=2, now=2)
        assert not t.is_stable("a.mp4", 2)
        assert t.next_check(2) == 5.5

    def test_it_counts_a_startup_file_at_once(self) -> None:
        t = StabilityTracker(5, 1)
        t.observe("a.mp4", size=10, mtime_ns=1, now=0, startup=True)
        assert t.is_stable("a.mp4", 0)

    def test_it_caps_quick_at_settle(self) -> None:
        t = StabilityTracker(0.3, 1)
        t.observe("a.mp4", size=1, mtime_ns=1, now=0, renamed_in=True)
        assert t.next_check(0) == pytest.approx(0.3)

    def test_it_forgets(self) -> None:
        t = StabilityTracker(1, 1)
        t.observe("a.mp4", size=1, mtime_ns=1, now=0)
        t.forget("a.mp4")
        t.forget("never.mp4")
        assert t.next_check(0) is None and t.tracked() == []

    def test_it_reports_the_earliest_next_check(self) -> None:
        t = StabilityTracker(3, 1)
        t.observe("a.mp4", size=1, mtime_ns=1, now=10)
        t.observe("b.mp4", size=1, mtime_ns=1, now=5)
        assert t.next_check(10) == 8
        assert t.due(8) == ["b.mp4"]

    def test_it_refuses_negative_periods(self) -> None:
        with pytest.raises(ValueError):
            StabilityTracker(-1, 0)


def _e(rel: str, *, size: int = 5, mtime_ns: int = 1, kind: str = "file") -> Entry:
    return Entry(rel=rel, name=rel.rpartition("/")[2], size=size, mtime_ns=mtime_ns, kind=kind)  # type: ignore[arg-type]


def _tracker(*stable: str) -> StabilityTracker:
    t = StabilityTracker(1, 1)
    for rel in stable:
        t.observe(rel, size=5, mtime_ns=1, now=0, startup=True)
    return t


class TestBuildSnapshots:
    def test_it_pairs_video_and_sidecar(self) -> None:
        snaps = build_snapshots([_e("clip.mp4"), _e("clip.yaml")], _tracker("clip.mp4"), 0)
        assert snaps == {"clip": PairSnapshot(
            key="clip",
            videos=(FileState("clip.mp4", 5, 1, stable=True, regular=True, symlink=False),),
            sidecars=(FileState("clip.yaml", 5, 1, stable=False, regular=True, symlink=False),),
            inflight=None)}

    def test_it_reports_a_lone_member(self) -> None:
        snaps = build_snapshots([_e("sub/clip.yml")], _tracker(), 0)
        assert list(snaps) == ["sub/clip"]
        assert snaps["sub/clip"].videos == () and len(snaps["sub/clip"].sidecars) == 1

    def test_it_keys_pairs_by_folder(self) -> None:
        snaps = build_snapshots([_e("a/clip.mp4"), _e("b/clip.yaml"), _e("clip.webm")], _tracker(), 0)
        assert sorted(snaps) == ["a/clip", "b/clip", "clip"]

    def test_it_carries_both_of_two_videos_for_one_name(self) -> None:
        snaps = build_snapshots([_e("clip.mov"), _e("clip.mp4"), _e("clip.yaml"), _e("clip.yml")], _tracker(), 0)
        assert [v.rel for v in snaps["clip"].videos] == ["clip.mov", "clip.mp4"]
        assert [s.rel for s in snaps["clip"].sidecars] == ["clip.yaml", "clip.yml"]

    def test_it_does_not_pair_stems_of_different_case(self) -> None:
        assert sorted(build_snapshots([_e("Clip.mp4"), _e("clip.yaml")], _tracker(), 0)) == ["Clip", "clip"]

    @pytest.mark.parametrize(("kind", "regular", "symlink"), [
        ("dir", False, False), ("other", False, False), ("symlink", False, True)], ids=["dir", "fifo", "symlink"])
    def test_it_reports_non_regular_entries(self, kind: str, regular: bool, symlink: bool) -> None:
        snap = build_snapshots([_e("clip.mp4", kind=kind)], _tracker(), 0)["clip"]
        assert (snap.videos[0].regular, snap.videos[0].symlink) == (regular, symlink)

    def test_it_names_an_inflight_marker(self) -> None:
        entries = [_e("clip.yaml"), _e(".syncthing.clip.mp4.tmp"), _e("clip.mp4.part")]
        assert build_snapshots(entries, _tracker(), 0)["clip"].inflight == ".syncthing.clip.mp4.tmp"

    def test_it_makes_no_pair_from_markers_alone(self) -> None:
        assert build_snapshots([_e("clip.mp4.1a2b3c4d.partial"), _e(".DS_Store")], _tracker(), 0) == {}

    def test_it_reports_zero_byte_videos_like_any_file(self) -> None:
        snap = build_snapshots([_e("clip.mp4", size=0)], _tracker(), 0)["clip"]
        assert snap.videos[0].size == 0

    def test_it_ignores_own_feedback_files(self) -> None:
        assert list(build_snapshots([_e("clip.error.txt"), _e("clip.yaml")], _tracker(), 0)) == ["clip"]


class TestDiff:
    def test_it_reports_new_changed_and_gone_pairs(self) -> None:
        a = build_snapshots([_e("a.mp4")], _tracker(), 0)["a"]
        b = build_snapshots([_e("b.mp4")], _tracker(), 0)["b"]
        b2 = build_snapshots([_e("b.mp4", size=9)], _tracker(), 0)["b"]
        c = build_snapshots([_e("c.mp4")], _tracker(), 0)["c"]
        out = diff_snapshots({"a": a, "b": b}, {"b": b2, "c": c})
        assert out == [gone("a"), b2, c]

    def test_it_reports_nothing_when_nothing_changed(self) -> None:
        snaps = build_snapshots([_e("a.mp4")], _tracker(), 0)
        assert diff_snapshots(snaps, dict(snaps)) == []


class TestRefusedEntriesAreNamed:
    def test_a_symlink_that_is_no_pair_member_makes_a_snapshot_of_its_own(self) -> None:
        snaps = build_snapshots([_e("linked", kind="symlink"), _e("sub/other", kind="symlink")], _tracker(), 0)
        assert sorted(snaps) == ["linked", "sub/other"]
        snap = snaps["linked"]
        assert snap.videos == () and snap.sidecars == ()
        assert [f.rel for f in snap.links] == ["linked"] and snap.links[0].symlink

    @pytest.mark.parametrize("name", [".hidden", ".syncthing.clip.mp4.tmp", "clip.mp4.part", "Thumbs.db"])
    def test_ignored_and_in_flight_symlinks_stay_ignored(self, name: str) -> None:
        assert build_snapshots([_e(name, kind="symlink")], _tracker(), 0) == {}

    def test_a_pair_member_symlink_is_still_a_member_not_a_link(self) -> None:
        snaps = build_snapshots([_e("clip.mp4", kind="symlink"), _e("clip.yaml")], _tracker(), 0)
        assert snaps["clip"].links == () and snaps["clip"].videos[0].symlink

    def test_names_that_differ_only_in_unicode_form_name_each_other(self) -> None:
        nfc, nfd = "caf\u00e9", "cafe\u0301"
        snaps = build_snapshots([_e(f"{nfc}.mp4"), _e(f"{nfd}.yaml"), _e("plain.mp4")], _tracker(), 0)
        assert snaps[nfc].twin == nfd and snaps[nfd].twin == nfc
        assert snaps["plain"].twin is None


@pytest.mark.parametrize("name, shown", [
    ("clip.mp4", "clip.mp4"),
    ("caf\u00e9 clip.mp4", "caf\u00e9 clip.mp4"),
    ("new\nline.mp4", "new\\nline.mp4"),
    ("bell\x07\x1b[31m.mp4", "bell\\x07\\x1b[31m.mp4"),
    ("tab\there.mp4", "tab\\there.mp4"),
    ("sep\u2028arator.mp4", "sep\\u2028arator.mp4"),
    ("h12\udcff.mp4", "h12\\xff.mp4"),          # the byte 0xff, as os.listdir decodes it
    ("c1\x85.mp4", "c1\\x85.mp4"),
])
def test_shown_name_puts_every_name_on_one_line_of_valid_utf8(name: str, shown: str) -> None:
    assert shown_name(name) == shown
    shown_name(name).encode("utf-8")   # never raises
    assert "\n" not in shown_name(name)


@pytest.mark.parametrize("name, ok", [("clip.mp4", True), ("caf\u00e9.mp4", True), ("h12\udcff.mp4", False)])
def test_is_utf8_name(name: str, ok: bool) -> None:
    assert is_utf8_name(name) is ok


# Issue 18 item 4: a rename into place is taken early, as data. Each row: settle, quick, the
# observations (now, size, mtime, renamed_in), then (now, stable?, early?) checked after them.
_RENAME_TABLE = [
    ("renamed in, unchanged: early at once, full at settle", 3, 0,
     [(0, 10, 1, True)], [(0, True, True), (2.9, True, True)]),
    ("renamed in, seen again after settle: no longer early", 3, 0,
     [(0, 10, 1, True), (3, 10, 1, False)], [(3, True, False)]),
    ("renamed in, seen again before settle: still early", 3, 0,
     [(0, 10, 1, True), (1, 10, 1, False)], [(1, True, True)]),
    ("renamed in, then grows: full settle from the change", 3, 0,
     [(0, 10, 1, True), (0.4, 20, 2, False), (2, 20, 2, False)], [(2, False, False)]),
    ("renamed in, then grows, then quiet for settle: stable, not early", 3, 0,
     [(0, 10, 1, True), (0.4, 20, 2, False), (3.4, 20, 2, False)], [(3.4, True, False)]),
    ("written in place (an SMB upload): full settle", 3, 0,
     [(0, 10, 1, False), (1, 10, 1, False)], [(1, False, False)]),
    ("slow writer pausing longer than half the settle: full settle", 3, 0,
     [(0, 10, 1, False), (1.6, 20, 2, False), (3.2, 20, 2, False)], [(3.2, False, False)]),
    ("settle 0: stable at once, never early", 0, 0,
     [(0, 10, 1, True)], [(0, True, False)]),
    ("quick 1 s: early only after quick", 5, 1,
     [(0, 10, 1, True), (0.5, 10, 1, False)], [(0.5, False, False)]),
]


@pytest.mark.parametrize(("settle", "quick", "seen", "expect"), [r[1:] for r in _RENAME_TABLE],
                         ids=[r[0] for r in _RENAME_TABLE])
def test_rename_rule(settle: float, quick: float, seen: list[tuple[float, int, int, bool]],
                     expect: list[tuple[float, bool, bool]]) -> None:
    t = StabilityTracker(settle, quick)
    for now, size, mtime, renamed in seen:
        t.observe("a.mp4", size=size, mtime_ns=mtime, now=now, renamed_in=renamed)
    for now, stable, early in expect:
        assert (t.is_stable("a.mp4", now), t.is_early("a.mp4")) == (stable, early), f"at {now}"


def test_an_early_file_stays_due_until_the_full_settle() -> None:
    t = StabilityTracker(3, 0)
    t.observe("a.mp4", size=10, mtime_ns=1, now=100, renamed_in=True)
    assert t.is_stable("a.mp4", 100) and t.is_early("a.mp4")
    assert t.next_check(100) == 103 and t.unconfirmed() == ["a.mp4"]
    assert t.due(102.9) == [] and t.due(103) == ["a.mp4"]
    t.observe("a.mp4", size=10, mtime_ns=1, now=103)
    assert not t.is_early("a.mp4") and t.next_check(103) is None and t.unconfirmed() == []


def test_a_snapshot_says_early() -> None:
    t = StabilityTracker(3, 0)
    t.observe("c.mp4", size=10, mtime_ns=1, now=0, renamed_in=True)
    t.observe("c.yaml", size=5, mtime_ns=1, now=0, startup=True)
    snap = build_snapshots([Entry("c.mp4", "c.mp4", 10, 1, "file"), Entry("c.yaml", "c.yaml", 5, 1, "file")], t, 0)["c"]
    assert snap.videos[0].stable and snap.videos[0].early
    assert snap.sidecars[0].stable and not snap.sidecars[0].early
