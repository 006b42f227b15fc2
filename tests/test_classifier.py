"""EmotionClassifier on small ONNX models built here with onnx.helper.

The test model is linear (faces -> embedding -> logits), so every
probability and embedding it should give is computed here with NumPy from
its weights: the tests check the classifier's input handling and
preprocessing against that, not just output shapes.
"""

import json

import cv2
import numpy as np
import pytest
from fer_fixtures import smooth_faces

from emocap.classifier import BUILTIN_MODEL, EmotionClassifier
from emocap.cli import main
from emocap.errors import EmocapError, ModelError
from emocap.labels import FER2013_LABELS
from emocap.preprocessing import FER2013_FACE_LIGHT, Preprocess, crop_faces

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

# Not FER2013's order: `.labels` must follow the model's metadata, column for column.
MODEL_LABELS = ("happy", "sad", "angry", "surprise", "neutral", "fear", "disgust")
EMBEDDING_SIZE = 16


class LinearModel:
    """faces (n, 1, s, s) -> embedding = flat @ to_embedding -> logits = embedding @ to_logits + bias."""

    def __init__(self, preprocess: Preprocess, labels=MODEL_LABELS, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        pixels = preprocess.size * preprocess.size
        self.preprocess, self.labels = preprocess, labels
        self.to_embedding = rng.normal(0, 1 / np.sqrt(pixels), (pixels, EMBEDDING_SIZE)).astype(np.float32)
        self.to_logits = rng.normal(0, 3, (EMBEDDING_SIZE, len(labels))).astype(np.float32)
        self.bias = rng.normal(0, 0.5, len(labels)).astype(np.float32)

    def write(self, path, *, metadata: dict[str, str] | None = None, with_embedding_output: bool = True,
              open_sizes: bool = False):
        """An ONNX file; `metadata` replaces the emocap labels and preprocessing keys when given.
        `open_sizes`: the graph leaves the faces' channels and sides, and the number of classes, open."""
        size = self.preprocess.size
        faces = ["n", "c", "h", "w"] if open_sizes else ["n", 1, size, size]
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", "k" if open_sizes else len(self.labels)])]
        if with_embedding_output:
            outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", EMBEDDING_SIZE]))
        graph = helper.make_graph(
            [
                helper.make_node("Flatten", ["faces"], ["flat"]),
                helper.make_node("MatMul", ["flat", "to_embedding"], ["embedding"]),
                helper.make_node("Gemm", ["embedding", "to_logits", "bias"], ["logits"]),
            ],
            "linear",
            [helper.make_tensor_value_info("faces", TensorProto.FLOAT, faces)],
            outputs,
            [
                numpy_helper.from_array(self.to_embedding, "to_embedding"),
                numpy_helper.from_array(self.to_logits, "to_logits"),
                numpy_helper.from_array(self.bias, "bias"),
            ],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        if metadata is None:
            metadata = {"emocap.labels": json.dumps(self.labels), "emocap.preprocess": self.preprocess.to_json()}
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(path))
        return path

    def embedding(self, gray: np.ndarray) -> np.ndarray:
        """What the model computes for uint8 faces already at its input size."""
        assert gray.shape[1:] == (self.preprocess.size, self.preprocess.size)
        return self.preprocess(gray).reshape(len(gray), -1) @ self.to_embedding

    def probabilities(self, gray: np.ndarray) -> np.ndarray:
        logits = self.embedding(gray) @ self.to_logits + self.bias
        exp = np.exp(logits - logits.max(1, keepdims=True))
        return exp / exp.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return LinearModel(Preprocess())


@pytest.fixture(scope="module")
def classifier(model, tmp_path_factory):
    return EmotionClassifier(model.write(tmp_path_factory.mktemp("model") / "linear.onnx"), threads=1)


def gray_like_the_classifier_expects(crop: np.ndarray, size: int = 48) -> np.ndarray:
    """A BGR or gray crop as a size x size gray face, made the usual OpenCV way."""
    gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    interpolation = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def bgr_crop(side: int, seed: int) -> np.ndarray:
    """A colour face crop: a smooth face, tinted differently in each channel."""
    face = cv2.resize(smooth_faces(1, seed)[0], (side, side), interpolation=cv2.INTER_CUBIC)
    return np.dstack([face, np.clip(face.astype(int) + 40, 0, 255), 255 - face]).astype(np.uint8)


# --- labels and probabilities --------------------------------------------------------------------


def test_labels_are_a_tuple_in_the_model_output_order(classifier):
    assert classifier.labels == MODEL_LABELS and isinstance(classifier.labels, tuple)
    assert classifier.preprocess == Preprocess()
    assert "linear.onnx" in repr(classifier)


def test_predict_gives_the_model_probabilities_for_each_face(classifier, model):
    faces = smooth_faces(5)
    probabilities = classifier.predict(faces)
    assert probabilities.dtype == np.float32 and probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(probabilities, model.probabilities(faces), atol=1e-5)
    assert len(set(probabilities.argmax(1))) > 1  # the faces are told apart, not given one answer


def test_predict_on_more_faces_than_one_model_call_takes(classifier, model):
    faces = smooth_faces(300, seed=1)  # MAX_BATCH is 256: two calls, results in order
    np.testing.assert_allclose(classifier.predict(faces), model.probabilities(faces), atol=1e-5)


def test_predict_on_no_faces_gives_zero_rows(classifier):
    probabilities = classifier.predict(np.zeros((0, 48, 48), np.uint8))
    assert probabilities.shape == (0, 7) and probabilities.dtype == np.float32


def test_bgr_and_gray_crops_of_any_size_equal_their_gray_48x48_faces(classifier):
    larger_gray = cv2.resize(smooth_faces(1, 5)[0], (75, 75))
    crops = [bgr_crop(120, 1), bgr_crop(48, 2), bgr_crop(30, 3), smooth_faces(1, 4)[0], larger_gray]
    expected = classifier.predict(np.stack([gray_like_the_classifier_expects(crop) for crop in crops]))
    np.testing.assert_allclose(classifier.predict(crops), expected, atol=1e-6)
    np.testing.assert_allclose(classifier.predict(tuple(crops)), expected, atol=1e-6)


# --- bad input -----------------------------------------------------------------------------------

GOOD_CROP = np.zeros((60, 60, 3), np.uint8)
BAD_FACES = {
    "float array": (np.zeros((2, 48, 48), np.float32), "expected uint8 grayscale faces, got dtype float32"),
    "one face without its batch axis": (np.zeros((48, 48), np.uint8), r"of shape \(N, H, W\), got shape \(48, 48\)"),
    "faces with a channel axis": (np.zeros((2, 48, 48, 1), np.uint8), r"got shape \(2, 48, 48, 1\)"),
    "faces of no height": (np.zeros((2, 0, 48), np.uint8), r"got shape \(2, 0, 48\)"),
    "empty list": ([], "expected at least one face crop, got an empty list"),
    "float crop in a list": ([GOOD_CROP, GOOD_CROP.astype(np.float64)], "face crop 1 must be uint8, got dtype float64"),
    "BGRA crop": (
        [np.zeros((48, 48, 4), np.uint8)], r"face crop 0 must be \(H, W, 3\) BGR or \(H, W\) gray, got shape \(48, 48, 4\)"
    ),
    "one-row crop of rank 1": ([GOOD_CROP, np.zeros(48, np.uint8)], r"face crop 1 must be .* got shape \(48,\)"),
    "empty BGR crop": ([GOOD_CROP[10:10]], r"face crop 0 is empty, shape \(0, 60, 3\)"),
    "empty gray crop": ([np.zeros((5, 0), np.uint8)], r"face crop 0 is empty, shape \(5, 0\)"),
    "file name": ("face.png", "or a list of face crops, got str"),
}


@pytest.mark.parametrize("problem", BAD_FACES)
def test_bad_faces_are_refused_with_what_was_given(classifier, problem):
    faces, message = BAD_FACES[problem]
    with pytest.raises(ValueError, match=message):
        classifier.predict(faces)
    with pytest.raises(ValueError, match=message):
        classifier.embed(faces)


# --- embeddings and boxes ------------------------------------------------------------------------


def test_embed_gives_the_penultimate_features(classifier, model):
    faces = smooth_faces(4, seed=6)
    embedding = classifier.embed(faces)
    assert embedding.dtype == np.float32 and embedding.shape == (4, EMBEDDING_SIZE)
    np.testing.assert_allclose(embedding, model.embedding(faces), atol=1e-5)
    np.testing.assert_allclose(classifier.embed(list(faces)), embedding, atol=1e-6)


def test_embed_without_an_embedding_output_is_a_model_error(model, tmp_path):
    path = model.write(tmp_path / "logits_only.onnx", with_embedding_output=False)
    logits_only = EmotionClassifier(path, threads=1)
    assert logits_only.predict(smooth_faces(2)).shape == (2, 7)
    with pytest.raises(ModelError, match="has no embedding output"):
        logits_only.embed(smooth_faces(2))


def frame_with_faces() -> tuple[np.ndarray, np.ndarray]:
    """A 240x320 BGR frame with two faces; boxes (2, 4) xyxy, the second running off the right edge."""
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[40:140, 30:130] = bgr_crop(100, 7)
    frame[60:180, 220:320] = bgr_crop(120, 8)[:, :100]
    return frame, np.array([[40, 50, 120, 130], [230, 70, 330, 170]], np.float32)


def test_classify_boxes_classifies_the_crops_of_each_box(classifier):
    frame, boxes = frame_with_faces()
    probabilities = classifier.classify_boxes(frame, boxes)
    assert probabilities.shape == (2, 7) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, classifier.predict(crop_faces(frame, boxes, size=48)), atol=1e-6)
    tighter = classifier.classify_boxes(frame, boxes, margin=0.0)
    assert not np.allclose(tighter, probabilities)  # the margin reaches the crops


