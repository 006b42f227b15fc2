import re
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from emocap.errors import SourceError
from emocap.sources import (
    CaptureSource,
    Frame,
    ImageSequenceSource,
    MonotonicClock,
    ScreenRegion,
    ScreenSource,
    _region_on_screen,
    natural_key,
    open_path,
    open_source,
    parse_screen_spec,
    sample_clip,
)


def write_video(path: Path, frames: int = 6, fps: float = 10.0, size=(64, 48)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for i in range(frames):
            writer.write(np.full((size[1], size[0], 3), 20 * i % 250, np.uint8))
    finally:
        writer.release()
    return path


def write_image(path: Path, value: int, size=(32, 24)) -> Path:
    assert cv2.imwrite(str(path), np.full((size[1], size[0], 3), value, np.uint8))
    return path


class FakeCapture:
    """A cv2.VideoCapture stand-in: given frames, then failure; POS_MSEC from a list."""

    def __init__(self, frames: int, stamps_ms=None, fps: float = 0.0) -> None:
        self.frames = [np.full((4, 6, 3), i, np.uint8) for i in range(frames)]
        self.stamps_ms = list(stamps_ms or [0.0] * frames)
        self.fps = fps
        self.position = 0
        self.released = False

    def read(self):
        if self.position >= len(self.frames):
            return False, None
        self.position += 1
        return True, self.frames[self.position - 1]

    def get(self, prop):
        if prop == cv2.CAP_PROP_POS_MSEC:
            return self.stamps_ms[self.position - 1]
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        return 0.0

    def release(self):
        self.released = True


def test_missing_file_is_a_one_line_source_error(tmp_path):
    spec = str(tmp_path / "nope.mp4")
    with pytest.raises(SourceError, match="no such file") as caught:
        open_source(spec)
    assert repr(spec) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name, content", [("notes.txt", b"hello"), ("fake.mp4", b"not a video at all" * 10), ("empty.avi", b"")])
def test_non_video_file_is_a_source_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match="cannot open video") as caught:
        open_source(str(path))
    assert repr(str(path)) in str(caught.value)


def test_missing_camera_is_a_source_error_quoting_the_index():
    with pytest.raises(SourceError, match=r"cannot open camera 97 \('97'\)"):
        open_source("97")


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec_is_a_source_error(spec):
    with pytest.raises(SourceError, match="no source given"):
        open_source(spec)


def test_video_file_frames_times_and_properties(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=6, fps=10.0)
    with open_source(str(path)) as source:
        assert (source.size, source.fps, source.frame_count, source.is_live) == ((64, 48), 10.0, 6, False)
        frames = list(source)
    assert [f.index for f in frames] == list(range(6))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(6) / 10.0, atol=1e-6)
    assert all(f.image_bgr.shape == (48, 64, 3) and f.image_bgr.dtype == np.uint8 for f in frames)
    assert source.end_reason == "end of video"


