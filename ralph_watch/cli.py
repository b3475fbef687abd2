"""The `ralph-watch` command: run, demo, check, emulator, new, status.

Exit codes: 0 fine, 1 problems found / service unreachable, 2 usage or config error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
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
    d.add_argument("--state-dir", type=Path, default=None,
                   help="where the demo keeps its state (default: one folder per inbox under "
                        "~/.local/state/ralph-watch-demo)")
    d.add_argument("--emulator-port", type=int, default=0, help="port of the TikTok emulator (default: any free one)")
    d.add_argument("--settle-seconds", type=float, default=1.0,
                   help="seconds a file must stay unchanged before it counts as complete (default: 1)")
    d.add_argument("--profile", type=Path, default=None, help="emulator profile (YAML)")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("check", help="validate pairs and sidecars without publishing")
    c.add_argument("-c", "--config", type=Path, default=None,
                   help="config file (default: ./config.yaml if it is there, else the built-in defaults)")
    c.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the inbox)")
    c.add_argument("--json", action="store_true", help="print a JSON array of {path, line, message}")
    c.add_argument("--next", type=int, default=0, metavar="N", help="show the next N slots of every cron queue")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("emulator", help="run the TikTok emulator alone")
    e.add_argument("--port", type=int, default=8081, help="port to listen on (default: 8081)")
    e.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    e.add_argument("--profile", type=Path, default=None, help="profile (YAML): client key/secret, account, limits")
    e.set_defaults(func=cmd_emulator)

    n = sub.add_parser("new", help="write NAME.yaml beside a video")
    n.add_argument("video", type=Path, help="the video (.mp4, .mov or .webm) the sidecar is for")
    n.add_argument("--title", default=None, help="the post's caption (hashtags and @mentions included)")
    n.add_argument("--privacy", default=None, help="public | friends | followers | private")
    g = n.add_mutually_exclusive_group()
    g.add_argument("--at", default=None, help='e.g. "2026-12-24 18:00"')
    g.add_argument("--cron", default=None, help='e.g. "0 18 * * FRI"')
    n.add_argument("--draft", action="store_true", help="send to the TikTok inbox as a draft")
    n.add_argument("--allow-comments", action="store_true", help="let viewers comment")
    n.add_argument("--allow-duet", action="store_true", help="let viewers duet the video")
    n.add_argument("--allow-stitch", action="store_true", help="let viewers stitch the video")
    n.add_argument("--ai-generated", action="store_true", help="label the video as AI-generated content")
    n.add_argument("--promotion", default=None, choices=["none", "own_brand", "branded", "both"],
                   help="commercial content disclosure (default: none)")
    n.add_argument("--cover-ms", type=int, default=None, metavar="MS",
                   help="the cover frame, in milliseconds from the start (within the video)")
    n.add_argument("--force", action="store_true", help="overwrite an existing sidecar")
    n.add_argument("--dry-run", action="store_true", help="print the sidecar instead of writing it")
    n.add_argument("-c", "--config", type=Path, default=None,
                   help="config whose time zone and defaults apply (default: ./config.yaml if it is there)")
    n.set_defaults(func=cmd_new)

    s = sub.add_parser("status", help="show the running service's tasks")
    s.add_argument("-c", "--config", type=Path, default=Path("config.yaml"),
                   help="the running service's config file (default: ./config.yaml)")
    s.add_argument("--json", action="store_true", help="print the /api/tasks array")
    s.add_argument("--wide", action="store_true",
                   help="one line per task with its ID and the whole title and error (default: wrap the error)")
    s.set_defaults(func=cmd_status)
    _add_action_parsers(sub)
    return p


ACTION_HELP = {
    "pause": "pause publishing in the running service (due tasks wait)",
    "resume": "resume publishing in the running service",
    "retry": "publish a failed or missed task anew",
    "cancel": "cancel a task: delete its video and sidecar from the inbox",
    "publish-now": "publish a scheduled task now instead of at its time",
}


def _add_action_parsers(sub: Any) -> None:
    """The page's buttons as commands: they post the page's own forms to the running service."""
    for verb, text in ACTION_HELP.items():
        a = sub.add_parser(verb, help=text, description=text + ".")
        a.add_argument("-c", "--config", type=Path, default=Path("config.yaml"),
                       help="the running service's config file (default: ./config.yaml)")
        if verb not in ("pause", "resume"):
            a.add_argument("task", metavar="ID",
                           help="the task's ID (`ralph-watch status --wide` shows it) or its video's name")
        a.set_defaults(func=cmd_action, verb=verb)


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
    if not config.inbox.is_dir():
        print(f"ralph-watch: inbox {config.inbox} does not exist; is the share mounted?"
              if not config.inbox.exists() else f"ralph-watch: inbox {config.inbox} is not a folder", file=sys.stderr)
        return 2
    if _port_taken(config.web.host, config.web.port):
        print(f"ralph-watch: port {config.web.port} is in use; choose another web.port in {args.config}",
              file=sys.stderr)
        return 2
    harden()  # before the tokens exist: no core dump, no ptrace or /proc/PID/mem by the same user
    return _serve(Service(config, config_path=args.config), port=config.web.port,
                  fix=f"web.port in {args.config}")


def _port_taken(host: str, port: int) -> bool:
    """True when another program listens on host:port (checked before anything starts)."""
    import errno
    import socket
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False  # the web server names the bad address itself
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            sock.bind(addr)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _serve(service: Any, *, port: int, fix: str) -> int:
    """run_forever(), with a page that cannot listen as one line (exit 2), not a traceback."""
    import errno
    from .web.server import WebServerError
    try:
        service.run_forever()
    except WebServerError as exc:
        try:
            service.shutdown(timeout=2.0)
        except Exception:  # half started: stopping what did start is all that matters
            pass
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
            print(f"ralph-watch: port {port} is in use; choose another {fix}", file=sys.stderr)
        else:
            print(f"ralph-watch: {exc}", file=sys.stderr)
        return 2
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
    # Only TZ from the environment: the demo's zone is the machine's (as its log lines are), while
    # TIKTOK_CLIENT_KEY and friends must not replace the emulator's credentials.
    environ = {"TZ": os.environ["TZ"]} if os.environ.get("TZ") else {}
    return load_config(yaml.safe_dump(data), base_dir=Path.cwd(), environ=environ)


def demo_state_dir(inbox: Path) -> Path:
    """The demo's state belongs to its inbox, so two demos with different --inbox run side by side."""
    import hashlib
    resolved = inbox.resolve()
    tag = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return Path.home() / ".local" / "state" / "ralph-watch-demo" / f"{resolved.name or 'inbox'}-{tag}"


