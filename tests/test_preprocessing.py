"""Face crops: geometry, filtering when shrinking, and boxes that leave the frame."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np

import pytest

from emocap.preprocessing import (
    FER2013_FACE_LIGHT, MAX_CONTRAST_STRETCH, Preprocess, bgr_crops_to_gray, crop_faces, eye_line_angles,
    face_crop_boxes, upright_angles,
)


def noise_frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (240, 320, 3), np.uint8)


def test_a_box_three_times_the_model_size_is_an_exact_area_average():
    frame = noise_frame()
    crop = crop_faces(frame, np.array([[20, 30, 164, 174]]), size=48, margin=0.0)[0]
    gray = cv2.cvtColor(frame[30:174, 20:164], cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(crop, cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA))


def test_shrinking_does_not_alias_fine_detail():
    # One-pixel stripes shrunk 4x: every output pixel must average two black and two white columns.
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, ::2] = 255
    crop = crop_faces(frame, np.array([[40, 40, 232, 232]]), size=48, margin=0.0)[0]
    assert np.abs(crop.astype(int) - 128).max() <= 1, (crop.min(), crop.max())


def test_a_box_between_whole_multiples_keeps_the_face_framed():
    # A bright square filling the middle half of a 150 px box fills the middle half of the crop.
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[67:142, 97:172] = 255
    crop = crop_faces(frame, np.array([[60, 30, 210, 180]]), size=48, margin=0.0)[0]
    assert crop[16:32, 16:32].min() > 200 and crop[:8].max() < 50 and crop[:, :8].max() < 50


def test_margin_grows_the_square_about_the_box_centre():
    squares = face_crop_boxes(np.array([[10, 20, 110, 100]]), margin=0.5)
    np.testing.assert_allclose(squares, [[-15, -15, 135, 135]])


def test_boxes_off_the_frame_replicate_the_border_and_keep_their_scale():
    frame = noise_frame(1)
    crops = crop_faces(frame, np.array([[-60, 100, 40, 200], [-900, -900, -700, -700]]), size=48, margin=0.0)
    assert crops.shape == (2, 48, 48) and crops.dtype == np.uint8
    left_half_edge = crops[0, :, :24]
    assert (left_half_edge == left_half_edge[:, :1]).all()  # every column left of the frame repeats its edge


def test_grayscale_frames_and_gray_crops_are_accepted():
    gray = cv2.cvtColor(noise_frame(2), cv2.COLOR_BGR2GRAY)
    assert crop_faces(gray, np.array([[0, 0, 100, 100]])).shape == (1, 48, 48)
    wide = gray[:20, :200]  # shrunk along its long side: averaged, not sampled
    np.testing.assert_array_equal(
        bgr_crops_to_gray([wide], 48)[0], cv2.resize(wide, (48, 48), interpolation=cv2.INTER_AREA)
    )


def tilted_eyes(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """A black frame with two white dots 60 px apart about (100, 100), their line tilted by `degrees`
    (positive: the right-hand dot lower), and landmarks (1, 5, 2) with those eyes and no other points."""
    frame = np.zeros((200, 200, 3), np.uint8)
    direction = np.array([np.cos(np.radians(degrees)), np.sin(np.radians(degrees))])
    eyes = [np.array([100.0, 100.0]) - 30 * direction, np.array([100.0, 100.0]) + 30 * direction]
    for eye in eyes:
        cv2.circle(frame, (int(round(eye[0])), int(round(eye[1]))), 4, (255, 255, 255), -1)
    landmarks = np.full((1, 5, 2), np.nan)
    landmarks[0, :2] = eyes
    return frame, landmarks


def eye_rows(crop: np.ndarray) -> tuple[float, float]:
    rows, columns = np.nonzero(crop > 100)
    left = columns < crop.shape[1] / 2
    return rows[left].mean(), rows[~left].mean()


def test_a_crop_turned_by_its_eye_line_angle_has_level_eyes():
    frame, landmarks = tilted_eyes(20)
    angles = eye_line_angles(landmarks)
    assert np.degrees(angles) == pytest.approx([20], abs=0.5)
    box = np.array([[40, 40, 160, 160]])
    left, right = eye_rows(crop_faces(frame, box, margin=0.0)[0])
    assert right - left > 5  # as found: the right-hand eye lower
    left, right = eye_rows(crop_faces(frame, box, margin=0.0, angles=angles)[0])
    assert abs(right - left) < 0.5
    np.testing.assert_array_equal(crop_faces(frame, box, angles=np.zeros(1)), crop_faces(frame, box))


def test_eye_line_angles_ignore_the_order_of_the_eyes_and_are_zero_without_landmarks():
    _, landmarks = tilted_eyes(-15)
    swapped = landmarks[:, [1, 0, 2, 3, 4]]
    none = np.full((1, 5, 2), np.nan)
    angles = eye_line_angles(np.concatenate([landmarks, swapped, none]))
    assert np.degrees(angles) == pytest.approx([-15, -15, 0], abs=1e-6)
    assert np.degrees(upright_angles(np.concatenate([landmarks, tilted_eyes(5)[1]]), 10)) == pytest.approx([-15, 0])


def test_one_angle_a_box_or_a_clear_error():
    with pytest.raises(ValueError, match=r"one angle a box \(2\), got shape \(1,\)"):
        crop_faces(noise_frame(), np.array([[0, 0, 50, 50], [10, 10, 60, 60]]), angles=np.zeros(1))
    with pytest.raises(ValueError, match=r"shape \(n, 5, 2\), got shape \(5, 2\)"):
        eye_line_angles(np.zeros((5, 2)))


# --- lifting dim and flat faces (Preprocess.lift_to) ---------------------------------------------


def textured_faces(n: int = 4, seed: int = 0) -> np.ndarray:
    """Faces a little dimmer and flatter than FER2013's average (mean ~0.45, std ~0.25 of full scale)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(115, 64, (n, 48, 48)), 0, 255).astype(np.uint8)


