"""config.yaml: defaults, ${NAME}, env overrides, paths, and every problem named by its key."""
from __future__ import annotations

from pathlib import Path

import pytest

from ralph_watch.config import (
    default_config,
    load_config,
    read_config,
)
from ralph_watch.errors import ConfigError
from tests.unit.test_config import ENV, load  # the unit half's helpers, shared


class TestDefaults:
    def test_default_config_takes_overrides(self, tmp_path):
        config = default_config(tmp_path, inbox="in", timezone="UTC")
        assert (config.inbox, config.timezone) == (tmp_path / "in", "UTC")
        assert default_config(tmp_path).inbox == tmp_path / "inbox"


class TestValues:
    def test_it_resolves_relative_paths_against_the_config_folder(self, tmp_path):
        (tmp_path / "conf").mkdir()
        path = tmp_path / "conf" / "config.yaml"
        path.write_text("inbox: ../drop\nstate_dir: ~/st\n")
        config = read_config(path, environ={"HOME": "/home/bob", "TZ": "UTC"})
        assert config.inbox == tmp_path / "conf" / ".." / "drop"
        assert config.state_dir == Path("/home/bob/st")


class TestSecretFiles:
    """Issue 12 item 14: secrets from files and systemd credentials, not only the config or env."""

    @pytest.fixture
    def secret(self, tmp_path):
        def write(name: str, text: str, mode: int = 0o600) -> Path:
            path = tmp_path / name
            path.write_text(text, encoding="utf-8")
            path.chmod(mode)
            return path
        return write

    @pytest.mark.parametrize("text, value", [
        pytest.param("s3cret-value\n", "s3cret-value", id="newline-stripped"),
        pytest.param("s3cret-value\r\n", "s3cret-value", id="crlf-stripped"),
        pytest.param("s3cret-value", "s3cret-value", id="no-newline"),
        pytest.param("  spaced pässword \n", "  spaced pässword ", id="inner-and-edge-spaces-kept"),
    ])
    def test_it_reads_both_secrets_from_files(self, secret, tmp_path, text, value):
        secret("client_secret", text)
        secret("password", text)
        config = load("web:\n  password_file: password\ntiktok:\n  client_secret_file: client_secret\n",
                      base_dir=tmp_path)
        assert config.tiktok.client_secret == value and config.web.password == value
        assert config.tiktok.client_secret_file == "client_secret" and config.web.password_file == "password"
        assert value not in repr(config)

    def test_it_registers_secrets_from_files_with_the_log_redactor(self, secret, tmp_path):
        from ralph_watch.logs import forget_secret, redact
        secret("cs", "file-only-secret-81723\n")
        load("tiktok:\n  client_secret_file: cs\n", base_dir=tmp_path)
        try:
            assert redact("leaked file-only-secret-81723 here") == "leaked *** here"
        finally:
            forget_secret("file-only-secret-81723")

    def test_a_secret_file_satisfies_the_password_requirement(self, secret, tmp_path):
        secret("pw", "hunter22\n")
        assert load("web:\n  host: 0.0.0.0\n  password_file: pw\n", base_dir=tmp_path).web.password == "hunter22"

    @pytest.mark.parametrize("text, expected", [
        pytest.param("tiktok:\n  client_secret: inline\n  client_secret_file: cs\n",
                     "config.yaml:3: tiktok.client_secret_file: tiktok.client_secret and tiktok.client_secret_file are "
                     "both set; keep only one of them (the file keeps the secret out of config.yaml)", id="secret-both"),
        pytest.param("web:\n  password: inline\n  password_file: pw\n",
                     "config.yaml:3: web.password_file: web.password and web.password_file are both set; keep only "
                     "one of them (the file keeps the secret out of config.yaml)", id="password-both"),
        pytest.param("tiktok:\n  client_secret_file: missing\n",
                     'config.yaml:2: tiktok.client_secret_file: cannot read the file "{dir}/missing" (No such file or '
                     "directory); check the path and that the user running ralph-watch may read it (chmod 600, owned "
                     "by that user)", id="secret-missing"),
        pytest.param("web:\n  password_file: empty\n",
                     'config.yaml:2: web.password_file: the file "{dir}/empty" is empty; write the secret into it '
                     "(one line)", id="password-empty"),
        pytest.param("web:\n  password_file: ''\n", "config.yaml:2: web.password_file: must not be empty",
                     id="empty-path"),
    ])
    def test_it_names_the_key_and_the_fix(self, secret, tmp_path, text, expected):
        secret("cs", "file-secret\n")
        secret("pw", "file-password\n")
        secret("empty", "\n")
        with pytest.raises(ConfigError) as info:
            load(text, base_dir=tmp_path)
        assert info.value.problems == [expected.format(dir=tmp_path)]
        assert "file-secret" not in str(info.value) and "file-password" not in str(info.value)

    def test_an_unreadable_file_is_named(self, secret, tmp_path):
        secret("cs", "x", mode=0o600)
        (tmp_path / "cs").unlink()
        (tmp_path / "cs").mkdir()  # reading a folder fails even as root
        with pytest.raises(ConfigError) as info:
            load("tiktok:\n  client_secret_file: cs\n", base_dir=tmp_path)
        assert info.value.problems == [f'config.yaml:2: tiktok.client_secret_file: cannot read the file "{tmp_path}/cs" '
                                       "(Is a directory); check the path and that the user running ralph-watch may "
                                       "read it (chmod 600, owned by that user)"]

    def test_it_reads_systemd_credentials(self, tmp_path):
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "tiktok_client_secret").write_text("cred-secret\n")
        (creds / "web_password").write_text("cred-password\n")
        config = load("web:\n  host: 0.0.0.0\n", environ={**ENV, "CREDENTIALS_DIRECTORY": str(creds)})
        assert (config.tiktok.client_secret, config.web.password) == ("cred-secret", "cred-password")

    def test_the_config_and_the_environment_win_over_a_credential(self, tmp_path):
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "tiktok_client_secret").write_text("cred-secret\n")
        (creds / "web_password").write_text("cred-password\n")
        environ = {**ENV, "CREDENTIALS_DIRECTORY": str(creds)}
        config = load("web:\n  password: inline-pw\n", environ=environ)
        assert (config.tiktok.client_secret, config.web.password) == ("cred-secret", "inline-pw")
        config = load("", environ={**environ, "TIKTOK_CLIENT_SECRET": "env-secret"})
        assert config.tiktok.client_secret == "env-secret"

    def test_a_missing_credential_is_no_problem(self, tmp_path):
        config = load("", environ={**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path)})
        assert (config.tiktok.client_secret, config.web.password) == ("", None)


