"""Several accounts on the page and in the JSON (issue 15), in-process with WebTest and the fake
backend holding 1, 2 or 5 accounts.

    TestLogin        /login?account=, the name kept with the state, unknown names, several without one
    TestLogout       the form field `account`, only that account logged out
    TestApiAccounts  GET /api/accounts (no token leaks), /api/account answers for the first
    TestApiTasks     every item's `account`, ?account= filters, an unknown name is a 404 in JSON
    TestPage         one card per account, named buttons, the filter and the column; one account as before
    TestViews        account_views as tables
"""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest

from ralph_watch.tasks import State
from ralph_watch.web import make_app
from ralph_watch.web.account_views import accounts_json, accounts_view, href, usernames
from tests.support.fake_backend import START, FakeBackend, FakeClock, web_config

FIVE = ("main", "brand", "shop", "news", "team-7")


class World:
    def __init__(self, names: tuple[str, ...] = ("main", "brand")) -> None:
        self.clock = FakeClock(START)
        self.config = web_config()
        self.backend = FakeBackend(clock=self.clock, config=self.config, names=names)
        self.board = self.backend.board
        self.app = webtest.TestApp(make_app(self.backend, self.config, clock=self.clock),
                                   extra_environ={"HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1"})

    def task(self, key: str, account: str, state: State = State.SCHEDULED, **values: object):
        values.setdefault("video", f"{key}.mp4")
        values.setdefault("sidecar", f"{key}.yaml")
        values.setdefault("due", self.clock.now() + timedelta(hours=1))
        return self.board.create(key, state=state, account=account, **values)

    def csrf(self) -> str:
        m = re.search(r'name="csrf-token" content="([^"]+)"', self.app.get("/").text)
        assert m
        return m.group(1)

    def start_login(self, account: str | None) -> str:
        r = self.app.get("/login", {"account": account} if account else {}, status=303)
        return parse_qs(urlsplit(r.headers["Location"]).query)["state"][0]

    def login(self, account: str | None, *, status: int | str = 303):
        state = self.start_login(account)
        return self.app.get("/callback", {"code": "CODE", "state": state, "scopes": "video.publish"}, status=status)

    def logout(self, account: str | None, *, status: int | str = 303, **headers: str):
        form = {"csrf": self.csrf(), **({"account": account} if account else {})}
        return self.app.post("/logout", form, status=status, headers=headers)


@pytest.fixture
def two() -> World:
    return World()


@pytest.fixture
def five() -> World:
    return World(FIVE)


@pytest.fixture
def one() -> World:
    return World(("default",))


class TestLogin:
    @pytest.mark.parametrize("names, account", [
        pytest.param(("default",), None, id="one-account-without-name"),
        pytest.param(("default",), "default", id="one-account-named"),
        pytest.param(("main", "brand"), "brand", id="two-accounts-second"),
        pytest.param(FIVE, "team-7", id="five-accounts-last"),
    ])
    def test_it_logs_the_named_account_in_through_the_one_callback(self, names, account):
        w = World(names)
        w.login(account)
        (call,) = [c for c in w.backend.calls if c[0] == "finish_login"]
        assert call[4:] == ((account,) if account else ())
        name = account or names[0]
        assert w.backend.account(account=name) is not None
        assert [a["name"] for a in w.backend.accounts() if a["logged_in"]] == [name]

    def test_the_account_comes_from_the_session_not_from_the_callback_url(self, two):
        state = two.start_login("brand")
        two.app.get("/callback", {"code": "C", "state": state, "account": "main"}, status=303)
        assert two.backend.account(account="brand") is not None and two.backend.account(account="main") is None

    def test_two_logins_in_two_tabs_each_finish_for_their_own_account(self, two):
        brand, main = two.start_login("brand"), two.start_login("main")
        two.app.get("/callback", {"code": "C", "state": main}, status=303)
        two.app.get("/callback", {"code": "C", "state": brand}, status=303)
        assert [c[-1] for c in two.backend.calls if c[0] == "finish_login"] == ["main", "brand"]

    def test_with_several_accounts_a_login_without_a_name_is_a_400_listing_them(self, five):
        r = five.app.get("/login", status=400)
        assert "main, brand, shop, news, team-7" in r.text
        assert not [c for c in five.backend.calls if c[0] == "login_url"]

    @pytest.mark.parametrize("name", ["nobody", "MAIN", "<script>x</script>", "a" * 40])
    def test_an_unknown_account_is_a_404_that_shows_the_name_as_text(self, two, name):
        r = two.app.get("/login", {"account": name}, status=404)
        assert "There is no account named" in r.text and "main, brand" in r.text
        assert "<script>x" not in r.text
        assert not [c for c in two.backend.calls if c[0] == "login_url"]

    def test_the_flash_names_the_account_when_there_are_several(self, two):
        two.login("brand")
        assert "Logged brand in to TikTok as Ralph brand." in two.app.get("/").text

    def test_the_flash_is_as_before_with_one_account(self, one):
        one.login(None)
        assert "Logged in to TikTok as Ralph." in one.app.get("/").text

    def test_the_same_tiktok_user_in_a_second_slot_is_refused_with_the_backends_sentence(self, two):
        two.backend.next_open_id = "same-person"
        two.login("main")
        r = two.login("brand", status=400)
        assert "already logged in as main" in r.text
        assert two.backend.account(account="brand") is None and two.backend.account(account="main") is not None


