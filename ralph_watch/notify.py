"""Notifications through Apprise, off the publishing path.

`Notifier.send` only puts a message on a bounded queue and returns; one worker thread
delivers it to every configured destination, retrying a few times with backoff. A
destination that is down costs log lines, never a publish: nothing here raises into the
caller and nothing blocks it. Off (no thread, no Apprise import) when no URL is set.

Apprise URLs carry passwords and tokens of the destinations, so a log line names a
destination only by its scheme and index (`notify.urls[0] (json://)`), and the secret
parts of each URL are registered with `logs.register_secret` in case Apprise or urllib3
print one. Notification text never carries the video's title unless the user enabled
`notify.include_title`, and is passed through `logs.redact` as a last guard.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Final, Iterable
from urllib.parse import parse_qsl, urlsplit

from .clock import Clock, SystemClock
from .errors import ConfigError
from .logs import forget_secret, redact, register_secret

__all__ = ["Notifier", "EVENTS"]

log = logging.getLogger(__name__)

EVENTS: Final = ("published", "failed", "invalid", "missed", "needs_login", "mount_lost", "in_inbox")

# Sent once per episode: a logged-out account or a lost mount would otherwise notify for
# every due task and every rescan. `reset_episode` opens the next episode.
ONCE_PER_EPISODE: Final = frozenset({"needs_login", "mount_lost"})

# The fix, when the caller's message does not give one.
DEFAULT_FIX: Final = {
    "published": "",
    "failed": "The files stay in the inbox; see the page for the reason, then fix it and press Retry.",
    "invalid": "Fix the video or its sidecar; the pair is checked again when a file changes.",
    "missed": "Its time passed while nothing could be published; set a new 'at' in the sidecar or press Retry.",
    "needs_login": "Publishing waits until you log in with TikTok again.",
    "mount_lost": "The inbox cannot be read; check that the share or disk is mounted.",
    "in_inbox": "Open the TikTok app's inbox notification to finish and post the draft.",
}

_NOTIFY_TYPE: Final = {"published": "success", "failed": "failure", "invalid": "warning",
                       "missed": "warning", "needs_login": "warning", "mount_lost": "failure",
                       "in_inbox": "info"}


@dataclass(frozen=True)
class _Message:
    event: str
    title: str
    body: str


_SECRET_KEY_WORDS: Final = ("token", "key", "pass", "secret", "auth", "sig", "webhook", "pw")


def _url_secrets(url: str) -> set[str]:
    """The parts of an Apprise URL that may be credentials: a password, query values, and
    long host/path segments that are not domain names (webhook ids and tokens)."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url}
    found.add(url)
    if parts.password:
        found.add(parts.password)
    if parts.username and len(parts.username) >= 16:
        found.add(parts.username)
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if any(word in key.lower() for word in _SECRET_KEY_WORDS):
            found.add(value)
    host = parts.netloc.rpartition("@")[2].rsplit(":", 1)[0]
    for segment in [host, *parts.path.split("/")]:
        # Token-like: long, not a domain name, and not a plain word ("notifications-for-me").
        if len(segment) >= 16 and "." not in segment and (len(segment) >= 24 or any(c.isdigit() for c in segment)):
            found.add(segment)
    return found


