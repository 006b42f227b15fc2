"""`Captioning`, the second half of the pipeline, built from the config and the model's metadata alone:
no ONNX Runtime session, so a Ray driver loads no network."""

import numpy as np
import onnxruntime
import pytest

from emocap.captioning import Captioning, ModelFacts
from emocap.classifier import NAMED_MODELS
from emocap.errors import ModelError
from emocap.onnx_metadata import onnx_metadata
from emocap.pipeline_config import PipelineConfig
from emocap.record import FaceRecord, Scan
from emocap.types import Faces


@pytest.fixture
def no_network(monkeypatch):
    def refused(*args, **kwargs):
        raise AssertionError("an ONNX Runtime session was built")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refused)


def record(time_s: float, scan: Scan = Scan.WHOLE) -> FaceRecord:
    probs = np.full((1, 7), 0.02, np.float32)
    probs[0, 3] = 0.88
    face = Faces(boxes=[[100, 100, 180, 190]], scores=[0.99], probs=probs, embeddings=np.ones((1, 8), np.float32))
    return FaceRecord(time_s, (640, 360), face, scan=scan, detect_ms=10.0, classify_ms=5.0)


@pytest.mark.parametrize("name", sorted(NAMED_MODELS))
def test_captioning_is_built_and_captions_without_any_network(no_network, name):
    captioning = Captioning.for_model(PipelineConfig(model=str(NAMED_MODELS[name])))
    assert len(captioning.labels) == (8 if name == "ferplus" else 7) and 0 < captioning.facts.unsure_below < 1
    result = captioning.caption(FaceRecord(0.5, (640, 360), Faces.empty(len(captioning.labels))))
    assert result.labels == captioning.labels and result.time_s == 0.5 and len(result.faces) == 0
    with pytest.raises(AssertionError, match="session was built"):  # the fixture does refuse
        onnxruntime.InferenceSession(str(NAMED_MODELS[name]))


def test_captions_number_confirm_and_time_the_frames_as_the_pipeline_does(no_network):
    captioning = Captioning(PipelineConfig(), ModelFacts(("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")))
    results = [captioning.caption(record(i / 30, Scan.CARRY if i == 1 else Scan.WHOLE)) for i in range(4)]
    assert [r.index for r in results] == [0, 1, 2, 3] and results[2].time_s == pytest.approx(2 / 30)
    # Shown once detected in 3 frames (DEFAULT_CONFIRM_FRAMES); the carried frame 1 does not count.
    assert [r.faces.track_ids.tolist() for r in results] == [[], [], [], [0]]
    assert int(results[3].faces.display[0]) == 3 and results[3].labels[3] == "happy"
    assert set(results[0].timings_ms) == {"detect", "classify", "track"} and results[0].timings_ms["detect"] == 10.0
    captioning.reset()
    assert captioning.caption(record(0.0)).index == 0


def test_the_metadata_read_without_a_session_is_onnx_runtimes():
    for path in NAMED_MODELS.values():
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert onnx_metadata(path) == session.get_modelmeta().custom_metadata_map


def test_the_facts_read_from_the_file_are_the_loaded_classifiers():
    from emocap.classifier import EmotionClassifier

    assert ModelFacts.read(None) == ModelFacts.of(EmotionClassifier())


@pytest.mark.parametrize("content, message", [
    (b"", "is not a readable ONNX model: the file is empty"),
    (b"\xff" * 40, "is not a readable ONNX model: a number runs past the end of its message"),
    (b"\x08\x07", "is not an emocap model: its metadata lacks labels or preprocessing"),  # a ModelProto, no metadata
])
def test_a_model_that_is_not_one_is_a_one_line_model_error(tmp_path, no_network, content, message):
    model = tmp_path / "model.onnx"
    model.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        Captioning.for_model(PipelineConfig(model=str(model)))
    with pytest.raises(ModelError, match="model not found"):
        ModelFacts.read(tmp_path / "missing.onnx")
