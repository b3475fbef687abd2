"""The login's secrets in memory: never printed, masked in every log line while held."""
from __future__ import annotations

from ralph_watch.logs import forget_secret

__all__ = ["Secret", "Tokens", "refresh_margin", "unmask"]


class Secret:
    """A string that does not print itself (reprs of the client, tracebacks with locals)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


class Tokens:
    """The secrets, with deadlines on the monotonic clock. Never printed."""

    __slots__ = ("access", "refresh", "access_deadline", "access_lifetime", "refresh_deadline")

    def __init__(self, access: str, refresh: str, *, access_deadline: float, access_lifetime: float,
                 refresh_deadline: float) -> None:
        self.access = access
        self.refresh = refresh
        self.access_deadline = access_deadline
        self.access_lifetime = access_lifetime
        self.refresh_deadline = refresh_deadline

    def __repr__(self) -> str:
        return "<tokens redacted>"


def refresh_margin(lifetime: float) -> float:
    """Refresh this long before expiry: 5 min, or 10 % of the lifetime when that is less
    (so a short-lived token, as configured in tiktok.limits, does not refresh on every call)."""
    return min(300.0, 0.1 * lifetime)


def unmask(tokens: Tokens | None) -> None:
    """Undo register_secret for tokens that are no longer held (registrations are counted)."""
    if tokens is not None:
        forget_secret(tokens.access)
        forget_secret(tokens.refresh)