class Notifier:
    """Queue notifications for the configured `events`, deliver them to `urls` via Apprise.

    `clock` stamps the delivery status (`status()`); backoff waits use the stop Event so
    `stop()` is prompt. `queue_size`, `retries` and `backoff` are tunable for tests.
    """

    def __init__(
        self,
        *,
        urls: list[str],
        events: Iterable[str],
        include_title: bool,
        page_url: str,
        clock: Clock | None = None,
        queue_size: int = 100,
        retries: int = 3,
        backoff: float = 2.0,
    ) -> None:
        self._events = frozenset(events)
        unknown = sorted(self._events - set(EVENTS))
        if unknown:
            raise ConfigError([f"notify.events: unknown event {e!r}; use any of {', '.join(EVENTS)}" for e in unknown])
        self._urls = list(urls)
        self._include_title = include_title
        self._page_url = page_url
        self._clock: Clock = clock or SystemClock()
        self._retries = max(0, retries)
        self._backoff = backoff
        self._queue: deque[_Message] = deque()
        self._queue_size = max(1, queue_size)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._episodes: set[tuple[str, str | None]] = set()   # (event, account)
        self._secrets: set[str] = set()
        self._status: dict[str, Any] = {"sent": 0, "failed": 0, "dropped": 0, "last_error": None, "last_error_at": None}
        self._targets: list[tuple[str, Any]] = self._build_targets() if self._urls else []

    # -- set-up -------------------------------------------------------------------------

    def _build_targets(self) -> list[tuple[str, Any]]:
        """One Apprise object per URL, so a failing destination is retried alone."""
        try:
            import apprise
        except ImportError:
            raise ConfigError([
                "notify.urls: notifications are configured but the 'apprise' package is not installed; "
                "install it with: pip install 'ralph-watch[notify]' (or empty notify.urls)"
            ]) from None
        for url in self._urls:
            for value in _url_secrets(url):
                register_secret(value)
                self._secrets.add(value)
        # Memory-only persistent store: Apprise writes nothing to disk for us.
        asset = apprise.AppriseAsset(storage_mode="memory", service_timeout=30)
        targets: list[tuple[str, Any]] = []
        problems: list[str] = []
        for i, url in enumerate(self._urls):
            label = f"notify.urls[{i}] ({_scheme(url)}://)"
            obj = apprise.Apprise(asset=asset)
            if not obj.add(url):
                problems.append(f"{label}: Apprise does not understand this URL; check it against "
                                "https://github.com/caronc/apprise/wiki (the scheme and its required parts)")
            targets.append((label, obj))
        if problems:
            self._forget_secrets()
            raise ConfigError(problems)
        return targets

    def _forget_secrets(self) -> None:
        for value in self._secrets:
            forget_secret(value)
        self._secrets.clear()

    @property
    def enabled(self) -> bool:
        return bool(self._targets)

    def start(self) -> None:
        """Start the delivery thread (nothing to do when notifications are off)."""
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        """Stop the worker: queued messages get one last attempt each until `timeout`."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the notification thread did not stop within %ss; %d notifications not sent",
                            timeout, len(self._queue))
                return  # keep masking the URLs' secrets while it may still log
        self._forget_secrets()

    # -- the caller's side -------------------------------------------------------------

    def send(
        self,
        event: str,
        *,
        video: str,
        state: str,
        message: str,
        title: str | None = None,
        task_id: str | None = None,
        account: str | None = None,
    ) -> None:
        """Queue a notification about `video` (of `account`, named when given); never blocks, never raises."""
        try:
            self._enqueue(event, video=video, state=state, message=message, title=title, task_id=task_id,
                          account=account)
        except Exception:  # a notification must never break the caller's work
            log.exception("could not queue the %s notification for %s", event, video)

    def reset_episode(self, event: str, *, account: str | None = None) -> None:
        """Open a new episode for `event` (after a login for needs_login, a remount for mount_lost);
        episodes are per account: one account's login does not end another's."""
        with self._cond:
            self._episodes.discard((event, account))

    def status(self) -> dict[str, Any]:
        with self._cond:
            return dict(self._status, queued=len(self._queue))

    def _enqueue(self, event: str, *, video: str, state: str, message: str,
                 title: str | None, task_id: str | None, account: str | None = None) -> None:
        if event not in EVENTS:
            log.error("notification event %r is unknown (known: %s); not sent", event, ", ".join(EVENTS))
            return
        if not self.enabled or event not in self._events or self._stop.is_set():
            return
        with self._cond:
            if event in ONCE_PER_EPISODE:
                if (event, account) in self._episodes:
                    return
                self._episodes.add((event, account))
            msg = self._compose(event, video=video, state=state, message=message, title=title, task_id=task_id,
                                account=account)
            if len(self._queue) >= self._queue_size:
                dropped = self._queue.popleft()
                self._status["dropped"] += 1
                log.warning("notification queue full (%d): dropped the oldest (%s); destinations may be down",
                            self._queue_size, dropped.event)
            self._queue.append(msg)
            self._cond.notify()

    def _compose(self, event: str, *, video: str, state: str, message: str,
                 title: str | None, task_id: str | None, account: str | None = None) -> _Message:
        if account:
            video = f"{account}: {video}" if video else account
        what = f"{video}: {state}" if video else state
        line = f"{what}. {message.strip() or DEFAULT_FIX[event]}".strip()
        lines = [line]
        if event == "needs_login":
            lines.append(f"Log in at {self._page_url}")
        if self._include_title and title:
            # A draft's caption may not reach TikTok's editor: this line lets the creator copy it.
            lines.append(f"Caption to paste in TikTok: {title}" if event == "in_inbox" else f"Title: {title}")
        head = f"ralph-watch: {video} {state}" if video else f"ralph-watch: {state}"
        if task_id:
            head += f" (task {task_id})"
        return _Message(event=event, title=redact(head), body=redact("\n".join(lines)))

    # -- the worker ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if not self._queue:
                    return  # stopped and drained
                msg = self._queue.popleft()
            try:
                self._deliver(msg)
            except Exception:  # the thread survives a bad message
                log.exception("notification %s could not be delivered", msg.event)

    def _deliver(self, msg: _Message) -> None:
        import apprise  # present: _build_targets imported it

        notify_type = apprise.NotifyType(_NOTIFY_TYPE[msg.event])
        for label, obj in self._targets:
            attempts = 1 if self._stop.is_set() else 1 + self._retries
            for attempt in range(1, attempts + 1):
                ok = False
                try:
                    ok = bool(obj.notify(title=msg.title, body=msg.body, notify_type=notify_type))
                except Exception as exc:  # Apprise plugins may raise; never fatal
                    log.debug("%s raised %s", label, type(exc).__name__)
                if ok:
                    with self._cond:
                        self._status["sent"] += 1
                    break
                if attempt < attempts:
                    delay = self._backoff * 2 ** (attempt - 1)
                    log.info("notification %s to %s failed (attempt %d of %d); retrying in %.3gs",
                             msg.event, label, attempt, attempts, delay)
                    if self._stop.wait(delay):
                        attempts = attempt  # stopping: no more retries for this one
                        break
            if not ok:
                with self._cond:
                    self._status["failed"] += 1
                    self._status["last_error"] = f"{label}: not delivered"
                    self._status["last_error_at"] = self._clock.now()
                log.warning("notification %s to %s not sent after %d attempt(s); the destination may be down "
                            "or the URL wrong: check %s in config.yaml", msg.event, label, attempts,
                            label.split(" ")[0])


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"