def cmd_demo(args: argparse.Namespace) -> int:
    from .hardening import harden
    from .service import Service
    from .emulator import EmulatorServer, load_profile

    harden()  # as `run` does: the demo holds tokens too
    if _port_taken("127.0.0.1", args.port):
        print(f"ralph-watch: port {args.port} is in use; choose another with --port", file=sys.stderr)
        return 2
    profile = load_profile(args.profile)
    emu = EmulatorServer(profile, host="127.0.0.1", port=args.emulator_port).start()
    state_dir = args.state_dir or demo_state_dir(args.inbox)
    from dataclasses import asdict
    config = demo_config(inbox=args.inbox, port=args.port, state_dir=state_dir, emulator_url=emu.base_url,
                         client_key=profile.client_key, client_secret=profile.client_secret,
                         settle_seconds=args.settle_seconds, limits=asdict(profile.limits))
    config.inbox.mkdir(parents=True, exist_ok=True)
    if args.sample:
        write_sample(config.inbox)
    print(f"ralph-watch demo: open http://127.0.0.1:{args.port}/ and press \"Log in with TikTok\".\n"
          f"  inbox: {config.inbox}\n  TikTok emulator: {emu.base_url}/ (what it received)\n"
          f"  time zone: {config.timezone} (set TZ to change it)\n"
          "  Drop a video and its .yaml into the inbox (or restart with --sample). Ctrl-C stops.", flush=True)
    try:
        return _serve(Service(config), port=args.port, fix="with --port")
    finally:
        emu.stop()


def write_sample(inbox: Path) -> Path:
    import shutil
    import tempfile

    from .pairfiles import replace_file
    from .sample import make_video
    video = inbox / "sample.mp4"
    # Made in a hidden folder (the watcher ignores it), then renamed in: a symlink already
    # called sample.mp4 is replaced, never written through.
    staging = Path(tempfile.mkdtemp(prefix=".ralph-watch-sample-", dir=inbox))
    try:
        make_video(staging / "sample.mp4", seconds=3)
        os.rename(staging / "sample.mp4", video)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    replace_file(inbox, "sample.yaml", (
        'title: "Hello from ralph-watch #demo"\n'
        "privacy: public\n"
        "# at: \"2026-12-24 18:00\"   # leave out at/cron to publish as soon as the pair is complete\n").encode())
    print(f"wrote {video} and {inbox / 'sample.yaml'}", flush=True)
    return video


