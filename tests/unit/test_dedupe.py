"""The duplicate guard's decisions (dedupe.py), as tables: claim / release / published /
is_refused, which transitions keep a claim, and what the remember file keeps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ralph_watch.dedupe import Guard, Refusal, Remembered, keeps_claim, prune, split_key
from ralph_watch.tasks import State

S = State
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(hours=1)
K, K2 = "1000:aaaa", "2000:bbbb"
HOLDS_A = Refusal(holder="a")
WENT_OUT = Refusal(published_at=T0)


def run(steps):
    """Apply (op, *args) steps to a fresh guard; return each step's answer."""
    g = Guard()
    out = []
    for op, *args in steps:
        out.append(getattr(g, op)(*args))
    return g, out


@pytest.mark.parametrize("steps, answers", [
    pytest.param([("claim", K, "a")], [None], id="first-claim-is-granted"),
    pytest.param([("claim", K, "a"), ("claim", K, "b")], [None, HOLDS_A],
                 id="two-copies-at-once-the-second-is-refused"),
    pytest.param([("claim", K, "a"), ("claim", K, "a")], [None, None],
                 id="a-pair-claims-again-its-own-content-restart-or-new-init"),
    pytest.param([("claim", K, "a"), ("is_refused", K, "b"), ("is_refused", K, "a")], [None, HOLDS_A, None],
                 id="a-copy-is-refused-while-the-first-is-being-published"),
    pytest.param([("claim", K, "a"), ("claim", K2, "b")], [None, None], id="other-content-is-no-copy"),
    pytest.param([("claim", K, "a"), ("release", "a"), ("claim", K, "b")], [None, K, None],
                 id="released-without-a-post-the-copy-may-go"),
    pytest.param([("claim", K, "a"), ("release", "b"), ("claim", K, "b")], [None, None, HOLDS_A],
                 id="only-the-holder-releases"),
    pytest.param([("claim", K, "a"), ("published", K, T0), ("claim", K, "b"), ("claim", K, "a")],
                 [None, None, WENT_OUT, WENT_OUT], id="published-refuses-every-pair-the-original-too"),
    pytest.param([("claim", K, "a"), ("published", K, T0), ("release", "a"), ("claim", K, "b")],
                 [None, None, None, WENT_OUT], id="a-published-claim-is-not-released"),
    pytest.param([("remember", K, T1), ("remember", K, T0), ("is_refused", K, "a")], [None, None, WENT_OUT],
                 id="remembered-from-disk-keeps-the-earliest-time"),
    pytest.param([("published", K, T0), ("forget", K), ("claim", K, "a")], [None, True, None],
                 id="retry-forgets-the-post"),
    pytest.param([("claim", K, "a"), ("forget", K), ("claim", K, "b")], [None, False, HOLDS_A],
                 id="forgetting-keeps-another-pairs-claim"),
    pytest.param([("claim", K, "a"), ("claim", K2, "a"), ("claim", K, "b"), ("claimed_by", "a")],
                 [None, None, None, K2], id="a-pair-whose-file-changed-frees-its-old-content"),
    pytest.param([("claim", K, "a"), ("published", K, T0), ("claimed_by", "a")], [None, None, None],
                 id="published-ends-the-claim"),
])
def test_the_guard_decides(steps, answers):
    _, out = run(steps)
    assert out == answers


@pytest.mark.parametrize("state, outcome, keeps", [
    pytest.param(S.UPLOADING, None, True, id="uploading-before-its-record"),
    pytest.param(S.PROCESSING, "processing", True, id="processing"),
    pytest.param(S.IN_INBOX, "in_inbox", True, id="draft-in-the-tiktok-inbox"),
    pytest.param(S.SCHEDULED, None, False, id="held-or-retried-before-the-init"),
    pytest.param(S.FAILED, None, False, id="init-refused"),
    pytest.param(S.NEEDS_LOGIN, None, False, id="logged-out-before-the-init"),
    pytest.param(S.WAITING, None, False, id="file-changed-before-the-init"),
    pytest.param(S.FAILED, "failed", False, id="tiktok-said-failed"),
    pytest.param(S.SCHEDULED, None, False, id="tiktok-said-failed-try-again-later"),
    pytest.param(S.FAILED, "uploading", True, id="upload-interrupted-tiktok-could-not-be-asked"),
    pytest.param(S.FAILED, "processing", True, id="tiktok-could-not-tell-how-it-ended"),
    pytest.param(S.NEEDS_LOGIN, "processing", True, id="restored-waiting-to-be-settled"),
    pytest.param(S.CANCELLED, None, False, id="cancelled"),
    pytest.param(S.CANCELLED, "failed", False, id="cancelled-after-a-failure"),
])
def test_a_claim_is_kept_while_the_post_may_still_appear(state, outcome, keeps):
    assert keeps_claim(state, outcome) is keeps


def r(sha: str, when: datetime, size: int = 10) -> Remembered:
    return Remembered(sha256=sha, size=size, published_at=when)


NOW = T0 + timedelta(days=30)


@pytest.mark.parametrize("items, days, kept", [
    pytest.param([r("a", T0)], 0, [], id="zero-days-keeps-nothing"),
    pytest.param([r("a", T0)], 30, [r("a", T0)], id="exactly-the-last-day-is-kept"),
    pytest.param([r("a", T0 - timedelta(seconds=1))], 30, [], id="past-the-days-is-pruned"),
    pytest.param([r("b", T1), r("a", T0)], 31, [r("a", T0), r("b", T1)], id="oldest-first"),
    pytest.param([r("a", T1), r("a", T0)], 31, [r("a", T0)], id="one-line-per-content-the-first-post"),
    pytest.param([r("a", T0, 10), r("a", T0, 11)], 31, [r("a", T0, 10), r("a", T0, 11)],
                 id="the-size-is-part-of-the-content"),
    pytest.param([r("a", T0)], 10**9, [r("a", T0)], id="more-days-than-the-calendar-keeps-all"),
])
def test_the_remember_file_keeps_the_last_days(items, days, kept):
    assert prune(items, now=NOW, days=days) == kept


def test_a_content_key_splits_into_size_and_hash():
    assert split_key("1234:abcd") == (1234, "abcd")
    assert r("abcd", T0, 1234).key == "1234:abcd"
