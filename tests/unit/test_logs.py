"""logs.py: the log format and the promise that no token reaches a log line."""
from __future__ import annotations

import io
import json
import logging
from typing import Iterator

import pytest

from ralph_watch import logs
from ralph_watch.logs import MASK, forget_secret, redact, redact_url, register_secret, setup_logging

ACCESS = "act.1d1021d2aee3d41fee2d2add43456badMFZnrhFhfWotu3Ecuiuka27L56lr!2456"
REFRESH = "rft.a4a7b3c1d0e9f8a7b6c5d4e3f2a1b0c9FLLNqvRo5KMrPHIDIeZTB!4617"
CLIENT_TOKEN = "clt.2ce8e9b2c3d4e5f6a7b8c9d0e1f2a3b4YpmR7dH!5000"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state: put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in logs.NOISY_LOGGERS}
    filters = {h: list(h.filters) for h in handlers}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for h, fs in filters.items():
        h.filters[:] = fs
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


@pytest.fixture
def secret() -> Iterator[str]:
    value = "s3cr3t-Pa55word-registered"
    register_secret(value)
    yield value
    forget_secret(value)


def capture(fmt: str, level: str = "INFO") -> io.StringIO:
    out = io.StringIO()
    setup_logging(level, fmt, stream=out)
    return out


class TestRedact:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            pytest.param(f"token {ACCESS} ok", ACCESS, id="access-token"),
            pytest.param(f"refresh={REFRESH}", REFRESH, id="refresh-token"),
            pytest.param(f"client token {CLIENT_TOKEN}", CLIENT_TOKEN, id="client-token"),
            pytest.param("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz", id="bearer-header"),
            pytest.param("authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy", id="basic-header"),
            pytest.param("(b'Authorization', b'Bearer zz9-opaque')", "zz9-opaque", id="httpcore-header-tuple"),
            pytest.param("{'authorization': 'Bearer zz8-opaque'}", "zz8-opaque", id="dict-repr-header"),
            pytest.param("Cookie: rw_session=sess-abc123; theme=dark", "sess-abc123", id="cookie-header"),
            pytest.param("(b'Set-Cookie', b'rw_session=sess-def456; HttpOnly')", "sess-def456", id="set-cookie-tuple"),
            pytest.param("PUT https://up.example/video/?upload_id=7&upload_token=Xza123", "Xza123", id="upload-token"),
            pytest.param("body grant_type=refresh_token&refresh_token=opaqueRT99&client_key=k", "opaqueRT99",
                         id="form-refresh-token"),
            pytest.param("client_secret=opaqueCS77&x=1", "opaqueCS77", id="form-client-secret"),
            pytest.param("GET /callback?code=AUTHCODE42&state=s", "AUTHCODE42", id="callback-code"),
            pytest.param("code_verifier=VERIFIER4242", "VERIFIER4242", id="code-verifier"),
            pytest.param("?access_token=opaqueAT55", "opaqueAT55", id="query-access-token"),
            pytest.param('{"access_token": "opaque-at-66", "open_id": "o"}', "opaque-at-66", id="json-field"),
            pytest.param('{"refresh_token":"opaque\\"rt"}', 'opaque\\"rt', id="json-field-escaped-quote"),
            pytest.param("{'client_secret': 'opaqueCS88'}", "opaqueCS88", id="python-dict-field"),
        ],
    )
    def test_it_masks_the_secret(self, text: str, secret: str) -> None:
        out = redact(text)
        assert secret not in out
        assert MASK in out

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("task 12 clip.mp4: scheduled -> uploading", id="plain-line"),
            pytest.param("exit code=1", id="code-in-prose"),
            pytest.param("TikTok error_code=rate_limit_exceeded", id="error-code"),
            pytest.param("contract.mp4 and act.mp4 are videos", id="act-like-file-names"),
            pytest.param("upload_id=67890", id="upload-id"),
            pytest.param("TikTok authorization, then the callback", id="authorization-in-prose"),
            pytest.param("cookies are not used by the emulator", id="cookie-in-prose"),
        ],
    )
    def test_it_leaves_harmless_text_alone(self, text: str) -> None:
        assert redact(text) == text

    def test_it_is_idempotent(self) -> None:
        once = redact(f"Authorization: Bearer {ACCESS} ?upload_token=x1y2")
        assert redact(once) == once


