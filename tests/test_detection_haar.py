"""The Haar-cascade fallback and `make_detector`."""

from __future__ import annotations

import numpy as np
import pytest

from emocap.detection import HaarFaceDetector, MtcnnFaceDetector, make_detector
from emocap.geometry import iou_matrix
from emocap_testkit.faces import FACE_REGIONS, face_scene, grace_hopper_bgr


@pytest.fixture(scope="module")
def haar():
    return HaarFaceDetector()


def test_haar_finds_grace_hopper_with_the_same_interface(haar):
    faces = haar.detect(grace_hopper_bgr())
    assert len(faces) == 1
    assert iou_matrix(faces.boxes, [FACE_REGIONS["grace_hopper"]])[0, 0] > 0.5
    assert faces.boxes.dtype == np.float32
    np.testing.assert_array_equal(faces.scores, [1.0])  # the cascade has no calibrated confidence
    assert faces.landmarks.shape == (1, 5, 2) and np.isnan(faces.landmarks).all()


def test_haar_finds_pasted_faces_and_nothing_on_a_blank_frame(haar):
    frame, truth = face_scene(640, 480, 4, 100, seed=4)
    faces = haar.detect(frame)
    assert len(faces) == 4
    assert np.all(iou_matrix(truth, faces.boxes).max(axis=1) > 0.4)
    assert len(haar.detect(np.full((200, 200, 3), 90, np.uint8))) == 0


def test_haar_rejects_bad_frames(haar):
    with pytest.raises(ValueError, match="frame must"):
        haar.detect(np.zeros((50, 50), np.uint8))


@pytest.mark.parametrize(
    ("options", "quoted"),
    [
        ({"min_face_size": 10}, "10"),
        ({"min_face_size": 30.5}, "30.5"),
        ({"scale_factor": 1.0}, "1.0"),
        ({"min_neighbors": -1}, "-1"),
        ({"cascade": "no_such_cascade.xml"}, "'no_such_cascade.xml'"),
    ],
)
def test_haar_bad_options_raise_value_error_quoting_the_value(options, quoted):
    with pytest.raises(ValueError, match=f"{next(iter(options))} must") as error:
        HaarFaceDetector(**options)
    assert quoted in str(error.value)


def test_make_detector_builds_each_kind_with_its_options():
    mtcnn = make_detector("mtcnn", min_face_size=60, threads=1)
    assert isinstance(mtcnn, MtcnnFaceDetector) and mtcnn.min_face_size == 60
    haar = make_detector("haar", min_neighbors=3)
    assert isinstance(haar, HaarFaceDetector) and haar.min_neighbors == 3


def test_make_detector_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="'retinaface'"):
        make_detector("retinaface")
    with pytest.raises(ValueError, match=r"\['thresholds'\]"):
        make_detector("haar", thresholds=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="min_face_size must"):
        make_detector("mtcnn", min_face_size=2)
