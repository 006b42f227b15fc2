"""FER2013-C: the corruptions are deterministic, graded by severity, and scored into an mCA."""

import json

import numpy as np
import pytest
from fer_fixtures import smooth_faces

from emocap.evaluation.corruptions import (
    BOX_JITTER,
    CORRUPTIONS,
    SEVERITIES,
    corruption_accuracy,
    measure_box_jitter,
)

FACES = smooth_faces(24, seed=31)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_each_corruption_is_repeatable_and_worse_with_severity(name):
    corruption = CORRUPTIONS[name]
    changes = []
    for severity in SEVERITIES:
        corrupted = corruption(FACES, severity, seed=4)
        assert corrupted.dtype == np.uint8 and corrupted.shape == FACES.shape
        np.testing.assert_array_equal(corrupted, corruption(FACES, severity, seed=4))  # the same every time
        changes.append(float(np.abs(corrupted.astype(int) - FACES).mean()))
    assert 0 < changes[0] < changes[1] < changes[2], changes
    assert not np.array_equal(corruption(FACES, 2, seed=4), corruption(FACES, 2, seed=5)) or name in (
        "dark", "gamma", "low_contrast", "gaussian_blur", "downscale", "jpeg",  # no randomness in these
    )


@pytest.mark.parametrize("bad, message", [(0, "severity must be one of"), (4, "severity must be one of")])
def test_corruptions_check_their_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        CORRUPTIONS["noise"](FACES, bad)
    with pytest.raises(ValueError, match="expected uint8 grayscale faces"):
        CORRUPTIONS["noise"](FACES.astype(np.float32), 1)


def test_corruption_accuracy_scores_clean_each_severity_and_their_mean():
    labels = np.arange(len(FACES)) % 7
    clean = {face.tobytes(): label for face, label in zip(FACES, labels)}

    def predict(images):
        """Right on the clean faces, wrong (class 0 beyond the first) on anything else."""
        guesses = np.array([clean.get(image.tobytes(), 0) for image in images])
        return np.eye(7)[guesses]

    report = corruption_accuracy(predict, FACES, labels, seed=0)
    assert report["clean"] == 1.0 and report["faces"] == len(FACES)
    assert set(report["corruptions"]) == set(CORRUPTIONS)
    scores = [v for by_severity in report["corruptions"].values() for v in by_severity.values()]
    assert len(scores) == 36 and report["mca"] == pytest.approx(np.mean(scores))
    assert report["mca"] < 0.5  # the corrupted faces are not the clean ones
    assert report["middle_severity_drop"]["noise"] == pytest.approx(1.0 - report["corruptions"]["noise"]["2"])


@pytest.mark.slow
def test_detector_jitter_is_the_spread_measured_on_the_bundled_clip():
    from emocap.sources import sample_clip

    measured = measure_box_jitter(sample_clip())
    assert measured["samples"] > 100
    for key in ("shift_x", "shift_y", "log_scale"):
        assert measured[key] == pytest.approx(BOX_JITTER[key], rel=0.1), (key, measured)


def test_evaluate_corruptions_writes_the_table_the_json_and_the_plot(tmp_path, capsys, monkeypatch):
    from model_fixtures import write_brightness_model, write_fake_fer

    from emocap.cli import main

    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))
    data, model = write_fake_fer(tmp_path / "fer"), write_brightness_model(tmp_path / "brightness.onnx")
    json_path = tmp_path / "e.json"
    code = main(["evaluate", "--data", str(data), "--model", str(model), "--json", str(json_path), "--no-tsne",
                 "--plots", str(tmp_path / "plots"), "--corruptions", "--corruption-split", "PublicTest"])
    assert code == 0
    report = json.loads(json_path.read_text())["fer2013_c"]
    assert report["split"] == "PublicTest" and report["faces"] == 14 and len(report["corruptions"]) == 12
    assert (tmp_path / "plots" / "corruptions_PublicTest.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "FER2013-C from PublicTest (14 faces)" in out and "detector_jitter" in out and "mCA" in out


def test_evaluate_prints_the_model_card_after_its_figures(tmp_path, capsys, monkeypatch):
    from model_fixtures import write_brightness_model, write_fake_fer

    from emocap.cli import main

    monkeypatch.setattr("emocap.cli.COMMANDS", ("evaluate",))
    data, model = write_fake_fer(tmp_path / "fer"), write_brightness_model(tmp_path / "brightness.onnx")
    assert main(["evaluate", "--data", str(data), "--model", str(model), "--no-plots"]) == 0
    out = capsys.readouterr().out
    card = out[out.index("Model card"):]
    assert out.index("Model card") > out.index("PrivateTest")  # after the figures, not instead of them
    assert "how a face looks, not what a person feels" in card and "EU AI Act" in card
    assert "docs/MODEL_CARD.md" in card