def test_classify_boxes_with_no_boxes(classifier):
    frame, _ = frame_with_faces()
    assert classifier.classify_boxes(frame, np.zeros((0, 4), np.float32)).shape == (0, 7)


# --- preprocessing from the model's metadata -----------------------------------------------------


def test_input_definition_comes_from_the_model_metadata(tmp_path):
    model = LinearModel(Preprocess(size=64, mean=0.4, std=0.3), seed=1)
    classifier = EmotionClassifier(model.write(tmp_path / "size64.onnx"), threads=1)
    assert classifier.preprocess == Preprocess(size=64, mean=0.4, std=0.3)
    faces = smooth_faces(3, seed=9)  # 48x48: enlarged to the model's 64x64 on the way in
    enlarged = np.stack([cv2.resize(face, (64, 64), interpolation=cv2.INTER_LINEAR) for face in faces])
    np.testing.assert_allclose(classifier.predict(faces), model.probabilities(enlarged), atol=1e-5)
    crops = [bgr_crop(100, 2), bgr_crop(50, 3)]
    expected = model.probabilities(np.stack([gray_like_the_classifier_expects(crop, size=64) for crop in crops]))
    np.testing.assert_allclose(classifier.predict(crops), expected, atol=1e-5)
    frame, boxes = frame_with_faces()
    np.testing.assert_allclose(
        classifier.classify_boxes(frame, boxes), model.probabilities(crop_faces(frame, boxes, size=64)), atol=1e-5
    )


