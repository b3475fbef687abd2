"""The `ralph-watch` command: run, demo, check, emulator, new, status.

Exit codes: 0 fine, 1 problems found / service unreachable, 2 usage or config error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import ConfigError, LockError, SidecarError, SidecarProblem

log = logging.getLogger("ralph_watch")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .logs import setup_logging
    setup_logging(args.log_level, args.log_format)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print("ralph-watch: the config has problems:", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    except LockError as exc:
        print(f"ralph-watch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ralph-watch", description="A folder that publishes to TikTok.")
    p.add_argument("--version", action="version", version=f"ralph-watch {__version__}")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                   type=str.lower, help="how much to log (default: info)")
    p.add_argument("--log-format", default="text", choices=["text", "json"], help="log lines as text or JSON")
    sub = p.add_subparsers(metavar="COMMAND")

    r = sub.add_parser("run", help="run the service")
    r.add_argument("-c", "--config", default="config.yaml", type=Path, help="config file (default: ./config.yaml)")
    r.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="run the service against the built-in TikTok emulator")
    d.add_argument("--inbox", type=Path, default=Path("inbox"), help="inbox folder (default: ./inbox)")
    d.add_argument("--port", type=int, default=8080, help="port of the page (default: 8080)")
    d.add_argument("--sample", action="store_true", help="write a sample video and sidecar into the inbox")
    d.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    d.add_argument("--emulator-port", type=int, default=0, help=argparse.SUPPRESS)
    d.add_argument("--settle-seconds", type=float, default=1.0, help=argparse.SUPPRESS)
    d.add_argument("--profile", type=Path, default=None, help="emulator profile (YAML)")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("check", help="validate pairs and sidecars without publishing")
    c.add_argument("-c", "--config", type=Path, default=None, help="config file (default: built-in defaults)")
    c.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the inbox)")
    c.add_argument("--json", action="store_true", help="print a JSON array of {path, line, message}")
    c.add_argument("--next", type=int, default=0, metavar="N", help="show the next N slots of every cron queue")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("emulator", help="run the TikTok emulator alone")
    e.add_argument("--port", type=int, default=8081)
    e.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    e.add_argument("--profile", type=Path, default=None, help="profile (YAML): client key/secret, account, limits")
    e.set_defaults(func=cmd_emulator)

    n = sub.add_parser("new", help="write NAME.yaml beside a video")
    n.add_argument("video", type=Path)
    n.add_argument("--title", default=None)
    n.add_argument("--privacy", default=None, help="public | friends | followers | private")
    g = n.add_mutually_exclusive_group()
    g.add_argument("--at", default=None, help='e.g. "2026-12-24 18:00"')
    g.add_argument("--cron", default=None, help='e.g. "0 18 * * FRI"')
    n.add_argument("--draft", action="store_true", help="send to the TikTok inbox as a draft")
    n.add_argument("--allow-comments", action="store_true")
    n.add_argument("--allow-duet", action="store_true")
    n.add_argument("--allow-stitch", action="store_true")
    n.add_argument("--ai-generated", action="store_true")
    n.add_argument("--promotion", default=None, choices=["none", "own_brand", "branded", "both"])
    n.add_argument("--cover-ms", type=int, default=None)
    n.add_argument("--force", action="store_true", help="overwrite an existing sidecar")
    n.add_argument("--dry-run", action="store_true", help="print the sidecar instead of writing it")
    n.add_argument("-c", "--config", type=Path, default=None, help=argparse.SUPPRESS)
    n.set_defaults(func=cmd_new)

    s = sub.add_parser("status", help="show the running service's tasks")
    s.add_argument("-c", "--config", type=Path, default=Path("config.yaml"))
    s.add_argument("--json", action="store_true", help="print the /api/tasks array")
    s.set_defaults(func=cmd_status)
    return p


# -- run / demo ----------------------------------------------------------------------------------
def _load(path: Path | None) -> Any:
    from .config import default_config, read_config
    if path is None:
        return default_config(Path.cwd())
    return read_config(path)


def cmd_run(args: argparse.Namespace) -> int:
    from .hardening import harden
    from .service import Service
    config = _load(args.config)
    if not config.tiktok.client_key or not config.tiktok.client_secret:
        print("ralph-watch: tiktok.client_key and tiktok.client_secret are empty: set TIKTOK_CLIENT_KEY and "
              "TIKTOK_CLIENT_SECRET (see README: TikTok app set-up), or try `ralph-watch demo`.", file=sys.stderr)
        return 2
    harden()  # before the tokens exist: no core dump, no ptrace or /proc/PID/mem by the same user
    Service(config, config_path=args.config).run_forever()
    return 0


def demo_config(*, inbox: Path, port: int, state_dir: Path, emulator_url: str, client_key: str, client_secret: str,
                settle_seconds: float, limits: dict | None = None) -> Any:
    from .config import load_config
    data = {
        "inbox": str(inbox.resolve()),
        "state_dir": str(state_dir.resolve()),
        "watch": {"settle_seconds": settle_seconds, "poll_seconds": 1},
        "web": {"host": "127.0.0.1", "port": port},
        "tiktok": {
            "client_key": client_key, "client_secret": client_secret,
            "redirect_uri": f"http://127.0.0.1:{port}/callback",
            "api_base": emulator_url,
            "authorize_url": f"{emulator_url}/v2/auth/authorize/",
            "limits": limits or {},
        },
    }
    import yaml
    return load_config(yaml.safe_dump(data), base_dir=Path.cwd(), environ={})


def cmd_demo(args: argparse.Namespace) -> int:
    from .hardening import harden
    from .service import Service
    from .tiktok.emulator import EmulatorServer, load_profile

    harden()  # as `run` does: the demo holds tokens too
    profile = load_profile(args.profile)
    emu = EmulatorServer(profile, host="127.0.0.1", port=args.emulator_port).start()
    state_dir = args.state_dir or Path.home() / ".local" / "state" / "ralph-watch-demo"
    from dataclasses import asdict
    config = demo_config(inbox=args.inbox, port=args.port, state_dir=state_dir, emulator_url=emu.base_url,
                         client_key=profile.client_key, client_secret=profile.client_secret,
                         settle_seconds=args.settle_seconds, limits=asdict(profile.limits))
    config.inbox.mkdir(parents=True, exist_ok=True)
    if args.sample:
        write_sample(config.inbox)
    print(f"ralph-watch demo: open http://127.0.0.1:{args.port}/ and press \"Log in with TikTok\".\n"
          f"  inbox: {config.inbox}\n  TikTok emulator: {emu.base_url}/ (what it received)\n"
          "  Drop a video and its .yaml into the inbox (or restart with --sample). Ctrl-C stops.", flush=True)
    try:
        Service(config).run_forever()
    finally:
        emu.stop()
    return 0


def write_sample(inbox: Path) -> Path:
    from .sample import make_video
    video = inbox / "sample.mp4"
    make_video(video, seconds=3)
    (inbox / "sample.yaml").write_text(
        'title: "Hello from ralph-watch #demo"\n'
        "privacy: public\n"
        "# at: \"2026-12-24 18:00\"   # leave out at/cron to publish as soon as the pair is complete\n",
        encoding="utf-8")
    print(f"wrote {video} and {inbox / 'sample.yaml'}", flush=True)
    return video


# -- emulator ----------------------------------------------------------------------------------
def cmd_emulator(args: argparse.Namespace) -> int:
    from .tiktok.emulator import EmulatorServer, load_profile
    emu = EmulatorServer(load_profile(args.profile), host=args.host, port=args.port).start()
    print(f"TikTok emulator listening on {emu.base_url} (client_key {emu.profile.client_key})", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1.0):
        pass
    emu.stop()
    return 0


# -- check -------------------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    from .inbox import classify, is_ignored
    from .validate import validate_pair

    config = _load(args.config)
    targets = args.paths or [config.inbox]
    problems: list[SidecarProblem] = []
    crons: dict[str, Any] = {}
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
            shown = {k: [str(_shown(root, target, r)) for r in v] for k, v in files.items()}
            videos, sidecars = files.get("video", []), files.get("sidecar", [])
            base = _shown(root, target, key)
            if len(videos) > 1 or len(sidecars) > 1:
                problems.append(SidecarProblem(str(base), "two files for one name: " +
                                               " and ".join(shown.get("video", []) + shown.get("sidecar", []))))
                continue
            if not videos:
                problems.append(SidecarProblem(shown["sidecar"][0], f"no video next to it ({Path(key).name}.mp4, "
                                                                    ".mov or .webm)"))
                continue
            if not sidecars:
                problems.append(SidecarProblem(shown["video"][0], f"no sidecar next to it ({Path(key).name}.yaml); "
                                                                  f"`ralph-watch new {shown['video'][0]}` writes one"))
                continue
            checked += 1
            result, found = validate_pair(root, video=videos[0], sidecar=sidecars[0], tz=config.tz,
                                          defaults=config.defaults)
            for p in found:
                problems.append(SidecarProblem(str(_shown(root, target, p.path)), p.message, p.line, p.key))
            if result is not None and result.sidecar.cron:
                crons.setdefault(result.sidecar.cron, []).append(str(base))
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
            for key, pairs in sorted(crons.items()):
                print(f"\ncron {key} ({len(pairs)} pair(s)): next {args.next} slots")
                for line in describe_slots(parse_cron(key), after=now, tz=config.tz, n=args.next):
                    print(f"  {line}")
        if not problems:
            print(f"{checked} pair(s) checked: no problems", file=sys.stderr)
    return 1 if problems else 0


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
    text = render_sidecar(values)
    target = video.with_name(c[1] + ".yaml")
    config = _load(args.config)
    try:
        parse_sidecar(text.encode(), path=str(target), tz=config.tz, defaults=config.defaults)
    except SidecarError as exc:
        # The file does not exist yet: name the option that made the bad value, not a line.
        for p in exc.problems:
            print(f"ralph-watch new: {NEW_FLAGS.get(p.key or '', '--' + (p.key or '').replace('_', '-'))}: "
                  f"{p.message}", file=sys.stderr)
        return 2
    if args.dry_run:
        sys.stdout.write(text)
        return 0
    others = [p for p in (target, video.with_name(c[1] + ".yml")) if p.exists()]
    if others and not args.force:
        print(f"ralph-watch new: {others[0]} exists; use --force to overwrite it", file=sys.stderr)
        return 1
    tmp = target.with_name("." + target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    print(f"wrote {target}")
    return 0


# -- status ------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    import httpx
    from .config import read_config

    if args.config.exists():
        config = read_config(args.config)
    else:
        from .config import default_config
        config = default_config(Path.cwd())
    host = config.web.host if config.web.host not in ("0.0.0.0", "::") else "127.0.0.1"
    base = f"http://{host}:{config.web.port}"
    auth = None
    password = os.environ.get("RALPH_WATCH_PASSWORD") or (config.web.password or None)
    if password:
        auth = ("ralph-watch", password)
    try:
        r = httpx.get(f"{base}/api/tasks", auth=auth, timeout=5, headers={"Host": f"{host}:{config.web.port}"})
    except httpx.HTTPError as exc:
        print(f"ralph-watch status: the service at {base} is not reachable ({exc.__class__.__name__}); "
              "is it running?", file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(f"ralph-watch status: {base}/api/tasks answered {r.status_code}"
              + (" (set RALPH_WATCH_PASSWORD)" if r.status_code in (401, 403) else ""), file=sys.stderr)
        return 1
    tasks = r.json()
    if args.json:
        print(json.dumps(tasks, ensure_ascii=False, indent=1))
        return 0
    from datetime import datetime
    rows = [("STATE", "DUE", "VIDEO", "TITLE", "ERROR")]
    for t in tasks:
        due = datetime.fromisoformat(t["due"]).astimezone(config.tz).strftime("%Y-%m-%d %H:%M") if t["due"] else "-"
        rows.append((t["state"], due, t["video"] or t["sidecar"] or "-", _cut(t["title"] or "", 30),
                     _cut((t["error"] or "").replace("\n", " "), 60)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    return 0


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
