"""tiktok/errors.py: every documented code has an action and a sentence a person can act on."""
from __future__ import annotations

import pytest

from ralph_watch.errors import Action, TikTokError
from ralph_watch.limits import Limits
from ralph_watch.tiktok.errors import (API_ERRORS, ERROR_TABLE, FAIL_REASONS, OAUTH_ERRORS, UPLOAD_STATUSES,
                                       classify, classify_fail_reason)

LIMITS = Limits(window_seconds=60.0, day_seconds=86400.0)

# Every code TikTok documents (tiktok-api.md §1.5, §3, §5, §6, §7): none may be missing.
DOCUMENTED_OAUTH = ["access_denied", "invalid_client", "invalid_grant", "invalid_request", "invalid_scope",
                    "unauthorized_client", "unsupported_grant_type", "unsupported_response_type",
                    "server_error", "temporarily_unavailable"]
DOCUMENTED_API = ["access_token_invalid", "internal_error", "invalid_file_upload", "invalid_params",
                  "invalid_param", "rate_limit_exceeded", "scope_not_authorized", "scope_permission_missed",
                  "app_version_check_failed", "invalid_publish_id", "token_not_authorized_for_specified_publish_id",
                  "publish_not_cancellable", "spam_risk_too_many_posts", "spam_risk_user_banned_from_posting",
                  "spam_risk_too_many_pending_share", "reached_active_user_cap",
                  "unaudited_client_can_only_post_to_private_accounts", "url_ownership_unverified",
                  "privacy_level_option_mismatch"]
DOCUMENTED_FAIL_REASONS = ["file_format_check_failed", "duration_check_failed", "frame_rate_check_failed",
                           "picture_size_check_failed", "internal", "video_pull_failed", "photo_pull_failed",
                           "publish_cancelled", "auth_removed", "spam_risk_too_many_posts",
                           "spam_risk_user_banned_from_posting", "spam_risk_text", "spam_risk"]


class TestTheTable:
    def test_it_covers_every_documented_code(self):
        assert set(DOCUMENTED_OAUTH) <= set(OAUTH_ERRORS)
        assert set(DOCUMENTED_API) <= set(API_ERRORS)
        assert set(DOCUMENTED_FAIL_REASONS) <= set(FAIL_REASONS)
        assert {400, 403, 404, 416, 500} <= set(UPLOAD_STATUSES)

    @pytest.mark.parametrize("rule", ERROR_TABLE, ids=lambda r: f"{r.source}-{r.code}")
    def test_it_gives_every_row_an_action_and_a_sentence_that_says_what_to_do(self, rule):
        assert isinstance(rule.action, Action)
        assert rule.hint.endswith((".", ")")) and len(rule.hint) > 30
        assert ":" in rule.hint or rule.action in (Action.PERMANENT,), rule.hint  # "what: what to do"
        if rule.action is Action.RETRY_LATER:
            assert rule.wait in ("window", "day")

    @pytest.mark.parametrize("rule", [r for r in ERROR_TABLE if r.source in ("oauth", "api")],
                             ids=lambda r: f"{r.source}-{r.code}")
    def test_it_classifies_every_code_row_by_its_code(self, rule):
        endpoint = "/v2/oauth/token/" if rule.source == "oauth" else "/v2/post/publish/video/init/"
        err = classify(http_status=400, code=rule.code, message="m", log_id="L1", endpoint=endpoint, limits=LIMITS)
        assert isinstance(err, TikTokError)
        assert (err.code, err.action, err.log_id) == (rule.code, rule.action, "L1")
        assert "{scope}" not in err.hint
        assert "L1" in err.sentence()

    @pytest.mark.parametrize("rule", [r for r in ERROR_TABLE if r.source == "fail_reason"], ids=lambda r: r.code)
    def test_it_classifies_every_fail_reason(self, rule):
        err = classify_fail_reason(rule.code, log_id="L2", limits=LIMITS)
        assert (err.code, err.action, err.log_id) == (rule.code, rule.action, "L2")

    @pytest.mark.parametrize("status", sorted(UPLOAD_STATUSES), ids=str)
    def test_it_classifies_every_upload_status(self, status):
        assert classify(http_status=status, code=None, endpoint="upload").action is UPLOAD_STATUSES[status].action