class TestRegisteredSecrets:
    def test_it_masks_a_registered_value_anywhere(self, secret: str) -> None:
        assert redact(f"password is {secret}!") == f"password is {MASK}!"

    def test_it_masks_the_url_encoded_and_json_escaped_forms(self) -> None:
        value = 'pa ss/wo"rd&1'
        register_secret(value)
        try:
            for form in ("pa%20ss%2Fwo%22rd%261", 'pa ss/wo\\"rd&1'):
                assert form not in redact(f"x {form} y")
        finally:
            forget_secret(value)

    def test_it_stops_masking_after_forget(self) -> None:
        value = "opaque-emulator-token-1"
        register_secret(value)
        forget_secret(value)
        assert redact(value) == value

    def test_it_keeps_masking_while_another_registration_remains(self) -> None:
        value = "opaque-shared-secret-2"
        register_secret(value)
        register_secret(value)
        forget_secret(value)
        try:
            assert value not in redact(value)
        finally:
            forget_secret(value)
        assert redact(value) == value

    def test_it_ignores_values_too_short_to_mask(self) -> None:
        register_secret("ab")
        assert redact("a cab b") == "a cab b"

    def test_it_tolerates_forgetting_an_unknown_value(self) -> None:
        forget_secret("never-registered-value")


class TestRedactUrl:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            pytest.param("https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123",
                         f"https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token={MASK}",
                         id="upload-url"),
            pytest.param("http://127.0.0.1:8080/callback?code=abc&state=xyz&scopes=video.publish",
                         f"http://127.0.0.1:8080/callback?code={MASK}&state=xyz&scopes=video.publish",
                         id="callback"),
            pytest.param("https://open.tiktokapis.com/v2/user/info/?fields=open_id",
                         "https://open.tiktokapis.com/v2/user/info/?fields=open_id", id="nothing-secret"),
            pytest.param("json://user:hunter2pass@host:99/p", f"json://user:{MASK}@host:99/p", id="userinfo-password"),
            pytest.param("https://x/cb#access_token=zz&expires_in=1", f"https://x/cb#access_token={MASK}&expires_in=1",
                         id="fragment"),
            pytest.param("https://x/p?Access_Token=AA&q=a%20b", f"https://x/p?Access_Token={MASK}&q=a%20b",
                         id="case-insensitive-and-encoding-kept"),
        ],
    )
    def test_it_keeps_scheme_host_path_and_masks_sensitive_values(self, url: str, expected: str) -> None:
        assert redact_url(url) == expected


class TestFormats:
    def test_it_writes_human_readable_lines_by_default(self) -> None:
        out = capture("text")
        logging.getLogger("ralph_watch.publisher").info("task %s %s: %s -> %s", 12, "clip.mp4", "scheduled", "uploading")
        line = out.getvalue().strip()
        assert line.endswith(" INFO ralph_watch.publisher: task 12 clip.mp4: scheduled -> uploading")
        date, time_ = line.split(" ")[:2]
        assert len(date) == 10 and date[4] == "-" and len(time_) == 8 and time_[2] == ":"

    def test_it_writes_one_json_object_per_line_with_extras(self) -> None:
        out = capture("json")
        log = logging.getLogger("ralph_watch.publisher")
        log.info("scheduled -> uploading", extra={"task_id": "12", "video": "clip.mp4"})
        log.warning("second")
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        entry = json.loads(lines[0])
        assert entry["level"] == "INFO"
        assert entry["logger"] == "ralph_watch.publisher"
        assert entry["message"] == "scheduled -> uploading"
        assert entry["task_id"] == "12" and entry["video"] == "clip.mp4"
        assert entry["time"].endswith("+00:00") and "T" in entry["time"]
        assert json.loads(lines[1])["level"] == "WARNING"

    def test_it_puts_the_traceback_in_json_under_exc(self) -> None:
        out = capture("json")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("ralph_watch.x").exception("failed")
        entry = json.loads(out.getvalue())
        assert "Traceback" in entry["exc"] and "RuntimeError: boom" in entry["exc"]

    @pytest.mark.parametrize(
        ("option", "value", "fmt"),
        [pytest.param("--log-level", "loud", "text", id="level"), pytest.param("--log-format", "info", "xml", id="fmt")],
    )
    def test_it_refuses_unknown_options_naming_them(self, option: str, value: str, fmt: str) -> None:
        with pytest.raises(ValueError, match=option):
            setup_logging(value, fmt, stream=io.StringIO())

    def test_it_accepts_levels_in_any_case(self) -> None:
        capture("text", level="debug")
        assert logging.getLogger().level == logging.DEBUG

    def test_it_replaces_its_own_handler_when_called_again(self) -> None:
        first = capture("text")
        second = capture("text")
        logging.getLogger("ralph_watch").warning("once")
        assert first.getvalue() == ""
        assert second.getvalue().count("once") == 1

    def test_it_filters_other_root_handlers_too(self) -> None:
        other = io.StringIO()
        handler = logging.StreamHandler(other)
        logging.getLogger().addHandler(handler)
        capture("text")
        logging.getLogger("x").warning("token %s", ACCESS)
        assert other.getvalue() and ACCESS not in other.getvalue()


