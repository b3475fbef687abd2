"""The `ralph-watch` commands through `cli.main([...])`: what they print, what they write,
and their exit codes (0 fine, 1 problems found / unreachable, 2 usage or config error).

Real files in tmp_path and real videos; the only stand-in is the wall clock of `check --next`
(pinned so the DST notes are always in the window)."""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ralph_watch import __version__, cli
from ralph_watch.publisher import PROGRESS_MIN_BYTES, ProgressLog
from ralph_watch.reload import _changed
from ralph_watch.sidecar import parse_sidecar
from tests.support.service import free_port
from tests.support.videos import small_mp4

UTC = ZoneInfo("UTC")


@pytest.fixture(autouse=True)
def _cwd_and_logging(tmp_path, monkeypatch):
    """Each test runs in its own folder; main() installs a log handler on capsys' stream: drop it."""
    monkeypatch.chdir(tmp_path)
    for name in ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET", "RALPH_WATCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    before = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if h not in before:
            root.removeHandler(h)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def vid(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return small_mp4(folder, name)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestEntryPoint:
    def test_it_prints_the_version(self, capsys):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--version"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.strip() == f"ralph-watch {__version__}"

    def test_it_lists_every_command_in_the_help(self, capsys):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        for command in ("run", "demo", "check", "emulator", "new", "status"):
            assert f"    {command} " in out

    def test_it_prints_the_help_and_exits_2_without_a_command(self, capsys):
        code, out, _ = run(capsys)
        assert code == 2 and "COMMAND" in out

    @pytest.mark.parametrize("argv", [["frobnicate"], ["check", "--next", "x"], ["--log-format", "xml", "check"],
                                      ["new", "a.mp4", "--at", "2027-01-01 10:00", "--cron", "@daily"]],
                             ids=["unknown-command", "next-not-a-number", "unknown-log-format", "at-and-cron"])
    def test_it_exits_2_on_usage_errors(self, capsys, argv):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert "usage: ralph-watch" in capsys.readouterr().err


class TestCheck:
    def test_it_exits_0_for_a_good_pair(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "clip.mp4")
        (tmp_path / "inbox" / "clip.yaml").write_text('title: "hi"\nprivacy: private\n')
        code, out, err = run(capsys, "check")
        assert (code, out) == (0, "")
        assert "1 pair(s) checked: no problems" in err

    def test_it_prints_path_line_message_and_exits_1_for_a_bad_sidecar(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "clip.mp4")
        (tmp_path / "inbox" / "clip.yaml").write_text('title: "hi"\nprivacy: no\n')
        code, out, _ = run(capsys, "check", "inbox")
        assert code == 1
        lines = out.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("inbox/clip.yaml:2: privacy")

    def test_it_names_the_missing_half_of_a_pair(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "alone.mp4")
        (tmp_path / "inbox" / "lonely.yaml").write_text("privacy: private\n")
        code, out, _ = run(capsys, "check", "inbox")
        assert code == 1
        assert "inbox/alone.mp4: no sidecar next to it (alone.yaml); `ralph-watch new inbox/alone.mp4`" in out
        assert "inbox/lonely.yaml: no video next to it" in out

    def test_it_checks_single_files_and_refuses_other_names(self, capsys, tmp_path):
        vid(tmp_path, "one.mp4")
        (tmp_path / "one.yaml").write_text("privacy: private\n")
        (tmp_path / "notes.txt").write_text("x")
        assert run(capsys, "check", "one.mp4")[0] == 0
        code, out, _ = run(capsys, "check", "notes.txt", "gone.mp4")
        assert code == 1
        assert "notes.txt: not a video (.mp4, .mov, .webm) or sidecar (.yaml) name" in out
        assert "gone.mp4: no such file or folder" in out

    def test_it_prints_a_json_array_of_path_line_message(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "bad.mp4")
        (tmp_path / "inbox" / "bad.yaml").write_text('title: "hi"\nprivacy: no\n')
        vid(tmp_path / "inbox", "alone.mp4")
        code, out, _ = run(capsys, "check", "--json", "inbox")
        assert code == 1
        found = json.loads(out)
        assert all(set(p) == {"path", "line", "message"} for p in found)
        by_path = {p["path"]: p for p in found}
        assert by_path["inbox/bad.yaml"]["line"] == 2 and "privacy" in by_path["inbox/bad.yaml"]["message"]
        assert by_path["inbox/alone.mp4"]["line"] is None

    def test_it_prints_an_empty_json_array_when_all_is_well(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "ok.mp4")
        (tmp_path / "inbox" / "ok.yaml").write_text("privacy: private\n")
        code, out, _ = run(capsys, "check", "--json")
        assert (code, json.loads(out)) == (0, [])

    def test_it_uses_the_configs_inbox_and_defaults(self, capsys, tmp_path):
        vid(tmp_path / "elsewhere", "clip.mp4")
        (tmp_path / "elsewhere" / "clip.yaml").write_text('title: "no privacy here"\n')
        assert run(capsys, "check", "elsewhere")[0] == 1  # privacy is required...
        cfg = write_config(tmp_path / "config.yaml", "inbox: ./elsewhere\ndefaults:\n  privacy: private\n")
        assert run(capsys, "check", "-c", str(cfg))[0] == 0  # ...unless the config's defaults give it

    def test_it_exits_2_with_one_message_per_config_problem(self, capsys, tmp_path):
        cfg = write_config(tmp_path / "config.yaml", "watch:\n  settle_seconds: -1\nweb:\n  prot: 80\n")
        code, out, err = run(capsys, "check", "-c", str(cfg))
        assert code == 2 and out == ""
        assert "watch.settle_seconds" in err and "web.prot" in err
        assert len([ln for ln in err.splitlines() if ln.startswith("  ")]) == 2

    def test_it_says_so_when_the_inbox_does_not_exist(self, capsys):
        code, out, _ = run(capsys, "check")
        assert code == 1 and "inbox: no such file or folder" in out


@pytest.fixture
def pinned_now(monkeypatch):
    """`check --next` reads the real clock; pin it to a winter day."""
    from ralph_watch import clock
    monkeypatch.setattr(clock.SystemClock, "now", lambda self: datetime(2026, 11, 29, 12, tzinfo=timezone.utc))


class TestCheckNext:
    def cron_pair(self, folder: Path, name: str, cron: str) -> None:
        vid(folder, f"{name}.mp4")
        (folder / f"{name}.yaml").write_text(f'privacy: private\ncron: "{cron}"\n')

    def test_it_shows_the_next_slots_of_every_cron_queue(self, capsys, tmp_path, pinned_now):
        inbox = tmp_path / "inbox"
        self.cron_pair(inbox, "a", "0 18 * * FRI")
        self.cron_pair(inbox, "b", "0 18 * * 5")  # the same queue, spelled differently
        self.cron_pair(inbox, "c", "@daily")
        cfg = write_config(tmp_path / "config.yaml", "inbox: ./inbox\ntimezone: Europe/Berlin\n")
        code, out, _ = run(capsys, "check", "-c", str(cfg), "--next", "3")
        assert code == 0
        assert "cron 0 18 * * 5 (2 pair(s)): next 3 slots" in out
        assert "cron 0 0 * * * (1 pair(s)): next 3 slots" in out
        assert "  2026-12-04 18:00 CET (Fri)" in out
        assert "  2026-11-30 00:00 CET (Mon)" in out
        assert len([ln for ln in out.splitlines() if ln.startswith("  ")]) == 6

    @pytest.mark.parametrize("cron, marked", [
        ("30 2 25-31 3 *", "2027-03-28 03:00 CEST (Sun) — DST"),
        ("30 2 25-31 10 *", "2027-10-31 02:30 CEST (Sun) — DST"),
    ], ids=["spring-forward-gap", "fall-back-fold"])
    def test_it_marks_dst_changes(self, capsys, tmp_path, pinned_now, cron, marked):
        self.cron_pair(tmp_path / "inbox", "x", cron)
        cfg = write_config(tmp_path / "config.yaml", "inbox: ./inbox\ntimezone: Europe/Berlin\n")
        code, out, _ = run(capsys, "check", "-c", str(cfg), "--next", "7")
        assert code == 0
        assert marked in out, out
        assert sum("DST" in ln for ln in out.splitlines()) == 1

    def test_it_prints_no_slots_without_cron_pairs(self, capsys, tmp_path, pinned_now):
        vid(tmp_path / "inbox", "now.mp4")
        (tmp_path / "inbox" / "now.yaml").write_text("privacy: private\n")
        code, out, _ = run(capsys, "check", "--next", "5")
        assert (code, out) == (0, "")


TITLES = {
    "double-quotes": 'He said "hi"',
    "hash-is-not-a-comment": "Sunset #sunset #bay",
    "emoji": "Party 🎉🔥 time",
    "colon-space": "Note: this is fine",
    "leading-dash-and-brackets": "- [x] {y} & *z* !tag %p @q `r` |s >t",
    "backslash-and-single-quote": "C:\\path 'quoted'",
    "yaml-words": "no",
    "number-like": "1080",
    "newline": "line one\nline two",
}


class TestDemoSample:
    def test_the_sample_replaces_symlinks_at_its_names_instead_of_writing_through_them(self, tmp_path):
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        for name in ("video-victim", "yaml-victim"):
            (tmp_path / name).write_text("precious\n")
        os.symlink(tmp_path / "video-victim", inbox / "sample.mp4")
        os.symlink(tmp_path / "yaml-victim", inbox / "sample.yaml")
        cli.write_sample(inbox)
        assert (tmp_path / "video-victim").read_text() == "precious\n"
        assert (tmp_path / "yaml-victim").read_text() == "precious\n"
        assert not (inbox / "sample.mp4").is_symlink() and (inbox / "sample.mp4").stat().st_size > 1000
        assert "privacy: public" in (inbox / "sample.yaml").read_text()
        assert sorted(p.name for p in inbox.iterdir()) == ["sample.mp4", "sample.yaml"], "no staging left behind"


class TestNew:
    @pytest.mark.parametrize("title", TITLES.values(), ids=TITLES.keys())
    def test_it_quotes_titles_safely(self, capsys, tmp_path, title):
        vid(tmp_path, "clip.mp4")
        code, out, _ = run(capsys, "new", "clip.mp4", "--title", title, "--privacy", "public")
        assert code == 0
        assert out.strip() == "wrote clip.yaml"
        sc = parse_sidecar((tmp_path / "clip.yaml").read_bytes(), path="clip.yaml", tz=UTC, defaults={})
        assert sc.title == title

    def test_it_writes_every_option_and_check_accepts_the_pair(self, capsys, tmp_path):
        vid(tmp_path / "inbox", "clip.mp4")
        code, out, _ = run(capsys, "new", "inbox/clip.mp4", "--title", "All of it", "--privacy", "followers",
                           "--cron", "0 18 * * FRI", "--allow-comments", "--allow-duet", "--allow-stitch",
                           "--ai-generated", "--promotion", "own_brand", "--cover-ms", "500")
        assert code == 0 and out.strip() == "wrote inbox/clip.yaml"
        sc = parse_sidecar((tmp_path / "inbox" / "clip.yaml").read_bytes(), path="x", tz=UTC, defaults={})
        assert (sc.privacy, sc.cron, sc.cover_ms, sc.promotion) == ("FOLLOWER_OF_CREATOR", "0 18 * * 5", 500,
                                                                    "own_brand")
        assert sc.allow_comments and sc.allow_duet and sc.allow_stitch and sc.ai_generated
        assert run(capsys, "check", "inbox")[0] == 0

    def test_a_symlink_planted_at_the_old_temp_name_is_not_followed(self, capsys, tmp_path):
        victim = tmp_path / "victim"
        victim.write_text("precious\n")
        vid(tmp_path / "inbox", "clip.mp4")
        os.symlink(victim, tmp_path / "inbox" / ".clip.yaml.tmp")
        code, out, _ = run(capsys, "new", "inbox/clip.mp4", "--title", "hi", "--privacy", "public")
        assert code == 0 and out.strip() == "wrote inbox/clip.yaml"
        assert victim.read_text() == "precious\n", "new wrote through a planted symlink"
        assert 'title: "hi"' in (tmp_path / "inbox" / "clip.yaml").read_text()

    def test_it_writes_a_draft_without_privacy(self, capsys, tmp_path):
        vid(tmp_path, "d.mp4")
        assert run(capsys, "new", "d.mp4", "--draft", "--at", "2027-01-02 10:00")[0] == 0
        sc = parse_sidecar((tmp_path / "d.yaml").read_bytes(), path="x", tz=UTC, defaults={})
        assert sc.mode == "draft" and sc.at == datetime(2027, 1, 2, 10, tzinfo=timezone.utc)

    def test_it_prints_the_sidecar_on_dry_run_and_writes_nothing(self, capsys, tmp_path):
        vid(tmp_path, "clip.mp4")
        code, out, _ = run(capsys, "new", "clip.mp4", "--title", "Hi #x", "--privacy", "private", "--dry-run")
        assert code == 0
        assert 'title: "Hi #x"' in out and 'privacy: "private"' in out
        assert not (tmp_path / "clip.yaml").exists()

    @pytest.mark.parametrize("existing", ["clip.yaml", "clip.yml"])
    def test_it_refuses_to_overwrite_without_force(self, capsys, tmp_path, existing):
        vid(tmp_path, "clip.mp4")
        (tmp_path / existing).write_text("privacy: friends\n")
        code, out, err = run(capsys, "new", "clip.mp4", "--privacy", "public")
        assert code == 1 and out == ""
        assert f"{existing} exists; use --force to overwrite it" in err
        assert (tmp_path / existing).read_text() == "privacy: friends\n"

    def test_it_overwrites_with_force(self, capsys, tmp_path):
        vid(tmp_path, "clip.mp4")
        (tmp_path / "clip.yaml").write_text("privacy: friends\n")
        assert run(capsys, "new", "clip.mp4", "--privacy", "public", "--force")[0] == 0
        assert 'privacy: "public"' in (tmp_path / "clip.yaml").read_text()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left

    @pytest.mark.parametrize("argv, flag", [
        (["--privacy", "everyone"], "--privacy"),
        ([], "--privacy"),
        (["--privacy", "public", "--at", "18:00"], "--at"),
        (["--privacy", "public", "--cron", "every friday"], "--cron"),
        (["--privacy", "public", "--cover-ms", "-5"], "--cover-ms"),
        (["--privacy", "public", "--title", "x" * 2201], "--title"),
    ], ids=["bad-privacy", "no-privacy", "time-without-date", "bad-cron", "negative-cover", "title-too-long"])
    def test_it_refuses_bad_values_naming_the_option(self, capsys, tmp_path, argv, flag):
        vid(tmp_path, "clip.mp4")
        code, out, err = run(capsys, "new", "clip.mp4", *argv)
        assert code == 2 and out == ""
        assert err.startswith(f"ralph-watch new: {flag}: ")
        assert not (tmp_path / "clip.yaml").exists()

    def test_it_refuses_a_name_that_is_not_a_video(self, capsys, tmp_path):
        (tmp_path / "notes.txt").write_text("x")
        code, _, err = run(capsys, "new", "notes.txt", "--privacy", "public")
        assert code == 2 and "not a video name (.mp4, .mov or .webm)" in err

    def test_it_exits_1_when_the_video_is_not_there(self, capsys):
        code, _, err = run(capsys, "new", "missing.mp4", "--privacy", "public")
        assert code == 1 and "missing.mp4: no such file" in err


class TestStatus:
    def test_it_exits_1_when_the_service_is_not_reachable(self, capsys, tmp_path):
        port = free_port()
        cfg = write_config(tmp_path / "config.yaml", f"web:\n  port: {port}\n")
        code, out, err = run(capsys, "status", "-c", str(cfg))
        assert code == 1 and out == ""
        assert f"the service at http://127.0.0.1:{port} is not reachable" in err and "is it running?" in err

    def test_it_exits_2_on_a_bad_config(self, capsys, tmp_path):
        cfg = write_config(tmp_path / "config.yaml", "web:\n  port: many\n")
        code, _, err = run(capsys, "status", "-c", str(cfg))
        assert code == 2 and "web.port" in err


class TestRun:
    def test_it_exits_2_with_one_message_per_problem_naming_the_key(self, capsys, tmp_path):
        cfg = write_config(tmp_path / "config.yaml",
                           "inbox: ./in\ntimezone: Mars/Olympus\nschedule:\n  late_grace_minutes: -5\n"
                           "web:\n  host: 0.0.0.0\n")
        code, out, err = run(capsys, "run", "-c", str(cfg))
        assert code == 2 and out == ""
        problems = [ln for ln in err.splitlines() if ln.startswith("  ")]
        assert len(problems) == 3, err
        for key in ("timezone", "schedule.late_grace_minutes", "web.password"):
            assert sum(key in p for p in problems) >= 1, (key, err)

    def test_it_exits_2_when_the_config_file_is_missing(self, capsys):
        code, _, err = run(capsys, "run", "-c", "nope.yaml")
        assert code == 2 and "nope.yaml: no such config file" in err and "config.example.yaml" in err

    def test_it_exits_2_without_tiktok_credentials(self, capsys, tmp_path):
        cfg = write_config(tmp_path / "config.yaml", "inbox: ./in\n")
        code, _, err = run(capsys, "run", "-c", str(cfg))
        assert code == 2 and "TIKTOK_CLIENT_KEY" in err and "ralph-watch demo" in err


class TestUploadProgressLog:
    def test_it_reports_every_tenth_of_a_big_upload_with_the_rate(self):
        total = 50_000_000
        p = ProgressLog(total=total, started=100.0)
        lines = [line for sent in range(0, total + 1, 1_000_000)
                 if (line := p.line(sent, 100.0 + sent / 5_000_000))]
        assert len(lines) == 10
        assert lines[0] == "10% (5.0 of 50.0 MB) at 5.00 MB/s"
        assert lines[-1] == "100% (50.0 of 50.0 MB) at 5.00 MB/s"

    def test_it_stays_quiet_for_a_quick_small_upload(self):
        p = ProgressLog(total=PROGRESS_MIN_BYTES // 2, started=0.0)
        assert [p.line(s, s / 1e7) for s in range(0, PROGRESS_MIN_BYTES // 2 + 1, 400_000)] == [None] * 11

    def test_it_reports_a_slow_upload_every_ten_seconds(self):
        p = ProgressLog(total=1_000_000, started=0.0)
        assert p.line(10_000, 5.0) is None
        assert p.line(20_000, 10.0) == "2% (0.0 of 1.0 MB) at 0.00 MB/s"
        assert p.line(25_000, 15.0) is None
        assert p.line(1_000_000, 16.0) is not None  # the line that closes what was opened

    def test_it_measures_a_resumed_upload_from_where_it_resumed(self):
        p = ProgressLog(total=100_000_000, first=60_000_000, started=0.0)
        assert p.line(70_000_000, 2.0) == "70% (70.0 of 100.0 MB) at 5.00 MB/s"


class TestReloadDiff:
    def test_it_names_changed_keys_down_to_the_leaf_and_never_their_values(self):
        from ralph_watch.config import load_config
        a = load_config("web:\n  port: 8080\ntiktok:\n  client_secret: old-secret\n", base_dir=Path("/x"),
                        environ={})
        b = load_config("web:\n  port: 9090\ntiktok:\n  client_secret: new-secret\n  limits:\n    daily_posts: 3\n",
                        base_dir=Path("/x"), environ={})
        assert _changed("web", a.web, b.web) == ["web.port"]
        assert _changed("tiktok", a.tiktok, b.tiktok) == ["tiktok.client_secret", "tiktok.limits.daily_posts"]
        assert _changed("inbox", a.inbox, b.inbox) == []


# -- issue 14: the decisions check, new and status share with the service, as tables --------------
from datetime import timedelta  # noqa: E402

from ralph_watch.validate import at_verdict, cover_problem  # noqa: E402

NOW = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
GRACE = timedelta(hours=6)


@pytest.mark.parametrize("at, verdict", [
    (NOW + timedelta(minutes=1), None),
    (NOW, "late"),
    (NOW - timedelta(hours=1), "late"),
    (NOW - GRACE, "late"),
    (NOW - GRACE - timedelta(seconds=1), "missed"),
])
def test_at_verdict(at, verdict):
    got, sentence = at_verdict(at, "x", now=NOW, grace=GRACE)
    assert got == verdict and bool(sentence) == (verdict is not None)


@pytest.mark.parametrize("cover_ms, duration, refused", [
    (0, 3.0, False), (3000, 3.0, False), (3001, 3.0, True), (5000, None, False), (1, 0.0, True),
])
def test_cover_problem(cover_ms, duration, refused):
    assert (cover_problem(cover_ms, duration) is not None) == refused


TASK = {"id": 7, "state": "invalid", "due": "2026-12-24T17:00:00+00:00", "video": "clip.mp4", "sidecar": "clip.yaml",
        "title": "T" * 40, "error": "clip.yaml:2: " + "word " * 40 + "end."}


def test_status_table_wraps_whole_sentences_and_names_the_zone():
    lines = cli.status_table([TASK], tz=ZoneInfo("Europe/Berlin"), wide=False, width=130)
    assert lines[0].split() == ["STATE", "DUE", "VIDEO", "TITLE", "ERROR"]
    assert "2026-12-24 18:00 Europe/Berlin" in lines[1] and all(len(ln) <= 130 for ln in lines)
    col = lines[0].index("ERROR")
    assert " ".join(ln[col:] for ln in lines[1:]).split() == TASK["error"].split()
    narrow = cli.status_table([TASK], tz=ZoneInfo("Europe/Berlin"), wide=False, width=80)
    assert all(len(ln) <= 80 for ln in narrow[2:]) and narrow[2].startswith("    clip.yaml:2: word")
    assert " ".join(ln.strip() for ln in narrow[2:]).split() == TASK["error"].split()
    wide = cli.status_table([TASK], tz=ZoneInfo("Europe/Berlin"), wide=True, width=100)
    assert wide[0].split()[0] == "ID" and wide[1].startswith("7 ") and wide[1].endswith(TASK["error"])
    assert "T" * 40 in wide[1] and len(wide) == 2


def test_the_demo_state_dir_belongs_to_its_inbox(tmp_path):
    a, b = cli.demo_state_dir(tmp_path / "a" / "inbox"), cli.demo_state_dir(tmp_path / "b" / "inbox")
    assert a != b and a.name.startswith("inbox-") and a == cli.demo_state_dir(tmp_path / "a" / "inbox")


def test_the_demo_config_takes_the_zone_from_tz_but_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "real-key")
    c = cli.demo_config(inbox=tmp_path, port=8080, state_dir=tmp_path, emulator_url="http://127.0.0.1:1",
                        client_key="emu", client_secret="emu-secret", settle_seconds=1.0)
    assert (c.timezone, c.tiktok.client_key) == ("America/New_York", "emu")


@pytest.mark.parametrize("n, names", [(1, ["main"]), (2, ["main", "brand"]), (4, ["main", "brand", "acc3", "acc4"])])
def test_the_demo_account_names(n, names):
    assert cli.demo_account_names(n) == names


@pytest.mark.parametrize("given, n, open_ids", [
    (1, 1, ["emu-open-id-0001"]),
    (1, 3, ["emu-open-id-0001", "emu-open-id-0002", "emu-open-id-0003"]),
    (2, 2, ["emu-open-id-0001", "emu-open-id-0002"]),     # the profile's own creators are kept
    (2, 3, ["emu-open-id-0001", "emu-open-id-0002", "emu-open-id-0003"]),
], ids=["one", "two-made", "enough-already", "one-made"])
def test_the_demo_gives_each_account_a_creator(given, n, open_ids):
    from ralph_watch.emulator import Account, Profile
    profile = Profile(other_accounts=[Account(open_id=f"emu-open-id-{k:04d}") for k in range(2, given + 1)])
    made = cli.demo_creators(profile, cli.demo_account_names(n))
    assert [a.open_id for a in made.accounts()] == open_ids
    assert len(profile.accounts()) == given                 # the loaded profile is not changed


def test_a_made_creator_never_takes_a_profiles_open_id():
    from ralph_watch.emulator import Account, Profile
    profile = Profile(account=Account(open_id="emu-open-id-0002"))
    made = cli.demo_creators(profile, ["main", "brand"])
    assert [a.open_id for a in made.accounts()] == ["emu-open-id-0002", "emu-open-id-0002-demo"]
    assert made.accounts()[1].nickname == "Brand Emulator"


def test_the_demo_config_with_accounts_keeps_their_order_and_folders(tmp_path):
    c = cli.demo_config(inbox=tmp_path / "in", port=8080, state_dir=tmp_path, emulator_url="http://127.0.0.1:1",
                        client_key="emu", client_secret="emu-secret", settle_seconds=1.0,
                        accounts=["main", "brand", "acc3"])
    assert [(a.name, a.inbox) for a in c.accounts] == [(n, (tmp_path / "in" / n).resolve())
                                                       for n in ("main", "brand", "acc3")]