class TestLogout:
    def test_it_logs_out_only_the_named_account(self, two):
        two.login("main")
        two.login("brand")
        two.logout("brand")
        assert two.backend.account(account="main") is not None and two.backend.account(account="brand") is None
        assert ("logout", "brand") in two.backend.calls
        assert "Logged out brand" in two.app.get("/").text

    def test_one_account_logs_out_without_the_field_as_before(self, one):
        one.login(None)
        one.logout(None)
        assert ("logout",) in one.backend.calls
        assert "Logged out: ralph-watch has forgotten the TikTok login." in one.app.get("/").text

    def test_several_accounts_and_no_field_is_a_400_and_nobody_is_logged_out(self, two):
        two.login("main")
        r = two.logout(None, status=400)
        assert "main, brand" in r.text
        assert not [c for c in two.backend.calls if c[0] == "logout"]

    def test_an_unknown_account_is_a_404(self, two):
        two.login("main")
        two.logout("ghost", status=404)
        assert two.backend.account(account="main") is not None

    def test_it_still_needs_the_csrf_token(self, two):
        two.login("main")
        two.app.post("/logout", {"account": "main"}, status=403)
        assert two.backend.account(account="main") is not None

    def test_json_answers_name_the_account(self, two):
        two.login("brand")
        r = two.logout("brand", status=200, Accept="application/json")
        assert r.json == {"ok": True, "message": "Logged out brand."}


class TestApiAccounts:
    @pytest.mark.parametrize("names", [("default",), ("main", "brand"), FIVE], ids=["one", "two", "five"])
    def test_it_lists_every_account_in_config_order_with_the_contracts_fields(self, names):
        w = World(names)
        w.login(names[-1] if len(names) > 1 else None)
        got = w.app.get("/api/accounts").json
        assert [a["name"] for a in got] == list(names)
        assert all({"name", "logged_in", "nickname", "inbox"} <= set(a) for a in got)
        assert [a["logged_in"] for a in got] == [False] * (len(names) - 1) + [True]
        assert got[-1]["nickname"].startswith("Ralph") and got[0]["quota"]["posts_cap"] == 15

    def test_it_never_passes_a_token_on(self, two):
        two.login("main")
        assert "SECRET" not in two.app.get("/api/accounts").text

    def test_api_account_keeps_its_shape_and_answers_for_the_first(self, two):
        two.login("brand")
        assert two.app.get("/api/account").json == {"logged_in": False, "nickname": None}
        two.login("main")
        assert two.app.get("/api/account").json == {"logged_in": True, "nickname": "Ralph"}


