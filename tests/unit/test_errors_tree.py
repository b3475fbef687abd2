"""errors.py is the one exception tree, and tiktok.errors.tiktok_error the one way the client
builds a TikTokError by code (tables, pure)."""
from __future__ import annotations

import pytest

from ralph_watch import errors
from ralph_watch.errors import Action, RalphWatchError, TikTokError
from ralph_watch.tasks import TransitionError
from ralph_watch.tiktok.errors import API_ERRORS, LOCAL_ERRORS, OAUTH_ERRORS, tiktok_error
from ralph_watch.web.backend import ActionError, LoginError
from ralph_watch.web.server import WebServerError


@pytest.mark.parametrize("cls, where", [
    (TransitionError, "tasks"),
    (LoginError, "web.backend"),
    (ActionError, "web.backend"),
    (WebServerError, "web.server"),
])
def test_every_error_is_in_the_tree_and_still_importable_where_it_was(cls, where):
    assert issubclass(cls, RalphWatchError)
    assert cls is getattr(errors, cls.__name__) and cls.__module__ == "ralph_watch.errors"
    assert cls.__name__ in errors.__doc__, f"{cls.__name__} is missing from the drawing in errors.py"


def test_a_transition_error_is_still_a_runtime_error():
    assert issubclass(TransitionError, RuntimeError)


@pytest.mark.parametrize("made, sentence, status", [
    (LoginError("TikTok said no."), "TikTok said no.", None),
    (ActionError(409, "Busy."), "409: Busy.", 409),
])
def test_page_errors_keep_their_fields(made, sentence, status):
    assert str(made) == sentence and made.message == sentence.split(": ")[-1]
    assert getattr(made, "status", None) == status


@pytest.mark.parametrize("code, table", [
    ("not_logged_in", LOCAL_ERRORS),
    ("bad_response", LOCAL_ERRORS),
    ("network_error", LOCAL_ERRORS),
    ("cancelled", LOCAL_ERRORS),
    ("file_changed", LOCAL_ERRORS),
    ("upload_stalled", LOCAL_ERRORS),
    ("rate_limited_locally", LOCAL_ERRORS),
    ("daily_cap_locally", LOCAL_ERRORS),
    ("creator_cannot_post", LOCAL_ERRORS),
    ("invalid_grant", OAUTH_ERRORS),
    ("rate_limit_exceeded", API_ERRORS),
])
def test_the_factory_takes_the_tables_action_and_hint(code, table):
    err = tiktok_error(code)
    assert (err.code, err.action, err.hint) == (code, table[code].action, table[code].hint)
    assert err.retry_after is None and err.log_id is None and err.http_status is None


@pytest.mark.parametrize("kw, field, value", [
    ({"action": Action.PERMANENT}, "action", Action.PERMANENT),
    ({"hint": "Custom."}, "hint", "Custom."),
    ({"log_id": "L1"}, "log_id", "L1"),
    ({"http_status": 416}, "http_status", 416),
    ({"retry_after": 12.5}, "retry_after", 12.5),
])
def test_the_caller_overrides_one_field(kw, field, value):
    err = tiktok_error("bad_response", **kw)
    assert getattr(err, field) == value


@pytest.mark.parametrize("scope, expected", [
    ("video.publish", "video.publish"),
    ("", "required"),
])
def test_the_scope_fills_the_hint(scope, expected):
    err = tiktok_error("missing_scope", scope=scope)
    assert err.hint == LOCAL_ERRORS["missing_scope"].hint.replace("{scope}", expected)


def test_an_unknown_code_is_permanent_with_no_hint():
    err = tiktok_error("something_new", "detail")
    assert isinstance(err, TikTokError)
    assert (err.action, err.hint, err.message) == (Action.PERMANENT, "", "detail")


def test_the_upload_rows_are_found_by_code():
    err = tiktok_error("upload_range_mismatch", action=Action.RESTART, http_status=416)
    assert err.action is Action.RESTART and "TikTok's upload progress" in err.hint