# -- emulator ----------------------------------------------------------------------------------
def cmd_emulator(args: argparse.Namespace) -> int:
    from .emulator import EmulatorServer, load_profile
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

    config = _check_config(args.config)
    now = _now()
    warnings: list[SidecarProblem] = []
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
                parsed = _lint_sidecar(root, sidecars[0], shown["sidecar"][0], config, problems)
                if parsed is not None:
                    _check_timing(parsed, shown["sidecar"][0], config, now, problems, warnings)
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
            if result is not None:
                _check_timing(result.sidecar, str(_shown(root, target, sidecars[0])), config, now, problems,
                              warnings)
                _check_upload_time(result.identity.size, shown["video"][0], config, warnings)
                _check_plan(result.sidecar, str(_shown(root, target, sidecars[0])), config, problems, warnings)
            if result is not None and result.sidecar.cron:
                crons.setdefault(result.sidecar.cron, []).append(str(base))
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
            for key, pairs in sorted(crons.items()):
                print(f"\ncron {key} ({len(pairs)} pair(s)): next {args.next} slots")
                for line in describe_slots(parse_cron(key), after=now, tz=config.tz, n=args.next):
                    print(f"  {line}")
        if not problems:
            print(f"{checked} pair(s) checked: no problems", file=sys.stderr)
    return 1 if problems else 0


def _check_config(path: Path | None) -> Any:
    """The config `check` judges against: -c, else ./config.yaml as `run` reads it, else the defaults.

    Named on stderr (with its time zone) so that a --json reader's stdout stays clean."""
    from .config import default_config, read_config
    path = path if path is not None else _dot_config()
    config = default_config(Path.cwd()) if path is None else read_config(path)
    source = str(path) if path is not None else "the built-in defaults (no ./config.yaml; -c CONFIG picks one)"
    print(f"ralph-watch check: using {source}, time zone {config.timezone}", file=sys.stderr)
    return config


def _dot_config() -> Path | None:
    """./config.yaml when it is there (as `run` and `status` read it), else None (the defaults)."""
    return Path("config.yaml") if Path("config.yaml").is_file() else None


def _now() -> Any:
    from .clock import SystemClock
    return SystemClock().now()


def _lint_sidecar(root: Path, rel: str, shown: str, config: Any, problems: list[SidecarProblem]) -> Any:
    """A sidecar without its video: every problem it has, as the service would report them later."""
    from .sidecar import parse_sidecar
    from .validate import read_sidecar_bytes
    try:
        data = read_sidecar_bytes(root / rel, shown=shown)
        return parse_sidecar(data, path=shown, tz=config.tz, defaults=config.defaults)
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
    config = _load(args.config if args.config is not None else _dot_config())
    try:
        parsed = parse_sidecar(text.encode(), path=str(target), tz=config.tz, defaults=config.defaults)
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


# -- status ------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    config = _read_service_config(args.config)
    base, host = _service_address(config)
    auth = None
    password = _password(config)
    if password:
        auth = ("ralph-watch", password)
    try:
        r = httpx.get(f"{base}/api/tasks", auth=auth, timeout=5, headers={"Host": host})
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
    for line in status_table(tasks, tz=config.tz, wide=args.wide, width=shutil.get_terminal_size((120, 24)).columns):
        print(line)
    return 0


def status_table(tasks: list[dict[str, Any]], *, tz: Any, wide: bool, width: int) -> list[str]:
    """The table `status` prints. Due times name their zone; error sentences are never cut: --wide
    keeps each on its line, otherwise they wrap under the ERROR column."""
    import textwrap
    from datetime import datetime
    zone = getattr(tz, "key", str(tz))
    head = ("ID",) if wide else ()
    rows = [head + ("STATE", "DUE", "VIDEO", "TITLE", "ERROR")]
    for t in tasks:
        due = (datetime.fromisoformat(t["due"]).astimezone(tz).strftime("%Y-%m-%d %H:%M") + f" {zone}"
               if t["due"] else "-")
        title = t["title"] or ""
        rows.append(((str(t["id"]),) if wide else ()) + (
            t["state"], due, t["video"] or t["sidecar"] or "-", title if wide else _cut(title, 30),
            (t["error"] or "").replace("\n", " ")))
    n = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    out = []
    for at, r in enumerate(rows):
        lead = "  ".join(r[i].ljust(widths[i]) for i in range(n)) + "  "
        room = width - len(lead)
        if wide or not r[n] or at == 0:
            out.append((lead + r[n]).rstrip())
        elif room < 30:  # too narrow beside the row: the sentence goes below it, indented
            out.append(lead.rstrip())
            out.extend("    " + part for part in textwrap.wrap(r[n], max(width - 4, 20), break_long_words=False,
                                                               break_on_hyphens=False))
        else:
            parts = textwrap.wrap(r[n], room, break_long_words=False, break_on_hyphens=False)
            out.append(lead + parts[0])
            out.extend(" " * len(lead) + more for more in parts[1:])
    return out


