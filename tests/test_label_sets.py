"""A model with another label set (FER+'s eight classes, contempt among them) runs through every output."""

import json

import numpy as np
import onnx
import pytest
import webvtt
from onnx import TensorProto, helper, numpy_helper

from emocap.cli import main
from emocap.preprocessing import Preprocess
from emocap.sources import sample_clip

FERPLUS_LABELS = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")


def write_contempt_model(path):
    """ONNX: faces (n,1,48,48) -> logits (n,8), contempt far ahead, the others by the face's mean brightness."""
    weights = np.linspace(-1, 1, len(FERPLUS_LABELS)).astype(np.float32)[None, :]
    bias = np.zeros(len(FERPLUS_LABELS), np.float32)
    bias[FERPLUS_LABELS.index("contempt")] = 8.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["faces"], ["mean"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Unsqueeze", ["mean", "axis"], ["column"]),
            helper.make_node("Gemm", ["column", "weights", "bias"], ["logits"]),
        ],
        "contempt",
        [helper.make_tensor_value_info("faces", TensorProto.FLOAT, ["n", 1, 48, 48])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", len(FERPLUS_LABELS)])],
        [numpy_helper.from_array(np.array([1], np.int64), "axis"), numpy_helper.from_array(weights, "weights"),
         numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {"emocap.labels": json.dumps(FERPLUS_LABELS), "emocap.preprocess": Preprocess().to_json()}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


@pytest.mark.slow  # a video through every output
def test_an_eight_class_model_captions_records_draws_and_reports(tmp_path, capsys):
    model = write_contempt_model(tmp_path / "ferplus.onnx")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(sample_clip().read_bytes())
    assert main(["transcribe", str(clip), "--model", str(model), "-o", "vtt", "-o", "jsonl", "-o", "csv",
                 "--annotate", "--report", "--summary-plot"]) == 0
    records = [json.loads(line) for line in (tmp_path / "clip.emotions.jsonl").read_text().splitlines()]
    faces = [face for record in records for face in record["faces"]]
    assert faces and all(list(face["probabilities"]) == list(FERPLUS_LABELS) for face in faces)
    shown = [face for face in faces if face["label"]]
    assert shown and all(face["label"] == "contempt" and face["valence"] == "negative" for face in shown)
    assert all(face["colour"] == "#D55E00" for face in shown)  # negative, as the overlay and page draw it
    cues = [caption.text for caption in webvtt.read(str(tmp_path / "clip.emotions.vtt"))]
    assert cues and all(cue.endswith(": looks contempt — negative") for cue in cues)
    header = (tmp_path / "clip.emotions.csv").read_text().splitlines()[0]
    assert "p_contempt" in header
    report = (tmp_path / "clip.report.html").read_text()
    assert "contempt" in report and (tmp_path / "clip.annotated.mp4").stat().st_size > 0
    assert (tmp_path / "clip.timeline.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "contempt" in out  # the summary table has its column


def test_an_eight_class_model_in_image_live_and_the_web_answer(tmp_path, capsys):
    import cv2
    from emocap_testkit.faces import face_scene

    from emocap.outputs.records import frame_record
    from emocap.pipeline import Pipeline
    from emocap.web.protocol import result_message

    model = write_contempt_model(tmp_path / "ferplus.onnx")
    frame, _ = face_scene(640, 480, 2, 150)
    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), frame)
    assert main(["image", str(photo), "--model", str(model)]) == 0
    assert "contempt - negative" in capsys.readouterr().out
    assert main(["live", "--source", str(photo), "--model", str(model), "--no-window"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["faces"] and "contempt" in line["faces"][0]["probabilities"]
    result = Pipeline(model=str(model), smoother="none").process(frame, 0.0)
    message = result_message(result, {})
    assert message["labels"] == list(FERPLUS_LABELS)
    assert {key: value for key, value in message.items() if key in ("frame", "faces")} == {
        key: value for key, value in frame_record(result).items() if key in ("frame", "faces")
    }


def test_labels_and_model_together_are_a_one_line_error_before_any_source_opens(capsys):
    code = main(["live", "--labels", "ferplus", "--model", "mine.onnx", "--source", "no-such-video.mp4", "--no-window"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--labels ferplus" in err and "mine.onnx" in err


def test_the_built_in_ferplus_model_captions_the_bundled_clip_in_eight_classes(capsys):
    from emocap.classifier import BUILTIN_MODELS, EmotionClassifier
    from emocap.labels import FERPLUS_LABELS as BUILTIN_FERPLUS_LABELS

    assert EmotionClassifier(BUILTIN_MODELS["ferplus"]).labels == BUILTIN_FERPLUS_LABELS
    assert main(["live", "--labels", "ferplus", "--source", str(sample_clip()), "--no-window", "--max-frames", "30"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    faces = [face for record in records for face in record["faces"]]
    assert len(records) == 30 and faces
    assert all(list(face["probabilities"]) == list(BUILTIN_FERPLUS_LABELS) for face in faces)
