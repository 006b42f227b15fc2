"""Dim frames brightened for the detector: left alone when bright, lifted and capped when dim."""

import numpy as np
import pytest

from emocap.detection.exposure import (
    DIM_FRAME_LEVEL, MAX_FRAME_GAIN, brightened_for_detection, frame_gain, uint8_percentile,
)


def ramp_frame(top: int) -> np.ndarray:
    """A BGR frame whose grey levels run evenly from 0 to `top`."""
    row = np.linspace(0, top, 640).round().astype(np.uint8)
    return np.repeat(np.tile(row, (480, 1))[:, :, None], 3, axis=2)


def test_a_bright_frame_is_given_to_the_detector_untouched():
    frame = ramp_frame(255)
    assert frame_gain(frame) == 1.0
    assert brightened_for_detection(frame) is frame


def test_a_dim_frame_is_raised_to_the_level_and_the_original_kept():
    frame = ramp_frame(50)
    gain = frame_gain(frame)
    assert gain == pytest.approx(DIM_FRAME_LEVEL / 49.5, rel=0.02)  # its 99th percentile is ~49.5
    brighter = brightened_for_detection(frame)
    assert np.percentile(brighter, 99) == pytest.approx(DIM_FRAME_LEVEL, abs=5)  # the gain is read on every 4th pixel
    assert frame.max() == 50  # not changed in place


def test_a_black_frame_is_brightened_at_most_the_cap_and_grey_frames_work_too():
    assert frame_gain(np.zeros((48, 64, 3), np.uint8)) == MAX_FRAME_GAIN
    assert frame_gain(np.full((48, 64), 5, np.uint8)) == MAX_FRAME_GAIN
    saturated = brightened_for_detection(np.full((8, 8, 3), 40, np.uint8))
    assert saturated.dtype == np.uint8 and int(saturated.max()) == 200  # 40 x 5


@pytest.mark.parametrize("shape", [(1,), (2,), (7, 5), (120, 160)])
@pytest.mark.parametrize("q", [0, 50, 99, 100])
def test_the_histogram_percentile_is_numpys(shape, q):
    for seed in range(5):
        values = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
        assert uint8_percentile(values, q) == pytest.approx(np.percentile(values, q), rel=1e-12, abs=1e-12)
    assert uint8_percentile(np.full(shape, 255, np.uint8), q) == 255.0
