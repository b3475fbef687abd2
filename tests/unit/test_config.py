"""config.yaml: defaults, ${NAME}, env overrides, paths, and every problem named by its key."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.config import (
    NOTIFY_EVENTS,
    Config,
    NotifyConfig,
    WebConfig,
    load_config,
    read_config,
)
from ralph_watch.errors import ConfigError
from ralph_watch.limits import Limits

REPO = Path(__file__).resolve().parents[2]
ENV = {"HOME": "/home/ann", "TZ": "Europe/Berlin"}


def load(text: str, *, environ=None, base_dir=Path("/srv/rw")) -> Config:
    return load_config(text, base_dir=base_dir, environ=ENV if environ is None else environ)


def problems(text: str, *, environ=None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, environ=environ)
    return info.value.problems


class TestDefaults:
    def test_it_fills_every_documented_default(self):
        config = load("")
        assert config.inbox == Path("/srv/rw/inbox")
        assert config.state_dir == Path("/home/ann/.local/state/ralph-watch")
        assert config.timezone == "Europe/Berlin"
        assert (config.watch.mode, config.watch.settle_seconds, config.watch.poll_seconds,
                config.watch.rescan_seconds) == ("auto", 3, 2, 300)
        assert config.schedule.late_grace_minutes == 360
        assert (config.web.host, config.web.port, config.web.public_url, config.web.allowed_hosts,
                config.web.password) == ("127.0.0.1", 8080, None, (), None)
        assert config.tiktok.redirect_uri == "http://127.0.0.1:8080/callback"
        assert config.tiktok.scopes == ("user.info.basic", "video.publish", "video.upload")
        assert config.tiktok.api_base == "https://open.tiktokapis.com"
        assert config.tiktok.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
        assert config.tiktok.limits == Limits()
        assert config.notify == NotifyConfig(urls=(), events=NOTIFY_EVENTS, include_title=False)
        assert dict(config.defaults) == {}

    def test_it_offers_the_zone_and_the_callback_path(self):
        config = load("tiktok:\n  redirect_uri: https://rw.example.com/tiktok/back\nweb:\n  password: pw\n")
        assert config.tz == ZoneInfo("Europe/Berlin")
        assert config.redirect_path == "/tiktok/back"

    @pytest.mark.parametrize(
        "tz_env, expected",
        [pytest.param("America/New_York", "America/New_York", id="TZ"),
         pytest.param(":Asia/Tokyo", "Asia/Tokyo", id="TZ-with-colon"),
         pytest.param("/usr/share/zoneinfo/Europe/Paris", "Europe/Paris", id="TZ-as-path")],
    )
    def test_it_defaults_the_timezone_to_the_machines(self, tz_env, expected):
        assert load("", environ={"TZ": tz_env}).timezone == expected

    def test_it_reads_the_example_config_to_the_defaults(self):
        config = read_config(REPO / "config.example.yaml", environ=ENV)
        assert config == load("", base_dir=REPO)


class TestValues:
    def test_it_reads_a_full_config(self):
        config = load(
            "inbox: /data/inbox\n"
            "state_dir: state\n"
            "timezone: Asia/Tokyo\n"
            "watch: {mode: polling, settle_seconds: 0.5, poll_seconds: 1, rescan_seconds: 60}\n"
            "schedule: {late_grace_minutes: 0}\n"
            "web:\n  host: 0.0.0.0\n  port: 9000\n  public_url: https://rw.example.com\n"
            "  allowed_hosts: [nas.local]\n  password: s3cret\n"
            "tiktok:\n  client_key: ck\n  client_secret: cs\n  scopes: [video.upload]\n"
            "  limits: {daily_posts: 3, window_seconds: 0.5}\n"
            "notify: {urls: ['json://localhost'], events: [failed], include_title: true}\n"
            "defaults: {privacy: private, allow_comments: true}\n"
        )
        assert (config.inbox, config.state_dir, config.timezone) == (
            Path("/data/inbox"), Path("/srv/rw/state"), "Asia/Tokyo")
        assert (config.watch.mode, config.watch.settle_seconds) == ("polling", 0.5)
        assert config.schedule.late_grace_minutes == 0
        assert config.web == WebConfig(host="0.0.0.0", port=9000, public_url="https://rw.example.com",
                                       allowed_hosts=("nas.local",), password="s3cret",
                                       trusted_proxies=("127.0.0.0/8", "::1"))  # public_url's default
        assert (config.tiktok.client_key, config.tiktok.client_secret, config.tiktok.scopes) == (
            "ck", "cs", ("video.upload",))
        assert (config.tiktok.limits.daily_posts, config.tiktok.limits.window_seconds) == (3, 0.5)
        assert config.notify == NotifyConfig(urls=("json://localhost",), events=("failed",), include_title=True)
        assert dict(config.defaults) == {"privacy": "private", "allow_comments": True}


class TestEnvironment:
    def test_it_substitutes_variables_in_any_string(self):
        config = load("inbox: ${DATA}/inbox\nweb:\n  password: ${PW}\ndefaults:\n  title: ${TITLE}\n",
                      environ={"DATA": "/mnt/data", "PW": "pw", "TITLE": "hello", "TZ": "UTC"})
        assert (config.inbox, config.web.password, config.defaults["title"]) == (
            Path("/mnt/data/inbox"), "pw", "hello")

    def test_it_keeps_a_dollar_dollar_brace_literal(self):
        config = load("defaults:\n  title: 'costs $${PRICE} and $5'\n")
        assert config.defaults["title"] == "costs ${PRICE} and $5"

    def test_it_turns_substituted_numbers_and_booleans_into_values(self):
        config = load("web:\n  port: ${PORT}\nnotify:\n  include_title: ${TITLES}\n"
                      "tiktok:\n  limits:\n    daily_posts: ${POSTS}\n",
                      environ={"PORT": "9090", "TITLES": "true", "POSTS": "4", "TZ": "UTC"})
        assert (config.web.port, config.notify.include_title, config.tiktok.limits.daily_posts) == (9090, True, 4)

    def test_it_lets_the_tiktok_environment_variables_win(self):
        config = load("tiktok:\n  client_key: file-key\n  client_secret: file-secret\n",
                      environ={"TIKTOK_CLIENT_KEY": "env-key", "TIKTOK_CLIENT_SECRET": "env-secret"})
        assert (config.tiktok.client_key, config.tiktok.client_secret) == ("env-key", "env-secret")

    def test_it_names_the_key_and_the_unset_variable(self):
        assert problems("inbox: ${NOPE}/x\n", environ={}) == [
            "config.yaml:1: inbox: the environment variable NOPE is not set; set it, or write the value "
            "into the config instead of ${NOPE}"
        ]

    def test_it_refuses_a_malformed_reference(self):
        assert problems("defaults:\n  title: ${not a name}\n") == [
            "config.yaml:2: defaults.title: ${ must be followed by a variable name and }, like ${HOME}; "
            "write $${ for a literal ${"
        ]


class TestProblems:
    @pytest.mark.parametrize(
        "text, expected",
        [
            pytest.param("inbx: x\n", 'config.yaml:1: inbx: unknown key; did you mean "inbox"?', id="unknown-top"),
            pytest.param("watch:\n  pol_seconds: 1\n",
                         'config.yaml:2: watch.pol_seconds: unknown key; did you mean "poll_seconds"?', id="unknown-nested"),
            pytest.param("timezone: Mars/Olympus\n",
                         "config.yaml:1: timezone: 'Mars/Olympus' is not an IANA time zone name; write it like "
                         "Europe/Berlin, America/New_York or UTC", id="timezone"),
            pytest.param("watch:\n  mode: inotify\n",
                         'config.yaml:2: watch.mode: "inotify" is not a watch mode; use one of auto, events, polling '
                         "(polling for network mounts)", id="watch-mode"),
            pytest.param("watch:\n  settle_seconds: 0\n",
                         "config.yaml:2: watch.settle_seconds: must be greater than 0, not 0", id="zero"),
            pytest.param("watch:\n  poll_seconds: fast\n",
                         "config.yaml:2: watch.poll_seconds: must be a number, not \"fast\"", id="not-a-number"),
            pytest.param("schedule:\n  late_grace_minutes: -1\n",
                         "config.yaml:2: schedule.late_grace_minutes: must be at least 0, not -1", id="negative-grace"),
            pytest.param("web:\n  port: 0\n",
                         "config.yaml:2: web.port: 0 is not a TCP port; use a number from 1 to 65535", id="port-zero"),
            pytest.param("web:\n  port: 8080.5\n",
                         "config.yaml:2: web.port: must be a whole number, not 8080.5", id="port-float"),
            pytest.param("web:\n  allowed_hosts: nas.local\n",
                         "config.yaml:2: web.allowed_hosts: must be a list like [a, b], not \"nas.local\"",
                         id="hosts-not-list"),
            pytest.param("web:\n  public_url: http://rw.example.com\n  password: x\n",
                         'config.yaml:2: web.public_url: "http://rw.example.com" must use https (plain http only on '
                         "a loopback address such as 127.0.0.1)", id="public-url-http"),
            pytest.param("tiktok:\n  redirect_uri: /callback\n",
                         'config.yaml:2: tiktok.redirect_uri: "/callback" is not an absolute http(s) URL; write it '
                         "like https://example.com/path", id="redirect-relative"),
            pytest.param("tiktok:\n  redirect_uri: 'http://127.0.0.1:8080/callback#x'\n",
                         "config.yaml:2: tiktok.redirect_uri: must not have a query (?...) or fragment (#...); TikTok "
                         "compares it exactly, e.g. http://127.0.0.1:8080/callback", id="redirect-fragment"),
            pytest.param("tiktok:\n  scopes: [video.upload, 3]\n",
                         "config.yaml:2: tiktok.scopes: item 2 must be text, not 3; put it in quotes", id="scope-type"),
            pytest.param("tiktok:\n  limits:\n    daily_post: 3\n",
                         "config.yaml:3: tiktok.limits.daily_post: unknown key; known keys are "
                         + ", ".join(sorted(Limits.__dataclass_fields__)), id="limits-unknown"),
            pytest.param("notify:\n  events: [published, exploded]\n",
                         "config.yaml:2: notify.events: unknown event exploded; events are published, failed, invalid, "
                         "missed, needs_login, mount_lost, in_inbox", id="notify-event"),
            pytest.param("notify:\n  include_title: yes\n",
                         'config.yaml:2: notify.include_title: "yes" is not true or false here: ralph-watch reads '
                         "YAML 1.2, where yes/no/on/off are plain words; write include_title: true", id="norway"),
            pytest.param("defaults:\n  privacy: no\n",
                         'config.yaml:2: defaults.privacy: "no" is not a privacy level; use one of public, friends, '
                         "followers, private", id="defaults-privacy"),
            pytest.param("defaults:\n  cron: '0 18 * * *'\n",
                         "config.yaml:2: defaults.cron: cannot be a default: give each pair its own at or cron in "
                         "its sidecar", id="defaults-cron"),
            pytest.param("defaults:\n  titel: x\n",
                         'config.yaml:2: defaults.titel: unknown key; did you mean "title"?', id="defaults-unknown"),
            pytest.param("watch: polling\n",
                         "config.yaml:1: watch: must be a mapping of keys (indented lines below watch:), not 'polling'",
                         id="section-not-mapping"),
            pytest.param("inbox: [a]\n", "config.yaml:1: inbox: must be text, not ['a']; put it in quotes",
                         id="inbox-type"),
        ],
    )
    def test_it_names_the_key_and_the_fix(self, text, expected):
        assert problems(text) == [expected]

    @pytest.mark.parametrize(
        "web, reason",
        [pytest.param("host: 0.0.0.0", 'web.host "0.0.0.0" is reachable from other machines', id="all-interfaces"),
         pytest.param("host: 192.168.1.5", 'web.host "192.168.1.5" is reachable from other machines', id="lan"),
         pytest.param("public_url: https://rw.example.com", "web.public_url is set", id="public-url")],
    )
    def test_it_requires_a_password_when_the_page_is_reachable(self, web, reason):
        assert problems(f"web:\n  {web}\n") == [
            f"config.yaml:1: web.password: a password is required because {reason}; add password: "
            "${RALPH_WATCH_PASSWORD} under web: and set that environment variable"
        ]

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
    def test_it_needs_no_password_on_loopback(self, host):
        assert load(f"web:\n  host: '{host}'\n").web.host == host

    def test_it_lists_every_problem_at_once(self):
        found = problems("inbx: x\ntimezone: Nowhere\nwatch:\n  mode: fast\nweb:\n  port: 0\n"
                         "notify:\n  events: [boom]\ndefaults:\n  privacy: no\n")
        assert [p.split(": ", 2)[1] for p in found] == [
            "inbx", "timezone", "watch.mode", "web.port", "notify.events", "defaults.privacy"]

    def test_it_reports_yaml_errors_as_config_errors(self):
        assert problems("a: 1\na: 2\n") == [
            'config.yaml:2: the key "a" appears twice, on line 1 and line 2; keep only one of them'
        ]


class TestTrustedProxies:
    @pytest.mark.parametrize("web, expected", [
        pytest.param("host: 127.0.0.1", (), id="no-proxy-by-default"),
        pytest.param("public_url: https://rw.example.com\n  password: pw", ("127.0.0.0/8", "::1"),
                     id="loopback-behind-public-url"),
        pytest.param("public_url: https://rw.example.com\n  password: pw\n  trusted_proxies: []", (),
                     id="explicitly-none"),
        pytest.param("trusted_proxies: ['10.0.0.2', '192.168.0.0/16', '::1']", ("10.0.0.2", "192.168.0.0/16", "::1"),
                     id="listed"),
    ])
    def test_it_reads_the_proxies(self, web, expected):
        assert load(f"web:\n  {web}\n").web.trusted_proxies == expected

    def test_it_names_a_bad_item_and_the_fix(self):
        assert problems("web:\n  trusted_proxies: [127.0.0.1, proxy.lan]\n") == [
            'config.yaml:2: web.trusted_proxies: item 2 "proxy.lan" is not an IP address or network; write it like '
            "127.0.0.1, ::1 or 10.0.0.0/8 (the reverse proxy's address as this service sees it)"]


class TestPlainHttp:
    """Plain http to a host that is not loopback would carry the OAuth code, the client secret
    and the tokens in clear text (issue 12 item 15); the emulator runs on loopback."""

    @pytest.mark.parametrize(
        "key, url, ok",
        [
            pytest.param("api_base", "http://open.tiktokapis.com", False, id="api-base-http"),
            pytest.param("api_base", "http://10.0.0.5:8000", False, id="api-base-lan-ip"),
            pytest.param("api_base", "http://tiktok.localhost.example.com", False, id="api-base-lookalike"),
            pytest.param("api_base", "https://open.tiktokapis.com", True, id="api-base-https"),
            pytest.param("api_base", "http://127.0.0.1:9000", True, id="api-base-loopback-v4"),
            pytest.param("api_base", "http://127.8.9.10:9000", True, id="api-base-loopback-range"),
            pytest.param("api_base", "http://[::1]:9000", True, id="api-base-loopback-v6"),
            pytest.param("api_base", "http://localhost:9000", True, id="api-base-localhost"),
            pytest.param("authorize_url", "http://www.tiktok.com/v2/auth/authorize/", False, id="authorize-http"),
            pytest.param("authorize_url", "https://www.tiktok.com/v2/auth/authorize/", True, id="authorize-https"),
            pytest.param("authorize_url", "http://127.0.0.1:9000/v2/auth/authorize/", True, id="authorize-loopback"),
            pytest.param("redirect_uri", "http://rw.example.com/callback", False, id="redirect-http"),
            pytest.param("redirect_uri", "http://192.168.1.5:8080/callback", False, id="redirect-lan-ip"),
            pytest.param("redirect_uri", "https://rw.example.com/callback", True, id="redirect-https"),
            pytest.param("redirect_uri", "http://127.0.0.1:8080/callback", True, id="redirect-loopback"),
            pytest.param("redirect_uri", "http://localhost:8080/callback", True, id="redirect-localhost"),
        ],
    )
    def test_it_refuses_plain_http_off_loopback(self, key, url, ok):
        text = f"web:\n  password: pw\ntiktok:\n  {key}: '{url}'\n"
        if ok:
            assert getattr(load(text).tiktok, key) == url
        else:
            assert problems(text) == [f'config.yaml:4: tiktok.{key}: "{url}" must use https (plain http only on '
                                      "a loopback address such as 127.0.0.1)"]


class TestSecrets:
    SECRET_TEXT = (
        "web:\n  host: 0.0.0.0\n  password: [hunter2]\n"
        "tiktok:\n  client_secret: [sekrit-value]\n"
        "notify:\n  urls: tgram://BOTTOKEN123/456\n  evnts: []\n"
    )

    def test_it_never_puts_a_secret_in_a_message(self):
        found = "\n".join(problems(self.SECRET_TEXT))
        assert "web.password" in found and "tiktok.client_secret" in found and "notify.urls" in found
        for secret in ("hunter2", "sekrit-value", "BOTTOKEN123"):
            assert secret not in found

    def test_it_never_puts_a_secret_in_a_repr(self):
        config = load("web:\n  password: hunter2\ntiktok:\n  client_secret: sekrit-value\n"
                      "notify:\n  urls: ['tgram://BOTTOKEN123/456']\n")
        text = repr(config) + str(config)
        for secret in ("hunter2", "sekrit-value", "BOTTOKEN123"):
            assert secret not in text

    def test_it_never_shows_an_environment_secret(self):
        config = load("", environ={"TIKTOK_CLIENT_SECRET": "env-sekrit"})
        assert config.tiktok.client_secret == "env-sekrit"
        assert "env-sekrit" not in repr(config)


class TestDedupe:
    @pytest.mark.parametrize("text, days", [
        pytest.param("", 0, id="default-in-memory-only"),
        pytest.param("dedupe:\n  remember_days: 0\n", 0, id="zero"),
        pytest.param("dedupe:\n  remember_days: 30\n", 30, id="thirty"),
        pytest.param("dedupe:\n  remember_days: ${DAYS}\n", 7, id="from-the-environment"),
    ])
    def test_it_reads_remember_days(self, text, days):
        assert load(text, environ={**ENV, "DAYS": "7"}).dedupe.remember_days == days

    @pytest.mark.parametrize("text, expected", [
        pytest.param("dedupe:\n  remember_days: -1\n", "config.yaml:2: dedupe.remember_days: must be at least 0, not -1",
                     id="negative"),
        pytest.param("dedupe:\n  remember_days: 1.5\n",
                     "config.yaml:2: dedupe.remember_days: must be a whole number, not 1.5", id="fraction"),
        pytest.param('dedupe:\n  remember_days: "a week"\n',
                     'config.yaml:2: dedupe.remember_days: must be a whole number, not "a week"', id="text"),
        pytest.param("dedupe:\n  remember: 3\n",
                     'config.yaml:2: dedupe.remember: unknown key; did you mean "remember_days"?', id="unknown-key"),
    ])
    def test_it_names_the_key_and_the_fix(self, text, expected):
        assert problems(text) == [expected]
