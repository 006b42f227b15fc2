"""Evaluation end to end on a tiny FER2013 folder whose right answers are known.

The test model reads a face's mean brightness and picks the class whose
brightness is nearest (each class has its own brightness in the fake data),
so which faces it gets wrong is decided by how the data is made.
"""

import json

import numpy as np
import pytest

from emocap.cli import main
from emocap.datasets import load_fer2013
from emocap.errors import DataError
from emocap.evaluation.fer_scores import (
    Predictions,
    evaluate_model,
    evaluate_predictions,
    format_report,
    labels_in_model_order,
    predict_faces,
)

onnx = pytest.importorskip("onnx")
from model_fixtures import EMBEDDING_SIZE, MODEL_LABELS, write_brightness_model, write_fake_fer  # noqa: E402

from emocap.classifier import EmotionClassifier  # noqa: E402

# Wrong guesses go to the next class; 5 of the 7 also change valence
# (fear->happy, happy->neutral, neutral->sad, sad->surprise, surprise->angry).
EXPECTED_ACCURACY = {"test": 21 / 28, "PublicTest": 1.0, "PrivateTest": 7 / 14}
EXPECTED_VALENCE = {"test": 23 / 28, "PublicTest": 1.0, "PrivateTest": 9 / 14}


@pytest.fixture(autouse=True)
def only_this_command(monkeypatch):
    """Build the real CLI with just `evaluate`, so these tests do not depend on the other commands."""
    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))


@pytest.fixture(scope="module")
def fake_fer(tmp_path_factory):
    return write_fake_fer(tmp_path_factory.mktemp("fer"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_brightness_model(tmp_path_factory.mktemp("model") / "brightness.onnx")


def test_evaluate_model_scores_each_split_from_one_pass(fake_fer, model_path):
    classifier = EmotionClassifier(model_path)
    calls = []
    original_predict = classifier.predict

    def counting_predict(faces):
        calls.append(len(faces))
        return original_predict(faces)

    classifier.predict = counting_predict
    report = evaluate_model(classifier, fake_fer, batch_size=8)
    assert sum(calls) == 28  # PublicTest and PrivateTest come from the same predictions
    assert report["labels"] == list(MODEL_LABELS)
    for split, expected in EXPECTED_ACCURACY.items():
        scores = report["splits"][split]
        assert scores["accuracy"] == pytest.approx(expected), split
        assert scores["valence"]["accuracy_top_class"] == pytest.approx(EXPECTED_VALENCE[split]), split
        assert scores["valence"]["accuracy_summed_probs"] == pytest.approx(EXPECTED_VALENCE[split]), split
    test = report["splits"]["test"]
    assert test["faces"] == 28 and report["missing_splits"] == {}
    # Every class: 3 of its 4 faces found; each class also takes 1 wrong face from its neighbour.
    for name in MODEL_LABELS:
        assert test["per_class"][name] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    confusion = np.array(test["confusion_matrix"])
    assert confusion.trace() == 21 and confusion.sum() == 28
    # Near one-hot probabilities: right answers at ~100% confidence, wrong ones too (overconfident).
    assert test["ece"] == pytest.approx(7 / 28, abs=1e-3)


def test_predict_faces_returns_embeddings_only_when_asked(fake_fer, model_path):
    classifier = EmotionClassifier(model_path)
    test = load_fer2013(fake_fer, "test")
    plain = predict_faces(classifier, test, batch_size=5)
    embedded = predict_faces(classifier, test, batch_size=100, with_embeddings=True)
    assert plain.embeddings.shape == (28, 0) and embedded.embeddings.shape == (28, EMBEDDING_SIZE)
    np.testing.assert_allclose(plain.probs, embedded.probs, atol=1e-6)
    assert [MODEL_LABELS[i] for i in plain.labels] == [test.labels_names[i] for i in test.labels]


def test_predict_faces_runs_the_network_once_a_batch_for_probabilities_and_embeddings(fake_fer, model_path):
    classifier = EmotionClassifier(model_path)
    runs = []
    session_run = classifier._session.run
    classifier._session = type("CountingSession", (), {
        "run": lambda self, outputs, feeds: runs.append(list(outputs)) or session_run(outputs, feeds),
    })()
    predict_faces(classifier, load_fer2013(fake_fer, "test"), batch_size=100, with_embeddings=True)
    assert len(runs) == 1 and len(runs[0]) == 2


def test_predict_faces_refuses_a_zero_batch(fake_fer, model_path):
    with pytest.raises(ValueError, match="got 0"):
        predict_faces(EmotionClassifier(model_path), load_fer2013(fake_fer, "test"), batch_size=0)


def test_a_model_without_a_fer_class_cannot_be_scored(fake_fer):
    with pytest.raises(DataError, match="'disgust'"):
        labels_in_model_order(load_fer2013(fake_fer, "test"), ("angry", "fear", "happy", "neutral", "sad", "surprise"))


def test_halves_missing_from_the_file_names_are_listed_not_invented():
    predictions = Predictions(
        ("angry", "happy"), np.array([0, 1]), np.eye(2, dtype=np.float32), np.zeros((2, 0)), ("a.png", "b.png")
    )
    report = evaluate_predictions(predictions)
    assert list(report["splits"]) == ["test"]
    assert set(report["missing_splits"]) == {"PrivateTest", "PublicTest"}
    assert "not scored: no PublicTest_* file names in the test data" in format_report(report)


def test_predictions_check_their_shapes():
    with pytest.raises(ValueError, match="do not fit 3 faces"):
        Predictions(("a", "b"), np.zeros(3, int), np.zeros((3, 3)), np.zeros((3, 0)), ("x",) * 3)
    with pytest.raises(ValueError, match="2 embeddings"):
        Predictions(("a", "b"), np.zeros(3, int), np.zeros((3, 2)), np.zeros((2, 0)), ("x",) * 3)


def test_unknown_split_is_refused(fake_fer, model_path):
    predictions = predict_faces(EmotionClassifier(model_path), load_fer2013(fake_fer, "test"))
    with pytest.raises(ValueError, match="'train'"):
        evaluate_predictions(predictions, ("train",))


def test_format_report_is_a_table_of_the_figures(fake_fer, model_path):
    text = format_report(evaluate_model(EmotionClassifier(model_path), fake_fer))
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert rows["test"][1:3] == ["28", "75.0%"]
    assert rows["PublicTest"][1:3] == ["14", "100.0%"]
    assert rows["PrivateTest"][1:3] == ["14", "50.0%"]
    assert rows["fear"][1:] == ["75.0%", "75.0%", "75.0%", "4"]
    assert "summed" in text and "ECE" in text


def test_command_writes_json_and_plots(fake_fer, model_path, tmp_path, capsys):
    json_path = tmp_path / "out" / "eval.json"
    json_path.parent.mkdir()
    code = main(["evaluate", "--data", str(fake_fer), "--model", str(model_path), "--json", str(json_path),
                 "--tsne-train", "14"])
    assert code == 0
    result = json.loads(json_path.read_text())
    assert {"model", "data", "labels", "splits", "missing_splits", "timings_s", "faces_per_s", "plots"} <= set(result)
    assert result["splits"]["PrivateTest"]["accuracy"] == pytest.approx(0.5)
    plots_dir = json_path.parent / "evaluation-brightness"
    expected = {"confusion_test", "confusion_PrivateTest", "confusion_PublicTest", "reliability_test",
                "risk_coverage", "tsne_test", "tsne_train"}
    assert set(result["plots"]) == expected
    for name in expected:
        png = plots_dir / f"{name}.png"
        assert str(png) == result["plots"][name] and png.stat().st_size > 1000
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["eval.json", "evaluation-brightness"]
    out = capsys.readouterr().out
    assert "PrivateTest" in out and "50.0%" in out and f"wrote {json_path}" in out


def test_command_and_library_give_one_json_shape(fake_fer, model_path, tmp_path):
    """`emocap evaluate --json` and `evaluate_model` once wrote their timings under other names."""
    json_path = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(fake_fer), "--model", str(model_path), "--json", str(json_path),
                 "--no-plots"]) == 0
    from_command = json.loads(json_path.read_text())
    from_library = json.loads(json.dumps(evaluate_model(EmotionClassifier(model_path), fake_fer)))
    assert set(from_command) == set(from_library) | {"model", "preprocess", "plots"}
    assert set(from_command["timings_s"]) == set(from_library["timings_s"]) == {"load_test", "classify_test"}
    assert from_command["splits"] == from_library["splits"]


