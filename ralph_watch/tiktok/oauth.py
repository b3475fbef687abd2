"""Login Kit helpers: `state`, PKCE the TikTok way, and the authorize URL.

TikTok's PKCE differs from RFC 7636: the challenge is the *hex* SHA-256 of the verifier
(Login Kit for Desktop docs); the base64url form fails at the token exchange with
"Code verifier or code challenge is invalid."
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Iterable
from urllib.parse import urlencode, urlsplit

__all__ = ["new_state", "new_pkce", "pkce_challenge", "build_authorize_url", "authorize_url"]


def new_state() -> str:
    """A one-time CSRF token for the authorize round trip."""
    return secrets.token_urlsafe(32)


def pkce_challenge(verifier: str) -> str:
    """TikTok's S256 challenge: lowercase hex of SHA-256(verifier)."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


def new_pkce() -> tuple[str, str]:
    """(code_verifier, code_challenge). The verifier is 86 characters of [A-Za-z0-9_-],
    all from RFC 7636's unreserved set and inside its 43–128 bounds."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def build_authorize_url(authorize_url: str, *, client_key: str, scopes: Iterable[str], redirect_uri: str,
                        state: str, code_challenge: str) -> str:
    """The URL of TikTok's consent page. Scopes are comma-separated (TikTok, not RFC 6749)."""
    params = {
        "client_key": client_key,
        "response_type": "code",
        "scope": ",".join(s.strip() for s in scopes if s.strip()),
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    sep = "&" if urlsplit(authorize_url).query else "?"
    return authorize_url + sep + urlencode(params)


authorize_url = build_authorize_url  # the name ARCHITECTURE.md's module map uses
