"""What TikTok will do with a sidecar, decided before any byte is sent. Pure: no I/O.

- `audit_refusal`: an app that has not passed TikTok's audit may post only SELF_ONLY to a
  *private* account (tiktok-api.md §3.2, §8.3); a pair that breaks this is refused here with
  the fix, instead of costing an init that TikTok answers with
  `unaudited_client_can_only_post_to_private_accounts`. Privacy never defaults: the service
  never makes a post private on its own.
- `post_info`: the direct init's post_info for a sidecar, in `tiktok.protocol`'s wire shape.
- `draft_notes` / `cover_note`: sidecar keys TikTok is reported to ignore (inbox drafts keep
  only the caption, §6.1; the cover frame is reported to count only for public posts).
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from ralph_watch.tiktok import protocol

__all__ = ["account_is_public", "audit_refusal", "post_info", "draft_notes", "cover_note", "sidecar_notes",
           "DRAFT_IGNORED_KEYS", "UNAUDITED_PRIVATE_ONLY", "UNAUDITED_PUBLIC_ACCOUNT"]

SELF_ONLY = "SELF_ONLY"
PUBLIC = "PUBLIC_TO_EVERYONE"
# Sidecar keys an inbox draft does not carry to TikTok (Postiz: "accept nothing but the title").
DRAFT_IGNORED_KEYS = ("privacy", "allow_comments", "allow_duet", "allow_stitch", "cover_ms", "ai_generated",
                      "promotion")

UNAUDITED_PRIVATE_ONLY = (
    "This TikTok app is unaudited (it has not passed TikTok's audit), so TikTok accepts its direct posts "
    "only as private (\"only me\") posts to a private account, and this pair asks for privacy {privacy}: "
    "set `privacy: private` in the sidecar, or `mode: draft` to send it to your TikTok inbox and publish "
    "it from the TikTok app.")
UNAUDITED_PUBLIC_ACCOUNT = (
    "This TikTok app is unaudited (it has not passed TikTok's audit) and the TikTok account is public: "
    "TikTok refuses every direct post from an unaudited app to a public account, even a private one. "
    "Make the TikTok account private (TikTok app: Settings and privacy > Privacy > Private account), "
    "or use `mode: draft` to send the video to your TikTok inbox.")

_LABEL = {"PUBLIC_TO_EVERYONE": "public", "MUTUAL_FOLLOW_FRIENDS": "friends", "FOLLOWER_OF_CREATOR": "followers",
          "SELF_ONLY": "private"}


class _Sidecar(Protocol):
    # Read-only members, so that the frozen `sidecar.Sidecar` satisfies it.
    @property
    def title(self) -> str: ...
    @property
    def privacy(self) -> str | None: ...
    @property
    def allow_comments(self) -> bool: ...
    @property
    def allow_duet(self) -> bool: ...
    @property
    def allow_stitch(self) -> bool: ...
    @property
    def cover_ms(self) -> int: ...
    @property
    def ai_generated(self) -> bool: ...
    @property
    def promotion(self) -> str: ...
    @property
    def mode(self) -> str: ...


def account_is_public(privacy_level_options: Iterable[str] | None) -> bool | None:
    """True/False when creator_info's options tell a public from a private account; None if unknown
    (e.g. only ["SELF_ONLY"], which some unaudited apps are reported to get)."""
    options = set(privacy_level_options or ())
    if PUBLIC in options:
        return True
    if "FOLLOWER_OF_CREATOR" in options:
        return False
    return None


def audit_refusal(*, mode: str, privacy: str | None, audited: bool | None,
                  public_account: bool | None = None) -> str | None:
    """The sentence refusing a pair TikTok would refuse from an unaudited app, or None.

    `audited`: config `tiktok.audited`, or False after TikTok's first unaudited answer; None
    (unknown) and True refuse nothing. `public_account`: from creator_info (None: not known).
    """
    if audited is not False or mode != "direct":
        return None
    if public_account:
        return UNAUDITED_PUBLIC_ACCOUNT
    if privacy != SELF_ONLY:
        return UNAUDITED_PRIVATE_ONLY.format(privacy=_LABEL.get(privacy or "", privacy or "not set"))
    return None


def post_info(sc: _Sidecar, *, disable: dict[str, bool]) -> dict[str, Any]:
    """The direct init's post_info for a sidecar (the wire shape is `tiktok.protocol.post_info`'s)."""
    return protocol.post_info(title=sc.title, privacy=sc.privacy, disable_comment=disable["allow_comments"],
                              disable_duet=disable["allow_duet"], disable_stitch=disable["allow_stitch"],
                              cover_ms=sc.cover_ms, promotion=sc.promotion, ai_generated=sc.ai_generated)


def draft_notes(given: Iterable[str]) -> list[str]:
    """For an inbox draft: which of the sidecar's keys (`given`) TikTok ignores."""
    ignored = [k for k in DRAFT_IGNORED_KEYS if k in set(given)]
    if not ignored:
        return []
    return [f"TikTok ignores {', '.join(ignored)} for an inbox draft (mode: draft): choose those in the TikTok "
            "app when you post the draft; only the title is sent, and TikTok may not pre-fill even that"]


def cover_note(*, mode: str, privacy: str | None, cover_ms: int, given: Iterable[str]) -> str | None:
    """TikTok is reported to honour the cover frame only for public posts."""
    if mode != "direct" or privacy == PUBLIC or "cover_ms" not in set(given) or cover_ms <= 0:
        return None
    return (f"TikTok is reported to use cover_ms only for public posts; this one is "
            f"{_LABEL.get(privacy or '', privacy or 'not public')}, so TikTok may show its first frame instead")


def sidecar_notes(sc: _Sidecar, given: Iterable[str]) -> list[str]:
    """Every note for one pair (for `check` and the page)."""
    keys = set(given)
    if sc.mode == "draft":
        return draft_notes(keys)
    note = cover_note(mode=sc.mode, privacy=sc.privacy, cover_ms=sc.cover_ms, given=keys)
    return [note] if note else []
