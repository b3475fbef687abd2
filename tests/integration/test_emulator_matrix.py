"""The emulator's acceptance matrix: what real TikTok clients send, and what TikTok answers.

Each row replays one request shape over loopback HTTP and asserts TikTok's documented answer
(tiktok-api.md). The shapes were read from the clients' public sources (headers, bodies, chunk
plans; no code copied): Postiz `tiktok.provider.ts` (creator_info without a body, PULL_FROM_URL
with the cover inside source_info, an inbox post_info of the title or nothing), post-for-me
`tiktok-post-client.ts` (creator_info `{}`, an inbox post_info with is_aigc; its FILE_UPLOAD
planner of 64 MiB chunks as tiktok-api.md §4.1 reports it), brightbean `providers/tiktok.py`
(requests' bare `application/json`, post_info of title and privacy only, one chunk up to
64,000,000 bytes, MIME by extension), agoras 2.2.0 `clients/tiktok.py` (creator_info without a
body, `video_cover_timestamp_ms: 0`), the Rust crate `tiktok_rust` (post_info without brand
toggles, one whole-file PUT always labelled video/mp4). The `tiktok-api` crate's shapes were
not established; the rounded-up chunk count stands for the hobby clients §4.1 warns about.
Rows with a profile switch show the uncertain reading the switch turns on; every switch's
default is the documented reading. Our own client is at the end: the documented shape.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from ralph_watch.clock import FakeClock
from ralph_watch.limits import Limits
from ralph_watch.tiktok.client import TikTokClient
from ralph_watch.emulator import EmulatorServer, Profile
from ralph_watch.emulator.profile import MAX_CHUNK_SIZE_MIB, load_profile
from ralph_watch.tiktok.protocol import MIME_TYPES
from ralph_watch.errors import ConfigError
from tests.integration.test_emulator import Driver

CREATOR = "/v2/post/publish/creator_info/query/"
DIRECT = "/v2/post/publish/video/init/"
INBOX = "/v2/post/publish/inbox/video/init/"
JSON_UTF8 = "application/json; charset=UTF-8"
JSON_BARE = "application/json"
MIB = 1024 * 1024
ROOMY = Limits(init_per_window=1000, creator_info_per_window=1000, status_per_window=1000, daily_posts=1000,
               pending_drafts=1000, processing_seconds=0.0, moderation_seconds=0.0)


def file_upload(size: int, chunk: int, count: int) -> dict[str, Any]:
    return {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": count}


def whole(size: int) -> dict[str, Any]:
    return file_upload(size, size, 1)


POSTIZ_POST = {"title": "clip #fyp", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": False,
               "disable_comment": False, "disable_stitch": False, "brand_content_toggle": False,
               "brand_organic_toggle": False}
DOC_EXAMPLE_POST = {"title": "this will be a funny #cat video on your @tiktok #fyp",
                    "privacy_level": "MUTUAL_FOLLOW_FRIENDS", "disable_duet": False, "disable_comment": True, "disable_stitch": False,
                    "video_cover_timestamp_ms": 1000}   # TikTok's own example: no brand toggles
SELF_ONLY = {"privacy_level": "SELF_ONLY", "brand_content_toggle": False, "brand_organic_toggle": False}
AGORAS_POST = {"title": "t", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": False, "disable_comment": False,
               "disable_stitch": False, "video_cover_timestamp_ms": 0, "brand_content_toggle": False,
               "brand_organic_toggle": False}
BRIGHTBEAN_POST = {"title": "", "privacy_level": "PUBLIC_TO_EVERYONE"}
RUST_POST = {"title": "Check out this video", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": False,
             "disable_comment": False, "disable_stitch": False, "video_cover_timestamp_ms": 1000}
POSTIZ_DIRECT = {"title": "clip", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": False,
                 "disable_comment": False, "disable_stitch": False, "is_aigc": False, "brand_content_toggle": False,
                 "brand_organic_toggle": False}
VERIFIED = "https://media.example.com/"


def pull(url: str = VERIFIED + "v.mp4", **extra: Any) -> dict[str, Any]:
    return {"source": "PULL_FROM_URL", "video_url": url, **extra}


@dataclass(frozen=True)
class Row:
    """One request and the answer TikTok documents for it."""

    path: str
    body: Any                      # dict (sent as JSON), bytes (sent as is) or None (no body)
    status: int
    code: str
    content_type: str = JSON_UTF8
    switches: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    message: str = ""              # part of error.message
    verified: bool = False         # the app has verified VERIFIED for PULL_FROM_URL
    stored: dict[str, Any] | None = None   # the post_info the emulator kept (what TikTok will use)


ROWS = {
    # ---- accepted: what real clients send
    "creator_info with no body, charset (Postiz, agoras)": Row(CREATOR, None, 200, "ok"),
    "creator_info with {}, charset (post-for-me, ours)": Row(CREATOR, {}, 200, "ok"),
    "creator_info with {}, bare application/json (brightbean)": Row(CREATOR, {}, 200, "ok", content_type=JSON_BARE),
    "direct init, bare application/json, title and privacy only (brightbean)": Row(
        DIRECT, {"post_info": BRIGHTBEAN_POST, "source_info": whole(3_000_000)}, 200, "ok", content_type=JSON_BARE),
    "direct init, charset=UTF-8, every switch (Postiz)": Row(
        DIRECT, {"post_info": POSTIZ_DIRECT, "source_info": whole(3_000_000)}, 200, "ok"),
    "direct init without brand toggles, cover 1000 (tiktok_rust)": Row(
        DIRECT, {"post_info": RUST_POST, "source_info": whole(3_000_000)}, 200, "ok"),
    "direct PULL_FROM_URL with video_cover_timestamp_ms 0 (agoras)": Row(
        DIRECT, {"post_info": AGORAS_POST, "source_info": pull()}, 200, "ok", verified=True, stored=AGORAS_POST),
    "direct PULL_FROM_URL with the cover inside source_info (Postiz)": Row(
        DIRECT, {"post_info": POSTIZ_DIRECT, "source_info": pull(video_cover_timestamp_ms=1500)}, 200, "ok",
        verified=True),
    "inbox PULL_FROM_URL with an empty post_info (Postiz, no caption)": Row(
        INBOX, {"post_info": {}, "source_info": pull()}, 200, "ok", verified=True, stored={}),
    "inbox PULL_FROM_URL with title and is_aigc (post-for-me)": Row(
        INBOX, {"post_info": {"title": "cap", "is_aigc": False}, "source_info": pull()}, 200, "ok", verified=True,
        stored={"title": "cap"}),
    "direct init without brand toggles (TikTok's example) counts as false": Row(
        DIRECT, {"post_info": DOC_EXAMPLE_POST, "source_info": whole(3_000_000)}, 200, "ok"),
    "direct init without brand toggles, require_brand_toggle": Row(
        DIRECT, {"post_info": DOC_EXAMPLE_POST, "source_info": whole(3_000_000)}, 400, "invalid_params",
        switches={"require_brand_toggle": True}, message="brand_content_toggle"),
    "video_cover_timestamp_ms 0": Row(DIRECT, {"post_info": {**POSTIZ_POST, "video_cover_timestamp_ms": 0},
                                               "source_info": whole(3_000_000)}, 200, "ok",
                                      stored={**POSTIZ_POST, "video_cover_timestamp_ms": 0}),
    "post_info sent to the inbox init (post-for-me): only the title is kept": Row(
        INBOX, {"post_info": {"title": "draft #x", "is_aigc": False, "video_cover_timestamp_ms": 1500},
                "source_info": whole(3_000_000)}, 200, "ok", stored={"title": "draft #x"}),
    "inbox init with the title only (Postiz)": Row(INBOX, {"post_info": {"title": "draft"},
                                                           "source_info": whole(3_000_000)}, 200, "ok",
                                                   stored={"title": "draft"}),
    "one chunk for a whole file just under 64,000,000 bytes": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(63_999_999)}, 200, "ok"),
    "one chunk of exactly 64,000,000 bytes": Row(DIRECT, {"post_info": POSTIZ_POST,
                                                          "source_info": whole(64_000_000)}, 200, "ok"),
    "64 MB decimal chunks, count rounded down (brightbean)": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": file_upload(150_000_000, 64_000_000, 2)}, 200, "ok"),
    "the docs' worked example: 10,000,000-byte chunks": Row(
        DIRECT, {"post_info": DOC_EXAMPLE_POST, "source_info": file_upload(50_000_123, 10_000_000, 5)}, 200, "ok"),
    # ---- refused: TikTok's status and code
    "chunk_size over 64,000,000: a 66,259,900-byte single chunk (post-for-me, 2026-08)": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(66_259_900)}, 400, "invalid_params",
        message="The chunk size is invalid"),
    "a 64 MiB single chunk (Postiz's planner)": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(MAX_CHUNK_SIZE_MIB)}, 400, "invalid_params",
        message="The chunk size is invalid"),
    "a 64 MiB single chunk, max_chunk_size 64 MiB": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(MAX_CHUNK_SIZE_MIB)}, 200, "ok",
        switches={"max_chunk_size": MAX_CHUNK_SIZE_MIB}),
    "64 MiB chunks of a 150 MB file (post-for-me's planner)": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": file_upload(150_000_000, 64 * MIB, 2)}, 400,
        "invalid_params", message="The chunk size is invalid"),
    "total_chunk_count rounded up (hobby clients, Rust crates)": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": file_upload(25_000_000, 10_000_000, 3)}, 400,
        "invalid_params", message="total chunk count"),
    "total_chunk_count rounded up, accept_ceil_chunk_count": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": file_upload(25_000_000, 10_000_000, 3)}, 200, "ok",
        switches={"accept_ceil_chunk_count": True}),
    "privacy not in privacy_level_options (FOLLOWER_OF_CREATOR on a public account)": Row(
        DIRECT, {"post_info": {**POSTIZ_POST, "privacy_level": "FOLLOWER_OF_CREATOR"},
                 "source_info": whole(3_000_000)}, 403, "privacy_level_option_mismatch"),
    "unaudited app, public account, even SELF_ONLY": Row(
        DIRECT, {"post_info": SELF_ONLY, "source_info": whole(3_000_000)}, 403,
        "unaudited_client_can_only_post_to_private_accounts", switches={"audited": False}),
    "unaudited app, private account, SELF_ONLY": Row(
        DIRECT, {"post_info": SELF_ONLY, "source_info": whole(3_000_000)}, 200, "ok",
        switches={"audited": False}, account={"private": True}),
    "unaudited app, private account, FOLLOWER_OF_CREATOR": Row(
        DIRECT, {"post_info": {**SELF_ONLY, "privacy_level": "FOLLOWER_OF_CREATOR"},
                 "source_info": whole(3_000_000)}, 403, "unaudited_client_can_only_post_to_private_accounts",
        switches={"audited": False}, account={"private": True}),
    "unaudited app, private account, FOLLOWER_OF_CREATOR, unaudited_private_posts make_private": Row(
        DIRECT, {"post_info": {**SELF_ONLY, "privacy_level": "FOLLOWER_OF_CREATOR"},
                 "source_info": whole(3_000_000)}, 200, "ok",
        switches={"audited": False, "unaudited_private_posts": "make_private"}, account={"private": True},
        stored={**SELF_ONLY, "privacy_forced": True}),
    "PULL_FROM_URL from an unverified domain (agoras)": Row(
        DIRECT, {"post_info": AGORAS_POST, "source_info": pull("https://cdn.example.org/v.mp4")},
        403, "url_ownership_unverified", verified=True),
    "PULL_FROM_URL to the inbox from an unverified domain (post-for-me)": Row(
        INBOX, {"post_info": {"title": "cap"}, "source_info": pull("https://xyz.supabase.co/v.mp4")},
        403, "url_ownership_unverified", verified=True),
    "creator_can_post false: init refused": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(3_000_000)}, 403, "spam_risk_too_many_posts",
        switches={"creator_can_post": False}),
    "reached_active_user_cap: init refused": Row(
        DIRECT, {"post_info": POSTIZ_POST, "source_info": whole(3_000_000)}, 403, "reached_active_user_cap",
        switches={"active_user_cap_reached": True}),
    "reached_active_user_cap: creator_info answers HTTP 200": Row(
        CREATOR, {}, 200, "reached_active_user_cap", switches={"active_user_cap_reached": True}),
    # ---- switches that change what TikTok keeps
    "cover frame kept for a non-public post (documented)": Row(
        DIRECT, {"post_info": {**SELF_ONLY, "video_cover_timestamp_ms": 1500}, "source_info": whole(3_000_000)},
        200, "ok", stored={**SELF_ONLY, "video_cover_timestamp_ms": 1500}),
    "cover frame dropped for a non-public post, cover_public_only": Row(
        DIRECT, {"post_info": {**SELF_ONLY, "video_cover_timestamp_ms": 1500}, "source_info": whole(3_000_000)},
        200, "ok", switches={"cover_public_only": True}, stored=SELF_ONLY),
    "cover frame kept for a public post, cover_public_only": Row(
        DIRECT, {"post_info": {**POSTIZ_POST, "video_cover_timestamp_ms": 1500}, "source_info": whole(3_000_000)},
        200, "ok", switches={"cover_public_only": True}, stored={**POSTIZ_POST, "video_cover_timestamp_ms": 1500}),
    "caption dropped for an inbox draft, draft_drops_caption": Row(
        INBOX, {"post_info": {"title": "draft"}, "source_info": whole(3_000_000)}, 200, "ok",
        switches={"draft_drops_caption": True}, stored={}),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock, tmp_path: Path) -> Iterator[EmulatorServer]:
    srv = EmulatorServer(Profile(limits=ROOMY), clock=clock, spool_dir=tmp_path / "spool").start()
    yield srv
    srv.stop()


@pytest.fixture
def emu(server: EmulatorServer, clock: FakeClock) -> Iterator[Driver]:
    d = Driver(server, clock)
    yield d
    d.http.close()


@pytest.fixture
def token(emu: Driver) -> str:
    return str(emu.login()["access_token"])


def send(emu: Driver, token: str, path: str, body: Any, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    content = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return emu.http.post(path, headers=headers, content=content)


@pytest.mark.parametrize("row", list(ROWS.values()), ids=list(ROWS))
def test_the_emulator_answers_each_request_shape_as_tiktok_documents(emu, server, token, row: Row):
    if row.switches:
        server.patch_profile(**row.switches)
    if row.account:
        server.patch_account(**row.account)
    if row.verified:
        server.profile.verified_url_prefixes = [VERIFIED]
    r = send(emu, token, row.path, row.body, row.content_type)
    answer = r.json()
    assert (r.status_code, answer["error"]["code"]) == (row.status, row.code), answer
    assert row.message in answer["error"]["message"]
    if row.stored is not None:
        post = next(p for p in server.posts() if p["publish_id"] == answer["data"]["publish_id"])
        assert post["post_info"] == row.stored


def test_creator_info_says_creator_can_post_false_only_under_the_switch(emu, server, token):
    assert "creator_can_post" not in send(emu, token, CREATOR, {}, JSON_UTF8).json()["data"]
    server.patch_profile(creator_can_post=False)
    data = send(emu, token, CREATOR, None, JSON_UTF8).json()["data"]
    assert data["creator_can_post"] is False


# ---- the upload PUT ------------------------------------------------------------------------
def direct_init(emu: Driver, token: str, source: dict[str, Any]) -> str:
    r = send(emu, token, DIRECT, {"post_info": POSTIZ_POST, "source_info": source}, JSON_UTF8)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["upload_url"])


def put(url: str, data: bytes, first: int, total: int, *, mime: str = "video/mp4", **headers: str) -> httpx.Response:
    h = {"Content-Type": mime, "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}", **headers}
    return httpx.put(url, content=data, headers=h, timeout=30)


@pytest.fixture
def loose(server: EmulatorServer) -> EmulatorServer:
    server.patch_profile(media_checks=False)   # random bytes pass: these rows are about the PUT
    return server


def test_it_takes_a_repeat_of_the_same_chunk_after_a_5xx(emu, loose, token):
    data = b"\x01" * 1_000_000
    url = direct_init(emu, token, whole(len(data)))
    loose.inject("upload", status=503)
    assert put(url, data, 0, len(data)).status_code == 503
    assert put(url, data, 0, len(data)).status_code == 201


def test_it_takes_a_whole_file_under_64_000_000_bytes_in_one_put(emu, loose, token):
    data = b"\x02" * 6_000_000
    url = direct_init(emu, token, whole(len(data)))
    r = put(url, data, 0, len(data))
    assert (r.status_code, r.headers["content-range"]) == (201, f"bytes 0-{len(data) - 1}/{len(data)}")


def test_it_refuses_a_put_without_content_length_chunked_transfer_with_400(emu, loose, token):
    data = b"\x03" * 200_000
    url = direct_init(emu, token, whole(len(data)))

    def body() -> Iterator[bytes]:   # a generator: httpx sends Transfer-Encoding: chunked
        yield data[:100_000]
        yield data[100_000:]
    r = httpx.put(url, content=body(), headers={"Content-Type": "video/mp4",
                                                "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})
    assert r.status_code == 400 and b"Content-Length" in r.content
    assert put(url, data, 0, len(data)).status_code == 201   # the task is still there


def test_it_answers_a_content_range_that_does_not_match_the_progress_with_416(emu, loose, token):
    size, chunk = 12_000_000, 5_242_880
    url = direct_init(emu, token, file_upload(size, chunk, size // chunk))
    second = b"\x04" * (size - chunk)
    r = put(url, second, chunk, size)
    assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{size}")


def test_it_takes_video_mp4_on_a_mov_body_and_publishes_it_tiktok_rust(emu, server, token, tmp_path, clock):
    from tests.support.videos import mov
    path = mov(tmp_path)
    data = path.read_bytes()
    url = direct_init(emu, token, whole(len(data)))
    assert put(url, data, 0, len(data), mime="video/mp4").status_code == 201
    publish_id = next(p["publish_id"] for p in server.posts())
    clock.advance(5)
    assert emu.status(token, publish_id)["status"] == "PUBLISH_COMPLETE"


# ---- profile switches: file and control API ---------------------------------------------------
def test_every_switch_defaults_to_the_documented_reading():
    p = Profile()
    assert (p.require_brand_toggle, p.accept_ceil_chunk_count, p.max_chunk_size, p.unaudited_private_posts,
            p.cover_public_only, p.draft_drops_caption, p.creator_can_post, p.active_user_cap_reached) == \
        (False, False, 64_000_000, "refuse", False, False, True, False)


def test_a_profile_file_sets_the_switches_and_names_bad_values(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("require_brand_toggle: true\nmax_chunk_size: 67108864\nunaudited_private_posts: make_private\n")
    p = load_profile(f)
    assert (p.require_brand_toggle, p.max_chunk_size, p.unaudited_private_posts) == (True, MAX_CHUNK_SIZE_MIB,
                                                                                     "make_private")
    f.write_text("max_chunk_size: 128000000\nunaudited_private_posts: maybe\n")
    with pytest.raises(ConfigError) as err:
        load_profile(f)
    text = str(err.value)
    assert f"{f}:1: max_chunk_size: must be between" in text and f"{f}:2: unaudited_private_posts" in text


def test_the_control_api_sets_switches_and_reset_restores_them(server):
    r = httpx.post(server.base_url + "/_emulator/profile", json={"cover_public_only": True})
    assert r.status_code == 200 and r.json()["cover_public_only"] is True
    assert httpx.post(server.base_url + "/_emulator/profile", json={"nope": 1}).status_code == 400
    server.reset()
    assert server.profile.cover_public_only is False


# ---- our own client: exactly the documented shape ------------------------------------------
class Recorder(httpx.BaseTransport):
    """Forwards to the real network and keeps every request's method, path, headers and JSON body."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        entry: dict[str, Any] = {"method": request.method, "path": request.url.path, "headers": dict(request.headers)}
        if request.headers.get("content-type", "").startswith("application/json"):
            entry["json"] = json.loads(request.read() or b"null")
        self.seen.append(entry)
        return self.inner.handle_request(request)

    def of(self, path: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["path"] == path]


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[TikTokClient, Recorder, EmulatorServer]]:
    from tests.integration.test_client_contract import login, make_client
    srv = EmulatorServer(Profile(limits=ROOMY, media_checks=False), spool_dir=tmp_path / "spool").start()
    rec = Recorder()
    client = make_client(srv, transport=rec)
    login(client)
    yield client, rec, srv
    client.close()
    srv.stop()