class TestApiTasks:
    def test_every_item_carries_its_tasks_account_and_the_filter_keeps_one(self, two):
        two.task("a", "main")
        two.task("b", "brand")
        two.task("c", "brand", State.FAILED, error="no")
        assert [(t["video"], t["account"]) for t in two.app.get("/api/tasks").json] == [
            ("a.mp4", "main"), ("b.mp4", "brand"), ("c.mp4", "brand")]
        assert [t["video"] for t in two.app.get("/api/tasks", {"account": "brand"}).json] == ["b.mp4", "c.mp4"]
        assert [t["video"] for t in two.app.get("/api/tasks", {"account": "brand", "state": "failed"}).json] == ["c.mp4"]
        assert [t["video"] for t in two.app.get("/api/tasks", {"account": "brand", "limit": "1", "offset": "1"}).json] \
            == ["c.mp4"]

    def test_an_unknown_account_is_a_404_in_json(self, two):
        r = two.app.get("/api/tasks", {"account": "ghost"}, status=404)
        assert r.json["ok"] is False and "no account named 'ghost'" in r.json["error"]

    def test_the_filter_has_its_own_etag(self, two):
        two.task("a", "main")
        all_tag = two.app.get("/api/tasks").headers["ETag"]
        assert two.app.get("/api/tasks", {"account": "main"}).headers["ETag"] != all_tag

    def test_post_links_carry_each_accounts_own_handle(self, two):
        two.login("main")
        two.login("brand")
        two.backend.logged_in_as["username"] = "main.handle"
        two.backend.logins["brand"]["username"] = "brand.handle"
        two.task("a", "main", State.PUBLISHED, post_id="111")
        two.task("b", "brand", State.PUBLISHED, post_id="222")
        urls = {t["video"]: t["post_url"] for t in two.app.get("/api/tasks").json}
        assert urls == {"a.mp4": "https://www.tiktok.com/@main.handle/video/111",
                        "b.mp4": "https://www.tiktok.com/@brand.handle/video/222"}


class TestPage:
    def test_one_card_per_account_with_named_login_and_logout_buttons(self, five):
        five.login("brand")
        page = five.app.get("/")
        assert page.text.count('class="card account-card"') == 5
        assert 'aria-label="Log out brand"' in page.text
        for name in ("main", "shop", "news", "team-7"):
            assert f'href="/login?account={name}" aria-label="Log in {name} with TikTok"' in page.text
        assert 'name="account" value="brand"' in page.text
        assert 'src="/avatar?account=brand"' in page.text
        assert "4\n    of 5 TikTok accounts are logged out" in page.text

    def test_each_card_shows_its_quota_and_needs_login_count(self, two):
        two.backend.quotas["brand"] = {"posts": 4, "posts_cap": 15, "drafts": 1, "drafts_cap": 5}
        two.task("x", "brand", State.NEEDS_LOGIN)
        two.task("y", "brand", State.NEEDS_LOGIN)
        card = _card(two.app.get("/").text, "brand")
        assert "4 of 15" in card and "1 of 5" in card and "2 videos wait for this login." in card
        assert "wait for this login" not in _card(two.app.get("/").text, "main")

    def test_rows_say_their_account_and_the_filter_keeps_the_other_filters(self, two):
        two.task("a", "main")
        two.task("b", "brand", State.FAILED, error="no")
        page = two.app.get("/")
        assert "<th>Account</th>" in page.text and page.text.count('class="c-short c-account"') == 2
        assert 'href="/?account=brand"' in page.text
        filtered = two.app.get("/", {"account": "brand", "state": "failed", "order": "due"}).text
        assert "b.mp4" in filtered and "a.mp4" not in filtered
        assert 'href="/?state=failed&amp;order=due&amp;account=main"' in filtered   # other account, same filters
        assert 'href="/?state=failed&amp;order=attention&amp;account=brand"' in filtered
        assert 'data-account="brand"' in filtered

    def test_an_unknown_account_filter_is_a_404(self, two):
        assert "There is no account named" in two.app.get("/", {"account": "ghost"}, status=404).text

    def test_one_account_looks_as_before(self, one):
        one.task("a", "default")
        page = one.app.get("/").text
        assert 'id="account" data-logged-in="no"' in page and 'href="/login"' in page
        assert "account-card" not in page and "<th>Account</th>" not in page and "account-filter" not in page
        assert 'id="quota"' in page
        one.login(None)
        page = one.app.get("/").text
        assert "Logged in as" in page and 'name="account"' not in page and 'src="/avatar"' in page

    def test_the_avatar_route_takes_the_account(self, two):
        two.backend.avatar_image = (b"\x89PNG", "image/png")
        two.login("brand")
        assert two.app.get("/avatar", {"account": "brand"}).body == b"\x89PNG"
        two.app.get("/avatar", {"account": "main"}, status=404)
        two.app.get("/avatar", {"account": "ghost"}, status=404)


