import cv2
import numpy as np
import pytest

from emocap.errors import OutputError
from emocap.outputs import AnnotatedVideoWriter


def frames(count, size=(64, 48)):
    width, height = size
    return [np.full((height, width, 3), 20 * i, np.uint8) for i in range(count)]


def read_back(path):
    capture = cv2.VideoCapture(str(path))
    try:
        images = []
        while True:
            ok, image = capture.read()
            if not ok:
                return images, capture.get(cv2.CAP_PROP_FPS)
            images.append(image)
    finally:
        capture.release()


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".webm"])
def test_frames_are_written_in_order_at_the_given_rate(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with AnnotatedVideoWriter(path, fps=12.5, frame_size=(64, 48)) as video:
        for image in frames(6):
            video.write(image)
    assert video.frames_written == 6
    images, fps = read_back(path)
    assert len(images) == 6 and images[0].shape == (48, 64, 3)
    assert fps == pytest.approx(12.5)
    means = [image.mean() for image in images]
    assert means == sorted(means) and abs(means[-1] - 100) < 8  # lossy codecs, but the order and levels hold
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_error_midway_leaves_no_video(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="stop"):
        with AnnotatedVideoWriter(path, fps=10, frame_size=(64, 48)) as video:
            video.write(frames(1)[0])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_a_video_without_frames_is_an_error_and_no_file(tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        with AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_unsupported_extension_names_the_supported_ones(tmp_path):
    with pytest.raises(OutputError, match=r"'\.gif' is not supported; use \.mp4, \.m4v, \.mov, \.avi, \.webm"):
        AnnotatedVideoWriter(tmp_path / "out.gif", fps=10, frame_size=(64, 48))


def test_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        with AnnotatedVideoWriter(tmp_path / "no" / "out.mp4", fps=10, frame_size=(64, 48)):
            pass


@pytest.mark.parametrize("fps", [0, -1, float("nan"), float("inf"), "30"])
def test_bad_fps_is_refused(tmp_path, fps):
    with pytest.raises(ValueError, match="fps must be a positive number"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=fps, frame_size=(64, 48))


@pytest.mark.parametrize("size", [(0, 48), (64, -1), (64.0, 48)])
def test_bad_frame_size_is_refused(tmp_path, size):
    with pytest.raises(ValueError, match="frame_size"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=size)


def test_frames_of_another_size_are_refused(tmp_path):
    with AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)) as video:
        video.write(frames(1)[0])
        with pytest.raises(ValueError, match=r"like the first one, got uint8 \(48, 32, 3\)"):
            video.write(frames(1, size=(32, 48))[0])


def test_writing_outside_a_with_block_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="not open"):
        AnnotatedVideoWriter(tmp_path / "out.mp4", fps=10, frame_size=(64, 48)).write(frames(1)[0])