def test_command_without_tsne_or_plots(fake_fer, model_path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--data", str(fake_fer), "--model", str(model_path), "--no-tsne"]) == 0
    assert sorted(p.name for p in (tmp_path / "evaluation-brightness").iterdir()) == [
        "confusion_PrivateTest.png", "confusion_PublicTest.png", "confusion_test.png", "reliability_test.png",
        "risk_coverage.png",
    ]
    assert main(["evaluate", "--data", str(fake_fer), "--model", str(model_path), "--no-plots",
                 "--plots", str(tmp_path / "unused")]) == 0
    assert not (tmp_path / "unused").exists()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "{tmp}/nowhere"], "FER2013 data not found at '{tmp}/nowhere'"),
        (["--data", "{fer}", "--model", "{tmp}/missing.onnx"], "model not found: '{tmp}/missing.onnx'"),
        (["--data", "{fer}", "--json", "{tmp}/no/such/dir/e.json"], "folder '{tmp}/no/such/dir' does not exist"),
    ],
)
def test_command_bad_input_is_one_line_and_exit_code_2(fake_fer, model_path, tmp_path, capsys, arguments, message):
    fill = {"tmp": str(tmp_path), "fer": str(fake_fer)}
    arguments = [a.format(**fill) for a in arguments]
    if "--model" not in arguments:
        arguments += ["--model", str(model_path)]
    assert main(["evaluate", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("emocap evaluate: error: ")
    assert message.format(**fill) in error


def test_command_help_explains_outputs(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for phrase in ("--data PATH", "--no-tsne", "PrivateTest", "evaluation-<model name>", "tsne_train.png"):
        assert phrase in text