def _card(page: str, name: str) -> str:
    start = page.index(f'data-account="{name}"')
    return page[start: page.index("</article>", start)]


class TestViews:
    @pytest.mark.parametrize("item, expected", [
        pytest.param({"name": "main", "logged_in": True, "nickname": "R", "username": "r.x", "avatar": True,
                      "inbox": "./inbox/main", "needs_login": 0, "quota": None},
                     {"name": "main", "logged_in": True, "nickname": "R", "username": "r.x", "avatar": True,
                      "inbox": "./inbox/main", "needs_login": 0, "quota": None}, id="logged-in"),
        pytest.param({"name": "brand", "logged_in": False, "nickname": "stale", "username": "old", "avatar": True},
                     {"name": "brand", "logged_in": False, "nickname": None, "username": None, "avatar": False,
                      "inbox": "", "needs_login": 0, "quota": None}, id="logged-out-shows-nothing-stale"),
        pytest.param({"name": "x", "logged_in": True, "nickname": None, "username": "bad handle!", "needs_login": True},
                     {"name": "x", "logged_in": True, "nickname": "your TikTok account", "username": None,
                      "avatar": False, "inbox": "", "needs_login": 0, "quota": None}, id="odd-values"),
    ])
    def test_accounts_view(self, item, expected):
        assert accounts_view([item]) == [expected]

    @pytest.mark.parametrize("name", ["", "Main", "-x", "a" * 33, None, 7])
    def test_an_entry_without_a_valid_name_is_left_out(self, name):
        assert accounts_view([{"name": name}]) == [] and accounts_json([{"name": name}]) == []

    @pytest.mark.parametrize("quota, expected", [
        pytest.param({"posts": 1, "posts_cap": 15, "drafts": 0, "drafts_cap": 5},
                     {"posts": 1, "posts_cap": 15, "drafts": 0, "drafts_cap": 5}, id="whole"),
        pytest.param({"posts": 1, "posts_cap": 15}, None, id="partial"),
        pytest.param({"posts": True, "posts_cap": 15, "drafts": 0, "drafts_cap": 5}, None, id="bool"),
        pytest.param("15", None, id="not-a-mapping"),
    ])
    def test_accounts_json_quota(self, quota, expected):
        (got,) = accounts_json([{"name": "a", "quota": quota, "access_token": "act.X"}])
        assert got["quota"] == expected and "access_token" not in got

    @pytest.mark.parametrize("params, expected", [
        pytest.param({}, "/", id="none"),
        pytest.param({"state": None, "account": None}, "/", id="all-none"),
        pytest.param({"state": "failed"}, "/?state=failed", id="state"),
        pytest.param({"state": "failed", "order": "due", "account": "brand", "page": 2},
                     "/?state=failed&order=due&account=brand&page=2", id="in-order"),
        pytest.param({"account": "a&b=c"}, "/?account=a%26b%3Dc", id="quoted"),
    ])
    def test_href(self, params, expected):
        assert href(**params) == expected

    def test_usernames(self):
        assert usernames([{"name": "a", "username": "x.y"}, {"name": "b"}, {"name": "B", "username": "z"}]) == {
            "a": "x.y", "b": None}
