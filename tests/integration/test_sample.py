"""ralph_watch.sample: real videos made with PyAV, checked with PyAV (not with our own probe).

TestMakeVideo   containers, codecs, sizes, rates, faststart, noise/min_bytes, recorder WebMs
TestPadded      make_padded_mp4: exact size, sparse, still a valid MP4
TestRefusals    combinations that cannot be made say why
TestHelpers     tests/support/videos.py: cache copies are unique, truncation, non-videos
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from ralph_watch.sample import make_padded_mp4, make_video
from tests.support import videos

SMALL = {"seconds": 1, "width": 360, "height": 640}


def av_facts(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {
            "format": c.format.name,
            "codec": v.codec_context.name,
            "width": v.width,
            "height": v.height,
            "fps": float(v.average_rate or v.guessed_rate),
            "duration": c.duration / 1e6 if c.duration else None,
            "audio": len(c.streams.audio),
            "frames": sum(1 for _ in c.demux(v) if _.pts is not None),
        }


class TestMakeVideo:
    @pytest.mark.parametrize(
        "name, kw, fmt, codec",
        [
            ("clip.mp4", {}, "mp4", "h264"),
            ("clip.mp4", {"codec": "hevc"}, "mp4", "hevc"),
            ("clip.mp4", {"codec": "h265"}, "mp4", "hevc"),
            ("clip.mov", {}, "mov", "h264"),
            ("clip.webm", {"codec": "vp9"}, "webm", "vp9"),
            ("clip.webm", {"codec": "vp8"}, "webm", "vp8"),
            ("clip.mkv", {}, "matroska", "h264"),
            ("clip.bin", {"container": "mp4"}, "mp4", "h264"),
        ],
        ids=["h264-mp4", "hevc-mp4", "h265-alias", "h264-mov", "vp9-webm", "vp8-webm", "h264-mkv", "container-kw"],
    )
    def test_it_makes_each_container_and_codec(self, tmp_path: Path, name: str, kw: dict, fmt: str, codec: str) -> None:
        path = make_video(tmp_path / name, **SMALL, **kw)
        facts = av_facts(path)
        assert fmt in facts["format"].split(",")
        assert facts["codec"] == codec
        assert (facts["width"], facts["height"]) == (360, 640)
        assert facts["fps"] == pytest.approx(30)
        assert facts["duration"] == pytest.approx(1, abs=0.05)
        assert facts["frames"] == 30
        assert facts["audio"] == 1

    def test_it_defaults_to_a_three_second_vertical_h264_mp4(self, tmp_path: Path) -> None:
        facts = av_facts(make_video(tmp_path / "clip.mp4"))
        assert (facts["codec"], facts["width"], facts["height"], facts["fps"]) == ("h264", 720, 1280, 30)
        assert facts["duration"] == pytest.approx(3, abs=0.05)
        assert (tmp_path / "clip.mp4").stat().st_size < 1_000_000

    def test_it_honours_fps_size_and_length(self, tmp_path: Path) -> None:
        facts = av_facts(make_video(tmp_path / "c.mp4", seconds=2, width=320, height=240, fps=15, audio=False))
        assert (facts["width"], facts["height"], facts["fps"], facts["frames"], facts["audio"]) == (320, 240, 15, 30, 0)

    def test_it_puts_moov_at_the_end_unless_faststart(self, tmp_path: Path) -> None:
        end = [k for k, _, _ in videos.mp4_boxes(make_video(tmp_path / "end.mp4", **SMALL))]
        start = [k for k, _, _ in videos.mp4_boxes(make_video(tmp_path / "start.mp4", faststart=True, **SMALL))]
        assert end.index("moov") > end.index("mdat")
        assert start.index("moov") < start.index("mdat")

    def test_it_grows_a_noise_video_to_min_bytes(self, tmp_path: Path) -> None:
        path = make_video(tmp_path / "big.mp4", seconds=0, width=720, height=1280, min_bytes=20_000_000, audio=False)
        assert path.stat().st_size >= 20_000_000
        facts = av_facts(path)
        assert (facts["codec"], facts["width"], facts["fps"]) == ("h264", 720, 30)

    def test_it_makes_the_same_file_for_the_same_call(self, tmp_path: Path) -> None:
        a = make_video(tmp_path / "a.mp4", noise=True, audio=False, **SMALL)
        b = make_video(tmp_path / "b.mp4", noise=True, audio=False, **SMALL)
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()

    @pytest.mark.parametrize("codec", ["vp8", "vp9"])
    def test_it_makes_recorder_webms_without_timing_in_their_headers(self, tmp_path: Path, codec: str) -> None:
        path = make_video(tmp_path / "rec.webm", codec=codec, recorder=True, **SMALL)
        data = path.read_bytes()
        assert data[:4] == b"\x1a\x45\xdf\xa3"
        seg = data.index(b"\x18\x53\x80\x67")
        assert data[seg + 4:seg + 12] == b"\x01\xff\xff\xff\xff\xff\xff\xff"  # unknown Segment size
        assert b"\x44\x89" not in data[:data.index(b"\x16\x54\xae\x6b")]       # no Duration in Info
        assert b"\x23\xe3\x83" not in data[:data.index(b"\x1f\x43\xb6\x75")]   # no DefaultDuration
        cluster = data.index(b"\x1f\x43\xb6\x75") + 4
        width = 8 - data[cluster].bit_length() + 1  # EBML size length from its leading zeros
        size_field = int.from_bytes(data[cluster:cluster + width], "big")
        assert size_field == (1 << (7 * width + 1)) - 1  # all ones: unknown Cluster size
        facts = av_facts(path)
        assert facts["codec"] == codec and facts["frames"] == 30


class TestPadded:
    def test_it_pads_to_the_exact_size_with_a_free_box(self, tmp_path: Path) -> None:
        path = make_padded_mp4(tmp_path / "p.mp4", total_bytes=50_000_000)
        assert path.stat().st_size == 50_000_000
        last = videos.mp4_boxes(path)[-1]
        assert last[0] == "free" and last[1] + last[2] == 50_000_000
        assert av_facts(path)["codec"] == "h264"

    def test_it_uses_a_64_bit_box_beyond_4_gib_and_stays_sparse(self, tmp_path: Path) -> None:
        path = make_padded_mp4(tmp_path / "p.mp4", total_bytes=5 * 2**30)
        assert path.stat().st_size == 5 * 2**30
        assert path.stat().st_blocks * 512 < 10_000_000  # a hole, not 5 GiB of zeros
        boxes = videos.mp4_boxes(path)
        assert boxes[-1][0] == "free" and boxes[-1][1] + boxes[-1][2] == 5 * 2**30
        with open(path, "rb") as f:
            f.seek(boxes[-1][1])
            assert f.read(4) == b"\x00\x00\x00\x01"
        assert av_facts(path)["width"] == 360

    def test_it_refuses_a_size_smaller_than_the_video(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="no room"):
            make_padded_mp4(tmp_path / "p.mp4", total_bytes=1000)


class TestRefusals:
    @pytest.mark.parametrize(
        "name, kw, match",
        [
            ("a.webm", {"codec": "h264"}, "WebM holds only VP8/VP9"),
            ("a.avi", {}, "unknown container"),
            ("a.mp4", {"codec": "av1"}, "unknown codec"),
            ("a.mp4", {"width": 361}, "even"),
            ("a.mp4", {"recorder": True}, "WebM/MKV files only"),
        ],
        ids=["h264-in-webm", "avi", "av1", "odd-width", "recorder-mp4"],
    )
    def test_it_says_what_cannot_be_made(self, tmp_path: Path, name: str, kw: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            make_video(tmp_path / name, **kw)


class TestHelpers:
    def test_it_gives_each_copy_its_own_hash(self, tmp_path: Path) -> None:
        a = videos.small_mp4(tmp_path, "a.mp4")
        b = videos.small_mp4(tmp_path, "b.mp4")
        c = videos.webm(tmp_path, "c.webm")
        d = videos.webm(tmp_path, "d.webm")
        assert a.read_bytes() != b.read_bytes()
        assert c.read_bytes() != d.read_bytes()
        for path in (a, b, c, d):
            assert av_facts(path)["frames"] == 30

    def test_it_makes_a_big_mp4_over_the_single_chunk_limit(self, tmp_path: Path) -> None:
        path = videos.big_mp4(tmp_path)
        assert path.stat().st_size > 64_000_000
        assert av_facts(path)["codec"] == "h264"

    def test_it_cuts_a_copy_short(self, tmp_path: Path) -> None:
        src = videos.small_mp4(tmp_path)
        dst = videos.truncated_copy(src, tmp_path / "cut.mp4", 0.5)
        assert dst.stat().st_size == src.stat().st_size // 2
        assert src.read_bytes().startswith(dst.read_bytes())

    @pytest.mark.parametrize("kind", ["text", "random", "empty"])
    def test_it_makes_files_that_ffmpeg_refuses(self, tmp_path: Path, kind: str) -> None:
        path = videos.not_a_video(tmp_path / "clip.mp4", kind)
        with pytest.raises((av.FFmpegError, IndexError)):
            with av.open(str(path)) as c:
                c.streams.video[0]

    def test_it_makes_a_real_png(self, tmp_path: Path) -> None:
        path = videos.not_a_video(tmp_path / "clip.mp4", "png")
        with av.open(str(path)) as c:  # FFmpeg reads a PNG as a one-frame "video": our probe must not
            assert c.streams.video[0].codec_context.name == "png"

    def test_it_makes_sparse_files(self, tmp_path: Path) -> None:
        path = videos.sparse_file(tmp_path / "huge.mp4", 4_000_000_001)
        assert path.stat().st_size == 4_000_000_001
        assert path.stat().st_blocks * 512 < 1_000_000
