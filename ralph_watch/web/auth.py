"""Logging in with TikTok (OAuth login and callback, logout), the page's own sign-in, and the avatar."""
from __future__ import annotations

import math
from typing import Any

from bottle import request, response  # type: ignore[import-untyped]  # bottle ships no type information

from ..tiktok.errors import login_refusal
from .backend import LoginError
from .base import IMAGE_TYPES, MAX_CODE, AppBase, Reply, json_body, log, wants_json
from .security import http_url, new_pkce, new_state, password_ok
from .sessions import COOKIE_NAME

__all__ = ["AuthMixin"]


class AuthMixin(AppBase):
    def avatar(self) -> Any:
        name = request.query.getunicode("account") or None
        if name is not None and name not in self._account_names():
            raise Reply(404, "")
        got = self._safe(lambda: self.backend.avatar(account=name), None)
        if not got:
            raise Reply(404, "")
        data, ctype = got
        ctype = (ctype or "").split(";")[0].strip().lower()
        if ctype not in IMAGE_TYPES:  # only images, and never something a browser might run
            raise Reply(404, "")
        response.content_type = ctype
        response.set_header("Cache-Control", "private, no-store")
        return bytes(data)

    # -- TikTok login -------------------------------------------------------------------

    def login(self) -> str:
        name = self._named_account(request.query.getunicode("account"), doing="log in", required=True)
        s = self._session(create=True)
        assert s is not None
        state = new_state()
        verifier, challenge = new_pkce()
        # The callback is one address for every account: the session remembers whose login this is.
        self.sessions.begin_login(s, state=state, verifier=verifier, account=name)
        try:
            url = http_url(self.backend.login_url(state=state, code_challenge=challenge, account=name))
        except LoginError as exc:
            raise self._message(503, "Login unavailable", exc.message)
        if url is None:
            raise self._message(500, "Login unavailable", "The TikTok authorize URL (tiktok.authorize_url in "
                                "config.yaml) is not an http(s) address.")
        raise Reply(303, "", headers={"Location": url})

    def callback(self) -> str:
        q = request.query
        error = (q.getunicode("error") or "")[:100]
        error_type = (q.getunicode("error_type") or "")[:100]
        state = (q.getunicode("state") or "")[:200]
        pending = self.sessions.take_pending(self._session(), state)  # one-time, whatever happens next
        verifier, name = pending if pending else (None, None)
        if error:
            raise self._message(400, "Not logged in", _login_error_sentence(error, error_type,
                                                                            (q.getunicode("error_description") or "")[:300]))
        if verifier is None:
            raise self._message(400, "Login expired",
                                "This login has expired, was already used, or was started in another browser, so "
                                "it was not accepted. Start again with “Log in with TikTok”.")
        code = q.getunicode("code") or ""
        if not code or len(code) > MAX_CODE:
            raise self._message(400, "Login failed", "TikTok's answer did not carry a usable authorization code. "
                                "Start again with “Log in with TikTok”.")
        scopes = q.getunicode("scopes")
        try:
            self.backend.finish_login(code=code, code_verifier=verifier, scopes=scopes[:1000] if scopes else None,
                                      account=name)
        except LoginError as exc:
            raise self._message(400, "Login failed", exc.message)
        s = self._session()
        assert s is not None  # take_login succeeded, so there is a session
        new = self.sessions.rotate(s)  # a fresh id once logged in: no session fixation
        self._use_session(new)
        account = self._safe(lambda: self.backend.account(account=name), None) or {}
        nick = account.get("nickname")
        who = f"{name} " if name and len(self._account_names()) > 1 else ""
        self.sessions.flash(new, f"Logged {who}in to TikTok as {nick}." if nick else f"Logged {who}in to TikTok.")
        return self._see_other()

    def logout(self) -> str | bytes:
        name = self._named_account(request.forms.getunicode("account"), doing="log out", required=True)
        several = len(self._account_names()) > 1
        self.backend.logout(account=name)
        s = self._session()
        if s is not None:
            self.sessions.destroy(s.id)
        fresh = self.sessions.create()
        self._use_session(fresh)
        if wants_json():
            return json_body({"ok": True, "message": f"Logged out {name}." if several and name else "Logged out."})
        if several and name:
            self.sessions.flash(fresh, f"Logged out {name}: ralph-watch has forgotten its TikTok login. Its videos "
                                       "are not published until you log it in again; the other accounts keep "
                                       "publishing.")
        else:
            self.sessions.flash(fresh, "Logged out: ralph-watch has forgotten the TikTok login. Nothing is published "
                                       "until you log in again.")
        return self._see_other()

    # -- password mode ------------------------------------------------------------------

    def signin_form(self) -> str:
        if not self.password:
            return self._see_other()
        s = self._session(create=True)
        if s is not None and s.signed_in:
            return self._see_other()
        return self._page("signin", title="Sign in", error="")

    def signin(self) -> str:
        if not self.password:
            return self._see_other()
        client = self._client()
        wait = self.throttle.retry_after(client)
        if wait:
            body = self._page("signin", status=429, title="Sign in",
                              error=f"Too many wrong passwords. Try again in {math.ceil(wait)} s.")
            raise Reply(429, body, headers={"Retry-After": str(math.ceil(wait))})
        if not password_ok(request.forms.getunicode("password") or "", self.password):
            self.throttle.failed(client)
            raise Reply(401, self._page("signin", status=401, title="Sign in",
                                         error="Wrong password. It is web.password in the service's config.yaml."))
        self.throttle.succeeded(client)
        s = self._session()
        assert s is not None  # the CSRF check needed one
        self._use_session(self.sessions.rotate(s, signed_in=True))
        return self._see_other()

    def signout(self) -> str:
        s = self._session()
        if s is not None:
            self.sessions.destroy(s.id)
        response.delete_cookie(COOKIE_NAME, path="/")
        return self._see_other(to="/signin" if self.password else "/")

    # -- actions ------------------------------------------------------------------------


def _login_error_sentence(error: str, error_type: str, description: str) -> str:
    refused = login_refusal(error, error_type, description)
    if refused is not None:   # the unaudited cap: said in the log too, for whoever reads it later
        log.warning("TikTok refused a login: %s", refused)
        return refused
    if error_type == "non_sandbox_target":
        return ("TikTok refused the login: this TikTok app is in sandbox mode and the account you used is not one "
                "of its target users. Add the account under Sandbox → Target users in the TikTok developer portal "
                "(it can take up to an hour to show), or log in with a target account, then try again.")
    if error == "access_denied":
        return ("You did not allow ralph-watch to use your TikTok account, so nothing changed. To publish, log in "
                "again and allow access.")
    detail = f"{error}" + (f" ({error_type})" if error_type else "") + (f": {description}" if description else "")
    return (f"TikTok could not log you in ({detail}). Check the TikTok app's settings in the developer portal "
            "(client key, redirect URI, scopes) and try again.")
