"""Sidecar checks: every problem at once, each with its line, its key and the fix."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ralph_watch.errors import SidecarError
from ralph_watch.sidecar import Sidecar, check_defaults, parse_sidecar, render_sidecar

BERLIN = ZoneInfo("Europe/Berlin")
PRIVACY_HELP = "use one of public, friends, followers, private"


def parse(text: str | bytes, *, defaults=None, tz=BERLIN) -> Sidecar:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_sidecar(data, path="inbox/clip.yaml", tz=tz, defaults=defaults or {})


def problems(text: str, *, defaults=None) -> list[tuple[int | None, str]]:
    with pytest.raises(SidecarError) as info:
        parse(text, defaults=defaults)
    assert all(p.path == "inbox/clip.yaml" for p in info.value.problems)
    return [(p.line, p.message) for p in info.value.problems]


class TestGoodSidecars:
    def test_it_reads_every_key(self):
        sidecar = parse(
            'title: "Sunset over the bay #sunset"\n'
            "privacy: public\n"
            "allow_comments: true\n"
            "allow_duet: false\n"
            "allow_stitch: true\n"
            "cover_ms: 1500\n"
            "ai_generated: true\n"
            "promotion: own_brand\n"
            "mode: direct\n"
        )
        assert sidecar == Sidecar(
            title="Sunset over the bay #sunset", privacy="PUBLIC_TO_EVERYONE", allow_comments=True,
            allow_duet=False, allow_stitch=True, cover_ms=1500, ai_generated=True, promotion="own_brand",
            mode="direct",
        )
        assert sidecar.lines["privacy"] == 2
        assert sidecar.lines["mode"] == 9

    @pytest.mark.parametrize(
        "given, enum",
        [
            pytest.param("public", "PUBLIC_TO_EVERYONE", id="public"),
            pytest.param("friends", "MUTUAL_FOLLOW_FRIENDS", id="friends"),
            pytest.param("followers", "FOLLOWER_OF_CREATOR", id="followers"),
            pytest.param("private", "SELF_ONLY", id="private"),
            pytest.param("PUBLIC_TO_EVERYONE", "PUBLIC_TO_EVERYONE", id="enum-public"),
            pytest.param("MUTUAL_FOLLOW_FRIENDS", "MUTUAL_FOLLOW_FRIENDS", id="enum-friends"),
            pytest.param("FOLLOWER_OF_CREATOR", "FOLLOWER_OF_CREATOR", id="enum-followers"),
            pytest.param("SELF_ONLY", "SELF_ONLY", id="enum-self-only"),
        ],
    )
    def test_it_stores_privacy_as_tiktoks_enum(self, given, enum):
        assert parse(f"privacy: {given}\n").privacy == enum

    def test_it_applies_the_documented_defaults(self):
        sidecar = parse("privacy: private\n")
        assert sidecar == Sidecar(privacy="SELF_ONLY")
        assert (sidecar.title, sidecar.allow_comments, sidecar.cover_ms, sidecar.promotion, sidecar.mode) == (
            "", False, 0, "none", "direct")

    def test_it_allows_an_empty_title(self):
        assert parse('title: ""\nprivacy: private\n').title == ""

    def test_it_counts_a_key_without_value_as_not_given(self):
        sidecar = parse("title:\nprivacy: private\ncover_ms: ~\n", defaults={"title": "from config"})
        assert (sidecar.title, sidecar.cover_ms) == ("from config", 0)

    def test_it_allows_a_draft_without_privacy(self):
        sidecar = parse("mode: draft\n")
        assert (sidecar.mode, sidecar.privacy) == ("draft", None)

    def test_it_allows_branded_private_drafts_because_tiktok_ignores_privacy_there(self):
        assert parse("mode: draft\nprivacy: private\npromotion: branded\n").promotion == "branded"

    def test_it_accepts_a_title_of_exactly_2200_utf16_units(self):
        title = "😀" * 1100  # each emoji is two UTF-16 units
        assert parse(f'title: "{title}"\nprivacy: private\n').title == title

    def test_it_accepts_a_bom(self):
        assert parse(b"\xef\xbb\xbfprivacy: public\n").privacy == "PUBLIC_TO_EVERYONE"

    def test_it_accepts_a_plain_title_with_an_inner_hash(self):
        assert parse("title: C#-tips\nprivacy: private\n").title == "C#-tips"


class TestDefaults:
    def test_it_takes_keys_the_sidecar_leaves_out_from_defaults(self):
        sidecar = parse("title: hi\n", defaults={"privacy": "followers", "allow_comments": True, "mode": "direct"})
        assert (sidecar.privacy, sidecar.allow_comments) == ("FOLLOWER_OF_CREATOR", True)

    def test_it_lets_the_sidecar_win_over_defaults(self):
        sidecar = parse("privacy: public\nallow_comments: false\n",
                        defaults={"privacy": "private", "allow_comments": True})
        assert (sidecar.privacy, sidecar.allow_comments) == ("PUBLIC_TO_EVERYONE", False)

    def test_it_never_takes_at_or_cron_from_defaults(self):
        sidecar = parse("privacy: private\n", defaults={"at": "2026-12-24 18:00", "cron": "0 18 * * *"})
        assert (sidecar.at, sidecar.cron) == (None, None)

    def test_it_blames_the_config_for_a_bad_default(self):
        assert problems("title: x\n", defaults={"privacy": "everyone"}) == [
            (None, f'config defaults.privacy: "everyone" is not a privacy level; {PRIVACY_HELP}'),
        ]

    @pytest.mark.parametrize(
        "defaults, expected",
        [
            pytest.param({"privacy": "public", "mode": "draft"}, [], id="good"),
            pytest.param({"titel": "x"}, [("titel", 'unknown key; did you mean "title"?')], id="unknown"),
            pytest.param({"at": "2026-12-24 18:00"},
                         [("at", "cannot be a default: give each pair its own at or cron in its sidecar")], id="at"),
            pytest.param({"allow_duet": "on"},
                         [("allow_duet", '"on" is not true or false here: ralph-watch reads YAML 1.2, where '
                                         "yes/no/on/off are plain words (YAML 1.1 traps); write allow_duet: true")],
                         id="yaml11-bool"),
        ],
    )
    def test_it_checks_defaults_for_the_config(self, defaults, expected):
        assert check_defaults(defaults) == expected


class TestBadSidecars:
    @pytest.mark.parametrize(
        "text, expected",
        [
            pytest.param("privacy: no\n",
                         [(1, f'privacy: "no" is not a privacy level; {PRIVACY_HELP}')], id="norway-privacy"),
            pytest.param("privacy: false\n",
                         [(1, f"privacy: false is not a privacy level; {PRIVACY_HELP}")], id="bool-privacy"),
            pytest.param("privacy: Public\n",
                         [(1, f'privacy: "Public" is not a privacy level; {PRIVACY_HELP}; did you mean "public"?')],
                         id="capitalised-privacy"),
            pytest.param("privacy: frends\n",
                         [(1, f'privacy: "frends" is not a privacy level; {PRIVACY_HELP}; did you mean "friends"?')],
                         id="typo-privacy"),
            pytest.param("privacy: private\nallow_duet: no\n",
                         [(2, 'allow_duet: "no" is not true or false here: ralph-watch reads YAML 1.2, where '
                              "yes/no/on/off are plain words (YAML 1.1 traps); write allow_duet: false")],
                         id="norway-bool"),
            pytest.param("privacy: private\nallow_stitch: yes\n",
                         [(2, 'allow_stitch: "yes" is not true or false here: ralph-watch reads YAML 1.2, where '
                              "yes/no/on/off are plain words (YAML 1.1 traps); write allow_stitch: true")],
                         id="yes-bool"),
            pytest.param('privacy: private\nallow_comments: "true"\n',
                         [(2, 'allow_comments: "true" is text because of the quotes; write allow_comments: true '
                              "without quotes")], id="quoted-bool"),
            pytest.param("privacy: private\nai_generated: 1\n",
                         [(2, "ai_generated: must be true or false, not 1")], id="number-bool"),
            pytest.param("titel: hi\nprivacy: private\n",
                         [(1, 'unknown key "titel"; did you mean "title"?')], id="unknown-key"),
            pytest.param("privacy: private\ncolour: red\n",
                         [(2, 'unknown key "colour"; known keys are title, privacy, at, cron, allow_comments, '
                              "allow_duet, allow_stitch, cover_ms, ai_generated, promotion, mode")],
                         id="unknown-key-no-suggestion"),
            pytest.param("title: 2026\nprivacy: private\n",
                         [(1, 'title: 2026 is not text; put the title in quotes: title: "2026"')], id="number-title"),
            pytest.param("title: [a, b]\nprivacy: private\n",
                         [(1, "title: must be text, not a list; put the title in quotes on one line")],
                         id="list-title"),
            pytest.param('title: "\\ud800"\nprivacy: private\n',
                         [(1, "title: contains an unpaired surrogate (a \\ud800-\\udfff escape); remove it")],
                         id="surrogate-title"),
            pytest.param("privacy: private\ncover_ms: -5\n",
                         [(2, "cover_ms: -5 is negative; use 0 or more milliseconds from the start of the video")],
                         id="negative-cover"),
            pytest.param("privacy: private\ncover_ms: 1.5\n",
                         [(2, "cover_ms: must be a whole number of milliseconds (0 or more), not 1.5; "
                              "e.g. cover_ms: 1500")], id="float-cover"),
            pytest.param('privacy: private\ncover_ms: "1500"\n',
                         [(2, 'cover_ms: must be a whole number of milliseconds (0 or more), not "1500"; '
                              "e.g. cover_ms: 1500")], id="string-cover"),
            pytest.param("privacy: private\ncover_ms: 600001\n",
                         [(2, "cover_ms: 600001 is past the end of any TikTok video (at most 600000 ms = 10 minutes)")],
                         id="huge-cover"),
            pytest.param("privacy: private\npromotion: no\n",
                         [(2, 'promotion: "no" is not a promotion kind; use one of none, own_brand, branded, both; '
                              'did you mean "none"?')], id="norway-promotion"),
            pytest.param("privacy: private\npromotion: false\n",
                         [(2, "promotion: false is not a promotion kind; use one of none, own_brand, branded, both "
                              "(for no promotion write none)")], id="bool-promotion"),
            pytest.param("privacy: private\npromotion: brand\n",
                         [(2, 'promotion: "brand" is not a promotion kind; use one of none, own_brand, branded, both; '
                              'did you mean "branded"?')], id="typo-promotion"),
            pytest.param("privacy: private\nmode: drafts\n",
                         [(2, 'mode: "drafts" is not a mode; use one of direct, draft; did you mean "draft"?')],
                         id="typo-mode"),
            pytest.param("title: hi\n",
                         [(None, "privacy is missing: TikTok requires an explicit privacy choice for every direct "
                                 "post; add a line such as privacy: private (or public, friends, followers), or set "
                                 "it for every pair under defaults: in the config")], id="direct-without-privacy"),
            pytest.param("privacy: private\npromotion: branded\n",
                         [(2, "Branded content cannot be private on TikTok: promotion: branded needs privacy public, "
                              "friends or followers; change privacy, or set promotion to none or own_brand")],
                         id="branded-private"),
            pytest.param("title: Sunset #sunset\nprivacy: public\n",
                         [(1, 'title: the text from " #" on is a YAML comment, so it is not part of the title; '
                              'put the whole title in double quotes, like title: "Sunset over the bay #sunset"')],
                         id="hashtag-comment"),
        ],
    )
    def test_it_explains_each_problem(self, text, expected):
        assert problems(text) == expected

    def test_it_refuses_branded_content_made_private_by_the_defaults(self):
        assert problems("promotion: both\n", defaults={"privacy": "private"}) == [
            (1, "Branded content cannot be private on TikTok: promotion: both needs privacy public, "
                "friends or followers; change privacy, or set promotion to none or own_brand")
        ]

    def test_it_flags_a_title_that_is_only_a_hashtag_comment(self):
        # YAML reads `title: #sunset` as no title plus a comment; the hashtag would vanish silently.
        assert problems("title: #sunset\nprivacy: public\n") == [
            (1, 'title: the text from " #" on is a YAML comment, so it is not part of the title; '
                'put the whole title in double quotes, like title: "Sunset over the bay #sunset"')
        ]

    def test_it_lists_every_problem_at_once(self):
        text = "titel: x\nprivacy: no\nallow_duet: off\ncover_ms: -1\nmode: drafts\n"
        found = problems(text)
        assert [line for line, _ in found] == [1, 2, 3, 4, 5]

    def test_it_gives_each_problem_its_key(self):
        with pytest.raises(SidecarError) as info:
            parse("titel: x\nprivacy: no\n")
        assert [p.key for p in info.value.problems] == ["titel", "privacy"]

    def test_it_counts_a_too_long_title_in_utf16_units(self):
        title = "a" * 2199 + "😀"  # 2201 units
        assert problems(f'title: "{title}"\nprivacy: private\n') == [
            (1, "title: is 2201 UTF-16 units long; TikTok allows at most 2200 (most emoji count as 2), "
                "so shorten it by 1")
        ]

    def test_it_reports_yaml_refusals_with_the_sidecar_path(self):
        assert problems("privacy: private\nprivacy: public\n") == [
            (2, 'the key "privacy" appears twice, on line 1 and line 2; keep only one of them')
        ]

    def test_it_refuses_a_sidecar_over_64_kib(self):
        [(line, message)] = problems("title: " + "x" * 70000 + "\n")
        assert line is None
        assert message.startswith("the file is 70008 bytes, more than the 65536 bytes allowed")


class TestSchedule:
    def test_it_reads_at_as_wall_time_in_the_config_zone(self):
        sidecar = parse('privacy: private\nat: "2026-12-24 18:00"\n')
        assert sidecar.at == datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
        assert sidecar.at_text == "2026-12-24 18:00"
        assert sidecar.lines["at"] == 2

    def test_it_keeps_the_canonical_cron_key_and_the_original_text(self):
        sidecar = parse('privacy: private\ncron: "0 18 * * FRI"\n')
        assert sidecar.cron_text == "0 18 * * FRI"
        assert sidecar.cron == parse('privacy: private\ncron: "0 18 * * 5"\n').cron

    def test_it_refuses_at_and_cron_together(self):
        found = problems('privacy: private\nat: "2026-12-24 18:00"\ncron: "0 18 * * 5"\n')
        assert found == [(3, "at and cron are both given; keep one: at for a single date and time, "
                             "cron for a repeating slot")]

    def test_it_explains_an_unquoted_time_of_day(self):
        assert problems("privacy: private\nat: 18:00\n") == [
            (2, 'at: "18:00" is only a time of day; give the date too, in quotes, like at: "2026-12-24 18:00" '
                "(unquoted, YAML 1.1 tools read 18:00 as the number 1080)")
        ]

    def test_it_refuses_an_at_that_is_not_text(self):
        assert problems("privacy: private\nat: 2026\n") == [
            (2, 'at: 2026 is not a date and time; write it in quotes, like at: "2026-12-24 18:00"')
        ]

    @pytest.mark.parametrize(
        "line_text",
        [pytest.param('at: "someday"', id="at-garbage"), pytest.param('at: "2025-03-30"', id="at-date-only"),
         pytest.param('at: "2026-03-29 02:30"', id="at-dst-gap"),
         pytest.param('cron: "every friday"', id="cron-garbage"), pytest.param('cron: "0 0 30 2 *"', id="cron-never")],
    )
    def test_it_passes_on_the_schedule_modules_sentence_with_the_key_once(self, line_text):
        key = line_text.split(":", 1)[0]
        [(line, message)] = problems(f"privacy: private\n{line_text}\n")
        assert line == 2
        assert message.startswith(f"{key}: ") and not message.startswith(f"{key}: {key}:")
        assert len(message) > 20

    def test_it_refuses_a_cron_that_is_not_text(self):
        assert problems("privacy: private\ncron: 5\n") == [
            (2, 'cron: 5 is not a cron line; write it in quotes, like cron: "0 18 * * FRI"')
        ]


class TestRender:
    def test_it_writes_every_string_quoted_in_key_order(self):
        text = render_sidecar({"mode": "draft", "title": "Hi: #1", "allow_comments": True, "cover_ms": 5,
                               "privacy": None})
        assert text == (
            "# ralph-watch sidecar: publishes the video with the same name\n"
            'title: "Hi: #1"\nallow_comments: true\ncover_ms: 5\nmode: "draft"\n'
        )

    def test_it_escapes_quotes_backslashes_and_line_breaks(self):
        title = 'say "hi"\\ \n\r\t\x85\u2028\u2029 \x7f\x9f \ufeff end '
        text = render_sidecar({"title": title, "privacy": "private"})
        assert "\n" not in text.split("title: ", 1)[1].split("\nprivacy")[0]
        assert parse(text).title == title

    def test_it_refuses_an_unknown_key(self):
        with pytest.raises(ValueError, match="not sidecar keys: titel"):
            render_sidecar({"titel": "x"})

    def test_it_writes_a_datetime_at_as_iso_text(self):
        when = datetime(2026, 12, 24, 18, 0, tzinfo=BERLIN)
        text = render_sidecar({"at": when, "privacy": "private"})
        assert parse(text).at == datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