def upload_file(client: TikTokClient, init: Any, path: Path, mime: str) -> None:
    client.upload(init, path, mime=mime, progress=lambda s, t: None, cancel=threading.Event())


@pytest.mark.parametrize("size, chunk_size, count", [
    (3_000_000, 3_000_000, 1),            # under 5 MB: whole
    (64_000_000, 64_000_000, 1),          # up to 64,000,000 bytes: one chunk
    (64_000_001, 10_000_000, 6),          # above: decimal-MB chunks, count rounded down
    (150_000_123, 10_000_000, 15),
])
def test_our_client_plans_floor_counts_of_decimal_mb_chunks(recorded, size, chunk_size, count):
    client, rec, _ = recorded
    client.init_direct(post_info=SELF_ONLY, video_size=size)
    assert rec.of(DIRECT)[-1]["json"]["source_info"] == file_upload(size, chunk_size, count)
    assert count == size // chunk_size


@pytest.mark.parametrize("suffix", sorted(MIME_TYPES))
def test_our_client_sends_the_container_mime_and_an_explicit_content_length(recorded, tmp_path, suffix):
    client, rec, _ = recorded
    path = tmp_path / f"clip.{suffix}"
    path.write_bytes(b"\x05" * 2_000_000)
    init = client.init_direct(post_info=SELF_ONLY, video_size=2_000_000)
    upload_file(client, init, path, MIME_TYPES[suffix])
    (put_req,) = [e for e in rec.seen if e["method"] == "PUT"]
    h = put_req["headers"]
    assert h["content-type"] == {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}[suffix]
    assert h["content-length"] == "2000000" and "transfer-encoding" not in h
    assert h["content-range"] == "bytes 0-1999999/2000000" and "authorization" not in h


