"""The `upload:` section of the config."""
from __future__ import annotations

from pathlib import Path

import pytest

from ralph_watch.config import load_config
from ralph_watch.errors import ConfigError


def test_no_cap_by_default():
    assert load_config("", base_dir=Path("/tmp"), environ={}).upload.max_rate is None


@pytest.mark.parametrize("text, rate", [("upload:\n  max_rate: 8MB/s\n", 8e6), ("upload:\n  max_rate: null\n", None),
                                        ("upload:\n  max_rate: ${CAP}\n", 2 * 1024**2)])
def test_it_reads_the_cap(text, rate):
    assert load_config(text, base_dir=Path("/tmp"), environ={"CAP": "2MiB/s"}).upload.max_rate == rate


@pytest.mark.parametrize("text, says", [
    ("upload:\n  max_rate: 8\n", 'config.yaml:2: upload.max_rate: must be a rate with its unit, write it like "8MB/s"'),
    ("upload:\n  max_rate: 10kB/s\n", "config.yaml:2: upload.max_rate: \"10kB/s\" is below 64 KiB/s"),
    ("upload:\n  max_rte: 8MB/s\n", 'config.yaml:2: upload.max_rte: unknown key; did you mean "max_rate"?'),
])
def test_a_bad_cap_names_the_key_the_line_and_the_fix(text, says):
    with pytest.raises(ConfigError) as info:
        load_config(text, base_dir=Path("/tmp"), environ={})
    assert any(p.startswith(says) for p in info.value.problems), info.value.problems
