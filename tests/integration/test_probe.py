"""ralph_watch.probe: header parsing against real files made by PyAV, and TikTok's rules.

TestContainers     every supported container/codec; the result agrees with PyAV
TestBoxLayout      moov before/after mdat, 64-bit and size-0 boxes, padded and sparse files
TestFallback       headers without fps/duration (MediaRecorder WebM) -> PyAV fills them in
TestTruncation     copies cut off anywhere -> ProbeError that says so
TestNotAVideo      text, random bytes, PNG, empty, missing, folder -> ProbeError
TestContainment    damaged headers never leak struct/av/OSError (hypothesis)
TestCheckVideo     TikTok's rules, each problem a sentence with value, rule and fix
TestCheckSize      the 4,000,000,000-byte limit from stat alone
"""
from __future__ import annotations

import os
import sys
import subprocess
import struct
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ralph_watch.errors import ProbeError
from ralph_watch.probe import VideoInfo, check_size, check_video, probe_video
from tests.support import videos


def av_info(path: Path) -> VideoInfo:
    """What PyAV (FFmpeg) says, for comparison."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return VideoInfo(container="?", codec=v.codec_context.name, width=v.width, height=v.height,
                         fps=float(v.average_rate), duration=c.duration / 1e6, size=path.stat().st_size)


def read_bytes_so_far() -> int:
    """Bytes this process has read through read() calls (Linux /proc/self/io `rchar`)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def set_box(path: Path, offset: int, header: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(header)


GOOD = VideoInfo(container="mp4", codec="h264", width=720, height=1280, fps=30.0, duration=3.0, size=200_000)


class TestContainers:
    @pytest.mark.parametrize(
        "name, kw, container, codec",
        [
            ("clip.mp4", {}, "mp4", "h264"),
            ("clip.mp4", {"codec": "hevc"}, "mp4", "hevc"),
            ("clip.mp4", {"faststart": True}, "mp4", "h264"),
            ("clip.mov", {}, "mov", "h264"),
            ("clip.webm", {"codec": "vp9"}, "webm", "vp9"),
            ("clip.webm", {"codec": "vp8"}, "webm", "vp8"),
            ("clip.mkv", {}, "matroska", "h264"),
            ("clip.mkv", {"codec": "hevc"}, "matroska", "hevc"),
            ("clip.mp4", {"fps": 24, "width": 1080, "height": 1920, "seconds": 2}, "mp4", "h264"),
            ("clip.mp4", {"fps": 60, "width": 640, "height": 360, "audio": False}, "mp4", "h264"),
        ],
        ids=["h264-mp4", "hevc-mp4", "h264-mp4-faststart", "h264-mov", "vp9-webm", "vp8-webm", "h264-mkv",
             "hevc-mkv", "24fps-1080x1920", "60fps-landscape-no-audio"],
    )
    def test_it_reads_what_pyav_reads(self, tmp_path: Path, name: str, kw: dict, container: str, codec: str) -> None:
        path = videos.video(tmp_path, name, **kw)
        info = probe_video(path)
        ref = av_info(path)
        assert (info.container, info.codec) == (container, codec)
        assert (info.width, info.height) == (ref.width, ref.height)
        assert info.fps == pytest.approx(ref.fps, abs=0.01)
        assert info.duration == pytest.approx(ref.duration, abs=0.01)
        assert info.size == ref.size == path.stat().st_size

    def test_it_passes_a_good_clip_through_check_video(self, tmp_path: Path) -> None:
        assert check_video(probe_video(videos.small_mp4(tmp_path))) == []

    def test_it_reads_a_big_noise_mp4(self, tmp_path: Path) -> None:
        info = probe_video(videos.big_mp4(tmp_path))
        assert info.size > 64_000_000 and (info.codec, info.width, info.fps) == ("h264", 720, 30.0)

    def test_it_swaps_width_and_height_for_a_rotated_track(self, tmp_path: Path) -> None:
        path = videos.small_mp4(tmp_path, width=640, height=360)
        data = bytearray(path.read_bytes())
        tkhd = data.index(b"tkhd") + 4  # payload: version 0 -> matrix at +40
        assert data[tkhd] == 0
        # 90°: a=0, b=1.0, c=-1.0, d=0 in 16.16 fixed point
        struct.pack_into(">iiiii", data, tkhd + 40, 0, 0x10000, 0, -0x10000, 0)
        path.write_bytes(bytes(data))
        info = probe_video(path)
        assert (info.width, info.height) == (360, 640)


class TestBoxLayout:
    def test_it_finds_moov_at_either_end(self, tmp_path: Path) -> None:
        end = videos.small_mp4(tmp_path, "end.mp4")
        start = videos.small_mp4(tmp_path, "start.mp4", faststart=True)
        kinds = {p.name: [k for k, _, _ in videos.mp4_boxes(p)] for p in (end, start)}
        assert kinds["end.mp4"].index("moov") > kinds["end.mp4"].index("mdat")
        assert kinds["start.mp4"].index("moov") < kinds["start.mp4"].index("mdat")
        assert probe_video(end).duration == pytest.approx(probe_video(start).duration)

    def test_it_reads_a_64_bit_mdat_size(self, tmp_path: Path) -> None:
        # FFmpeg leaves an 8-byte `free` box before `mdat` for exactly this: merging them into one
        # 64-bit header keeps every offset, so the file stays valid for FFmpeg too.
        path = videos.small_mp4(tmp_path)
        boxes = videos.mp4_boxes(path)
        i = [k for k, _, _ in boxes].index("mdat")
        (free, free_at, free_size), (_, mdat_at, mdat_size) = boxes[i - 1], boxes[i]
        assert (free, free_size, free_at + 8) == ("free", 8, mdat_at)
        set_box(path, free_at, struct.pack(">I4sQ", 1, b"mdat", mdat_size + 8))
        assert [k for k, _, _ in videos.mp4_boxes(path)].count("free") == 1  # only the test tag is left
        assert probe_video(path).width == 360
        assert av_info(path).width == 360

    def test_it_catches_a_64_bit_size_that_overruns(self, tmp_path: Path) -> None:
        path = videos.small_mp4(tmp_path)
        boxes = videos.mp4_boxes(path)
        i = [k for k, _, _ in boxes].index("mdat")
        free_at = boxes[i - 1][1]
        set_box(path, free_at, struct.pack(">I4sQ", 1, b"mdat", 2**40))
        with pytest.raises(ProbeError, match="cut off while copying"):
            probe_video(path)

    def test_it_reads_a_last_box_of_size_zero(self, tmp_path: Path) -> None:
        path = videos.small_mp4(tmp_path, faststart=True, unique=False)
        last = videos.mp4_boxes(path)[-1]
        assert last[0] == "mdat"
        set_box(path, last[1], struct.pack(">I", 0))  # 0: "runs to the end of the file"
        assert probe_video(path).fps == 30.0

    def test_it_probes_a_padded_sparse_gigabyte_reading_only_headers(self, tmp_path: Path) -> None:
        path = videos.padded_mp4(tmp_path, total_bytes=2**30)
        before = read_bytes_so_far()
        info = probe_video(path)
        read = read_bytes_so_far() - before
        assert info.size == 2**30 and info.codec == "h264" and info.duration == pytest.approx(1, abs=0.01)
        assert read < 256 * 1024, f"probe read {read:,} bytes of a 1 GiB file"

    def test_it_probes_a_padded_file_beyond_4_gib(self, tmp_path: Path) -> None:
        path = videos.padded_mp4(tmp_path, total_bytes=5 * 2**30)
        info = probe_video(path)
        assert info.size == 5 * 2**30
        assert check_video(info) == [check_size(5 * 2**30)]


class TestFallback:
    @pytest.mark.parametrize("codec", ["vp8", "vp9"])
    def test_it_asks_pyav_when_a_recorder_webm_has_no_timing(self, tmp_path: Path, codec: str) -> None:
        path = videos.webm(tmp_path, codec=codec, recorder=True, seconds=2)
        info = probe_video(path)
        assert (info.container, info.codec, info.width, info.height) == ("webm", codec, 360, 640)
        assert info.fps == pytest.approx(30, abs=0.05)
        assert info.duration == pytest.approx(2, abs=0.05)
        assert check_video(info) == []

    def test_it_reads_60_fps_from_a_recorder_webm_with_millisecond_timecodes(self, tmp_path: Path) -> None:
        path = videos.webm(tmp_path, recorder=True, fps=60, audio=False)
        info = probe_video(path)
        assert info.fps == pytest.approx(60, abs=0.2)
        assert check_video(info) == []

    def test_it_catches_a_recorder_webm_cut_off_inside_a_cluster(self, tmp_path: Path) -> None:
        src = videos.webm(tmp_path, recorder=True, unique=False)
        cut = videos.truncated_copy(src, tmp_path / "cut.webm", 0.77)
        with pytest.raises(ProbeError, match="cut off while copying"):
            probe_video(cut)


class TestTruncation:
    KINDS = {
        "mp4-moov-at-end": ("clip.mp4", {}),
        "mp4-faststart": ("clip.mp4", {"faststart": True}),
        "mov": ("clip.mov", {}),
        "webm-vp9": ("clip.webm", {"codec": "vp9"}),
        "webm-recorder": ("clip.webm", {"codec": "vp8", "recorder": True}),
    }

    @pytest.mark.parametrize("fraction", [0.01, 0.3, 0.5, 0.9, 0.999], ids=lambda f: f"{f:.1%}")
    @pytest.mark.parametrize("kind", list(KINDS))
    def test_it_refuses_a_copy_cut_off(self, tmp_path: Path, kind: str, fraction: float) -> None:
        name, kw = self.KINDS[kind]
        src = videos.video(tmp_path, name, unique=False, **kw)
        cut = videos.truncated_copy(src, tmp_path / f"cut-{name}", fraction)
        with pytest.raises(ProbeError, match="cut off while copying; copy it again") as err:
            probe_video(cut)
        assert f"{cut.stat().st_size:,} bytes" in str(err.value) or "no header box" in str(err.value)

    def test_it_names_both_sizes(self, tmp_path: Path) -> None:
        src = videos.small_mp4(tmp_path, unique=False)
        cut = videos.truncated_copy(src, tmp_path / "cut.mp4", 0.5)
        with pytest.raises(ProbeError) as err:
            probe_video(cut)
        mdat = next(b for b in videos.mp4_boxes(src) if b[0] == "mdat")
        assert str(err.value) == (
            f"the file ends before its container structure does: it is {cut.stat().st_size:,} bytes but its "
            f"boxes claim {mdat[1] + mdat[2]:,} — it was probably cut off while copying; copy it again")

    def test_it_refuses_a_copy_cut_exactly_before_the_moov_at_the_end(self, tmp_path: Path) -> None:
        src = videos.small_mp4(tmp_path, unique=False)
        moov = next(b for b in videos.mp4_boxes(src) if b[0] == "moov")
        (tmp_path / "cut.mp4").write_bytes(src.read_bytes()[:moov[1]])
        with pytest.raises(ProbeError, match=r"no header box \(moov\): it was probably cut off"):
            probe_video(tmp_path / "cut.mp4")

    def test_it_refuses_a_copy_cut_exactly_after_a_leading_moov(self, tmp_path: Path) -> None:
        src = videos.small_mp4(tmp_path, faststart=True, unique=False)
        mdat = next(b for b in videos.mp4_boxes(src) if b[0] == "mdat")
        (tmp_path / "cut.mp4").write_bytes(src.read_bytes()[:mdat[1]])
        with pytest.raises(ProbeError, match=r"no media data \(mdat box\): it was probably cut off"):
            probe_video(tmp_path / "cut.mp4")


class TestJunkAfterACompleteFile:
    """Bytes appended after a complete file (a tool's padding, 1,000 random bytes) are no cut-off copy:
    the sample table says every sample is in the file, and ffmpeg plays it."""

    KINDS = {
        "mp4-moov-at-end": ("clip.mp4", {}),
        "mp4-faststart": ("clip.mp4", {"faststart": True}),
        "mov": ("clip.mov", {}),
        "webm-vp9": ("clip.webm", {"codec": "vp9"}),
    }

    @pytest.mark.parametrize("seed", range(8))
    @pytest.mark.parametrize("kind", list(KINDS))
    def test_it_accepts_1000_random_bytes_appended(self, tmp_path: Path, kind: str, seed: int) -> None:
        import random
        name, kw = self.KINDS[kind]
        src = videos.video(tmp_path, name, unique=False, **kw)
        before = probe_video(src)
        junk = tmp_path / f"junk-{name}"
        junk.write_bytes(src.read_bytes() + random.Random(seed).randbytes(1000))
        after = probe_video(junk)
        assert (after.codec, after.width, after.height, after.duration) == \
            (before.codec, before.width, before.height, before.duration)
        assert after.size == before.size + 1000

    def test_an_oversized_final_mdat_whose_samples_are_all_there_is_complete(self, tmp_path: Path) -> None:
        path = videos.small_mp4(tmp_path, faststart=True, unique=False)
        _, at, size = videos.mp4_boxes(path)[-1]
        set_box(path, at, struct.pack(">I4s", size + 10_000, b"mdat"))
        assert probe_video(path).width == 360

    def test_a_faststart_copy_one_byte_short_is_still_cut_off(self, tmp_path: Path) -> None:
        src = videos.small_mp4(tmp_path, faststart=True, unique=False)
        (tmp_path / "cut.mp4").write_bytes(src.read_bytes()[:-1])
        with pytest.raises(ProbeError, match="cut off while copying; copy it again"):
            probe_video(tmp_path / "cut.mp4")


class TestNotAVideo:
    @pytest.mark.parametrize(
        "kind, words",
        [("text", "this is not a video: the file holds text"),
         ("random", "this is not a video"),
         ("png", "this is not a video: the file holds a PNG image"),
         ("empty", "the file is empty (0 bytes)")],
        ids=["text", "random", "png", "empty"],
    )
    def test_it_refuses_what_is_no_video(self, tmp_path: Path, kind: str, words: str) -> None:
        path = videos.not_a_video(tmp_path / "clip.mp4", kind)
        with pytest.raises(ProbeError) as err:
            probe_video(path)
        assert str(err.value).startswith(words)

    @pytest.mark.parametrize(
        "head, words",
        [(b"RIFF\x00\x00\x00\x00AVI LIST", "this is an AVI video; TikTok accepts MP4, MOV and WebM"),
         (b"\x1a\x45\xdf\xa3\x88\x42\x82\x85hello", "this is an EBML file of type 'hello'"),
         (b"\x00\x00\x00\x14ftypM4A \x00\x00\x00\x00M4A " + struct.pack(">I4s", 8, b"mdat")
          + struct.pack(">I4s", 8 + 108, b"moov") + struct.pack(">I4sIIIII", 108, b"mvhd", 0, 0, 0, 1000, 5000)
          + bytes(80), "the file has no video track")],
        ids=["avi", "ebml-not-matroska", "audio-only-mp4"],
    )
    def test_it_names_what_it_found(self, tmp_path: Path, head: bytes, words: str) -> None:
        (tmp_path / "clip.mp4").write_bytes(head + bytes(600))
        with pytest.raises(ProbeError) as err:
            probe_video(tmp_path / "clip.mp4")
        assert str(err.value).startswith(words)

    def test_it_refuses_a_sparse_file_of_zeros(self, tmp_path: Path) -> None:
        with pytest.raises(ProbeError, match="this is not a video"):
            probe_video(videos.sparse_file(tmp_path / "clip.mp4", 4_000_000_001))

    def test_it_says_when_the_file_is_gone(self, tmp_path: Path) -> None:
        with pytest.raises(ProbeError, match="disappeared"):
            probe_video(tmp_path / "missing.mp4")

    def test_it_says_when_it_is_a_folder(self, tmp_path: Path) -> None:
        (tmp_path / "clip.mp4").mkdir()
        with pytest.raises(ProbeError, match="folder"):
            probe_video(tmp_path / "clip.mp4")

    def test_it_says_when_it_may_not_read(self, tmp_path: Path) -> None:
        path = videos.small_mp4(tmp_path)
        path.chmod(0)
        if os.geteuid() != 0:
            with pytest.raises(ProbeError, match="permission denied"):
                probe_video(path)
            return
        # Root reads any file; without its DAC-override capabilities file modes apply again
        # (setpriv is util-linux, on every Debian), so the test runs rather than skips.
        code = ("import sys; from pathlib import Path; from ralph_watch.errors import ProbeError\n"
                "from ralph_watch.probe import probe_video\n"
                "try:\n    probe_video(Path(sys.argv[1]))\nexcept ProbeError as e:\n    print(e)\n")
        out = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable,
                              "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parents[2])
        assert "permission denied" in out.stdout.lower(), out.stdout + out.stderr


class TestContainment:
    """Whatever the bytes, probe_video returns a VideoInfo or raises ProbeError: nothing else."""

    @pytest.fixture(scope="class")
    @classmethod
    def samples(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
        folder = tmp_path_factory.mktemp("containment")
        return {
            "mp4": videos.small_mp4(folder, "a.mp4", faststart=True, audio=False, seconds=0.2).read_bytes(),
            "webm": videos.webm(folder, "b.webm", audio=False, seconds=0.2).read_bytes(),
            "recorder": videos.webm(folder, "c.webm", recorder=True, audio=False, seconds=0.2).read_bytes(),
        }

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(kind=st.sampled_from(["mp4", "webm", "recorder"]),
           edits=st.lists(st.tuples(st.integers(0, 1500), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4))
    def test_it_only_ever_raises_probe_error(self, tmp_path: Path, samples: dict[str, bytes], kind: str,
                                              edits: list[tuple[int, bytes]]) -> None:
        data = bytearray(samples[kind])
        for at, junk in edits:  # damage the headers, where the parser works
            data[at:at + len(junk)] = junk
        path = tmp_path / "fuzz.bin"
        path.write_bytes(bytes(data))
        try:
            info = probe_video(path)
        except ProbeError as exc:
            assert str(exc)
        else:
            assert isinstance(info, VideoInfo) and info.size == len(data)


class TestCheckVideo:
    @pytest.mark.parametrize(
        "change",
        [{"fps": 23.0}, {"fps": 23.976}, {"fps": 29.97}, {"fps": 60.0}, {"fps": 22.96}, {"width": 360, "height": 360},
         {"width": 4096, "height": 2160}, {"size": 4_000_000_000}, {"duration": 600.0}, {"container": "mov"},
         {"container": "webm", "codec": "vp9"}, {"codec": "vp8"}, {"codec": "hevc"}],
        ids=["23fps", "23.976fps", "29.97fps", "60fps", "22.96fps-rounds-to-23", "360-square", "4096-wide",
             "exactly-4GB", "exactly-600s", "mov", "webm-vp9", "vp8", "hevc"],
    )
    def test_it_accepts_what_tiktok_accepts(self, change: dict) -> None:
        assert check_video(_info(**change)) == []

    @pytest.mark.parametrize(
        "change, expected",
        [
            ({"fps": 15.0}, "the video is 15 fps; TikTok accepts 23 to 60 frames per second: re-encode it, "
                            "e.g. `ffmpeg -i in.mp4 -r 30 out.mp4`"),
            ({"fps": 120.0}, "the video is 120 fps; TikTok accepts 23 to 60 frames per second: re-encode it, "
                             "e.g. `ffmpeg -i in.mp4 -r 60 out.mp4`"),
            ({"fps": 22.5}, "the video is 22.5 fps"),
            ({"fps": 60.5}, "the video is 60.5 fps"),
            ({"fps": None}, "the video's frame rate could not be read"),
            ({"width": 320, "height": 240}, "the video is 320×240 pixels; TikTok accepts 360 to 4096 pixels on each "
                                            "side: scale it up, e.g. `ffmpeg -i in.mp4 -vf scale=-2:720 out.mp4`"),
            ({"width": 359, "height": 640}, "the video is 359×640 pixels"),
            ({"width": 2160, "height": 4097}, "the video is 2160×4097 pixels; TikTok accepts 360 to 4096 pixels on "
                                              "each side: scale it down, e.g. `ffmpeg -i in.mp4 -vf scale=-2:1920"),
            ({"size": 4_000_000_001}, "the video is 4,000,000,001 bytes (4.00 GB); TikTok accepts at most "
                                      "4,000,000,000 bytes (4 GB)"),
            ({"duration": 725.0}, "the video is 12 minutes 5 seconds (725 s) long; the limit here is 10 minutes "
                                  "(600 s): shorten it, e.g. `ffmpeg -i in.mp4 -t 600 -c copy out.mp4`"),
            ({"duration": 0.0}, "the video has no length (0 seconds)"),
            ({"duration": None}, "the video's duration could not be read"),
            ({"codec": "av1"}, "the video is encoded with AV1; TikTok accepts H.264, H.265, VP8 and VP9: re-encode it"),
            ({"codec": "xvid"}, "the video is encoded with 'xvid'"),
            ({"container": "matroska"}, "the video is in a Matroska (MKV) container; TikTok accepts MP4, MOV and WebM"),
        ],
        ids=["15fps", "120fps", "22.5fps", "60.5fps", "no-fps", "320x240", "359-wide", "4097-tall", "4GB+1",
             "12-minutes", "zero-length", "no-duration", "av1", "unknown-codec", "matroska"],
    )
    def test_it_explains_each_problem(self, change: dict, expected: str) -> None:
        problems = check_video(_info(**change))
        assert len(problems) == 1, problems
        assert problems[0].startswith(expected)

    def test_it_uses_the_creators_limit(self, tmp_path: Path) -> None:
        info = probe_video(videos.small_mp4(tmp_path, seconds=3))
        assert check_video(info, max_duration=10) == []
        [problem] = check_video(info, max_duration=2)
        assert problem.startswith("the video is 3.01 seconds long; the limit here is 2 seconds: shorten it")

    def test_it_lists_every_problem_of_a_real_file(self, tmp_path: Path) -> None:
        info = probe_video(videos.small_mp4(tmp_path, fps=15, width=320, height=240))
        problems = check_video(info)
        assert [p.split(";")[0] for p in problems] == ["the video is 15 fps", "the video is 320×240 pixels"]


class TestCheckSize:
    def test_it_accepts_4_gb_exactly(self) -> None:
        assert check_size(4_000_000_000) is None
        assert check_size(0) is None

    def test_it_refuses_one_byte_more_from_stat_alone(self, tmp_path: Path) -> None:
        path = videos.sparse_file(tmp_path / "huge.mp4", 4_000_000_001)
        before = read_bytes_so_far()
        problem = check_size(path.stat().st_size)
        assert read_bytes_so_far() - before < 4096  # the file itself was never read
        assert problem is not None and problem.startswith("the video is 4,000,000,001 bytes")
        assert "make it smaller" in problem


def _info(**change: object) -> VideoInfo:
    values = {**GOOD.__dict__, **change}
    return VideoInfo(**values)  # type: ignore[arg-type]
