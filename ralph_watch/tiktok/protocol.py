"""TikTok's wire rules as pure functions (no I/O): shared by the client and the emulator."""
from __future__ import annotations

from dataclasses import dataclass

from ..constants import MAX_TITLE_UTF16, MAX_VIDEO_BYTES, MIME_TYPES, PRIVACY_LEVELS

__all__ = ["MAX_SINGLE_CHUNK", "CHUNK_SIZE", "MIN_CHUNK", "MAX_VIDEO_BYTES", "Chunk", "plan_chunks",
           "utf16_len", "MAX_TITLE_UTF16", "MIME_TYPES", "PRIVACY_LEVELS"]

MAX_SINGLE_CHUNK = 64_000_000   # decimal: TikTok rejects larger chunk_size since 2026-08
CHUNK_SIZE = 10_000_000         # the docs' own example size
MIN_CHUNK = 5_242_880           # safe under both readings of "5 MB"


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int      # first byte offset
    last: int       # last byte offset (inclusive)

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.first}-{self.last}/{total}"


def plan_chunks(video_size: int, chunk_size: int = CHUNK_SIZE) -> tuple[int, int, list[Chunk]]:
    """(chunk_size, total_chunk_count, chunks) by TikTok's rules.

    <= 64,000,000 bytes: one whole upload (chunk_size = video_size). Larger: chunks of
    `chunk_size`, count = floor(size / chunk_size), the remainder joins the final chunk.
    """
    if video_size <= 0:
        raise ValueError("video_size must be positive")
    if video_size <= MAX_SINGLE_CHUNK:
        return video_size, 1, [Chunk(0, 0, video_size - 1)]
    if not MIN_CHUNK <= chunk_size <= MAX_SINGLE_CHUNK:
        raise ValueError("chunk_size out of TikTok's range")
    count = video_size // chunk_size
    if count > 1000:
        raise ValueError("more than 1000 chunks")
    chunks = [Chunk(i, i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count)]
    last = chunks[-1]
    chunks[-1] = Chunk(last.index, last.first, video_size - 1)
    return chunk_size, count, chunks


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way TikTok counts a title."""
    return len(text.encode("utf-16-le")) // 2