def _service_address(config: Any) -> tuple[str, str]:
    """(base URL, Host header) of the running service's page, as seen from this machine."""
    host = config.web.host if config.web.host not in ("0.0.0.0", "::") else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{config.web.port}", f"{shown}:{config.web.port}"


def _password(config: Any) -> str | None:
    """The web password, where `run` takes it from: RALPH_WATCH_PASSWORD, else web.password."""
    return os.environ.get("RALPH_WATCH_PASSWORD") or (config.web.password or None)


def _read_service_config(path: Path) -> Any:
    from .config import default_config, read_config
    return read_config(path) if path.exists() else default_config(Path.cwd())


# -- pause / resume / retry / cancel / publish-now ---------------------------------------------
class ActionFailed(Exception):
    """The sentence to print (the service's own, where it gave one)."""


class PageSession:
    """A session with the running service, opened as a browser opens one: it signs in (password
    mode), reads the CSRF token from the page and posts the page's own forms with its Origin."""

    def __init__(self, config: Any, *, timeout: float = 10) -> None:
        import httpx
        self.base, host = _service_address(config)
        self.password = _password(config)
        self.http = httpx.Client(base_url=self.base, timeout=timeout, follow_redirects=False,
                                 headers={"Host": host, "Origin": self.base})
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx
        from http.cookies import SimpleCookie
        if self.cookies:
            kw.setdefault("headers", {})["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ActionFailed(f"the service at {self.base} is not reachable ({exc.__class__.__name__}); "
                               "is it running?") from None
        # Cookies by hand: with an https web.public_url the session cookie is marked Secure, and
        # this client talks plain http to the loopback address, where a cookie jar would drop it.
        self.http.cookies.clear()
        for line in r.headers.get_list("set-cookie"):
            for name, morsel in SimpleCookie(line).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return r

    def _token(self, path: str) -> str:
        import re
        page = self._request("GET", path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text) or \
            re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        if page.status_code != 200 or found is None:
            raise ActionFailed(f"{self.base}{path} answered {page.status_code} without a form to post; "
                               "is this a ralph-watch service?")
        return found.group(1)

    def open(self) -> None:
        if self.password:
            r = self._request("POST", "/signin", data={"csrf": self._token("/signin"), "password": self.password})
            if r.status_code != 303:
                raise ActionFailed("the service refused the password (set RALPH_WATCH_PASSWORD to its "
                                   "web.password)" if r.status_code == 401 else
                                   f"signing in answered {r.status_code}; {_reply_sentence(r)}")
        self.csrf = self._token("/")

    def post(self, path: str, **fields: str) -> str:
        r = self._request("POST", path, data={"csrf": self.csrf, **fields},
                          headers={"Accept": "application/json"})
        sentence = _reply_sentence(r)
        if r.status_code != 200:
            raise ActionFailed(sentence)
        return sentence

    def find_task(self, name: str) -> str:
        """A task ID as given, or the ID of the task whose video or sidecar has that name."""
        r = self._request("GET", "/api/tasks", headers={"Accept": "application/json"})
        tasks = r.json() if r.status_code == 200 else []
        if any(str(t.get("id")) == name for t in tasks):
            return name
        hits = [t for t in tasks if name in (t.get("video"), t.get("sidecar"))]
        if len(hits) == 1:
            return str(hits[0]["id"])
        if len(hits) > 1:
            raise ActionFailed(f"{len(hits)} tasks have {name}; give one ID (`ralph-watch status --wide`)")
        return name  # the service says what is wrong with it


def _reply_sentence(r: Any) -> str:
    try:
        data = r.json()
    except ValueError:
        return f"the service answered {r.status_code}"
    return str(data.get("message") or data.get("error") or f"the service answered {r.status_code}")


def cmd_action(args: argparse.Namespace) -> int:
    session = PageSession(_read_service_config(args.config))
    try:
        session.open()
        if args.verb in ("pause", "resume"):
            sentence = session.post(f"/{args.verb}")
        else:
            task_id = session.find_task(args.task)
            fields = {"confirmed": "yes"} if args.verb == "cancel" else {}
            from urllib.parse import quote
            sentence = session.post(f"/tasks/{quote(task_id, safe='')}/{args.verb}", **fields)
    except ActionFailed as exc:
        print(f"ralph-watch {args.verb}: {exc}", file=sys.stderr)
        return 1
    finally:
        session.close()
    print(sentence)
    return 0


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
