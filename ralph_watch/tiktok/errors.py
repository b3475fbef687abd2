"""TikTok's error catalogue as one table: every documented code -> what to do + a sentence.

Pure (no I/O). The client turns every failed answer into a `TikTokError` through
`classify` (OAuth errors, data-endpoint `error.code`s, upload PUT statuses) or
`classify_fail_reason` (status/fetch `fail_reason`). A test walks `ERROR_TABLE` so no row
can lose its hint. Sources: tiktok-api.md §1.5, §3, §4.3, §5, §6, §7.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits

__all__ = [
    "Rule",
    "ERROR_TABLE",
    "OAUTH_ERRORS",
    "AUTHORIZE_ERRORS",
    "API_ERRORS",
    "UPLOAD_STATUSES",
    "FAIL_REASONS",
    "LOCAL_ERRORS",
    "ENDPOINT_SCOPES",
    "classify",
    "classify_fail_reason",
    "rule_for",
    "tiktok_error",
    "login_refusal",
    "UNAUDITED_USER_CAP",
]


@dataclass(frozen=True)
class Rule:
    """One row of the table.

    source: "oauth" (flat `error` of /v2/oauth/*), "authorize" (`error_type` of Login Kit's error
    page or callback), "api" (`error.code` of data endpoints),
    "upload" (HTTP status of the upload PUT), "fail_reason" (status/fetch), "local" (ours).
    wait: "window" (rest of the rate window), "day" (the rolling 24 h) or None.
    """

    source: str
    code: str
    action: Action
    hint: str
    wait: str | None = None
    http_status: int | None = None   # upload rows: the PUT status ("5xx" rows use 500)


# TikTok's cap for an unaudited app (tiktok-api.md §5.2); the sentences name the figure people read in the docs.
UNAUDITED_USER_CAP = 5
_AUDIT_OR_LOG_OUT = ("get the app audited in the TikTok developer portal (an audited app may serve more users), or "
                     "log out an account you do not need on the status page, so that its place is free once its "
                     "24 hours are over.")

_FIX_MEDIA = ("Export the video again to match and drop it into the inbox with its sidecar; "
              "ralph-watch does not retry this one as it stands.")

_ROWS: tuple[Rule, ...] = (
    # --- OAuth (/v2/oauth/token/, /v2/oauth/revoke/): flat {"error": ..., "error_description": ...}
    Rule("oauth", "access_denied", Action.NEEDS_LOGIN,
         "The TikTok login was declined (by you, or TikTok refused this account, e.g. it is not a sandbox "
         "target user of the app): log in again and approve the permissions."),
    Rule("oauth", "invalid_client", Action.USER_FIX,
         "TikTok does not accept tiktok.client_key / tiktok.client_secret: copy both again from the app's page "
         "in the TikTok developer portal into config.yaml (or TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET) and restart."),
    Rule("oauth", "invalid_grant", Action.NEEDS_LOGIN,
         "TikTok no longer accepts this login (the code or refresh token is expired, revoked or already used): "
         "log in again."),
    Rule("oauth", "invalid_request", Action.USER_FIX,
         "TikTok refused the login request: check that tiktok.redirect_uri in config.yaml is exactly one of the "
         "redirect URIs registered for the app in the TikTok developer portal, then log in again."),
    Rule("oauth", "invalid_scope", Action.USER_FIX,
         "tiktok.scopes in config.yaml asks for a permission the app does not have: add the product "
         "(Login Kit, Content Posting API) in the TikTok developer portal or remove the scope, then log in again."),
    Rule("oauth", "unauthorized_client", Action.USER_FIX,
         "TikTok does not let this app log users in this way: in the TikTok developer portal enable Login Kit and "
         "the Content Posting API for the app (and add the account as a sandbox target user), then log in again."),
    Rule("oauth", "unsupported_grant_type", Action.PERMANENT,
         "TikTok refused the token request's grant type: this is a bug in ralph-watch, please report it with the log_id."),
    Rule("oauth", "unsupported_response_type", Action.PERMANENT,
         "TikTok refused the authorization's response type: this is a bug in ralph-watch, please report it."),
    Rule("oauth", "server_error", Action.RETRY_NOW,
         "TikTok's login service had an internal error: ralph-watch tries again shortly."),
    Rule("oauth", "temporarily_unavailable", Action.RETRY_NOW,
         "TikTok's login service is temporarily unavailable: ralph-watch tries again shortly."),
    # --- Data endpoints: {"data": ..., "error": {"code", "message", "log_id"}}
    Rule("api", "access_token_invalid", Action.NEEDS_LOGIN,
         "TikTok no longer accepts the login (the token expired or was revoked and could not be renewed): "
         "log in again on the status page."),
    Rule("api", "scope_not_authorized", Action.NEEDS_LOGIN,
         "The TikTok login lacks the {scope} permission this needs: log in again and leave {scope} switched on "
         "on TikTok's consent page (tiktok.scopes in config.yaml must list it)."),
    Rule("api", "scope_permission_missed", Action.NEEDS_LOGIN,
         "The TikTok login lacks a permission for the requested fields ({scope}): log in again and allow it."),
    Rule("api", "rate_limit_exceeded", Action.RETRY_LATER,
         "TikTok's per-minute request limit for this account was reached: ralph-watch waits for the rate window "
         "to pass and tries again.", wait="window"),
    Rule("api", "internal_error", Action.RETRY_NOW,
         "TikTok had an internal error: ralph-watch tries again shortly."),
    Rule("api", "invalid_params", Action.PERMANENT,
         "TikTok refused the request as invalid: this is a bug in ralph-watch, please report it with the log_id."),
    Rule("api", "invalid_param", Action.PERMANENT,
         "TikTok refused the request as invalid: this is a bug in ralph-watch, please report it with the log_id."),
    Rule("api", "invalid_file_upload", Action.PERMANENT,
         "TikTok refused the upload's size or chunk plan: this is a bug in ralph-watch, please report it with the log_id."),
    Rule("api", "app_version_check_failed", Action.USER_FIX,
         "The TikTok app on the creator's phone is too old for drafts: update the TikTok app (31.8 or later) "
         "and retry."),
    Rule("api", "invalid_publish_id", Action.PERMANENT,
         "TikTok does not know this publish_id (any more): the post's outcome cannot be checked; look in the "
         "TikTok app whether it was posted before retrying."),
    Rule("api", "token_not_authorized_for_specified_publish_id", Action.USER_FIX,
         "This publish_id belongs to another TikTok account: log in with the account that started the upload."),
    Rule("api", "publish_not_cancellable", Action.PERMANENT,
         "TikTok can no longer cancel this post: it is already being processed."),
    Rule("api", "spam_risk_too_many_posts", Action.RETRY_LATER,
         "TikTok's daily cap on posts through apps (about 15 per rolling 24 hours, shared by all apps) is reached "
         "for this account: ralph-watch keeps the video scheduled and tries again when the day has rolled on.",
         wait="day"),
    Rule("api", "spam_risk_user_banned_from_posting", Action.PERMANENT,
         "TikTok has banned this account from posting new content: check the account in the TikTok app; "
         "ralph-watch will not retry."),
    Rule("api", "spam_risk_too_many_pending_share", Action.RETRY_LATER,
         "TikTok allows at most 5 drafts waiting in the creator's TikTok inbox per 24 hours: open the TikTok app "
         "and post or discard the waiting drafts; ralph-watch tries again later.", wait="day"),
    Rule("api", "reached_active_user_cap", Action.RETRY_LATER,
         "The app has reached TikTok's daily quota of accounts posting through it (an unaudited app may post for "
         f"at most {UNAUDITED_USER_CAP} TikTok users in 24 hours; the quota is the app's, not this account's "
         "fault): ralph-watch keeps the video scheduled and tries again when the 24 hours have passed. To avoid "
         "this wait next time, " + _AUDIT_OR_LOG_OUT, wait="day"),
    Rule("api", "unaudited_client_can_only_post_to_private_accounts", Action.USER_FIX,
         "TikTok accepts posts from this app only to private accounts until the app passes TikTok's audit: make "
         "the TikTok *account* private and use `privacy: private`, or use `mode: draft` to send it to your TikTok "
         "inbox and publish it from the app."),
    Rule("api", "url_ownership_unverified", Action.USER_FIX,
         "TikTok refused to pull the video from a URL whose domain is not verified for the app: verify the domain "
         "in the TikTok developer portal (ralph-watch itself uploads files and never uses URLs)."),
    Rule("api", "privacy_level_option_mismatch", Action.USER_FIX,
         "The sidecar's `privacy` is not one this TikTok account offers right now: set `privacy:` in the "
         "sidecar (or `defaults:` in config.yaml) to one of the options the status page lists for this account."),
    # --- Login Kit's error page / callback: `error_type` (community-observed, tiktok-api.md §1.4)
    Rule("authorize", "non_sandbox_target", Action.NEEDS_LOGIN,
         "TikTok refused the login because the app is in sandbox mode and this account is not one of its "
         "target users: add the account under Sandbox > Target users in the TikTok developer portal (it can "
         "take an hour to show), then log in again."),
    # Ours: TikTok documents the unaudited cap only at init, so a consent refused for it is
    # recognised by `login_refusal` (access_denied whose description says so).
    Rule("authorize", "unaudited_user_cap", Action.NEEDS_LOGIN,
         "TikTok refused this login because the app is unaudited: TikTok lets an unaudited app post for at most "
         f"{UNAUDITED_USER_CAP} TikTok users in 24 hours, and that many others have used it in the last 24 hours. "
         "Nothing changed here. Wait until 24 hours have passed and log in again, or " + _AUDIT_OR_LOG_OUT),
    Rule("authorize", "code_challenge", Action.PERMANENT,
         "TikTok refused the login's PKCE code challenge: this is a bug in ralph-watch, please report it."),
    Rule("authorize", "redirect_uri", Action.USER_FIX,
         "TikTok does not know the redirect URI: register tiktok.redirect_uri from config.yaml exactly (scheme, "
         "host, port, path) under Login Kit in the TikTok developer portal, then log in again."),
    Rule("authorize", "client_key", Action.USER_FIX,
         "TikTok does not know tiktok.client_key: copy the client key again from the app's page in the TikTok "
         "developer portal into config.yaml (or TIKTOK_CLIENT_KEY) and restart."),
    Rule("authorize", "scope_not_authorized", Action.USER_FIX,
         "The app may not ask for a permission in tiktok.scopes: add the product (Login Kit, Content Posting "
         "API with Direct Post) to the app in the TikTok developer portal, or remove the scope, then log in again."),
    # --- Upload PUT to upload_url: plain HTTP statuses
    Rule("upload", "upload_bad_request", Action.PERMANENT,
         "TikTok refused an upload chunk's headers or length: this is a bug in ralph-watch, please report it.",
         http_status=400),
    Rule("upload", "upload_url_expired", Action.RESTART,
         "TikTok's upload URL expired (it lives one hour): ralph-watch starts the upload again.",
         http_status=403),
    Rule("upload", "upload_task_not_found", Action.RESTART,
         "TikTok no longer knows this upload: ralph-watch starts the upload again.", http_status=404),
    Rule("upload", "upload_range_mismatch", Action.RETRY_NOW,
         "TikTok's upload progress differs from ours: ralph-watch continues from TikTok's position.",
         http_status=416),
    Rule("upload", "upload_server_error", Action.RETRY_NOW,
         "TikTok's upload server had an error: ralph-watch sends the chunk again.", http_status=500),
    # --- status/fetch fail_reason
    Rule("fail_reason", "file_format_check_failed", Action.USER_FIX,
         "TikTok could not read the video's format: TikTok takes MP4 (recommended), MOV or WebM with H.264 "
         "(recommended), H.265, VP8 or VP9 video. " + _FIX_MEDIA),
    Rule("fail_reason", "duration_check_failed", Action.USER_FIX,
         "TikTok refused the video's length: it must be within the account's maximum "
         "(max_video_post_duration_sec, shown on the status page; at most 10 minutes). " + _FIX_MEDIA),
    Rule("fail_reason", "frame_rate_check_failed", Action.USER_FIX,
         "TikTok refused the video's frame rate: it must be 23–60 fps. " + _FIX_MEDIA),
    Rule("fail_reason", "picture_size_check_failed", Action.USER_FIX,
         "TikTok refused the video's picture size: width and height must each be 360–4096 px. " + _FIX_MEDIA),
    Rule("fail_reason", "internal", Action.RETRY_NOW,
         "TikTok failed internally while processing the video: ralph-watch uploads it again."),
    Rule("fail_reason", "video_pull_failed", Action.RETRY_NOW,
         "TikTok could not fetch the video: ralph-watch uploads it again."),
    Rule("fail_reason", "photo_pull_failed", Action.RETRY_NOW,
         "TikTok could not fetch the photo: ralph-watch tries again."),
    Rule("fail_reason", "publish_cancelled", Action.PERMANENT,
         "The post was cancelled before TikTok finished it."),
    Rule("fail_reason", "auth_removed", Action.NEEDS_LOGIN,
         "The creator removed this app's access while TikTok was processing the video: log in again, then use "
         "Retry to publish it."),
    Rule("fail_reason", "spam_risk_too_many_posts", Action.RETRY_LATER,
         "TikTok's daily cap on posts through apps (about 15 per rolling 24 hours) was reached: ralph-watch "
         "tries again when the day has rolled on.", wait="day"),
    Rule("fail_reason", "spam_risk_user_banned_from_posting", Action.PERMANENT,
         "TikTok has banned this account from posting new content: check the account in the TikTok app; "
         "ralph-watch will not retry."),
    Rule("fail_reason", "spam_risk_text", Action.USER_FIX,
         "TikTok judged the title spammy or risky: edit `title:` in the sidecar (fewer hashtags, mentions or "
         "links) and ralph-watch publishes it again."),
    Rule("fail_reason", "spam_risk", Action.PERMANENT,
         "TikTok judged this post risky and refused it; TikTok says not to retry it."),
    # --- ours
    Rule("local", "network_error", Action.RETRY_NOW,
         "TikTok could not be reached (network error or timeout): ralph-watch tries again shortly."),
    Rule("local", "bad_response", Action.RETRY_NOW,
         "TikTok sent an answer ralph-watch cannot read: ralph-watch tries again shortly."),
    Rule("local", "rate_limited_locally", Action.RETRY_LATER,
         "TikTok allows only a few upload starts per minute per account: ralph-watch waits for a free slot.",
         wait="window"),
    Rule("local", "daily_cap_locally", Action.RETRY_LATER,
         "This account already posted TikTok's daily maximum through apps in the last 24 hours: ralph-watch "
         "keeps the video scheduled and posts it when the day has rolled on.", wait="day"),
    Rule("local", "drafts_cap_locally", Action.RETRY_LATER,
         "TikTok allows at most 5 drafts sent to the creator's inbox per 24 hours: post or discard the waiting "
         "drafts in the TikTok app; ralph-watch sends this one later.", wait="day"),
    Rule("local", "not_logged_in", Action.NEEDS_LOGIN,
         "No TikTok account is logged in: log in on the status page."),
    Rule("local", "missing_scope", Action.NEEDS_LOGIN,
         "The TikTok login lacks the {scope} permission: log in again and leave it switched on on TikTok's "
         "consent page, or use `mode: draft` if only drafts are allowed."),
    Rule("local", "cancelled", Action.PERMANENT,
         "The upload was cancelled on request: nothing was published; the files stay where they are."),
    Rule("local", "file_changed", Action.PERMANENT,
         "The video file changed while it was being uploaded: ralph-watch checks the new file before "
         "publishing it."),
    Rule("local", "upload_stalled", Action.RETRY_NOW,
         "TikTok's upload server stopped making progress: ralph-watch sends the chunk again."),
    Rule("local", "creator_cannot_post", Action.RETRY_LATER,
         "TikTok says this account cannot post right now (creator_info: creator_can_post is false): "
         "ralph-watch keeps the video scheduled and tries again later.", wait="window"),
)

ERROR_TABLE: tuple[Rule, ...] = _ROWS


def _index(source: str) -> dict[str, Rule]:
    return {r.code: r for r in _ROWS if r.source == source}


OAUTH_ERRORS: Mapping[str, Rule] = _index("oauth")
AUTHORIZE_ERRORS: Mapping[str, Rule] = _index("authorize")
API_ERRORS: Mapping[str, Rule] = _index("api")
FAIL_REASONS: Mapping[str, Rule] = _index("fail_reason")
LOCAL_ERRORS: Mapping[str, Rule] = _index("local")
UPLOAD_STATUSES: Mapping[int, Rule] = {r.http_status: r for r in _ROWS
                                        if r.source == "upload" and r.http_status is not None}
_UPLOAD_BY_CODE: Mapping[str, Rule] = _index("upload")

# Which scope an endpoint needs, to name it in `scope_not_authorized`.
ENDPOINT_SCOPES: Mapping[str, str] = {
    "/v2/user/info/": "user.info.basic",
    "/v2/post/publish/creator_info/query/": "video.publish",
    "/v2/post/publish/video/init/": "video.publish",
    "/v2/post/publish/inbox/video/init/": "video.upload",
    "/v2/post/publish/status/fetch/": "video.publish (or video.upload for drafts)",
}


def rule_for(source: str, code: str) -> Rule | None:
    return {"oauth": OAUTH_ERRORS, "authorize": AUTHORIZE_ERRORS, "api": API_ERRORS, "fail_reason": FAIL_REASONS,
            "local": LOCAL_ERRORS}.get(source, {}).get(code)


def login_refusal(error: str, error_type: str, description: str) -> str | None:
    """The sentence for a login TikTok's consent refused because the app's unaudited user cap is
    reached, or None for any other callback error. TikTok does not document this answer: the cap's
    code in `error` or `error_type`, or access_denied whose description names the unaudited cap."""
    said = description.lower()
    capped = "reached_active_user_cap" in (error, error_type) or (
        error == "access_denied" and "unaudited" in said and ("users" in said or "user cap" in said))
    return AUTHORIZE_ERRORS["unaudited_user_cap"].hint if capped else None


def tiktok_error(code: str, message: str = "", *, action: Action | None = None, hint: str | None = None,
                 scope: str = "", log_id: str | None = None, http_status: int | None = None,
                 retry_after: float | None = None) -> TikTokError:
    """The one way the client builds a TikTokError by code: the table's action and hint for that
    code (ours first, then TikTok's), unless the caller overrides them. `retry_after` is only what
    the caller passes: the client knows the real wait (its limiter), the table only a kind of wait."""
    rule = LOCAL_ERRORS.get(code) or API_ERRORS.get(code) or OAUTH_ERRORS.get(code) or _UPLOAD_BY_CODE.get(code)
    if rule is not None:
        action = rule.action if action is None else action
        hint = rule.hint.replace("{scope}", scope or "required") if hint is None else hint
    return TikTokError(code, message, action=action or Action.PERMANENT, hint=hint or "", http_status=http_status,
                       log_id=log_id, retry_after=retry_after)


def _retry_after(rule: Rule, limits: Limits) -> float | None:
    if rule.wait == "window":
        return limits.window_seconds
    if rule.wait == "day":
        return limits.day_seconds
    return None


def _error(rule: Rule, *, message: str, log_id: str | None, http_status: int | None,
           limits: Limits, scope: str = "", code: str | None = None) -> TikTokError:
    hint = rule.hint.replace("{scope}", scope or "required")
    return TikTokError(code or rule.code, message, action=rule.action, hint=hint, http_status=http_status,
                       log_id=log_id, retry_after=_retry_after(rule, limits))


def _upload_rule(http_status: int | None) -> Rule | None:
    if http_status is None:
        return LOCAL_ERRORS["network_error"]
    if http_status >= 500 or http_status == 429:
        return UPLOAD_STATUSES[500]
    return UPLOAD_STATUSES.get(http_status)


def classify(*, http_status: int | None, code: str | None, message: str = "", log_id: str | None = None,
             endpoint: str = "", limits: Limits | None = None) -> TikTokError:
    """The TikTokError for one failed answer.

    `endpoint`: "upload" for the upload PUT, a path under /v2/oauth/ (or "oauth") for OAuth
    calls, otherwise the data endpoint's path (used to name a missing scope). `code` wins
    over `http_status` (TikTok answers some errors with 200); `http_status=None` and no
    code means no answer at all (network error). `limits` sizes `retry_after`.
    """
    limits = limits or Limits()

    def made(rule: Rule, *, scope: str = "", as_code: str | None = None) -> TikTokError:
        return _error(rule, message=message, log_id=log_id, http_status=http_status, limits=limits,
                      scope=scope, code=as_code)

    if endpoint == "upload":
        rule = _upload_rule(http_status)
        if rule is not None:
            return made(rule)
        return TikTokError(f"upload_http_{http_status}", message, action=Action.PERMANENT, http_status=http_status,
                           hint=f"TikTok's upload server answered HTTP {http_status}, which it does not document: "
                                "please report this with the video's publish_id.")
    if code:
        is_oauth = endpoint == "oauth" or endpoint.startswith("/v2/oauth/")
        order = (OAUTH_ERRORS, API_ERRORS) if is_oauth else (API_ERRORS, OAUTH_ERRORS)
        for table in order:
            rule = table.get(code)
            if rule is not None:
                return made(rule, scope=ENDPOINT_SCOPES.get(endpoint, ""))
    # An unknown code or no code: fall back on the HTTP status.
    if http_status is None:
        return made(LOCAL_ERRORS["network_error"], as_code=code or None)
    if http_status == 429:
        return made(API_ERRORS["rate_limit_exceeded"], as_code=code or None)
    if http_status >= 500:
        return made(API_ERRORS["internal_error"], as_code=code or None)
    if http_status == 401:
        return made(API_ERRORS["access_token_invalid"], as_code=code or None)
    what = f"error {code!r}" if code else f"HTTP {http_status}"
    detail = f" ({message})" if message else ""
    return TikTokError(code or f"http_{http_status}", message, action=Action.PERMANENT, http_status=http_status,
                       log_id=log_id,
                       hint=f"TikTok answered {endpoint or 'the request'} with {what}{detail}, which ralph-watch does "
                            "not know how to handle: please report it with the log_id.")


def classify_fail_reason(fail_reason: str, *, log_id: str | None = None,
                         limits: Limits | None = None) -> TikTokError:
    """The TikTokError for a status/fetch answer with status FAILED."""
    limits = limits or Limits()
    rule = FAIL_REASONS.get(fail_reason)
    if rule is None:
        return TikTokError(fail_reason or "failed", action=Action.PERMANENT, log_id=log_id,
                           hint=f"TikTok refused the video (fail_reason {fail_reason or 'not given'}): check the "
                                "video and its sidecar, then use Retry.")
    return _error(rule, message="", log_id=log_id, http_status=None, limits=limits)