def write_timed_video(path: Path, stamps_ms: list[int]) -> Path:
    """A Matroska video (PyAV, H.264) whose frames sit at the given times: a variable frame rate."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, stamp in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * index, np.uint8), format="bgr24")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_video_time_stamps_follow_the_container_for_variable_frame_rates(tmp_path):
    path = write_timed_video(tmp_path / "vfr.mkv", [0, 40, 120, 130])
    with open_source(str(path)) as source:
        assert [f.time_s for f in source] == pytest.approx([0.0, 0.04, 0.12, 0.13])
    assert not source.truncated


def test_a_part_of_a_video_is_found_by_seeking_and_keeps_the_video_s_times(tmp_path):
    path = write_video(tmp_path / "long.mp4", frames=60, fps=10.0)
    with open_path(path, start_s=2.0, end_s=3.0) as source:
        times = [f.time_s for f in source]
    assert times == pytest.approx(np.arange(20, 30) / 10.0)
    assert source.end_reason == "reached --end 3 s" and not source.truncated
    with open_path(path, start_s=5.5) as source:
        assert [f.time_s for f in source] == pytest.approx(np.arange(55, 60) / 10.0)
    with pytest.raises(SourceError, match=r"gave no frame after 9 s"):
        open_path(path, start_s=9.0)


def test_a_video_decoded_on_one_thread_gives_the_same_frames(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=12, fps=10.0)
    with open_path(path) as source:
        default = [frame.image_bgr for frame in source]
    with open_path(path, decode_threads=1) as source:
        assert source._container.streams.video[0].codec_context.thread_count == 1
        one_thread = [frame.image_bgr for frame in source]
    assert len(one_thread) == len(default) == 12
    assert all(np.array_equal(a, b) for a, b in zip(one_thread, default))


def test_monotonic_clock_counts_from_the_first_call():
    ticks = iter([100.0, 100.25, 101.0])
    clock = MonotonicClock(now=lambda: next(ticks))
    assert [clock(), clock(), clock()] == [0.0, 0.25, 1.0]


def test_camera_that_stops_mid_stream_ends_iteration_cleanly():
    capture = FakeCapture(3)
    source = CaptureSource("0", capture, first=capture.read()[1])
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2]
    times = [f.time_s for f in frames]
    assert times[0] == 0.0 and times == sorted(times)
    assert "stopped sending frames" in source.end_reason
    assert capture.released and source.frame_count is None


def test_grayscale_camera_frames_become_bgr():
    capture = FakeCapture(0)
    gray = np.zeros((4, 6), np.uint8)
    source = CaptureSource("0", capture, first=gray)
    assert next(iter(source)).image_bgr.shape == (4, 6, 3)


def test_source_is_released_on_context_exit_and_on_break(tmp_path):
    path = write_video(tmp_path / "clip.mp4")
    with open_source(str(path)) as source:
        pass
    assert source._closed
    source = open_source(str(path))
    for frame in source:
        break
    assert source._closed


def test_image_folder_is_read_in_natural_order_with_spaced_time_stamps(tmp_path):
    for name, value in [("frame10.png", 10), ("frame2.png", 2), ("frame1.jpg", 1), ("Frame3.bmp", 3)]:
        write_image(tmp_path / name, value)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()
    with open_source(str(tmp_path), image_fps=4.0) as source:
        assert source.frame_count == 4 and source.fps == 4.0 and source.size == (32, 24)
        frames = list(source)
    assert [int(f.image_bgr[0, 0, 0]) for f in frames] == [1, 2, 3, 10]
    assert [f.time_s for f in frames] == [0.0, 0.25, 0.5, 0.75]


def test_natural_key_orders_numbers_by_value():
    names = ["b.png", "a10.png", "a9.png", "a100x.png", "A1.png"]
    assert sorted(names, key=lambda n: natural_key(Path(n))) == ["A1.png", "a9.png", "a10.png", "a100x.png", "b.png"]


def test_single_image_file_is_one_frame(tmp_path):
    path = write_image(tmp_path / "photo.png", 77)
    frames = list(open_source(str(path)))
    assert len(frames) == 1 and frames[0].time_s == 0.0 and frames[0].image_bgr[0, 0, 0] == 77


def test_corrupt_image_in_a_folder_names_the_file(tmp_path):
    write_image(tmp_path / "1.png", 1)
    (tmp_path / "2.png").write_bytes(b"broken")
    source = open_source(str(tmp_path))
    with pytest.raises(SourceError, match=r"cannot decode image .*2\.png"):
        list(source)
    assert source._closed


def test_folder_without_images_is_a_source_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match="has no images"):
        open_source(str(tmp_path))


def test_unreadable_single_image_is_a_source_error(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(SourceError, match="cannot decode image"):
        open_source(str(path))


def test_read_image_words_every_failure_as_one_source_error_quoting_the_file(tmp_path):
    """emocap.images.read_image is the one reader of image files: a missing file, one that is not an
    image and one over the size limit all end as SourceError naming the file, never OSError."""
    from emocap.images import read_image

    missing, broken, large = tmp_path / "missing.png", tmp_path / "broken.png", tmp_path / "large.png"
    broken.write_bytes(b"broken")
    write_image(large, 5)
    with pytest.raises(SourceError, match=rf"^cannot read image {re.escape(repr(str(missing)))}: No such file"):
        read_image(missing)
    with pytest.raises(SourceError, match=rf"^cannot decode image {re.escape(repr(str(broken)))}: "):
        read_image(broken)
    with pytest.raises(SourceError, match=rf"^cannot decode image {re.escape(repr(str(large)))}: .* larger than 16"):
        read_image(large, max_side=16)
    assert read_image(large).shape[2] == 3


def test_image_fps_must_be_positive(tmp_path):
    path = write_image(tmp_path / "a.png", 1)
    with pytest.raises(ValueError, match="image_fps must be positive, got 0"):
        ImageSequenceSource("a.png", [path], fps=0)


@pytest.mark.parametrize(
    "spec, region",
    [
        ("screen", None),
        ("SCREEN", None),
        ("screen:0,0,640,480", ScreenRegion(0, 0, 640, 480)),
        ("screen: 10, 20 ,300,200", ScreenRegion(10, 20, 300, 200)),
        ("screen:-1920,0,800,600", ScreenRegion(-1920, 0, 800, 600)),
    ],
)
def test_screen_specs_parse(spec, region):
    assert parse_screen_spec(spec) == region


@pytest.mark.parametrize(
    "spec, message",
    [
        ("screen:", "four whole numbers"),
        ("screen:1,2,3", "four whole numbers"),
        ("screen:1,2,3,4,5", "four whole numbers"),
        ("screen:a,b,c,d", "four whole numbers"),
        ("screen:1.5,2,3,4", "four whole numbers"),
        ("screen:0,0,0,480", "positive width and height"),
        ("screen:0,0,640,-1", "positive width and height"),
    ],
)
def test_bad_screen_specs_are_source_errors_quoting_the_spec(spec, message):
    with pytest.raises(SourceError, match=message) as caught:
        open_source(spec)
    assert repr(spec) in str(caught.value)


def test_screen_region_checks_its_size():
    with pytest.raises(ValueError, match="got 0x5"):
        ScreenRegion(0, 0, 0, 5)


def test_screen_region_must_lie_on_the_screen():
    monitors = [{"left": 0, "top": 0, "width": 3840, "height": 1080}, {"left": 0, "top": 0, "width": 1920, "height": 1080}]
    assert _region_on_screen("screen", None, monitors) == ScreenRegion(0, 0, 1920, 1080)
    inside = ScreenRegion(2000, 100, 640, 480)
    assert _region_on_screen("s", inside, monitors) == inside
    with pytest.raises(SourceError, match=r"'screen:3500,0,640,480' is outside the screen"):
        _region_on_screen("screen:3500,0,640,480", ScreenRegion(3500, 0, 640, 480), monitors)


def test_screen_max_fps_must_be_positive():
    with pytest.raises(ValueError, match="max_fps must be positive or None, got -2"):
        ScreenSource("screen", None, max_fps=-2)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 display variable is Linux-specific")
def test_screen_without_a_display_is_a_source_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SourceError, match=r"cannot capture the screen \('screen'\)"):
        open_source("screen")


def test_screen_grab_region_and_throttle(virtual_screen, monkeypatch):
    monkeypatch.setenv("DISPLAY", virtual_screen.display)
    with open_source("screen:0,0,64,32", max_fps=20) as source:
        assert source.size == (64, 32) and source.is_live
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == 4:
                break
    assert all(f.image_bgr.shape == (32, 64, 3) and f.image_bgr.flags.c_contiguous for f in frames)
    # 20 fps cap: three intervals take at least ~0.15 s.
    assert frames[-1].time_s >= 0.14


def test_frame_is_frozen():
    frame = Frame(0, 0.0, np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(AttributeError):
        frame.index = 1


def test_bundled_sample_clip_is_small_and_readable():
    path = sample_clip()
    assert path.is_file() and path.stat().st_size < 2_000_000
    assert (path.parent / "README.md").is_file() and (path.parent / "LICENSE").is_file()
    with open_source(str(path)) as source:
        assert source.size == (640, 360) and source.fps == 15.0 and source.frame_count == 135
        last = None
        for last in source:
            pass
    assert last.index == 134 and last.time_s == pytest.approx(134 / 15.0)


def test_video_frames_keep_the_presentation_times_of_a_stream_that_starts_late(tmp_path):
    from video_fixtures import write_clip_with_tone

    path = write_clip_with_tone(tmp_path / "late.mp4", video_start_s=0.8, audio_s=2.8)
    with open_path(path) as source:
        assert [f.time_s for f in source] == pytest.approx(0.8 + np.arange(30) / 15)
    with open_path(path, start_s=1.2) as source:  # --start reads the same timeline
        assert [f.time_s for f in source] == pytest.approx(0.8 + np.arange(6, 30) / 15)


def corner_pattern(height: int = 48, width: int = 64) -> np.ndarray:
    """Black with a white top-left quarter: any turn or mirror of it is told apart from it."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = 255
    return image


