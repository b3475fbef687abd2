"""`check` and `new` with several accounts (issue 15): the account whose inbox holds the path
gives the time zone and the defaults (merged over the top-level ones); a path in no account's
inbox is judged by the top level. Real files and videos, through `cli.main([...])`.

The config's zones are chosen for one wall time: 2027-03-28 02:30 does not exist in Berlin
(clocks jump from 02:00 to 03:00 that night) and is an ordinary time in New York."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ralph_watch import cli
from ralph_watch.cli_check import owning_account
from ralph_watch.config_model import AccountConfig
from tests.integration.test_cli import _cwd_and_logging, pinned_now, run, vid, write_config  # noqa: F401 (fixtures)

GAP = "2027-03-28 02:30"   # in Berlin's spring-forward gap, not in New York's (2027-03-14)

CONFIG = """\
state_dir: ./state
timezone: Europe/Berlin
defaults:
  privacy: private
accounts:
  main:
    inbox: ./inbox/main
  brand:
    inbox: ./inbox/brand
    timezone: America/New_York
    defaults:
      cover_ms: 5000
"""


@pytest.fixture
def two_accounts(tmp_path: Path) -> Path:
    write_config(tmp_path / "config.yaml", CONFIG)
    for name in ("main", "brand"):
        (tmp_path / "inbox" / name).mkdir(parents=True)
    return tmp_path


def pair(folder: Path, name: str, sidecar: str) -> None:
    vid(folder, f"{name}.mp4")
    (folder / f"{name}.yaml").write_text(sidecar, encoding="utf-8")


def problems_of(out: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in json.loads(out):
        found.setdefault(p["path"], []).append(p["message"])
    return found


class TestCheck:
    def test_an_at_valid_only_in_the_accounts_zone_passes_in_its_inbox_alone(self, capsys, two_accounts):
        sidecar = f'title: "t"\nat: "{GAP}"\ncover_ms: 0\n'
        pair(two_accounts / "inbox" / "brand", "gap", sidecar)
        pair(two_accounts / "inbox" / "main", "gap", sidecar)
        pair(two_accounts / "loose", "gap", sidecar)
        code, out, err = run(capsys, "check", "--json", "inbox/brand")
        assert (code, json.loads(out)) == (0, [])
        assert "account brand (" in err and "time zone America/New_York" in err
        code, out, _ = run(capsys, "check", "--json", "inbox/main", "loose", str(two_accounts / "inbox" / "brand"))
        assert code == 1
        found = problems_of(out)
        assert set(found) == {"inbox/main/gap.yaml", "loose/gap.yaml"}
        assert all("does not exist in Europe/Berlin" in m for ms in found.values() for m in ms)

    def test_without_paths_it_checks_every_accounts_inbox_with_its_defaults(self, capsys, two_accounts):
        pair(two_accounts / "inbox" / "main", "m", 'title: "m"\n')
        pair(two_accounts / "inbox" / "brand", "b", 'title: "b"\n')
        code, out, err = run(capsys, "check", "--json")
        assert code == 1
        found = problems_of(out)   # the configured inboxes, named as absolute paths
        # brand: its own cover_ms (5 s, past the 1 s video) and the top-level privacy (no privacy problem)
        assert list(found) == [str(two_accounts / "inbox" / "brand" / "b.yaml")]
        [message] = found[str(two_accounts / "inbox" / "brand" / "b.yaml")]
        assert "cover" in message and "privacy" not in message
        assert "using config.yaml, time zone Europe/Berlin" in err
        assert "account main (" in err and "account brand (" in err

    def test_a_pair_named_through_a_symlinked_path_belongs_to_the_resolved_inbox(self, capsys, two_accounts):
        (two_accounts / "brand-link").symlink_to(two_accounts / "inbox" / "brand", target_is_directory=True)
        pair(two_accounts / "inbox" / "brand", "gap", f'title: "t"\nat: "{GAP}"\ncover_ms: 0\n')
        assert run(capsys, "check", "brand-link/gap.mp4")[0] == 0

    @pytest.mark.usefixtures("pinned_now")
    def test_next_slots_are_listed_per_account_in_its_zone(self, capsys, two_accounts):
        for name in ("main", "brand"):
            pair(two_accounts / "inbox" / name, "c", 'title: "c"\ncron: "0 18 * * FRI"\ncover_ms: 0\n')
        code, out, _ = run(capsys, "check", "--next", "1")
        assert code == 0
        assert "cron 0 18 * * 5 (account brand, 1 pair(s)): next 1 slots" in out
        assert "cron 0 18 * * 5 (account main, 1 pair(s)): next 1 slots" in out
        brand, main = out.split("account main")   # brand's queue first, then main's (a winter Friday)
        assert "2026-12-04 18:00 EST (Fri)" in brand and "2026-12-04 18:00 CET (Fri)" in main

    def test_one_account_keeps_its_output(self, capsys, tmp_path):
        write_config(tmp_path / "config.yaml", "inbox: ./inbox\ntimezone: Europe/Berlin\n")
        pair(tmp_path / "inbox", "c", 'title: "c"\nprivacy: private\n')
        code, out, err = run(capsys, "check")
        assert (code, out) == (0, "")
        assert "using config.yaml, time zone Europe/Berlin" in err and "account" not in err


class TestNew:
    def test_the_accounts_zone_and_merged_defaults_apply_in_its_inbox(self, capsys, two_accounts):
        vid(two_accounts / "inbox" / "brand", "clip.mp4")
        # no --privacy: the top-level default gives it; the --at exists in New York
        code, out, err = run(capsys, "new", "inbox/brand/clip.mp4", "--at", GAP, "--cover-ms", "0", "--dry-run")
        assert code == 0, err
        assert f'at: "{GAP}"' in out

    @pytest.mark.parametrize("where", ["inbox/main", "loose"], ids=["first-account", "no-account"])
    def test_elsewhere_the_top_level_zone_refuses_the_same_at(self, capsys, two_accounts, where):
        vid(two_accounts / where, "clip.mp4")
        code, _, err = run(capsys, "new", f"{where}/clip.mp4", "--at", GAP, "--dry-run")
        assert code == 2
        assert "--at:" in err and "does not exist in Europe/Berlin" in err

    def test_the_accounts_own_defaults_are_checked_against_the_video(self, capsys, two_accounts):
        vid(two_accounts / "inbox" / "brand", "clip.mp4")
        code, _, err = run(capsys, "new", "inbox/brand/clip.mp4", "--dry-run")
        assert code == 0, err   # cover_ms comes from the defaults, which `new` does not write
        vid(two_accounts / "inbox" / "main", "clip.mp4")
        assert run(capsys, "new", "inbox/main/clip.mp4", "--title", "x")[0] == 0
        assert 'title: "x"' in (two_accounts / "inbox" / "main" / "clip.yaml").read_text()


def _accounts(*names: str) -> list[tuple[AccountConfig, Path]]:
    return [(AccountConfig(n, Path(f"/srv/{n}")), Path(f"/srv/{n}")) for n in names]


@pytest.mark.parametrize("path, owner", [
    ("/srv/main/a.mp4", "main"),
    ("/srv/brand/sub/a.mp4", "brand"),
    ("/srv/brand", "brand"),
    ("/srv/brand-2/a.mp4", None),     # a sibling whose name starts alike is not inside
    ("/srv/a.mp4", None),
    ("/elsewhere/main/a.mp4", None),
])
def test_owning_account(path, owner):
    found = owning_account(_accounts("main", "brand"), Path(path))
    assert (found.name if found else None) == owner


def test_check_is_the_entry_points_command():
    assert cli.build_parser().parse_args(["check"]).func is cli.cmd_check
