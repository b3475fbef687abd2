"""`ralph-watch check` and `ralph-watch new`: the service's verdicts on a folder, a pair or a video,
without a running service. Imports stay inside the functions: start-up time of the CLI matters."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SidecarError, SidecarProblem

if TYPE_CHECKING:  # types only: the CLI's start-up imports no config module before it needs one
    from .config_model import AccountConfig, Config



def load_config_or_default(path: Path | None) -> Config:
    """The config at `path`, or the built-in one (inbox ./inbox) when no file is named."""
    from .config import default_config, read_config
    if path is None:
        return default_config(Path.cwd())
    return read_config(path)


class Judges:
    """Whose time zone and defaults apply to a path: the account whose inbox holds it (both
    resolved, so ./inbox/brand/x.mp4 and an absolute path agree); else the top level's. The
    inboxes are resolved once, not once per pair."""

    def __init__(self, config: Config) -> None:
        self.inboxes = [(a, a.inbox.resolve()) for a in config.accounts]
        self.fallback = config.top_level or config.accounts[0]

    def of(self, path: Path) -> AccountConfig:
        return owning_account(self.inboxes, path.resolve()) or self.fallback


def owning_account(inboxes: list[tuple[AccountConfig, Path]], path: Path) -> AccountConfig | None:
    """The account whose (resolved) inbox is or holds the (resolved) `path`, or None."""
    for account, inbox in inboxes:
        if path == inbox or path.is_relative_to(inbox):
            return account
    return None


def cmd_check(args: argparse.Namespace) -> int:
    from .inbox import classify, is_ignored

    config = _check_config(args.config)
    judges = Judges(config)
    now = _now()
    warnings: list[SidecarProblem] = []
    targets = args.paths or [a.inbox for a in config.accounts]
    problems: list[SidecarProblem] = []
    crons: dict[tuple[str, str, str], list[str]] = {}
    checked = 0
    for target in targets:
        if not target.exists() and not target.is_symlink():
            hint = ("; create it, or pass the inbox folder (or files) to check, or -c CONFIG for the configured "
                    "inbox") if not args.paths else "; check the spelling"
            problems.append(SidecarProblem(str(target), "no such file or folder" + hint))
            continue
        if not target.is_dir() and classify(target.name) is None:
            problems.append(SidecarProblem(str(target), "not a video (.mp4, .mov, .webm) or sidecar (.yaml) name; "
                                                        "pass a pair's files or a folder"))
            continue
        root, pairs = _collect(target, classify, is_ignored)
        for key, files in sorted(pairs.items()):
            judge = judges.of(root / key)
            checked += _check_pair(root, target, key, files, config, judge, now, problems, warnings, crons)
    for w in warnings:
        where = f"{w.path}:{w.line}" if w.line is not None else w.path
        print(f"{where}: warning: {w.message}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps([{"path": p.path, "line": p.line, "message": p.message} for p in problems],
                         ensure_ascii=False, indent=1))
    else:
        for p in problems:
            print(str(p))
        if args.next and crons:
            from .schedule import describe_slots, parse_cron
            from .clock import SystemClock
            now = SystemClock().now()
            # Each account has its own cron queues, in its own zone.
            from zoneinfo import ZoneInfo
            for (key, account, zone), names in sorted(crons.items()):
                whose = f"account {account}, " if config.configured_accounts and account else ""
                print(f"\ncron {key} ({whose}{len(names)} pair(s)): next {args.next} slots")
                for line in describe_slots(parse_cron(key), after=now, tz=ZoneInfo(zone), n=args.next):
                    print(f"  {line}")
        if not problems:
            print(f"{checked} pair(s) checked: no problems", file=sys.stderr)
    return 1 if problems else 0


def _check_pair(root: Path, target: Path, key: str, files: dict[str, list[str]], config: Config,
                judge: AccountConfig, now: Any, problems: list[SidecarProblem], warnings: list[SidecarProblem],
                crons: dict[tuple[str, str, str], list[str]]) -> bool:
    """One pair's verdict into `problems`/`warnings`; True when its video and sidecar were both there.
    Judged in `judge`'s time zone and with its defaults (the account whose inbox holds it)."""
    from .validate import validate_pair

    shown = {k: [str(_shown(root, target, r)) for r in v] for k, v in files.items()}
    videos, sidecars = files.get("video", []), files.get("sidecar", [])
    base = _shown(root, target, key)
    if len(videos) > 1 or len(sidecars) > 1:
        problems.append(SidecarProblem(str(base), "two files for one name: " +
                                       " and ".join(shown.get("video", []) + shown.get("sidecar", []))))
        return False
    if not videos:
        parsed = _lint_sidecar(root, sidecars[0], shown["sidecar"][0], judge, problems)
        if parsed is not None:
            _check_timing(parsed, shown["sidecar"][0], config, now, problems, warnings)
        problems.append(SidecarProblem(shown["sidecar"][0], f"no video next to it ({Path(key).name}.mp4, "
                                                            ".mov or .webm)"))
        return False
    if not sidecars:
        problems.append(SidecarProblem(shown["video"][0], f"no sidecar next to it ({Path(key).name}.yaml); "
                                                          f"`ralph-watch new {shown['video'][0]}` writes one"))
        return False
    result, found = validate_pair(root, video=videos[0], sidecar=sidecars[0], tz=judge.tz,
                                  defaults=judge.defaults)
    for p in found:
        problems.append(SidecarProblem(str(_shown(root, target, p.path)), p.message, p.line, p.key))
    if result is not None:
        _check_timing(result.sidecar, str(_shown(root, target, sidecars[0])), config, now, problems,
                      warnings)
        _check_upload_time(result.identity.size, shown["video"][0], config, warnings)
        _check_plan(result.sidecar, str(_shown(root, target, sidecars[0])), config, problems, warnings)
    if result is not None and result.sidecar.cron:
        crons.setdefault((result.sidecar.cron, judge.name, judge.timezone), []).append(str(base))
    return True