def test_lift_light_lifts_dim_faces_on_top_of_the_model_metadata(tmp_path):
    model = LinearModel(Preprocess(), seed=2)
    path = model.write(tmp_path / "plain.onnx")
    plain, lifted = EmotionClassifier(path, threads=1), EmotionClassifier(path, threads=1, lift_light=True)
    assert plain.preprocess.lift_to is None and lifted.preprocess == Preprocess(lift_to=FER2013_FACE_LIGHT)
    faces = smooth_faces(3, seed=4)
    dim = (faces // 4).astype(np.uint8)
    lifted_model = LinearModel(Preprocess(lift_to=FER2013_FACE_LIGHT), seed=2)  # the same weights
    np.testing.assert_allclose(lifted.predict(dim), lifted_model.probabilities(dim), atol=1e-5)
    assert not np.allclose(plain.predict(dim), lifted.predict(dim), atol=1e-3)


# --- files that are not emocap models ------------------------------------------------------------


def test_missing_model_file(tmp_path):
    missing = tmp_path / "nowhere.onnx"
    with pytest.raises(ModelError, match="model not found") as error:
        EmotionClassifier(missing)
    assert repr(str(missing)) in str(error.value)
    assert isinstance(error.value, EmocapError) and error.value.exit_code == 2


def test_file_that_is_not_onnx(tmp_path):
    text = tmp_path / "emotion.onnx"
    text.write_text("not a model\n")
    with pytest.raises(ModelError, match="is not a readable ONNX model") as error:
        EmotionClassifier(text)
    assert repr(str(text)) in str(error.value)
    assert len(str(error.value).splitlines()) == 1  # ONNX Runtime's long message cut to one line


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"emocap.labels": json.dumps(MODEL_LABELS)},
        {"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": "{\"size\": 48}"},
        {"emocap.labels": "happy,sad", "emocap.preprocess": Preprocess().to_json()},
    ],
    ids=["no metadata", "no preprocessing", "preprocessing without its fields", "labels not JSON"],
)
def test_onnx_model_without_emocap_metadata(model, tmp_path, metadata):
    path = model.write(tmp_path / "plain.onnx", metadata=metadata)
    with pytest.raises(ModelError, match="is not an emocap model") as error:
        EmotionClassifier(path)
    assert repr(str(path)) in str(error.value)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"emocap.labels": json.dumps(MODEL_LABELS[:5]), "emocap.preprocess": Preprocess().to_json()},
         "gives 7 scores per face but its metadata names 5 labels"),
        ({"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess(size=64).to_json()},
         r"takes input of shape \[1, 48, 48\] per face, but its metadata's preprocessing makes \[1, 64, 64\]"),
        ({"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess(channels=3).to_json()},
         r"makes \[3, 48, 48\]"),
    ],
    ids=["too few labels", "other size", "other channels"],
)
def test_metadata_that_disagrees_with_the_graph_is_refused_at_load(model, tmp_path, metadata, message):
    path = model.write(tmp_path / "mismatch.onnx", metadata=metadata)
    with pytest.raises(ModelError, match=message):
        EmotionClassifier(path)


