"""When the content hash is read (issue 18, item 1), as tables: the guard's size index, the
pure decisions `needs_hash` and `may_be_copy`, and how `Identity` tells a changed file apart
without a hash (fstat stamp) and with one."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ralph_watch.dedupe import Guard, may_be_copy, needs_hash
from ralph_watch.record import Identity

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
K = "1000:aaaa"


@pytest.mark.parametrize("hashed, same_size, want", [
    pytest.param(False, False, False, id="no-same-size-content-headers-only"),
    pytest.param(False, True, True, id="same-size-content-claimed-or-published-hash-it"),
    pytest.param(True, True, False, id="already-hashed-nothing-to-read"),
    pytest.param(True, False, False, id="hashed-and-no-same-size-content"),
])
def test_needs_hash(hashed: bool, same_size: bool, want: bool) -> None:
    assert needs_hash(hashed=hashed, same_size_content=same_size) is want


@pytest.mark.parametrize("size, digest, want", [
    pytest.param(1000, "aaaa", True, id="same-content-is-a-copy-to-check-again"),
    pytest.param(1000, "bbbb", False, id="same-size-other-content"),
    pytest.param(1000, None, False, id="never-hashed-so-never-refused-as-a-copy"),
    pytest.param(999, "aaaa", False, id="other-size-ruled-out-unread"),
    pytest.param(999, None, False, id="other-size-not-hashed"),
])
def test_may_be_copy(size: int, digest: str | None, want: bool) -> None:
    assert may_be_copy(size, digest, K) is want


@pytest.mark.parametrize("steps, size, want", [
    pytest.param([], 1000, False, id="empty-guard"),
    pytest.param([("claim", K, "a")], 1000, True, id="claimed"),
    pytest.param([("claim", K, "a")], 2000, False, id="claimed-other-size"),
    pytest.param([("claim", K, "a"), ("release", "a")], 1000, False, id="released"),
    pytest.param([("claim", K, "a"), ("published", K, T0)], 1000, True, id="claim-became-published"),
    pytest.param([("remember", K, T0)], 1000, True, id="remembered-from-disk"),
    pytest.param([("remember", K, T0), ("forget", K)], 1000, False, id="forgotten-by-retry"),
    pytest.param([("claim", K, "a"), ("remember", K, T0), ("forget", K)], 1000, True,
                 id="forgotten-but-claimed-by-another-pair-stays"),
    pytest.param([("claim", K, "a"), ("claim", "1000:cccc", "a")], 1000, True, id="pair-moved-to-new-content"),
    pytest.param([("claim", K, "a"), ("claim", "3000:cccc", "a")], 1000, False,
                 id="pair-changed-size-old-size-is-free"),
    pytest.param([("claim", K, "a"), ("claim", "1000:dddd", "b"), ("release", "a")], 1000, True,
                 id="one-of-two-same-size-contents-released"),
])
def test_the_guard_is_indexed_by_size(steps: list[tuple[object, ...]], size: int, want: bool) -> None:
    g = Guard()
    for op, *args in steps:
        getattr(g, str(op))(*args)
    assert g.has_size(size) is want


STAMP = Identity(size=10, mtime_ns=1, ino=5, ctime_ns=7)
HASHED = Identity(size=10, mtime_ns=1, head_tail="ab", ino=5, ctime_ns=7)
FROM_RECORD = Identity(size=10, mtime_ns=1, head_tail="ab")   # records hold no inode, no ctime


@pytest.mark.parametrize("now, then, same", [
    pytest.param(HASHED, STAMP, True, id="unchanged-hashed-now-stamp-then"),
    pytest.param(HASHED, HASHED, True, id="unchanged-both-hashed"),
    pytest.param(HASHED, Identity(10, 1, "ab", 5, 8), False, id="rewritten-in-place-ctime-changed"),
    pytest.param(HASHED, Identity(10, 1, None, 6, 7), False, id="replaced-by-another-inode"),
    pytest.param(HASHED, Identity(10, 2, None, 5, 7), False, id="mtime-changed"),
    pytest.param(HASHED, Identity(11, 1, None, 5, 7), False, id="size-changed"),
    pytest.param(HASHED, Identity(10, 1, "cd", 5, 7), False, id="hash-changed"),
    pytest.param(HASHED, FROM_RECORD, True, id="record-identity-compares-what-it-knows"),
    pytest.param(Identity(10, 1, "cd", 5, 7), FROM_RECORD, False, id="record-identity-other-hash"),
    pytest.param(HASHED, None, False, id="no-identity-then"),
])
def test_same_file(now: Identity, then: Identity | None, same: bool) -> None:
    assert now.same_file(then) is same


@pytest.mark.parametrize("a, b, same", [
    pytest.param(HASHED, FROM_RECORD, True, id="same-size-and-hash"),
    pytest.param(STAMP, HASHED, False, id="not-hashed-is-never-the-same-content"),
    pytest.param(HASHED, STAMP, False, id="the-other-not-hashed"),
    pytest.param(HASHED, Identity(11, 1, "ab"), False, id="other-size"),
])
def test_same_content_needs_both_hashes(a: Identity, b: Identity, same: bool) -> None:
    assert a.same_content(b) is same


def test_an_unhashed_identity_has_no_content_key_but_a_probe_key() -> None:
    assert not STAMP.hashed and STAMP.probe_key == (10, 1, 5, 7)
    with pytest.raises(ValueError):
        _ = STAMP.content_key
    assert HASHED.content_key == "10:ab"