def _check_config(path: Path | None) -> Config:
    """The config `check` judges against: -c, else ./config.yaml as `run` reads it, else the defaults.

    Named on stderr (with its time zones) so that a --json reader's stdout stays clean."""
    from .config import default_config, read_config
    path = path if path is not None else _dot_config()
    config = default_config(Path.cwd()) if path is None else read_config(path)
    source = str(path) if path is not None else "the built-in defaults (no ./config.yaml; -c CONFIG picks one)"
    top = config.top_level or config.accounts[0]
    print(f"ralph-watch check: using {source}, time zone {top.timezone}", file=sys.stderr)
    for account in config.configured_accounts:
        print(f"ralph-watch check: account {account.name} ({account.inbox}): time zone {account.timezone}",
              file=sys.stderr)
    return config


def _dot_config() -> Path | None:
    """./config.yaml when it is there (as `run` and `status` read it), else None (the defaults)."""
    return Path("config.yaml") if Path("config.yaml").is_file() else None


def _now() -> Any:
    from .clock import SystemClock
    return SystemClock().now()


def _lint_sidecar(root: Path, rel: str, shown: str, judge: AccountConfig, problems: list[SidecarProblem]) -> Any:
    """A sidecar without its video: every problem it has, as the service would report them later."""
    from .sidecar import parse_sidecar
    from .validate import read_sidecar_bytes
    try:
        data = read_sidecar_bytes(root / rel, shown=shown)
        return parse_sidecar(data, path=shown, tz=judge.tz, defaults=judge.defaults)
    except SidecarError as exc:
        problems.extend(exc.problems)
        return None


def _check_timing(sc: Any, shown: str, config: Any, now: Any, problems: list[SidecarProblem],
                  warnings: list[SidecarProblem]) -> None:
    """A past `at`: missed (a problem) past the late grace, published at once (a warning) within it."""
    from datetime import timedelta
    from .validate import at_verdict
    if sc.at is None:
        return
    verdict, sentence = at_verdict(sc.at, sc.at_text or "", now=now,
                                   grace=timedelta(minutes=config.schedule.late_grace_minutes))
    if verdict is None:
        return
    item = SidecarProblem(shown, sentence, sc.lines.get("at"), "at")
    (problems if verdict == "missed" else warnings).append(item)


def _check_plan(sc: Any, shown: str, config: Any, problems: list[SidecarProblem],
                warnings: list[SidecarProblem]) -> None:
    """What TikTok will refuse (an unaudited app: the service refuses it too) or ignore (postplan)."""
    from .postplan import audit_refusal, sidecar_notes
    refusal = audit_refusal(mode=sc.mode, privacy=sc.privacy, audited=config.tiktok.audited)
    if refusal:
        problems.append(SidecarProblem(shown, refusal, sc.lines.get("privacy"), "privacy"))
    warnings.extend(SidecarProblem(shown, note) for note in sidecar_notes(sc, sc.lines))


def _check_upload_time(size: int, shown: str, config: Any, warnings: list[SidecarProblem]) -> None:
    """upload.max_rate too slow for TikTok's upload link: said before the upload, as the page says it."""
    from .tiktok.ratecap import too_slow
    sentence = too_slow(size, config.upload.max_rate, lifetime=config.tiktok.limits.upload_url_seconds)
    if sentence:
        warnings.append(SidecarProblem(shown, sentence))


