"""Debian's chromium driven by Playwright, for the end-to-end tests of the status page.

Never `playwright install`: the browser is the system's (`apt-get install chromium`). A
missing browser fails the test with that instruction instead of skipping it, so CI cannot
pass without having looked at the page.

    browser = launch(playwright, home=tmp)          # headless, no sandbox (root), HOME/TMPDIR in tmp
    log = watch(page)                               # console errors, dialogs, requests, navigations
    log.accept_dialogs = False                      # the next confirm() is dismissed
    login_by_clicking(page, service.url)            # the real consent page, by clicking
    shoot(page, "logged-in")                        # artifacts/screenshots/logged-in-390.png and -1280.png
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

__all__ = ["CHROMIUM_PATHS", "LAUNCH_ARGS", "WIDTHS", "SCREENSHOT_DIR", "chromium_path", "launch", "PageLog",
           "watch", "login_by_clicking", "shoot"]

REPO = Path(__file__).resolve().parents[2]
# The real binary first: /usr/bin/chromium is a wrapper script that prints a harmless shell error.
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox",  # tests may run as root, where chromium's sandbox cannot start
               "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTHS = (390, 1280)      # a phone and a laptop
SCREENSHOT_DIR = REPO / "artifacts" / "screenshots"   # git-ignored; look at them after a run
HEIGHT = 900


def chromium_path() -> str:
    """The system chromium, or a test failure that says how to install it (never a skip)."""
    for candidate in CHROMIUM_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"no chromium at {' or '.join(CHROMIUM_PATHS)}: the browser tests need Debian's chromium. "
                "Install it with `sudo apt-get install chromium` (do not run `playwright install`).", pytrace=False)


def launch(playwright, *, home: Path):  # -> playwright.sync_api.Browser
    """Headless chromium whose profile, cache and temp files all land under `home`."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp)}
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=LAUNCH_ARGS, env=env)


@dataclass
class PageLog:
    """What a page did that a test asserts on; filled by the page's event handlers."""

    console_errors: list[str] = field(default_factory=list)   # console.error, CSP reports, failed loads
    foreign_errors: list[str] = field(default_factory=list)   # the same, while on another site (the consent page)
    page_errors: list[str] = field(default_factory=list)      # uncaught exceptions in the page's scripts
    dialogs: list[tuple[str, str]] = field(default_factory=list)   # (type, message) of alert/confirm/prompt
    requests: list[str] = field(default_factory=list)         # every URL the page asked for
    navigations: list[str] = field(default_factory=list)      # main-frame documents loaded, in order
    accept_dialogs: bool = True                               # answer to the next confirm()

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors

    def requests_off(self, host: str = "127.0.0.1") -> list[str]:
        """Requests to anywhere but `host` (data: and about: URLs are not requests to anyone)."""
        return [u for u in self.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and urlsplit(u).hostname != host]


def watch(page, *, origin: str | None = None) -> PageLog:
    """Attach recorders to `page`. Dialogs are answered by `log.accept_dialogs` (default: accept).
    With `origin`, console errors count only while the page shows that origin: the emulator's
    consent page (its missing favicon, say) is not the page under test."""
    log = PageLog()

    def on_console(msg) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
            ours = origin is None or _origin(page.url) == _origin(origin)
            (log.console_errors if ours else log.foreign_errors).append(f"{msg.text} ({where or page.url})")

    def on_dialog(dialog) -> None:
        log.dialogs.append((dialog.type, dialog.message))
        if log.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    def on_frame(frame) -> None:
        if frame == page.main_frame:
            log.navigations.append(frame.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    page.on("dialog", on_dialog)
    page.on("request", lambda req: log.requests.append(req.url))
    page.on("framenavigated", on_frame)
    return log


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def login_by_clicking(page, service_url: str) -> None:
    """Status page → "Log in with TikTok" → the emulator's consent page → "Authorize" → status page."""
    page.goto(service_url + "/")
    page.get_by_role("link", name="Log in with TikTok").click()
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(service_url + "/")
    page.locator("#account[data-logged-in=yes]").wait_for()


def shoot(page, name: str, *, widths: tuple[int, ...] = WIDTHS) -> list[Path]:
    """Full-page screenshots of the page as it is now, once per width; the viewport is restored.
    Fails when the page, or the task table in its box, is wider than the window at some width."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    paths = []
    try:
        for width in widths:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            path = SCREENSHOT_DIR / f"{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            paths.append(path)
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= width, f"{name}: the page is {wide} px wide in a {width} px window (see {path})"
            boxes = page.evaluate("() => [...document.querySelectorAll('.scroll')]"
                                  ".filter(e => e.scrollWidth > e.clientWidth).length")
            assert boxes == 0, f"{name}: the task table scrolls sideways in a {width} px window (see {path})"
    finally:
        if before:
            page.set_viewport_size(before)
    return paths