DEEP = "[" * 100_000 + "]" * 100_000
"""JSON nested 100,000 deep: Python's parser ends it in RecursionError, which was a traceback."""


@pytest.mark.parametrize("key", ["emocap.labels", "emocap.preprocess", "emocap.calibration"])
def test_metadata_nested_past_reading_is_refused_in_one_line(model, tmp_path, capfd, key):
    metadata = {"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess().to_json(), key: DEEP}
    path = model.write(tmp_path / "deep.onnx", metadata=metadata)
    with pytest.raises(ModelError, match=f"its metadata {key} is invalid: .*nested too deep to read"):
        EmotionClassifier(path)
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), bgr_crop(64, 0))
    assert main(["image", str(photo), "--model", str(path)]) == 2
    error = capfd.readouterr().err
    assert error.startswith(f"emocap image: error: {str(path)!r} is not an emocap model") and error.count("\n") == 1


@pytest.mark.parametrize("metadata, message", [
    ({"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess(channels=3).to_json()},
     r"does not run on the faces its metadata's preprocessing makes \(\[3, 48, 48\]\): \[ONNXRuntimeError\]"),
    ({"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess(size=40).to_json()},
     r"does not run on the faces its metadata's preprocessing makes \(\[1, 40, 40\]\)"),
], ids=["other channels", "other size"])
def test_a_graph_with_open_sizes_is_tried_on_one_face_at_load(model, tmp_path, capfd, metadata, message):
    """An open input took any face at load and failed in ONNX Runtime on the first real one (a traceback
    after the data had loaded), its own log line before it."""
    path = model.write(tmp_path / "open.onnx", metadata=metadata, open_sizes=True)
    with pytest.raises(ModelError, match=message):
        EmotionClassifier(path)
    assert capfd.readouterr().err == ""  # ONNX Runtime's log of the failed trial says nothing


def test_a_graph_with_open_sizes_that_fits_its_metadata_loads(model, tmp_path):
    classifier = EmotionClassifier(model.write(tmp_path / "open.onnx", open_sizes=True), threads=1)
    faces = smooth_faces(2, seed=5)
    np.testing.assert_allclose(classifier.predict(faces), model.probabilities(faces), atol=1e-5)


# --- the model that ships with emocap ------------------------------------------------------------


def test_builtin_model_loads_and_gives_probabilities():
    classifier = EmotionClassifier(threads=1)
    assert classifier.path == BUILTIN_MODEL
    assert classifier.labels == FER2013_LABELS
    faces = smooth_faces(4, seed=3)
    probabilities = classifier.predict(faces)
    assert probabilities.shape == (4, 7) and probabilities.dtype == np.float32
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert classifier.embed(faces).shape == (4, 512)


def test_without_mirror_a_model_that_never_mirrored_is_run_as_it_is(model, tmp_path):
    classifier = EmotionClassifier(model.write(tmp_path / "linear.onnx"), mirror=False)
    assert not classifier.mirrored
    faces = smooth_faces(2, seed=1)
    np.testing.assert_allclose(classifier.predict(faces), model.probabilities(faces), atol=1e-5)


def test_a_model_that_says_it_mirrors_without_the_branch_is_refused_by_name(model, tmp_path):
    metadata = {"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": Preprocess().to_json(),
                "emocap.mirror_averaged": "true"}
    path = model.write(tmp_path / "claims_mirror.onnx", metadata=metadata)
    assert EmotionClassifier(path).mirrored
    with pytest.raises(ModelError, match=r"claims_mirror\.onnx' says it averages mirror images, but its graph has no mirror branch"):
        EmotionClassifier(path, mirror=False)