# Login Kit's error_type values (tiktok-api.md §1.4, community-observed) and our local codes.
DOCUMENTED_ERROR_TYPES = ["non_sandbox_target", "code_challenge", "redirect_uri", "client_key", "scope_not_authorized"]


class TestNewRows:
    def test_it_covers_every_error_type_of_the_login_page(self):
        from ralph_watch.tiktok.errors import AUTHORIZE_ERRORS, rule_for
        assert set(DOCUMENTED_ERROR_TYPES) <= set(AUTHORIZE_ERRORS)
        assert rule_for("authorize", "non_sandbox_target").action is Action.NEEDS_LOGIN

    @pytest.mark.parametrize("code, action, wait", [
        ("creator_cannot_post", Action.RETRY_LATER, "window"),
    ])
    def test_it_has_local_rows_for_what_creator_info_says(self, code, action, wait):
        from ralph_watch.tiktok.errors import LOCAL_ERRORS
        rule = LOCAL_ERRORS[code]
        assert (rule.action, rule.wait) == (action, wait) and "later" in rule.hint

    def test_it_says_the_active_user_cap_is_the_apps(self):
        err = classify(http_status=403, code="reached_active_user_cap", endpoint="/v2/post/publish/video/init/",
                       limits=LIMITS)
        assert err.action is Action.RETRY_LATER and err.retry_after == 86400.0 and "app's" in err.hint


class TestActions:
    @pytest.mark.parametrize("code, action, retry_after", [
        ("unaudited_client_can_only_post_to_private_accounts", Action.USER_FIX, None),
        ("spam_risk_too_many_posts", Action.RETRY_LATER, 86400.0),
        ("spam_risk_too_many_pending_share", Action.RETRY_LATER, 86400.0),
        ("reached_active_user_cap", Action.RETRY_LATER, 86400.0),
        ("rate_limit_exceeded", Action.RETRY_LATER, 60.0),
        ("access_token_invalid", Action.NEEDS_LOGIN, None),
        ("scope_not_authorized", Action.NEEDS_LOGIN, None),
        ("privacy_level_option_mismatch", Action.USER_FIX, None),
        ("spam_risk_user_banned_from_posting", Action.PERMANENT, None),
        ("internal_error", Action.RETRY_NOW, None),
        ("invalid_params", Action.PERMANENT, None),
        ("invalid_param", Action.PERMANENT, None),
    ], ids=lambda v: v if isinstance(v, str) else None)
    def test_it_maps_data_codes(self, code, action, retry_after):
        err = classify(http_status=403, code=code, endpoint="/v2/post/publish/video/init/", limits=LIMITS)
        assert (err.action, err.retry_after) == (action, retry_after)

    def test_it_explains_the_unaudited_error_in_plain_words(self):
        err = classify(http_status=403, code="unaudited_client_can_only_post_to_private_accounts")
        assert "private" in err.hint and "`privacy: private`" in err.hint and "`mode: draft`" in err.hint

    def test_it_explains_the_five_pending_drafts_limit(self):
        assert "5 drafts" in classify(http_status=403, code="spam_risk_too_many_pending_share").hint

    @pytest.mark.parametrize("endpoint, scope", [
        ("/v2/post/publish/video/init/", "video.publish"),
        ("/v2/post/publish/inbox/video/init/", "video.upload"),
        ("/v2/user/info/", "user.info.basic"),
    ], ids=["direct", "draft", "user_info"])
    def test_it_names_the_missing_scope(self, endpoint, scope):
        assert scope in classify(http_status=401, code="scope_not_authorized", endpoint=endpoint).hint

    def test_it_scales_retry_after_with_the_limits(self):
        small = Limits(window_seconds=2.0, day_seconds=30.0)
        assert classify(http_status=429, code="rate_limit_exceeded", limits=small).retry_after == 2.0
        assert classify(http_status=200, code="spam_risk_too_many_posts", limits=small).retry_after == 30.0

    def test_it_branches_on_the_code_not_the_status(self):
        # creator_info answers its caps with HTTP 200.
        err = classify(http_status=200, code="spam_risk_too_many_posts",
                       endpoint="/v2/post/publish/creator_info/query/")
        assert err.action is Action.RETRY_LATER

    @pytest.mark.parametrize("status, code, action", [
        (None, None, Action.RETRY_NOW),
        (500, None, Action.RETRY_NOW),
        (503, "something_new", Action.RETRY_NOW),
        (429, None, Action.RETRY_LATER),
        (401, None, Action.NEEDS_LOGIN),
        (400, "something_new", Action.PERMANENT),
        (418, None, Action.PERMANENT),
    ], ids=["network", "500", "503-unknown-code", "429", "401", "400-unknown", "418"])
    def test_it_falls_back_on_the_http_status(self, status, code, action):
        err = classify(http_status=status, code=code, endpoint="/v2/post/publish/video/init/")
        assert err.action is action
        assert err.hint

    def test_it_says_an_unknown_code_is_unknown_and_keeps_the_message(self):
        err = classify(http_status=400, code="brand_new", message="Something odd", log_id="X")
        assert err.code == "brand_new" and "Something odd" in err.hint and "X" in err.sentence()

    @pytest.mark.parametrize("status, action", [(403, Action.RESTART), (404, Action.RESTART), (502, Action.RETRY_NOW),
                                                (400, Action.PERMANENT), (None, Action.RETRY_NOW)],
                             ids=["403", "404", "502", "400", "network"])
    def test_it_maps_upload_statuses(self, status, action):
        assert classify(http_status=status, code=None, endpoint="upload").action is action

    @pytest.mark.parametrize("reason, action, words", [
        ("internal", Action.RETRY_NOW, "again"),
        ("video_pull_failed", Action.RETRY_NOW, "again"),
        ("duration_check_failed", Action.USER_FIX, "10 minutes"),
        ("frame_rate_check_failed", Action.USER_FIX, "23–60 fps"),
        ("picture_size_check_failed", Action.USER_FIX, "360–4096 px"),
        ("file_format_check_failed", Action.USER_FIX, "H.264"),
        ("auth_removed", Action.NEEDS_LOGIN, "log in"),
        ("spam_risk_text", Action.USER_FIX, "`title:`"),
        ("spam_risk_too_many_posts", Action.RETRY_LATER, "day"),
    ], ids=lambda v: v if isinstance(v, str) and "_" in v or v == "internal" else None)
    def test_it_maps_fail_reasons_with_tiktoks_rule(self, reason, action, words):
        err = classify_fail_reason(reason)
        assert err.action is action and words in err.hint

    def test_it_refuses_to_retry_an_unknown_fail_reason(self):
        err = classify_fail_reason("new_reason_2027")
        assert err.action is Action.PERMANENT and "new_reason_2027" in err.hint