class TestLibraryLoggers:
    def test_it_quiets_http_libraries_by_default(self) -> None:
        capture("text")
        for name in ("httpx", "httpcore", "urllib3", "apprise"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING

    def test_it_lets_http_libraries_through_in_debug(self) -> None:
        capture("text", level="DEBUG")
        for name in ("httpx", "httpcore"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.DEBUG


@pytest.mark.parametrize("fmt", ["text", "json"])
class TestNoSecretInOutput:
    def test_it_masks_tokens_in_the_message(self, fmt: str) -> None:
        out = capture(fmt)
        logging.getLogger("ralph_watch.t").info(f"got {ACCESS} and {REFRESH}")
        assert ACCESS not in out.getvalue() and REFRESH not in out.getvalue()
        assert "act." + MASK in out.getvalue()

    def test_it_masks_tokens_in_args(self, fmt: str, secret: str) -> None:
        out = capture(fmt)
        logging.getLogger("ralph_watch.t").info("got %s %r %s", ACCESS, {"access_token": "opaque-x1"}, secret)
        text = out.getvalue()
        assert ACCESS not in text and "opaque-x1" not in text and secret not in text

    def test_it_masks_tokens_in_exception_text(self, fmt: str, secret: str) -> None:
        out = capture(fmt)
        try:
            raise ValueError(f"refresh failed for {REFRESH} with {secret} Authorization: Bearer {ACCESS}")
        except ValueError:
            logging.getLogger("ralph_watch.t").exception("refresh failed")
        text = out.getvalue()
        assert "refresh failed" in text and "ValueError" in text
        assert REFRESH not in text and secret not in text and ACCESS not in text

    def test_it_masks_tokens_in_a_chained_traceback(self, fmt: str) -> None:
        out = capture(fmt)
        try:
            try:
                raise KeyError(ACCESS)
            except KeyError as exc:
                raise RuntimeError("wrapped") from exc
        except RuntimeError:
            logging.getLogger("ralph_watch.t").error("failed", exc_info=True)
        assert "KeyError" in out.getvalue() and ACCESS not in out.getvalue()

    def test_it_masks_tokens_in_extras_and_stack(self, fmt: str) -> None:
        out = capture(fmt)
        logging.getLogger("ralph_watch.t").info("x", extra={"url": f"https://u/?upload_token={ACCESS}"}, stack_info=True)
        assert ACCESS not in out.getvalue()

    def test_it_redacts_each_record_once_and_still_masks_message_args_and_traceback(
        self, fmt: str, secret: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[str] = []
        real = logs.redact

        def counting(text: str) -> str:
            calls.append(text)
            return real(text)

        monkeypatch.setattr(logs, "redact", counting)
        out = capture(fmt)
        try:
            raise ValueError(f"refresh failed for {REFRESH}")
        except ValueError:
            logging.getLogger("ralph_watch.t").exception(f"token {CLIENT_TOKEN} arg %s", secret)
        text = out.getvalue()
        assert "ValueError" in text and "arg" in text
        assert CLIENT_TOKEN not in text and secret not in text and REFRESH not in text
        assert len(calls) == 2  # the message (args merged in) and the traceback; no second pass