class TestReadConfig:
    def test_it_explains_how_to_create_a_missing_file(self, tmp_path):
        with pytest.raises(ConfigError) as info:
            read_config(tmp_path / "config.yaml", environ=ENV)
        [message] = info.value.problems
        assert message == (f"{tmp_path / 'config.yaml'}: no such config file; create it by copying "
                           f"config.example.yaml (cp config.example.yaml {tmp_path / 'config.yaml'}) and edit it, "
                           "or pass another one with -c")

    def test_it_labels_problems_with_the_file_path(self, tmp_path):
        path = tmp_path / "rw.yaml"
        path.write_text("# header\nwatch:\n  mode: fast\n")
        with pytest.raises(ConfigError) as info:
            read_config(path, environ=ENV)
        assert info.value.problems[0].startswith(f"{path}:3: watch.mode: ")

    def test_it_refuses_a_file_that_is_not_utf8(self, tmp_path):
        path = tmp_path / "config.yaml"
        path.write_bytes(b"inbox: caf\xe9\n")
        with pytest.raises(ConfigError) as info:
            read_config(path, environ=ENV)
        assert info.value.problems == [f"{path}:1: the file is not UTF-8 text (byte offset 10); save it as UTF-8"]


class TestOperatorPages:
    def test_privacy_policy_and_terms_are_files_next_to_the_config(self, tmp_path):
        (tmp_path / "policy.html").write_text("<p>mine</p>")
        (tmp_path / "terms.txt").write_text("mine")
        c = load_config("web:\n  privacy_policy: policy.html\n  terms: terms.txt\n", base_dir=tmp_path, environ={})
        assert (c.web.privacy_policy, c.web.terms) == (tmp_path / "policy.html", tmp_path / "terms.txt")
        assert load_config("", base_dir=tmp_path, environ={}).web.terms is None

    def test_a_missing_or_odd_file_is_a_problem_naming_the_key(self, tmp_path):
        (tmp_path / "terms.pdf").write_text("x")
        with pytest.raises(ConfigError) as err:
            load_config("web:\n  privacy_policy: nope.txt\n  terms: terms.pdf\n", base_dir=tmp_path, environ={})
        text = "\n".join(err.value.problems)
        assert "web.privacy_policy" in text and "nope.txt does not exist" in text
        assert "web.terms" in text and "must be a text (.txt, .md) or HTML (.html) file" in text