def _collect(target: Path, classify: Any, is_ignored: Any) -> tuple[Path, dict[str, dict[str, list[str]]]]:
    """Pairs under a folder, or the pair of one file. Keys and paths are relative to the root."""
    pairs: dict[str, dict[str, list[str]]] = {}

    def add(root: Path, rel: str) -> None:
        name = rel.rsplit("/", 1)[-1]
        c = classify(name)
        if c is None:
            return
        kind, stem = c
        folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
        pairs.setdefault(folder + stem, {}).setdefault(kind, []).append(rel)

    if target.is_dir() and not target.is_symlink():
        root = target
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
            for f in sorted(filenames):
                if is_ignored(f):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                add(root, rel)
        return root, pairs
    root = target.parent
    c = classify(target.name)
    if c is None:
        return root, {}
    for sibling in sorted(root.iterdir()):
        sc = classify(sibling.name)
        if sc is not None and sc[1] == c[1] and not is_ignored(sibling.name):
            add(root, sibling.name)
    return root, pairs


def _shown(root: Path, target: Path, rel: str) -> Path:
    return (target if target.is_dir() else target.parent) / rel


# -- new ---------------------------------------------------------------------------------------
NEW_FLAGS = {"mode": "--draft"}

def cmd_new(args: argparse.Namespace) -> int:
    from .inbox import classify
    from .sidecar import parse_sidecar, render_sidecar

    video: Path = args.video
    c = classify(video.name)
    if c is None or c[0] != "video":
        print(f"ralph-watch new: {video}: not a video name (.mp4, .mov or .webm)", file=sys.stderr)
        return 2
    if not video.is_file():
        print(f"ralph-watch new: {video}: no such file", file=sys.stderr)
        return 1
    info, refused = _video_verdict(video)
    if refused:
        for sentence in refused:
            print(f"ralph-watch new: {video}: {sentence}; no sidecar was written", file=sys.stderr)
        return 1
    text = render_sidecar(_new_values(args))
    target = video.with_name(c[1] + ".yaml")
    config = load_config_or_default(args.config if args.config is not None else _dot_config())
    judge = Judges(config).of(video)   # the account whose inbox holds VIDEO, else the top level
    try:
        parsed = parse_sidecar(text.encode(), path=str(target), tz=judge.tz, defaults=judge.defaults)
    except SidecarError as exc:
        # The file does not exist yet: name the option that made the bad value, not a line.
        for p in exc.problems:
            print(f"ralph-watch new: {NEW_FLAGS.get(p.key or '', '--' + (p.key or '').replace('_', '-'))}: "
                  f"{p.message}", file=sys.stderr)
        return 2
    cover = _cover_refused(args.cover_ms, info)
    if cover:
        print(f"ralph-watch new: --cover-ms: {cover}", file=sys.stderr)
        return 2
    missed: list[SidecarProblem] = []
    late: list[SidecarProblem] = []
    _check_timing(parsed, str(target), config, _now(), missed, late)
    for p in late:  # within the grace: it goes out at once
        print(f"ralph-watch new: --at: warning: {p.message}", file=sys.stderr)
    if missed:  # the service would mark it missed at once
        print(f"ralph-watch new: --at: {missed[0].message}", file=sys.stderr)
        return 2
    if args.dry_run:
        sys.stdout.write(text)
        return 0
    others = [p for p in (target, video.with_name(c[1] + ".yml")) if p.exists()]
    if others and not args.force:
        print(f"ralph-watch new: {others[0]} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    from .pairfiles import replace_file
    replace_file(target.parent, target.name, text.encode("utf-8"))   # no symlink at a temp name is followed
    print(f"wrote {target}")
    return 0


def _new_values(args: argparse.Namespace) -> dict[str, Any]:
    """The sidecar keys `new`'s options give (an option left out writes no key)."""
    values: dict[str, Any] = {}
    if args.title is not None:
        values["title"] = args.title
    if args.privacy is not None:
        values["privacy"] = args.privacy
    if args.at:
        values["at"] = args.at
    if args.cron:
        values["cron"] = args.cron
    if args.draft:
        values["mode"] = "draft"
    for key in ("allow_comments", "allow_duet", "allow_stitch", "ai_generated"):
        if getattr(args, key):
            values[key] = True
    if args.promotion:
        values["promotion"] = args.promotion
    if args.cover_ms is not None:
        values["cover_ms"] = args.cover_ms
    return values


def _video_verdict(video: Path) -> tuple[Any, list[str]]:
    """(info, refusals) for a video, judged as the service judges it when its pair is complete."""
    from .errors import ProbeError
    from .probe import check_size, check_video, probe_video
    try:
        too_big = check_size(video.stat().st_size)
        if too_big:
            return None, [too_big]
        info = probe_video(video)
    except ProbeError as exc:
        return None, [str(exc)]
    except OSError as exc:
        return None, [f"cannot read the video: {exc.strerror}"]
    return info, list(check_video(info))


def _cover_refused(cover_ms: int | None, info: Any) -> str | None:
    from .validate import cover_problem
    return cover_problem(cover_ms or 0, getattr(info, "duration", None))


