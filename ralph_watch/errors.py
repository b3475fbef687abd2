"""The one exception tree of ralph-watch.

    RalphWatchError
     ├── ConfigError        bad config.yaml: one problem per key, all collected
     ├── SidecarError       bad NAME.yaml: a list of SidecarProblem (path, line, key, message)
     ├── ProbeError         a video that cannot be published as it stands
     ├── TikTokError        TikTok refused or failed; `action` says what to do about it
     ├── RecordError        the publish record in state_dir could not be written or read
     ├── LockError          another instance holds state_dir
     ├── TransitionError    a task state change the state machine forbids (a bug, not a user error)
     ├── LoginError         finishing a TikTok login failed; `message` is a sentence for the page
     ├── ActionError        a task action from the page was refused; `status` is the HTTP status
     └── WebServerError     the web server could not listen (port taken, address not here)

Adapters translate their library's errors (yaml, httpx, av, OSError) into these at the
boundary, so callers never catch a third-party exception type.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "RalphWatchError",
    "ConfigError",
    "SidecarProblem",
    "SidecarError",
    "ProbeError",
    "Action",
    "TikTokError",
    "RecordError",
    "LockError",
    "TransitionError",
    "LoginError",
    "ActionError",
    "WebServerError",
]


class RalphWatchError(Exception):
    """Root of every error ralph-watch raises on purpose."""


class ConfigError(RalphWatchError):
    """The config cannot be used. `problems` holds one sentence per bad key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SidecarProblem:
    """One thing wrong with a sidecar (or a pair), rendered as `path:line: message`."""

    path: str
    message: str
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


class SidecarError(RalphWatchError):
    """A sidecar that cannot be used; every problem found is listed, not just the first."""

    def __init__(self, problems: list[SidecarProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ProbeError(RalphWatchError):
    """A video file that TikTok would refuse (or that is not a video at all)."""


class Action(enum.Enum):
    """What the caller should do after a TikTok error."""

    RETRY_NOW = "retry_now"        # transient: retry the same request soon (5xx, network)
    RETRY_LATER = "retry_later"    # a limit or cap: wait (retry_after) and try again
    NEEDS_LOGIN = "needs_login"    # the token is gone for good: the user must log in again
    USER_FIX = "user_fix"          # the user must change something (sidecar, account, app settings)
    PERMANENT = "permanent"        # TikTok will not accept this; do not retry
    RESTART = "restart"            # the upload URL is gone: a new init is needed


class TikTokError(RalphWatchError):
    """An error answer (or no answer) from TikTok.

    `code` is TikTok's error code (or a local one such as "network_error"); `hint` is a
    sentence telling a person what to do; `log_id` is what TikTok support asks for.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        action: Action = Action.PERMANENT,
        hint: str = "",
        http_status: int | None = None,
        log_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.action = action
        self.hint = hint
        self.http_status = http_status
        self.log_id = log_id
        self.retry_after = retry_after
        super().__init__(self.sentence())

    def sentence(self) -> str:
        """One or two sentences for the page, the log and NAME.error.txt."""
        text = self.hint or self.message or self.code
        if self.log_id:
            text = f"{text} (TikTok {self.code}, log_id {self.log_id})"
        elif self.code and self.code not in text:
            text = f"{text} (TikTok {self.code})"
        return text


class RecordError(RalphWatchError):
    """The publish record could not be written: publishing must pause."""


class LockError(RalphWatchError):
    """Another ralph-watch instance already uses this state_dir."""


class TransitionError(RalphWatchError, RuntimeError):
    """A task state change that `tasks` does not allow. Still a RuntimeError, as it was before
    it joined the tree, so nothing that caught it that way changes."""


class LoginError(RalphWatchError):
    """Finishing a TikTok login failed; `message` is a sentence for the page."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ActionError(RalphWatchError):
    """A task action was refused. `status` is the HTTP status (404, 409, ...); `message` a sentence."""

    def __init__(self, status: int, message: str) -> None:
        self.status = int(status)
        self.message = message
        super().__init__(f"{status}: {message}")


class WebServerError(RalphWatchError):
    """The web server could not listen (port taken, address not on this machine, ...)."""
