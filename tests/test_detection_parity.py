"""The ONNX MTCNN networks against an independent PyTorch port of the `mtcnn` package's Keras networks.

The reference below follows the Keras layer definitions in
`mtcnn/network/{pnet,rnet,onet}.py` literally: NHWC semantics, TensorFlow
"same" max-pooling, Permute((2, 1, 3)) before Flatten, PReLU, two-way softmax.
It shares nothing with the ONNX builder except the weight arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from emocap.detection import MtcnnFaceDetector  # noqa: E402
from emocap.detection.crops import box_crops  # noqa: E402
from emocap.detection.mtcnn_stages import (  # noqa: E402
    network_input_from_crops,
    network_input_from_image,
    output_stage,
    propose,
    pyramid_scales,
    refine,
)
from emocap.detection.networks import NETWORK_NAMES, MtcnnNetworks  # noqa: E402
from emocap.training.mtcnn_onnx import load_keras_weights  # noqa: E402
from emocap_testkit.faces import astronaut_bgr, face_scene  # noqa: E402

TOLERANCE = 1e-4


def _conv_prelu(x, kernel, bias, alpha):
    x = F.conv2d(x, torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias))
    return F.prelu(x, torch.from_numpy(alpha.reshape(-1)))


def _max_pool_tf(x, size, same):
    """tf.keras MaxPooling2D, stride 2; 'same' pads with -inf, the extra cell after."""
    if same:
        pads = []
        for length in (x.shape[3], x.shape[2]):  # F.pad order: last dim first
            total = max((math.ceil(length / 2) - 1) * 2 + size - length, 0)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads, value=-math.inf)
    return F.max_pool2d(x, size, 2)


def _keras_flatten_dense_prelu(x, weight, bias, alpha):
    flat = x.permute(0, 3, 2, 1).reshape(len(x), -1)  # NCHW -> NWHC: Keras Permute((2,1,3)) of NHWC, then Flatten
    return F.prelu(flat @ torch.from_numpy(weight) + torch.from_numpy(bias), torch.from_numpy(alpha))


def _dense(x, weight, bias):
    return x @ torch.from_numpy(weight) + torch.from_numpy(bias)


def reference_pnet(w, x):
    x = _max_pool_tf(_conv_prelu(x, *w[0:3]), 2, same=True)
    x = _conv_prelu(_conv_prelu(x, *w[3:6]), *w[6:9])
    regression = F.conv2d(x, torch.from_numpy(w[9]).permute(3, 2, 0, 1), torch.from_numpy(w[10]))
    logits = F.conv2d(x, torch.from_numpy(w[11]).permute(3, 2, 0, 1), torch.from_numpy(w[12]))
    return {"regression": regression, "probabilities": F.softmax(logits, dim=1)}


def reference_rnet(w, x):
    x = _max_pool_tf(_conv_prelu(x, *w[0:3]), 3, same=True)
    x = _max_pool_tf(_conv_prelu(x, *w[3:6]), 3, same=False)
    x = _keras_flatten_dense_prelu(_conv_prelu(x, *w[6:9]), *w[9:12])
    return {"regression": _dense(x, *w[12:14]), "probabilities": F.softmax(_dense(x, *w[14:16]), dim=1)}


def reference_onet(w, x):
    x = _max_pool_tf(_conv_prelu(x, *w[0:3]), 3, same=True)
    x = _max_pool_tf(_conv_prelu(x, *w[3:6]), 3, same=False)
    x = _max_pool_tf(_conv_prelu(x, *w[6:9]), 2, same=True)
    x = _keras_flatten_dense_prelu(_conv_prelu(x, *w[9:12]), *w[12:15])
    return {
        "regression": _dense(x, *w[15:17]),
        "landmarks": _dense(x, *w[17:19]),
        "probabilities": F.softmax(_dense(x, *w[19:21]), dim=1),
    }


REFERENCES = {"pnet": reference_pnet, "rnet": reference_rnet, "onet": reference_onet}


class ReferenceNetwork:
    """A reference network in the ONNX graphs' output layout: regression, [landmarks], face logit."""

    def __init__(self, name: str) -> None:
        self._forward = REFERENCES[name]
        self._weights = load_keras_weights(name)

    def parts(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {key: value.numpy() for key, value in self._forward(self._weights, torch.from_numpy(batch)).items()}

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        parts = self.parts(batch)
        probabilities = parts.pop("probabilities").astype(np.float64)
        face_logit = np.log(probabilities[:, 1:2]) - np.log(probabilities[:, :1])
        return np.concatenate([*parts.values(), face_logit], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def onnx_networks():
    return MtcnnNetworks.from_files(threads=1)


@pytest.fixture(scope="module")
def reference_networks():
    return MtcnnNetworks(**{name: ReferenceNetwork(name) for name in NETWORK_NAMES})


def _compare(onnx_output: np.ndarray, reference: ReferenceNetwork, batch: np.ndarray) -> None:
    parts = reference.parts(batch)
    face_probability = 1 / (1 + np.exp(-onnx_output[:, -1].astype(np.float64)))
    assert np.abs(onnx_output[:, :4] - parts["regression"]).max() < TOLERANCE
    assert np.abs(face_probability - parts["probabilities"][:, 1]).max() < TOLERANCE
    if "landmarks" in parts:
        assert np.abs(onnx_output[:, 4:14] - parts["landmarks"]).max() < TOLERANCE


def test_pnet_matches_reference_on_a_real_frame(onnx_networks, reference_networks):
    frame, _ = face_scene(200, 150, 2, 50, seed=3)
    # odd height and width exercise the 'same' pooling's padding
    batch = network_input_from_image(frame[:149, :199])
    output = onnx_networks.pnet(batch)
    assert output.shape == (1, 5, 70, 95)  # 149 -> 147 -> pool 74 -> 72 -> 70
    _compare(output, reference_networks.pnet, batch)


@pytest.mark.parametrize(("name", "size"), [("rnet", 24), ("onet", 48)])
def test_rnet_and_onet_match_reference_on_real_crops(onnx_networks, reference_networks, name, size):
    frame = astronaut_bgr()
    boxes = np.array([[175, 55, 270, 175], [10, 10, 90, 90], [400, -20, 560, 140], [200, 300, 230, 330.5]])
    batch = network_input_from_crops(box_crops(frame, boxes, size))
    output = getattr(onnx_networks, name)(batch)
    assert output.shape == (4, 15 if name == "onet" else 5)
    _compare(output, getattr(reference_networks, name), batch)


def test_networks_match_reference_on_random_input(onnx_networks, reference_networks):
    rng = np.random.default_rng(0)
    for name, shape in [("pnet", (2, 3, 31, 40)), ("rnet", (7, 3, 24, 24)), ("onet", (7, 3, 48, 48))]:
        batch = rng.uniform(-1, 1, shape).astype(np.float32)
        output = getattr(onnx_networks, name)(batch)
        if name == "pnet":  # compare per window: (N, C, h, w) -> (N*h*w, C)
            output = output.transpose(0, 2, 3, 1).reshape(-1, 5)
            parts = reference_networks.pnet.parts(batch)
            flat = {key: value.transpose(0, 2, 3, 1).reshape(-1, value.shape[1]) for key, value in parts.items()}
            assert np.abs(output[:, :4] - flat["regression"]).max() < TOLERANCE
            assert np.abs(1 / (1 + np.exp(-output[:, 4])) - flat["probabilities"][:, 1]).max() < TOLERANCE
        else:
            _compare(output, getattr(reference_networks, name), batch)


def test_each_stage_matches_the_stage_run_on_reference_networks(onnx_networks, reference_networks):
    frame = astronaut_bgr()
    scales = pyramid_scales(*frame.shape[:2], 20, 0.709)
    ours = propose(onnx_networks.pnet, frame, scales, 0.6)
    theirs = propose(reference_networks.pnet, frame, scales, 0.6)
    for stage, network, threshold in [(None, None, None), (refine, "rnet", 0.7), (output_stage, "onet", 0.7)]:
        if stage is not None:
            ours = stage(getattr(onnx_networks, network), frame, ours, threshold)
            theirs = stage(getattr(reference_networks, network), frame, theirs, threshold)
        assert len(ours) == len(theirs) >= 1
        np.testing.assert_allclose(ours.boxes, theirs.boxes, atol=1e-2)
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=TOLERANCE)
    np.testing.assert_allclose(ours.landmarks, theirs.landmarks, atol=1e-2)


@pytest.mark.slow
def test_whole_detector_matches_reference_networks(onnx_networks, reference_networks):
    frame, _ = face_scene(320, 240, 2, 70, seed=5)
    for image in (astronaut_bgr(), frame):
        ours = MtcnnFaceDetector(min_face_size=20, networks=onnx_networks).detect(image)
        reference = MtcnnFaceDetector(min_face_size=20, networks=reference_networks).detect(image)
        assert len(ours) == len(reference) >= 1
        np.testing.assert_allclose(ours.boxes, reference.boxes, atol=1e-2)
        np.testing.assert_allclose(ours.landmarks, reference.landmarks, atol=1e-2)
        np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-5)


def test_shipped_models_are_what_the_builder_makes():
    pytest.importorskip("onnx")
    from emocap.training.mtcnn_onnx import build_model_bytes, model_path

    for name in NETWORK_NAMES:
        assert model_path(name).read_bytes() == build_model_bytes(name), name


def test_rebuilt_networks_give_the_shipped_networks_outputs(onnx_networks):
    pytest.importorskip("onnx")
    from emocap.training.mtcnn_onnx import networks_from_keras_weights

    rebuilt = networks_from_keras_weights(threads=1)
    batch = np.random.default_rng(1).uniform(-1, 1, (3, 3, 48, 48)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.onet(batch), onnx_networks.onet(batch))


def test_build_script_writes_readable_models(tmp_path):
    pytest.importorskip("onnx")
    from emocap.training.mtcnn_onnx import main, model_path

    assert main(["--out", str(tmp_path)]) == 0
    for name in NETWORK_NAMES:
        written = model_path(name, tmp_path)
        assert written.read_bytes() == model_path(name).read_bytes()
        assert written.stat().st_mode & 0o044 == 0o044  # package data must be readable by all
    assert MtcnnNetworks.from_files(threads=1, models_dir=tmp_path).pnet is not None
