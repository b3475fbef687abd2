"""Injected misbehaviour: a fault for the next N requests to an endpoint (a status instead of
the real answer, a dropped connection, a delay, a trickle, a lost response) and `fail_next`
reasons for the next finished uploads."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ralph_watch.emulator.core import Core, Reply

__all__ = ["Fault", "FaultBook", "FAULT_ENDPOINTS"]

FAULT_ENDPOINTS = ("init", "draft_init", "creator_info", "status", "upload", "token", "revoke", "user_info")
_KNOWN = {"endpoint", "status", "code", "message", "times", "drop_after_bytes", "drop", "delay", "trickle",
          "trickle_interval", "after"}


@dataclass
class Fault:
    """An injected misbehaviour for the next `times` requests to `endpoint`."""

    endpoint: str
    status: int | None = None        # answer with this status instead of the real one
    code: str | None = None          # error code for that answer (default from the status)
    message: str = ""
    times: int = 1
    drop_after_bytes: int | None = None   # upload: take N body bytes, then close without answering
    drop: bool = False               # any endpoint: close the connection without answering
    delay: float = 0.0               # seconds before answering
    trickle: bool = False            # send the answer one byte at a time
    trickle_interval: float = 0.05
    after: bool = False              # do the real work first, then fail the answer (lost response)

    @classmethod
    def from_json(cls, body: Any) -> "Fault":
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object such as {\"endpoint\": \"init\", \"status\": 500}")
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str) or endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(FAULT_ENDPOINTS)}, not {endpoint!r}")
        unknown = set(body) - _KNOWN
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known keys are {sorted(_KNOWN)}")
        fault = cls(endpoint=endpoint)
        for key, value in body.items():
            if key != "endpoint" and value is not None:
                setattr(fault, key, _checked(key, value))
        if fault.drop_after_bytes is not None and endpoint != "upload":
            raise ValueError("drop_after_bytes applies only to endpoint \"upload\"; use \"drop\": true elsewhere")
        if fault.status is not None and not 100 <= fault.status <= 599:
            raise ValueError(f"status must be an HTTP status code (100-599), not {fault.status}")
        return fault


def _checked(key: str, value: Any) -> Any:
    """`value` for fault field `key`, or ValueError saying what it must be."""
    if key in ("status", "times", "drop_after_bytes"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be a whole number >= 0, not {value!r}")
        return value
    if key in ("delay", "trickle_interval"):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be a number of seconds >= 0, not {value!r}")
        return float(value)
    if key in ("drop", "trickle", "after"):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, not {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}")
    return value


class FaultBook:
    """The faults and fail_next reasons waiting to be taken, in order."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.faults: list[Fault] = []
        self.fail_next: list[str] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.endpoint == endpoint and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    break
            else:
                return None
        with self.core.lock:
            self.core.stats["faults_applied"] += 1
        return fault

    def add_fail_next(self, reason: str) -> None:
        with self._lock:
            self.fail_next.append(reason)

    def take_fail_next(self) -> str | None:
        with self._lock:
            return self.fail_next.pop(0) if self.fail_next else None

    def reply(self, endpoint: str, fault: Fault) -> Reply:
        """The answer a status fault gives instead of the real one, in the endpoint's shape."""
        status = fault.status or 500
        if endpoint == "upload":
            return Reply(status, b"", content_type="text/plain")
        if endpoint in ("token", "revoke"):
            default = "temporarily_unavailable" if status == 503 else "server_error" if status >= 500 else "invalid_request"
            return self.core.oauth_error(status, fault.code or default, fault.message or "Injected fault.")
        default = {429: "rate_limit_exceeded", 401: "access_token_invalid"}.get(status, "internal_error")
        return self.core.envelope(status, None, fault.code or default, fault.message or "Injected fault.")