@pytest.mark.skipif(not hasattr(__import__("av").video.stream.VideoStream, "set_display_rotation"),
                    reason="this PyAV cannot write a display matrix")
@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_a_video_stored_sideways_with_a_display_matrix_is_read_upright(tmp_path, rotation):
    """Phones store portrait video sideways and say in a display matrix how to show it; its frames
    were read as stored (sideways: no face found)."""
    from hostile_media import stored_sideways, write_h264_video

    upright = corner_pattern()
    path = write_h264_video(tmp_path / "phone.mp4", [stored_sideways(upright, rotation)] * 3, display_rotation=rotation)
    with open_path(path) as source:
        frames = [frame.image_bgr for frame in source]
    assert source.size == (64, 48) and [frame.shape for frame in frames] == [(48, 64, 3)] * 3
    quarters = frames[0][::24, ::32, 0].reshape(2, 2, 1).mean(axis=2)  # a pixel inside each quarter's corner
    np.testing.assert_allclose(quarters, [[255, 0], [0, 0]], atol=40)


def test_a_variable_rate_video_is_read_to_its_end_at_its_own_times(tmp_path):
    """A Matroska file says 30 fps and 4 s, but holds 12 frames at irregular times: it was refused as
    truncated ("ended after 12 of 120 frames")."""
    from hostile_media import write_h264_video

    stamps_ms = [0, 40, 400, 433, 1200, 1900, 2000, 2033, 2700, 3300, 3900, 3966]
    images = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(len(stamps_ms))]
    path = write_h264_video(tmp_path / "vfr.mkv", images, stamps_ms=stamps_ms, nominal_fps=30)
    with open_path(path) as source:
        assert source.fps == 30.0 and [frame.time_s for frame in source] == pytest.approx(np.array(stamps_ms) / 1000)
    assert not source.truncated and source.end_reason == "end of video"


def test_a_cut_video_without_a_frame_count_is_found_short_by_its_times(tmp_path):
    from hostile_media import write_h264_video

    images = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), np.uint8) for i in range(60)]
    path = write_h264_video(tmp_path / "cut.mkv", images, nominal_fps=10)  # 6 s, which its header keeps
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with open_path(path) as source:
        last = [frame.time_s for frame in source][-1]
    assert source.truncated and last < 4.0
    assert source.end_reason == f"{str(path)!r} ended at {last:g} s, not at 6 s as its container says: the file looks truncated"
