"""`ralph-watch status` and the page's buttons as commands (pause, resume, retry, cancel, publish-now):
they talk to the running service over its own page and JSON routes."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any



def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    config = _read_service_config(args.config)
    base, host = _service_address(config)
    auth = None
    password = _password(config)
    if password:
        auth = ("ralph-watch", password)
    try:
        params = {"account": args.account} if getattr(args, "account", None) else {}
        r = httpx.get(f"{base}/api/tasks", auth=auth, timeout=5, headers={"Host": host}, params=params)
    except httpx.HTTPError as exc:
        print(f"ralph-watch status: the service at {base} is not reachable ({exc.__class__.__name__}); "
              "is it running?", file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(f"ralph-watch status: {base}/api/tasks answered {r.status_code}"
              + (" (set RALPH_WATCH_PASSWORD)" if r.status_code in (401, 403) else "")
              + (f" (the accounts are {', '.join(a.name for a in config.accounts)})" if r.status_code == 404 else ""),
              file=sys.stderr)
        return 1
    tasks = r.json()
    if args.json:
        print(json.dumps(tasks, ensure_ascii=False, indent=1))
        return 0
    for line in status_table(tasks, tz=config.tz, wide=args.wide, width=shutil.get_terminal_size((120, 24)).columns,
                             accounts=len(config.accounts) > 1):
        print(line)
    return 0


def status_table(tasks: list[dict[str, Any]], *, tz: Any, wide: bool, width: int, accounts: bool = False) -> list[str]:
    """The table `status` prints. Due times name their zone; error sentences are never cut: --wide
    keeps each on its line, otherwise they wrap under the ERROR column. `accounts`: an ACCOUNT
    column (with several accounts; one account's table stays as it was)."""
    import textwrap
    from datetime import datetime
    zone = getattr(tz, "key", str(tz))
    head = (("ID",) if wide else ()) + (("ACCOUNT",) if accounts else ())
    rows = [head + ("STATE", "DUE", "VIDEO", "TITLE", "ERROR")]
    for t in tasks:
        due = (datetime.fromisoformat(t["due"]).astimezone(tz).strftime("%Y-%m-%d %H:%M") + f" {zone}"
               if t["due"] else "-")
        title = t["title"] or ""
        rows.append(((str(t["id"]),) if wide else ()) + ((str(t.get("account", "default")),) if accounts else ()) + (
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
