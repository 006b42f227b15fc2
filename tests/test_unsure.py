"""Calibrated probabilities and "unsure" captions (issue 28): the temperature and threshold in a
model's metadata, the rule that picks the threshold, and every output saying "unsure" the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emocap.calibration import (
    CALIBRATION_KEY, Calibration, fit_calibration, fit_temperature, lowest_threshold, risk_coverage, softmax,
    uncalibrated,
)
from emocap.classifier import BUILTIN_MODEL, EmotionClassifier, parse_labels
from emocap.errors import ModelError
from emocap.labels import FER2013_LABELS
from emocap.outputs.captions import frame_captions
from emocap.outputs.records import frame_record
from emocap.outputs.segments import Segment
from emocap.outputs.summary import EmotionSummary
from emocap.tracking import EmaSmoother, NoSmoothing, UnsureRule
from emocap.types import NO_LABEL, UNSURE, Faces, FrameResult

HAPPY, SAD = FER2013_LABELS.index("happy"), FER2013_LABELS.index("sad")


def tracked_faces(probs) -> Faces:
    probs = np.asarray(probs, np.float32)
    n = len(probs)
    boxes = np.array([[10 + 100 * i, 10, 60 + 100 * i, 70] for i in range(n)], np.float32)
    return Faces(boxes=boxes, scores=np.ones(n, np.float32), track_ids=np.arange(n), probs=probs)


def one_hot_ish(top: int, p: float) -> np.ndarray:
    row = np.full(len(FER2013_LABELS), (1 - p) / (len(FER2013_LABELS) - 1), np.float32)
    row[top] = p
    return row


# --- the smoother's confidence and the rule ------------------------------------------------------


def test_smoothers_give_the_smoothed_probability_of_the_class_they_show():
    smoother = EmaSmoother(alpha=0.5, hysteresis=0.0)
    first = smoother.update(tracked_faces([one_hot_ish(HAPPY, 0.9)]))
    assert first.display.tolist() == [HAPPY]
    assert first.confidence[0] == pytest.approx(0.9, abs=1e-6)
    second = smoother.update(tracked_faces([one_hot_ish(HAPPY, 0.5)]))
    assert second.confidence[0] == pytest.approx(0.7, abs=1e-6)  # the average, not this frame's 0.5


def test_faces_under_the_threshold_read_unsure_without_a_runner_up_and_keep_their_probabilities():
    faces = NoSmoothing().update(tracked_faces([one_hot_ish(HAPPY, 0.9), one_hot_ish(SAD, 0.4)]))
    faces = faces.with_(runner_up=np.array([NO_LABEL, HAPPY]))
    shown = UnsureRule(0.7).update(faces)
    assert shown.display.tolist() == [HAPPY, UNSURE]
    assert shown.runner_up.tolist() == [NO_LABEL, NO_LABEL]
    np.testing.assert_array_equal(shown.probs, faces.probs)
    assert UnsureRule(0.0).update(faces).display.tolist() == [HAPPY, SAD]  # 0: never unsure


def test_a_face_with_nothing_chosen_yet_is_not_called_unsure():
    faces = tracked_faces([one_hot_ish(HAPPY, 0.3)])  # display NO_LABEL, confidence NaN
    assert UnsureRule(0.7).update(faces).display.tolist() == [NO_LABEL]


def test_with_a_band_a_face_changes_between_unsure_and_an_emotion_only_clear_of_the_threshold():
    rule, smoother = UnsureRule(0.7, lower=0.05, upper=0.1), NoSmoothing()
    shown = [rule.update(smoother.update(tracked_faces([one_hot_ish(HAPPY, p)]))).display[0]
             for p in (0.68, 0.75, 0.79, 0.85, 0.7, 0.66, 0.64, 0.7)]
    # Seen first under 0.7: unsure. It stays unsure up to 0.8, is happy from there down to 0.65, and under
    # 0.65 is unsure again until 0.8.
    assert shown == [UNSURE, UNSURE, UNSURE, HAPPY, HAPPY, HAPPY, UNSURE, UNSURE]
    plain = UnsureRule(0.7)
    assert [plain.update(smoother.update(tracked_faces([one_hot_ish(HAPPY, p)]))).display[0]
            for p in (0.65, 0.75)] == [UNSURE, HAPPY]


def test_the_band_is_kept_a_track_and_forgotten_on_reset():
    rule = UnsureRule(0.7, upper=0.1)
    two = NoSmoothing().update(tracked_faces([one_hot_ish(HAPPY, 0.6), one_hot_ish(SAD, 0.75)]))
    assert rule.update(two).display.tolist() == [UNSURE, SAD]
    again = NoSmoothing().update(tracked_faces([one_hot_ish(HAPPY, 0.75), one_hot_ish(SAD, 0.75)]))
    assert rule.update(again).display.tolist() == [UNSURE, SAD]
    rule.reset()
    assert rule.update(again).display.tolist() == [HAPPY, SAD]


@pytest.mark.parametrize("below", [-0.1, 1.0, float("nan"), "0.5"])
def test_the_threshold_is_checked(below):
    with pytest.raises(ValueError, match=r"UnsureRule.below must be in \[0, 1\)"):
        UnsureRule(below)


# --- every output says it the same way -----------------------------------------------------------


def unsure_frame() -> FrameResult:
    faces = UnsureRule(0.7).update(NoSmoothing().update(tracked_faces([one_hot_ish(SAD, 0.4)])))
    return FrameResult(index=0, time_s=0.0, frame_size=(640, 360), faces=faces, labels=FER2013_LABELS)


def test_captions_and_records_say_unsure_with_no_emotion_word_and_keep_the_probabilities():
    result = unsure_frame()
    _, _, captions = frame_captions(result)
    assert captions == ["Face 1 (left): unsure"]
    record = frame_record(result)["faces"][0]
    assert (record["label"], record["valence"], record["runner_up"], record["caption"]) == (
        "unsure", None, None, "Face 1 (left): unsure")
    assert record["probabilities"]["sad"] == pytest.approx(0.4)


def test_the_summary_counts_unsure_time_apart_from_the_emotions():
    summary = EmotionSummary()
    for start, end, shown in ((0.0, 2.0, HAPPY), (2.0, 3.0, UNSURE)):
        summary.add(Segment(track_id=0, start_s=start, end_s=end, display=shown, runner_up=NO_LABEL,
                            labels=FER2013_LABELS, box=np.zeros(4, np.float32),
                            probs=np.full(7, 1 / 7, np.float32), frames=10, frame_size=(640, 360)))
    assert summary.captioned_seconds.tolist() == [3.0]
    assert summary.unsure_seconds.tolist() == [1.0]
    assert summary.emotion_shares()[0, HAPPY] == pytest.approx(2 / 3)
    assert "unsure" in summary.table().splitlines()[0]


# --- calibration: fitting, the rule, the metadata ------------------------------------------------


def synthetic_logits(temperature: float, n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): the fit must find it."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 7))
    probs = softmax(logits, temperature).astype(np.float64)
    labels = np.array([rng.choice(7, p=row / row.sum()) for row in probs])
    return logits, labels


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    logits, labels = synthetic_logits(1.6)
    assert fit_temperature(logits, labels) == pytest.approx(1.6, rel=0.08)


def test_the_rule_picks_the_lowest_threshold_whose_shown_faces_reach_the_target():
    # Top probabilities 0.4 (wrong), 0.6 (right), 0.8 (right), 0.9 (right), 0.95 (wrong).
    tops = [(0.4, 1), (0.6, 0), (0.8, 0), (0.9, 0), (0.95, 1)]
    probs = np.array([[p, (1 - p) / 2, (1 - p) / 2] for p, _ in tops])
    labels = np.array([label for _, label in tops])
    curve = risk_coverage(probs, labels, [0.2, 0.5, 0.85])
    assert curve.coverage.tolist() == [1.0, 0.8, 0.4]
    assert curve.accuracy.tolist() == pytest.approx([0.6, 0.75, 0.5])
    assert lowest_threshold(probs, labels, target=0.7) == pytest.approx(0.45)  # the first at which 0.4 is hidden
    assert lowest_threshold(probs, labels, target=0.99) == 0.0  # none reaches it: never unsure


def test_the_rule_holds_on_every_further_set_of_faces_it_is_given():
    def faces(tops):
        return np.array([[p, (1 - p) / 2, (1 - p) / 2] for p, _ in tops]), np.array([label for _, label in tops])

    clean = faces([(0.4, 1), (0.6, 0), (0.8, 0), (0.9, 0), (0.95, 1)])  # reaches 0.7 from 0.45 on
    harder = faces([(0.5, 1), (0.52, 1), (0.6, 0), (0.7, 0), (0.8, 0)])  # reaches 0.7 once 0.52 is hidden
    assert lowest_threshold(*clean, target=0.7) == pytest.approx(0.45)
    assert lowest_threshold(*clean, target=0.7, also=[harder]) == pytest.approx(0.55)
    assert lowest_threshold(*clean, target=0.7, also=[clean]) == pytest.approx(0.45)
    never = faces([(0.99, 1), (0.99, 1)])
    assert lowest_threshold(*clean, target=0.7, also=[harder, never]) == 0.0


def test_faces_as_video_shows_them_move_the_threshold_not_the_temperature():
    logits, labels = synthetic_logits(0.8)
    unreadable_logits, _ = synthetic_logits(1.0, n=400, seed=1)
    unrelated_labels = np.random.default_rng(2).integers(0, 7, 400)  # right about 1 in 7 at any threshold
    alone = fit_calibration(logits, labels, target=0.85)
    with_wild = fit_calibration(logits, labels, target=0.85, also=[(unreadable_logits, unrelated_labels)])
    assert with_wild.temperature == alone.temperature
    assert alone.unsure_below > 0 and with_wild.unsure_below == 0.0


def test_probabilities_at_temperature_one_come_back_from_calibrated_ones():
    logits, _ = synthetic_logits(1.0, n=50)
    np.testing.assert_allclose(uncalibrated(softmax(logits, 0.8), 0.8), softmax(logits), atol=1e-5)


def test_fit_calibration_returns_both_numbers():
    logits, labels = synthetic_logits(0.8)
    calibration = fit_calibration(logits, labels, target=0.85)
    assert 0.7 < calibration.temperature < 0.9 and 0 < calibration.unsure_below < 1


@pytest.mark.parametrize("text, message", [
    ('{"temperature": 0, "unsure_below": 0.5}', "temperature must be a number in"),
    ('{"temperature": 1, "unsure_below": 1.5}', "unsure_below must be a number in"),
    ('{"temperature": "x"}', "temperature must be a number in"),
    ('{"temp": 1}', "calibration must be an object"),
    ("[1]", "calibration must be an object"),
])
def test_bad_calibration_metadata_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        Calibration.from_json(text)


def test_no_class_may_be_named_unsure():
    with pytest.raises(ValueError, match="no class may be named 'unsure'"):
        parse_labels(json.dumps(["happy", "unsure"]))


def test_the_built_in_model_carries_a_calibration_fitted_on_publictest():
    calibration = EmotionClassifier().calibration
    assert calibration.temperature != 1.0 and 0.5 <= calibration.unsure_below < 1


def test_the_classifier_divides_logits_by_the_models_temperature(tmp_path):
    onnx = pytest.importorskip("onnx")
    from emocap.training.export import write_calibration

    plain = EmotionClassifier(write_calibration(BUILTIN_MODEL, Calibration(1.0), tmp_path / "t1.onnx"))
    warm = EmotionClassifier(write_calibration(BUILTIN_MODEL, Calibration(2.0, 0.5), tmp_path / "t2.onnx"))
    assert warm.calibration == Calibration(2.0, 0.5)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    logits = plain.logits(faces)
    np.testing.assert_allclose(warm.predict(faces), softmax(logits, 2.0), atol=1e-5)
    broken = onnx.load(str(tmp_path / "t2.onnx"))
    for entry in broken.metadata_props:
        if entry.key == CALIBRATION_KEY:
            entry.value = '{"temperature": -1, "unsure_below": 0}'
    onnx.save(broken, str(tmp_path / "bad.onnx"))
    with pytest.raises(ModelError, match="its metadata emocap.calibration is invalid: temperature must be"):
        EmotionClassifier(tmp_path / "bad.onnx")


def test_unsure_below_option_reaches_the_pipeline_and_zero_turns_it_off():
    from emocap.cli import build_parser
    from emocap.commands.options import build_pipeline

    parser = build_parser()
    default = build_pipeline(parser.parse_args(["transcribe", "x.mp4"]))
    assert default.captioning.unsure.below == EmotionClassifier().calibration.unsure_below
    off = build_pipeline(parser.parse_args(["transcribe", "x.mp4", "--unsure-below", "0"]))
    assert off.captioning.unsure.below == 0.0


def test_unsure_below_one_is_refused_in_one_line(capsys):
    from emocap.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["transcribe", "x.mp4", "--unsure-below", "1"])
    assert stopped.value.code == 2
    assert "argument --unsure-below: expected a probability in 0..0.99, got '1'" in capsys.readouterr().err


def test_calibrate_writes_a_copy_of_the_model_that_carries_its_fit_and_leaves_the_model_alone(tmp_path, capsys):
    pytest.importorskip("onnx")
    from emocap.cli import main
    from fer_fixtures import write_fer_folder

    write_fer_folder(tmp_path / "fer", public_per_class=3)
    before = BUILTIN_MODEL.read_bytes()
    out = tmp_path / "calibrated.onnx"
    assert main(["calibrate", "--data", str(tmp_path / "fer"), "-o", str(out)]) == 0
    assert "on 21 PublicTest faces: temperature" in capsys.readouterr().out
    assert BUILTIN_MODEL.read_bytes() == before
    calibration = EmotionClassifier(out).calibration
    assert 0.05 <= calibration.temperature <= 20 and 0 <= calibration.unsure_below < 1


def test_calibrate_wild_holds_the_promise_on_the_yardsticks_renders_too(tmp_path, capsys):
    pytest.importorskip("onnx")
    from emocap.cli import main
    from fer_fixtures import write_fer_folder

    write_fer_folder(tmp_path / "fer", public_per_class=3)
    clean_only, wild = tmp_path / "clean.onnx", tmp_path / "wild.onnx"
    assert main(["calibrate", "--data", str(tmp_path / "fer"), "-o", str(clean_only)]) == 0
    capsys.readouterr()
    assert main(["calibrate", "--data", str(tmp_path / "fer"), "--wild", "-o", str(wild)]) == 0
    out = capsys.readouterr().out
    # The fixture's drawn faces reach no threshold, clean or rendered (the rule itself is tested above).
    assert EmotionClassifier(wild).calibration == EmotionClassifier(clean_only).calibration
    assert "the same faces as video shows them (the wild yardstick's 21 renders of each): 100.0% shown, right " in out


def test_calibrate_wild_pools_every_render_into_one_set_as_the_yardsticks_figure_does():
    from emocap.commands.calibrate import _wild_logits
    from emocap.evaluation.corruptions import SEVERITIES
    from emocap.evaluation.wild import WILD

    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    logits, labels = _wild_logits(EmotionClassifier(threads=1), faces, np.array([0, 1, 2, 3]))
    renders = len(WILD) * len(SEVERITIES)
    assert logits.shape == (4 * renders, 7) and labels.tolist() == [0, 1, 2, 3] * renders


def test_calibrate_refuses_to_write_over_its_model(tmp_path, capsys):
    from emocap.cli import main

    model = tmp_path / "m.onnx"
    model.write_bytes(BUILTIN_MODEL.read_bytes())
    assert main(["calibrate", "--data", str(tmp_path), "--model", str(model), "-o", str(model)]) == 2
    assert "emocap calibrate: error: " in capsys.readouterr().err
    assert model.read_bytes() == BUILTIN_MODEL.read_bytes()


def test_majority_labels_keep_faces_whose_majority_is_an_emotion_the_model_names():
    from emocap.votes import VOTE_COLUMNS, majority_labels

    votes = np.zeros((3, len(VOTE_COLUMNS)))
    votes[0, VOTE_COLUMNS.index("happiness")] = 8
    votes[1, VOTE_COLUMNS.index("unknown")] = 9
    votes[2] = np.nan
    labels, kept = majority_labels(votes, FER2013_LABELS)
    assert kept.tolist() == [True, False, False] and labels[0] == HAPPY


@pytest.mark.slow  # evaluate's whole run
def test_evaluate_reports_ece_before_and_after_and_the_risk_coverage_table(tmp_path, capsys):
    from fer_fixtures import write_fer_folder

    from emocap.calibration import THRESHOLDS
    from emocap.cli import main

    write_fer_folder(tmp_path / "fer", public_per_class=2, private_per_class=2)
    json_path = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(tmp_path / "fer"), "--no-tsne", "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    confidence = json.loads(json_path.read_text())["confidence"]
    calibration = EmotionClassifier().calibration
    assert confidence["temperature"] == pytest.approx(calibration.temperature)
    assert set(confidence["splits"]) == {"PublicTest", "PrivateTest"}
    private = confidence["splits"]["PrivateTest"]
    assert [row["threshold"] for row in private["risk_coverage"]] == pytest.approx(THRESHOLDS.tolist())
    assert private["risk_coverage"][0]["coverage"] == 1.0 and 0 <= private["ece_at_temperature_1"] <= 1
    assert f'captions say "unsure" below {calibration.unsure_below:.2f}' in out and "<- the model's" in out
    assert (tmp_path / "evaluation-builtin" / "risk_coverage.png").stat().st_size > 1000
