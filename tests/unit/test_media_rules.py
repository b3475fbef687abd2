"""ralph_watch.media_rules: TikTok's media rules as one table, shared by the probe and the emulator."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from ralph_watch import media_rules
from ralph_watch.media_rules import Rule, breaches, duration_limit, fail_reason


@dataclass(frozen=True)
class Facts:
    container: str = "mp4"
    codec: str = "h264"
    width: int = 1080
    height: int = 1920
    fps: float | None = 30.0
    duration: float | None = 10.0
    size: int = 1_000_000


GOOD = Facts()


@pytest.mark.parametrize("change, max_duration, rules, reason", [
    pytest.param({}, 600, [], None, id="a-good-video"),
    pytest.param({"container": "mov"}, 600, [], None, id="mov"),
    pytest.param({"container": "webm", "codec": "vp9"}, 600, [], None, id="webm-vp9"),
    pytest.param({"codec": "hevc"}, 600, [], None, id="hevc"),
    pytest.param({"container": "matroska"}, 600, [Rule.CONTAINER], "file_format_check_failed", id="matroska"),
    pytest.param({"codec": "av1"}, 600, [Rule.CODEC], "file_format_check_failed", id="av1"),
    pytest.param({"fps": 22.9}, 600, [Rule.FPS], "frame_rate_check_failed", id="fps-22.9"),
    pytest.param({"fps": 22.96}, 600, [], None, id="fps-22.96-rounds-to-23"),
    pytest.param({"fps": 23.0}, 600, [], None, id="fps-23"),
    pytest.param({"fps": 60.0}, 600, [], None, id="fps-60"),
    pytest.param({"fps": 60.1}, 600, [Rule.FPS], "frame_rate_check_failed", id="fps-60.1"),
    pytest.param({"fps": None}, 600, [Rule.FPS], "frame_rate_check_failed", id="fps-unknown"),
    pytest.param({"width": 359}, 600, [Rule.SIDES], "picture_size_check_failed", id="side-359"),
    pytest.param({"width": 360, "height": 4096}, 600, [], None, id="sides-360-and-4096"),
    pytest.param({"height": 4097}, 600, [Rule.SIDES], "picture_size_check_failed", id="side-4097"),
    pytest.param({"size": 4_000_000_000}, 600, [], None, id="size-4GB"),
    pytest.param({"size": 4_000_000_001}, 600, [Rule.SIZE], "file_format_check_failed", id="size-over-4GB"),
    pytest.param({"duration": 600.0004}, 600, [], None, id="duration-600-within-slack"),
    pytest.param({"duration": 600.001}, 600, [Rule.DURATION], "duration_check_failed", id="duration-over-600"),
    pytest.param({"duration": 181.0}, 180, [Rule.DURATION], "duration_check_failed", id="over-the-creator-max"),
    pytest.param({"duration": 0.0}, 600, [Rule.DURATION], "duration_check_failed", id="duration-zero"),
    pytest.param({"duration": None}, 600, [Rule.DURATION], "duration_check_failed", id="duration-unknown"),
    pytest.param({"codec": "av1", "fps": 10.0}, 600, [Rule.CODEC, Rule.FPS], "file_format_check_failed",
                 id="format-is-named-before-frame-rate"),
    pytest.param({"fps": 10.0, "width": 100, "duration": 900.0}, 600, [Rule.FPS, Rule.SIDES, Rule.DURATION],
                 "frame_rate_check_failed", id="frame-rate-before-size-and-duration"),
    pytest.param({"width": 100, "duration": 900.0}, 600, [Rule.SIDES, Rule.DURATION],
                 "picture_size_check_failed", id="picture-size-before-duration"),
    pytest.param({"size": 5_000_000_000, "duration": 900.0}, 600, [Rule.SIZE, Rule.DURATION],
                 "duration_check_failed", id="duration-before-size"),
])
def test_breaches_and_tiktoks_fail_reason(change, max_duration, rules, reason):
    found = breaches(replace(GOOD, **change), max_duration=max_duration)
    assert found == rules
    assert fail_reason(found) == reason


@pytest.mark.parametrize("creator_max, limit", [
    (None, 600.0), (180, 180.0), (600, 600.0), (900, 600.0),
])
def test_the_duration_limit_is_the_creators_and_never_over_ten_minutes(creator_max, limit):
    assert duration_limit(creator_max) == limit


def test_the_probe_and_the_emulator_read_the_same_numbers():
    from ralph_watch import probe
    from ralph_watch.emulator import init_checks
    assert (probe.MAX_BYTES, probe.MIN_FPS, probe.MAX_FPS, probe.MIN_SIDE, probe.MAX_SIDE, probe.CONTAINERS,
            probe.CODECS) == (media_rules.MAX_BYTES, 23, 60, 360, 4096, ("mp4", "mov", "webm"),
                              ("h264", "hevc", "vp8", "vp9"))
    assert init_checks.MAX_BYTES is media_rules.MAX_BYTES == 4_000_000_000
