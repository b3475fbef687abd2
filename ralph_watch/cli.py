"""The `ralph-watch` command: run, demo, check, emulator, new, status.

Exit codes: 0 fine, 1 problems found / service unreachable, 2 usage or config error.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .cli_check import cmd_check, cmd_new, load_config_or_default
from .cli_page import ActionFailed, PageSession, cmd_action, cmd_status, status_table
from .errors import ConfigError, LockError

__all__ = ["main", "build_parser", "cmd_run", "cmd_demo", "cmd_emulator", "cmd_check", "cmd_new", "cmd_status",
           "cmd_action", "status_table", "PageSession", "ActionFailed", "demo_config", "demo_state_dir",
           "demo_account_names", "demo_creators", "write_sample", "load_config_or_default", "MAX_DEMO_ACCOUNTS"]

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
    _add_service_parsers(sub)
    _add_new_parser(sub)
    s = sub.add_parser("status", help="show the running service's tasks")
    s.add_argument("-c", "--config", type=Path, default=Path("config.yaml"),
                   help="the running service's config file (default: ./config.yaml)")
    s.add_argument("--json", action="store_true", help="print the /api/tasks array")
    s.add_argument("--account", metavar="NAME", help="only this account's tasks (the table has an ACCOUNT column "
                                                     "when there are several)")
    s.add_argument("--wide", action="store_true",
                   help="one line per task with its ID and the whole title and error (default: wrap the error)")
    s.set_defaults(func=cmd_status)
    _add_action_parsers(sub)
    return p


def _add_service_parsers(sub: Any) -> None:
    """run, demo, check and emulator."""
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
    d.add_argument("--accounts", type=int, default=1, metavar="N",
                   help="start N accounts, each with its inbox INBOX/main, INBOX/brand, INBOX/acc3, ... and its own "
                        f"emulated TikTok creator (default: 1, the inbox itself; at most {MAX_DEMO_ACCOUNTS})")
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


def _add_new_parser(sub: Any) -> None:
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
def cmd_run(args: argparse.Namespace) -> int:
    from .hardening import harden
    from .service import Service
    config = load_config_or_default(args.config)
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


MAX_DEMO_ACCOUNTS = 50


def demo_account_names(n: int) -> list[str]:
    """The demo's account names: main, brand, then acc3, acc4, ..."""
    return ["main", "brand", *(f"acc{k}" for k in range(3, n + 1))][:n]


def demo_creators(profile: Any, names: Sequence[str]) -> Any:
    """The emulator profile with at least one creator per account, so each account can log in as
    its own: the profile's creators first, then made-up ones named after the accounts."""
    from dataclasses import replace
    from .emulator import Account
    have = profile.accounts()
    taken = {a.open_id for a in have}
    made = [Account(open_id=_fresh(f"emu-open-id-{k + 1:04d}", taken), nickname=f"{name.capitalize()} Emulator",
                    username=f"{name}.emulator") for k, name in enumerate(names) if k >= len(have)]
    return replace(profile, other_accounts=[*profile.other_accounts, *made]) if made else profile


def _fresh(open_id: str, taken: set[str]) -> str:
    """`open_id`, or it with a suffix when a profile's own creator already has it."""
    while open_id in taken:
        open_id += "-demo"
    taken.add(open_id)
    return open_id


def demo_config(*, inbox: Path, port: int, state_dir: Path, emulator_url: str, client_key: str, client_secret: str,
                settle_seconds: float, limits: dict[str, Any] | None = None,
                accounts: Sequence[str] = ()) -> Any:
    """The demo's config. `accounts`: names of several accounts, each with the inbox INBOX/NAME;
    none: the top-level inbox, as before."""
    from .config import load_config
    place: dict[str, Any] = ({"accounts": {n: {"inbox": str((inbox / n).resolve())} for n in accounts}}
                             if accounts else {"inbox": str(inbox.resolve())})
    data = {
        **place,
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
    # In the order written: the first account is the one /api/account answers for.
    return load_config(yaml.safe_dump(data, sort_keys=False), base_dir=Path.cwd(), environ=environ)


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

    if not 1 <= args.accounts <= MAX_DEMO_ACCOUNTS:
        print(f"ralph-watch demo: --accounts: give 1 to {MAX_DEMO_ACCOUNTS}, not {args.accounts}", file=sys.stderr)
        return 2
    harden()  # as `run` does: the demo holds tokens too
    if _port_taken("127.0.0.1", args.port):
        print(f"ralph-watch: port {args.port} is in use; choose another with --port", file=sys.stderr)
        return 2
    names = demo_account_names(args.accounts) if args.accounts > 1 else []
    profile = demo_creators(load_profile(args.profile), names)
    emu = EmulatorServer(profile, host="127.0.0.1", port=args.emulator_port).start()
    state_dir = args.state_dir or demo_state_dir(args.inbox)
    from dataclasses import asdict
    config = demo_config(inbox=args.inbox, port=args.port, state_dir=state_dir, emulator_url=emu.base_url,
                         client_key=profile.client_key, client_secret=profile.client_secret,
                         settle_seconds=args.settle_seconds, limits=asdict(profile.limits), accounts=names)
    for account in config.accounts:
        account.inbox.mkdir(parents=True, exist_ok=True)
        if args.sample:
            write_sample(account.inbox)
    print(_demo_banner(config, names, profile, port=args.port, emulator_url=emu.base_url), flush=True)
    try:
        return _serve(Service(config), port=args.port, fix="with --port")
    finally:
        emu.stop()


def _demo_banner(config: Any, names: Sequence[str], profile: Any, *, port: int, emulator_url: str) -> str:
    """What the demo prints at start: the page, each account's inbox (and its creator), the emulator."""
    if names:
        creators = profile.accounts()
        where = "".join(f"\n    {a.name}: {a.inbox} (log in as {c.nickname})"
                        for a, c in zip(config.accounts, creators))
        press = "press \"Log in with TikTok\" on each account's card and choose its creator on the consent page"
        drop = "  Drop a video and its .yaml into an account's inbox"
        inboxes = f"  inboxes ({len(names)} accounts):{where}"
    else:
        press, drop, inboxes = "press \"Log in with TikTok\"", "  Drop a video and its .yaml into the inbox", \
            f"  inbox: {config.inbox}"
    return (f"ralph-watch demo: open http://127.0.0.1:{port}/ and {press}.\n"
            f"{inboxes}\n  TikTok emulator: {emulator_url}/ (what it received)\n"
            f"  time zone: {config.timezone} (set TZ to change it)\n"
            f"{drop} (or restart with --sample). Ctrl-C stops.")


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


