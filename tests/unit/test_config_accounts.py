"""`accounts:` (issue 15): one inbox per account, parsed and validated; every sentence exact."""
from __future__ import annotations

from pathlib import Path, PurePath

import pytest

from ralph_watch.config import AccountConfig, Config, load_config
from ralph_watch.config_accounts import inbox_overlaps
from ralph_watch.errors import ConfigError

ENV = {"HOME": "/home/ann", "TZ": "Europe/Berlin"}


def load(text: str) -> Config:
    return load_config(text, base_dir=Path("/srv/rw"), environ=ENV)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value.problems


class TestOneAccount:
    def test_it_makes_the_top_level_inbox_one_account_named_default(self) -> None:
        config = load("inbox: ./in\ntimezone: UTC\ndefaults: {privacy: private}\n")
        assert config.accounts == (AccountConfig("default", Path("/srv/rw/in"), "UTC", {"privacy": "private"}),)

    def test_it_makes_a_config_built_in_code_one_default_account(self) -> None:
        config = Config(inbox=Path("/x"), state_dir=Path("/s"))
        assert [(a.name, a.inbox, a.timezone) for a in config.accounts] == [("default", Path("/x"), "UTC")]


class TestAccounts:
    TEXT = ("timezone: UTC\ndefaults: {privacy: private, allow_duet: false}\n"
            "accounts:\n"
            "  main:\n    inbox: ./inbox/main\n"
            "  brand:\n    inbox: /srv/share/brand\n    timezone: America/New_York\n"
            "    defaults: {privacy: public}\n")

    def test_it_keeps_file_order_and_resolves_each_inbox(self) -> None:
        config = load(self.TEXT)
        assert [(a.name, a.inbox) for a in config.accounts] == [
            ("main", Path("/srv/rw/inbox/main")), ("brand", Path("/srv/share/brand"))]

    @pytest.mark.parametrize(("name", "timezone", "defaults"), [
        pytest.param("main", "UTC", {"privacy": "private", "allow_duet": False}, id="falls-back-to-top-level"),
        pytest.param("brand", "America/New_York", {"privacy": "public", "allow_duet": False}, id="merges-over"),
    ])
    def test_it_gives_each_account_its_zone_and_merged_defaults(self, name: str, timezone: str,
                                                                defaults: dict[str, object]) -> None:
        account = {a.name: a for a in load(self.TEXT).accounts}[name]
        assert (account.timezone, dict(account.defaults), account.tz.key) == (timezone, defaults, timezone)

    def test_it_keeps_the_single_account_fields_as_the_first_accounts(self) -> None:
        config = load(self.TEXT)
        assert (config.inbox, config.timezone, dict(config.defaults)) == (
            Path("/srv/rw/inbox/main"), "UTC", {"privacy": "private", "allow_duet": False})


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("inbox: ./in\naccounts:\n  main:\n    inbox: ./in\n",
                 'config.yaml:1: inbox: is given together with accounts:; with accounts, every inbox belongs to '
                 'an account: remove the line "inbox: ./in" and write the folder under its account, like '
                 "accounts: {main: {inbox: ./in}}", id="inbox-and-accounts"),
    pytest.param("accounts:\n",
                 "config.yaml:1: accounts: names no account; list at least one, like "
                 "accounts: {main: {inbox: ./inbox}}", id="empty"),
    pytest.param("accounts: [main]\n",
                 "config.yaml:1: accounts: must be a mapping from account names to their settings (indented lines "
                 "below accounts:), not ['main']", id="not-a-mapping"),
    pytest.param("accounts:\n  Main:\n    inbox: ./a\n",
                 'config.yaml:2: accounts.Main: "Main" is not an account name; use 1 to 32 lower-case letters, '
                 "digits and dashes, starting with a letter or digit (like main or brand-2)", id="upper-case"),
    pytest.param("accounts:\n  -main:\n    inbox: ./a\n",
                 'config.yaml:2: accounts.-main: "-main" is not an account name; use 1 to 32 lower-case letters, '
                 "digits and dashes, starting with a letter or digit (like main or brand-2)", id="leading-dash"),
    pytest.param(f"accounts:\n  {'a' * 33}:\n    inbox: ./a\n",
                 f'config.yaml:2: accounts.{"a" * 33}: "{"a" * 33}" is not an account name; use 1 to 32 lower-case '
                 "letters, digits and dashes, starting with a letter or digit (like main or brand-2)", id="33-chars"),
    pytest.param("accounts:\n  main: ./a\n",
                 "config.yaml:2: accounts.main: must be a mapping with the account's inbox: (indented lines below "
                 "main:), like main: {inbox: ./inbox/main}", id="account-not-a-mapping"),
    pytest.param("accounts:\n  main:\n    timezone: UTC\n",
                 "config.yaml:2: accounts.main.inbox: is missing; every account needs its own inbox folder, like "
                 "inbox: ./inbox/main", id="no-inbox"),
    pytest.param("accounts:\n  main:\n    inbox: ./a\n    inbx: ./b\n",
                 'config.yaml:4: accounts.main.inbx: unknown key; did you mean "inbox"?', id="unknown-key"),
    pytest.param("accounts:\n  main:\n    inbox: ./a\n    timezone: Mars/Base\n",
                 "config.yaml:4: accounts.main.timezone: 'Mars/Base' is not an IANA time zone name; write it like "
                 "Europe/Berlin, America/New_York or UTC", id="bad-zone"),
    pytest.param("accounts:\n  main:\n    inbox: ./a\n  brand:\n    inbox: ./a/\n",
                 "config.yaml:5: accounts.brand.inbox: is the same folder as accounts.main.inbox (/srv/rw/a); give "
                 "each account a folder of its own", id="same-folder"),
    pytest.param("accounts:\n  main:\n    inbox: ./a\n  brand:\n    inbox: ./a/b\n",
                 "config.yaml:5: accounts.brand.inbox: /srv/rw/a/b is inside accounts.main.inbox (/srv/rw/a); "
                 "inbox folders may not be nested: put them side by side, like ./inbox/main and ./inbox/brand",
                 id="nested-inside"),
    pytest.param("accounts:\n  main:\n    inbox: ./a/b\n  brand:\n    inbox: ./x/../a\n",
                 "config.yaml:5: accounts.brand.inbox: /srv/rw/a holds accounts.main.inbox (/srv/rw/a/b); "
                 "inbox folders may not be nested: put them side by side, like ./inbox/main and ./inbox/brand",
                 id="nested-holds"),
])
def test_it_refuses_with_the_exact_sentence(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_it_checks_an_accounts_defaults_like_a_sidecars() -> None:
    (problem,) = problems("accounts:\n  main:\n    inbox: ./a\n    defaults: {privacy: everyone}\n")
    assert problem.startswith("config.yaml:4: accounts.main.defaults.privacy: ")


@pytest.mark.parametrize(("inboxes", "expected"), [
    pytest.param([("a", "/x/a"), ("b", "/x/b")], [], id="side-by-side"),
    pytest.param([("a", "/x/a"), ("b", "/x/ab")], [], id="prefix-is-not-nesting"),
    pytest.param([("a", "/x/a"), ("b", "/x/a/./")], ["accounts.b.inbox"], id="same-after-normalising"),
    pytest.param([("a", "/x"), ("b", "/y"), ("c", "/x/y")], ["accounts.c.inbox"], id="third-inside-first"),
])
def test_it_finds_overlapping_inboxes(inboxes: list[tuple[str, str]], expected: list[str]) -> None:
    found = inbox_overlaps([(name, PurePath(path)) for name, path in inboxes])
    assert [key for key, _ in found] == expected