UNAUDITED_DESCRIPTION = ("This app is unaudited: TikTok lets an unaudited app serve at most 5 users in 24 hours, "
                         "and 5 other users have authorized it in the last 24 hours.")


class TestUnauditedCap:
    @pytest.mark.parametrize("error, error_type, description, capped", [
        ("access_denied", "", UNAUDITED_DESCRIPTION, True),                    # the emulator's reading
        ("access_denied", "", "This app is UNAUDITED and reached its user cap", True),
        ("reached_active_user_cap", "", "", True),                             # the init code, were TikTok to send it
        ("access_denied", "reached_active_user_cap", "", True),
        ("access_denied", "", "The user denied the authorization request.", False),
        ("access_denied", "", "", False),
        ("access_denied", "non_sandbox_target", "", False),
        ("invalid_request", "", "unaudited", False),                           # only a refused consent
        ("access_denied", "", "unaudited_client_can_only_post_to_private_accounts", False),
    ])
    def test_login_refusal_recognises_only_the_cap(self, error, error_type, description, capped):
        from ralph_watch.tiktok.errors import login_refusal
        sentence = login_refusal(error, error_type, description)
        assert (sentence is not None) == capped
        if sentence is not None:
            assert "unaudited" in sentence and "at most 5 TikTok users in 24 hours" in sentence

    @pytest.mark.parametrize("source, code", [("authorize", "unaudited_user_cap"), ("api", "reached_active_user_cap")])
    def test_both_sentences_say_why_and_every_way_out(self, source, code):
        from ralph_watch.tiktok.errors import rule_for
        rule = rule_for(source, code)
        assert rule is not None
        for words in ("unaudited", "5 TikTok users in 24 hours", "24 hours", "get the app audited",
                      "log out an account you do not need"):
            assert words in rule.hint, words
