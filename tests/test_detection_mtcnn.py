"""MtcnnFaceDetector (MTCNN on ONNX Runtime) on real photos, and its input checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emocap.detection import MtcnnFaceDetector
from emocap.geometry import iou_matrix
from emocap.detection.crops import box_crops
from emocap.detection.mtcnn_stages import (
    Candidates,
    image_pyramid,
    network_input_from_crops,
    network_input_from_image,
    output_stage,
    pyramid_scales,
    refine,
)
from emocap.detection.networks import MtcnnNetworks
from emocap.types import Faces
from emocap_testkit.faces import FACE_REGIONS, astronaut_bgr, face_patch, face_scene, grace_hopper_bgr

pytest.importorskip("skimage")


@pytest.fixture(scope="module")
def detector():
    return MtcnnFaceDetector(min_face_size=20, threads=1)


def test_astronaut_has_exactly_one_confident_face_where_it_is(detector):
    faces = detector.detect(astronaut_bgr())
    assert isinstance(faces, Faces)
    assert len(faces) == 1
    assert faces.scores[0] > 0.99
    assert faces.boxes.dtype == np.float32 and faces.landmarks.shape == (1, 5, 2)
    centre_x, centre_y = faces.centers[0]
    assert 150 < centre_x < 250 and 50 < centre_y < 150  # hand-checked: her face, not the helmet or patch
    assert iou_matrix(faces.boxes, [FACE_REGIONS["astronaut"]])[0, 0] > 0.6
    left_eye, right_eye, nose, mouth_left, mouth_right = faces.landmarks[0]
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    x1, y1, x2, y2 = faces.boxes[0]
    assert np.all((faces.landmarks[0] > [x1, y1]) & (faces.landmarks[0] < [x2, y2]))


def test_grace_hopper_is_found(detector):
    faces = detector.detect(grace_hopper_bgr())
    assert len(faces) == 1 and faces.scores[0] > 0.99
    assert iou_matrix(faces.boxes, [FACE_REGIONS["grace_hopper"]])[0, 0] > 0.6


def test_network_inputs_are_rgb_scaled_like_the_keras_models():
    """The networks were trained on RGB in (x - 127.5) / 128; frames and crops are BGR uint8."""
    blue_bgr = np.zeros((4, 6, 3), np.uint8)
    blue_bgr[..., 0] = 255
    for batch in (network_input_from_image(blue_bgr), network_input_from_crops(blue_bgr[None, :4, :4])):
        assert batch.dtype == np.float32 and batch.shape[1] == 3
        np.testing.assert_allclose(batch[0, 2], 127.5 / 128)  # blue is the last RGB channel
        np.testing.assert_allclose(batch[0, :2], -127.5 / 128)


@pytest.mark.parametrize(("width", "height", "count", "side"), [(640, 480, 4, 100), (640, 480, 8, 45), (480, 360, 6, 30)])
def test_several_pasted_faces_are_each_found_once(detector, width, height, count, side):
    frame, truth = face_scene(width, height, count, side, seed=count)
    faces = detector.detect(frame)
    assert len(faces) == count
    overlaps = iou_matrix(truth, faces.boxes)
    assert np.all(overlaps.max(axis=1) > 0.5)  # every face found ...
    assert np.all((overlaps > 0.3).sum(axis=0) == 1)  # ... by exactly one box
    assert np.all(faces.scores >= 0.95)
    assert np.all(np.diff(faces.scores) <= 0)  # best first


def test_faces_smaller_than_min_face_size_are_not_searched():
    frame, _ = face_scene(480, 360, 6, 30, seed=6)
    assert len(MtcnnFaceDetector(min_face_size=20, threads=1).detect(frame)) == 6
    assert len(MtcnnFaceDetector(min_face_size=60, threads=1).detect(frame)) == 0


def test_min_confidence_filters_the_final_scores(detector):
    frame, _ = face_scene(640, 480, 4, 100, seed=4)
    scores = detector.detect(frame).scores
    strict = MtcnnFaceDetector(min_face_size=20, min_confidence=float(np.median(scores)), threads=1).detect(frame)
    assert 1 <= len(strict) < len(scores)
    assert np.all(strict.scores >= np.median(scores))


def test_frames_without_faces_give_empty_faces(detector):
    for frame in (np.full((240, 320, 3), 128, np.uint8), np.zeros((11, 11, 3), np.uint8), np.zeros((1, 1, 3), np.uint8)):
        faces = detector.detect(frame)
        assert len(faces) == 0 and faces.boxes.shape == (0, 4) and faces.landmarks.shape == (0, 5, 2)


def test_face_cut_by_the_frame_edge_is_still_found(detector):
    frame, truth = face_scene(400, 300, 1, 140, seed=1)
    x1 = int(truth[0, 0] + (truth[0, 2] - truth[0, 0]) * 0.25)
    faces = detector.detect(np.ascontiguousarray(frame[:, x1:]))  # a quarter of the face is outside
    assert len(faces) == 1


def test_input_frame_is_not_modified(detector):
    frame = astronaut_bgr()
    before = frame.copy()
    detector.detect(frame)
    np.testing.assert_array_equal(frame, before)


def test_non_contiguous_frames_are_accepted(detector):
    photo = astronaut_bgr()
    wide = np.zeros((512, 1024, 3), np.uint8)
    wide[:, ::2] = photo
    assert len(detector.detect(wide[:, ::2])) == 1


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((100, 100, 3), np.float32),
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 4), np.uint8),
        np.zeros((0, 100, 3), np.uint8),
        [[0, 0, 0]],
    ],
)
def test_bad_frames_raise_value_error(detector, frame):
    with pytest.raises(ValueError, match="frame must"):
        detector.detect(frame)


@pytest.mark.parametrize(
    ("options", "quoted"),
    [
        ({"min_face_size": 8}, "8"),
        ({"min_face_size": float("nan")}, "nan"),
        ({"min_face_size": "20"}, "'20'"),
        ({"thresholds": (0.6, 0.7)}, "(0.6, 0.7)"),
        ({"thresholds": (0.6, 1.0, 0.7)}, "1.0"),
        ({"min_confidence": 1.5}, "1.5"),
        ({"scale_factor": 1.2}, "1.2"),
        ({"scale_factor": 0}, "0"),
        ({"threads": 0}, "0"),
        ({"threads": 1.5}, "1.5"),
    ],
)
def test_bad_options_raise_value_error_quoting_the_value(options, quoted):
    with pytest.raises(ValueError, match=f"{next(iter(options))} must") as error:
        MtcnnFaceDetector(**options)
    assert quoted in str(error.value)


def test_pyramid_scales_cover_faces_from_min_face_size_to_the_frame():
    scales = pyramid_scales(480, 640, 40, 0.709)
    assert scales[0] == pytest.approx(12 / 40)
    np.testing.assert_allclose(scales[1:] / scales[:-1], 0.709)
    assert 480 * scales[-1] >= 12 > 480 * scales[-1] * 0.709
    levels = image_pyramid(np.zeros((480, 640, 3), np.uint8), scales)
    assert [level.shape[0] for level in levels] == [int(np.ceil(480 * s)) for s in scales]


def test_box_crops_sample_inside_and_pad_black_outside():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    inside = box_crops(frame, np.array([[10.0, 4.0, 58.0, 52.0]]), 24)[0]
    # a 2x shrink samples between each 2x2 block, like cv2.resize's bilinear
    expected = cv2.resize(frame[4:52, 10:58], (24, 24), interpolation=cv2.INTER_LINEAR)
    assert np.abs(inside.astype(int) - expected).max() <= 1
    half_out = box_crops(frame, np.array([[-40.0, 10.0, 40.0, 90.0]]), 48)[0]
    assert np.all(half_out[:, :23] == 0) and np.all(half_out[:23] [:, 25:].any(axis=-1))
    many = rng.uniform(0, 50, (700, 2))
    boxes = np.concatenate([many, many + 20], axis=1)
    crops = box_crops(frame, boxes, 48)  # more than fit one 32767-pixel column of crops
    assert crops.shape == (700, 48, 48, 3)
    np.testing.assert_array_equal(crops[699], box_crops(frame, boxes[699:], 48)[0])


def test_sample_scenes_reject_impossible_requests():
    with pytest.raises(ValueError, match="count must be >= 1, got 0"):
        face_scene(640, 480, 0, 50)
    with pytest.raises(ValueError, match="do not fit"):
        face_scene(320, 240, 8, 120)
    with pytest.raises(ValueError, match="'lena'"):
        face_patch("lena")


def test_missing_model_files_say_how_to_rebuild_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="emocap.training.mtcnn_onnx"):
        MtcnnNetworks.from_files(models_dir=tmp_path)


def test_later_stages_drop_inside_out_boxes_and_pass_empty_candidates_on():
    networks = MtcnnNetworks.from_files(threads=1)
    frame = astronaut_bgr()
    inside_out = Candidates(np.array([[270.0, 175.0, 175.0, 55.0]]), np.array([0.9]))
    assert len(refine(networks.rnet, frame, inside_out, 0.7)) == 0
    final = output_stage(networks.onet, frame, Candidates.empty(), 0.7)
    assert final.boxes.shape == (0, 4) and final.landmarks.shape == (0, 5, 2)
    face = Candidates(np.array([[175.0, 55.0, 270.0, 175.0]]), np.array([0.9]))
    assert len(output_stage(networks.onet, frame, refine(networks.rnet, frame, face, 0.7), 0.7)) == 1
