"""The duplicate guard's decisions: which pair may publish a video's content, which is refused.

"The same video" is the same content key (`record.Identity.content_key`: the size and a
SHA-256 of the first and last MiB), whatever the file is called. The guard knows two things:
- claims: content being published now, and by which pair. A pair claims its content before
  TikTok's init, so two copies dropped at once cannot both go out; the claim is kept while
  the post may still appear (in flight, or a publish record that may still post), becomes
  "published" with the post, and is released when the attempt ends without one;
- published: content that went out, and when.

Pure: no I/O, no clock, no lock. The service holds its lock around every call and does the
writing (refused-duplicate records, the optional `dedupe.remember_days` file).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from .tasks import State

__all__ = ["Refusal", "Guard", "keeps_claim", "Remembered", "prune", "split_key", "IN_FLIGHT", "LIVE_OUTCOMES",
           "needs_hash", "may_be_copy"]

# A task in these states has TikTok working on its upload: the post may appear any moment.
IN_FLIGHT = frozenset({State.UPLOADING, State.PROCESSING, State.IN_INBOX})
# Publish-record outcomes that may still be (or are) a post (record.OUTCOMES minus "failed").
LIVE_OUTCOMES = frozenset({"uploading", "processing", "in_inbox", "published"})


@dataclass(frozen=True)
class Refusal:
    """Why a pair may not publish its content: another pair is publishing it, or it went out."""

    holder: str | None = None             # the pair publishing it now (None once it went out)
    published_at: datetime | None = None  # when it went out (None while it is being published)


class Guard:
    """Claims and published content, by content key. One instance per service."""

    def __init__(self) -> None:
        self._claims: dict[str, str] = {}       # content key -> the pair publishing it now
        self._by_pair: dict[str, str] = {}      # pair -> the content key it claims (one at a time)
        self._published: dict[str, datetime] = {}
        self._sizes: dict[int, set[str]] = {}   # size -> keys claimed or published: has_size costs nothing

    def has_size(self, size: int) -> bool:
        """Is any content of this size claimed or published? Only then can a pair be refused, so
        only then is its content hash read (needs_hash)."""
        return size in self._sizes

    def _index(self, key: str) -> None:
        """Keep `_sizes` in step after `key` was claimed, released, published or forgotten."""
        size, _ = split_key(key)
        keys = self._sizes.setdefault(size, set())
        if key in self._claims or key in self._published:
            keys.add(key)
        else:
            keys.discard(key)
        if not keys:
            del self._sizes[size]

    def is_refused(self, key: str, pair: str) -> Refusal | None:
        """None when `pair` may publish `key`: nobody else claims it and it did not go out."""
        holder = self._claims.get(key)
        if holder == pair:
            return None  # its own attempt (a restart, a retry, a new init)
        if holder is not None:
            return Refusal(holder=holder)
        when = self._published.get(key)
        return Refusal(published_at=when) if when is not None else None

    def claim(self, key: str, pair: str) -> Refusal | None:
        """Claim `key` for `pair` before its init; the refusal when it may not (nothing changes)."""
        refusal = self.is_refused(key, pair)
        if refusal is None:
            old = self._by_pair.get(pair)
            if old is not None and old != key:  # the pair's file changed: its old content is free
                self._claims.pop(old, None)
                self._index(old)
            self._claims[key] = pair
            self._by_pair[pair] = key
            self._index(key)
        return refusal

    def release(self, pair: str) -> str | None:
        """The pair's attempt ended without a post: free its claim; the key freed, or None."""
        key = self._by_pair.pop(pair, None)
        if key is not None and self._claims.get(key) == pair:
            del self._claims[key]
            self._index(key)
            return key
        return None

    def claimed_by(self, pair: str) -> str | None:
        return self._by_pair.get(pair)

    def published(self, key: str, when: datetime) -> None:
        """`key` went out at `when`: its claim becomes "published" (the earliest time is kept)."""
        holder = self._claims.pop(key, None)
        if holder is not None and self._by_pair.get(holder) == key:
            del self._by_pair[holder]
        self.remember(key, when)

    def remember(self, key: str, when: datetime) -> None:
        """Published content learnt from disk (a refused duplicate's record, the remember file)."""
        seen = self._published.get(key)
        if seen is None or when < seen:
            self._published[key] = when
        self._index(key)

    def forget(self, key: str) -> bool:
        """The user's Retry: publish this content again. A claim by another pair stays."""
        forgotten = self._published.pop(key, None) is not None
        self._index(key)
        return forgotten

    def published_items(self) -> list[tuple[str, datetime]]:
        return sorted(self._published.items(), key=lambda kv: (kv[1], kv[0]))


def keeps_claim(state: State, record_outcome: str | None) -> bool:
    """After a claiming pair's task moved to `state`, does it keep its claim?

    Kept while the post may still appear: TikTok has the upload (`state` in flight), or the
    pair's publish record says it may still post (a restored task waiting to be settled, an
    upload whose end TikTok could not be asked about). Released when the attempt ended with no
    post: failed or held back before the init (no record), TikTok said FAILED (record gone or
    `failed`), or the task was cancelled.
    """
    if state is State.CANCELLED:
        return False
    if state in IN_FLIGHT:
        return True
    return record_outcome in LIVE_OUTCOMES


@dataclass(frozen=True)
class Remembered:
    """One line of the `dedupe.remember_days` file: no name, no title."""

    sha256: str       # SHA-256 of the size and the first and last MiB (the content key's hash)
    size: int
    published_at: datetime

    @property
    def key(self) -> str:
        return f"{self.size}:{self.sha256}"


def needs_hash(*, hashed: bool, same_size_content: bool) -> bool:
    """Does checking a pair against the guard need its content hash (2 MiB of reads)?

    Only when content of its size is claimed or published (`Guard.has_size`): with none, no
    hash can match, so the pair is scheduled on its headers alone and hashed at publish time
    (the publisher's claim is the guard's last word)."""
    return same_size_content and not hashed


def may_be_copy(size: int, digest: str | None, key: str) -> bool:
    """After `key` was published or released, is a task whose video has this size and content
    hash (None: not read) a refused copy to check again? A refused copy was always hashed (its
    refusal needed the hash), so an unhashed one is not; a size apart rules it out unread."""
    key_size, key_digest = split_key(key)
    return size == key_size and digest is not None and digest == key_digest


def split_key(key: str) -> tuple[int, str]:
    """A content key back into (size, sha256)."""
    size, _, digest = key.partition(":")
    return int(size), digest


def prune(items: Iterable[Remembered], *, now: datetime, days: int) -> list[Remembered]:
    """What the remember file keeps: content published within the last `days` days, one line per
    content (its earliest time), oldest first. `days` 0 keeps nothing."""
    if days <= 0:
        return []
    try:
        cutoff: datetime | None = now - timedelta(days=days)
    except OverflowError:  # more days than the calendar has: keep everything
        cutoff = None
    first: dict[str, Remembered] = {}
    for item in items:
        if cutoff is not None and item.published_at < cutoff:
            continue
        seen = first.get(item.key)
        if seen is None or item.published_at < seen.published_at:
            first[item.key] = item
    return sorted(first.values(), key=lambda r: (r.published_at, r.key))