def test_our_client_sends_json_with_charset_and_creator_info_with_an_empty_object(recorded):
    client, rec, _ = recorded
    client.creator_info()
    (call,) = rec.of(CREATOR)
    assert call["headers"]["content-type"] == JSON_UTF8 and call["json"] == {}
    assert call["headers"]["authorization"].startswith("Bearer ")


def test_our_client_sends_a_draft_with_source_info_and_the_title_only(recorded):
    client, rec, _ = recorded
    client.init_draft(video_size=3_000_000, title="draft #x")
    assert rec.of(INBOX)[-1]["json"] == {"post_info": {"title": "draft #x"}, "source_info": whole(3_000_000)}


def test_the_service_builds_post_info_with_both_brand_toggles_always(recorded):
    from ralph_watch.postplan import post_info
    from ralph_watch.sidecar import Sidecar
    client, rec, srv = recorded
    for promotion in ("none", "own_brand", "branded", "both"):
        info = post_info(Sidecar(privacy="PUBLIC_TO_EVERYONE", promotion=promotion),
                         disable={"allow_comments": True, "allow_duet": True, "allow_stitch": True})
        client.init_direct(post_info=info, video_size=3_000_000)
        sent = rec.of(DIRECT)[-1]["json"]["post_info"]
        assert isinstance(sent["brand_content_toggle"], bool) and isinstance(sent["brand_organic_toggle"], bool)
        assert (sent["brand_content_toggle"], sent["brand_organic_toggle"]) == \
            (promotion in ("branded", "both"), promotion in ("own_brand", "both"))
    srv.patch_profile(require_brand_toggle=True)   # the strict reading accepts it too
    client.init_direct(post_info=info, video_size=3_000_000)


def test_our_client_remembers_the_first_unaudited_answer(recorded):
    from ralph_watch.errors import TikTokError
    client, _, srv = recorded
    assert client.audited is None
    srv.patch_profile(audited=False)
    with pytest.raises(TikTokError) as err:
        client.init_direct(post_info={**SELF_ONLY, "privacy_level": "PUBLIC_TO_EVERYONE"}, video_size=3_000_000)
    assert err.value.code == "unaudited_client_can_only_post_to_private_accounts"
    assert client.audited is False


def test_our_client_stops_when_creator_info_says_the_creator_cannot_post(recorded):
    from ralph_watch.errors import Action, TikTokError
    client, _, srv = recorded
    srv.patch_profile(creator_can_post=False)
    with pytest.raises(TikTokError) as err:
        client.creator_info()
    assert (err.value.code, err.value.action) == ("creator_cannot_post", Action.RETRY_LATER)
    assert err.value.retry_after