def test_a_face_in_a_third_of_the_light_reaches_the_model_as_the_same_face():
    lifted = Preprocess(lift_to=FER2013_FACE_LIGHT)
    faces = textured_faces()
    dark = np.round(faces * (1 / 3)).astype(np.uint8)
    np.testing.assert_allclose(lifted(dark), lifted(faces), atol=0.05)  # uint8 rounding of the dim copy
    assert np.abs(Preprocess()(dark) - Preprocess()(faces)).mean() > 0.3  # unlifted, they differ
    scaled = lifted(faces)[:, 0] * lifted.std + lifted.mean
    np.testing.assert_allclose(scaled.mean(axis=(1, 2)), FER2013_FACE_LIGHT[0], atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=(1, 2)), FER2013_FACE_LIGHT[1], atol=1e-4)


def test_bright_contrasty_faces_pass_the_lift_unchanged():
    faces = np.tile(np.where(np.arange(48) % 2, 250, 40).astype(np.uint8), (2, 48, 1))  # mean 0.57, std 0.41
    np.testing.assert_array_equal(Preprocess(lift_to=FER2013_FACE_LIGHT)(faces), Preprocess()(faces))


def test_the_lift_stretches_a_nearly_flat_face_at_most_ten_times():
    flat = np.full((1, 48, 48), 120, np.uint8)
    flat[0, ::2] = 121  # std 0.5 / 255
    scaled = Preprocess(lift_to=FER2013_FACE_LIGHT)(flat)[0, 0] * 0.5 + 0.5
    assert scaled.std() == pytest.approx(MAX_CONTRAST_STRETCH * 0.5 / 255, rel=1e-3)
    lifted_blank = Preprocess(lift_to=FER2013_FACE_LIGHT)(np.zeros((1, 48, 48), np.uint8))
    np.testing.assert_allclose(lifted_blank * 0.5 + 0.5, FER2013_FACE_LIGHT[0], atol=1e-6)  # no division by zero


def test_the_lift_travels_in_the_json_and_old_json_means_none():
    lifted = Preprocess(size=64, lift_to=FER2013_FACE_LIGHT)
    assert Preprocess.from_json(lifted.to_json()) == lifted
    assert Preprocess.from_json('{"size": 48, "channels": 1, "mean": 0.5, "std": 0.5}') == Preprocess()


@pytest.mark.parametrize("bad", [(1.5, 0.3), (0.5, 0.0), (0.5,), "0.5,0.3"])
def test_a_bad_lift_target_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match=r"lift_to must be \(mean, std\).*" + re.escape(repr(bad))):
        Preprocess(lift_to=bad)
    with pytest.raises(ValueError, match="no valid preprocessing"):
        Preprocess.from_json(json.dumps({"size": 48, "channels": 1, "mean": 0.5, "std": 0.5, "lift_to": bad}))
