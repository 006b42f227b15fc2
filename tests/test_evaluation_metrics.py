import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from emocap.evaluation import metrics
from emocap.labels import FER2013_LABELS

ANGRY, DISGUST, FEAR, HAPPY, NEUTRAL, SAD, SURPRISE = range(7)


def one_row(**probs: float) -> np.ndarray:
    row = np.zeros(7, np.float32)
    for name, value in probs.items():
        row[FER2013_LABELS.index(name)] = value
    return row


def test_accuracy_counts_argmax_hits():
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]])
    assert metrics.accuracy(np.array([0, 0, 0]), probs) == pytest.approx(2 / 3)


def test_per_class_scores_by_hand():
    labels = np.array([0, 0, 1, 1, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 0]]  # predicted 0, 1, 1, 1, 0
    scores = metrics.per_class_scores(labels, probs)
    np.testing.assert_allclose(scores.precision, [1 / 2, 2 / 3, 0.0])
    np.testing.assert_allclose(scores.recall, [1 / 2, 1.0, 0.0])
    np.testing.assert_allclose(scores.f1, [1 / 2, 0.8, 0.0])
    np.testing.assert_array_equal(scores.support, [2, 2, 1])


def test_macro_f1_matches_sklearn_and_ignores_absent_classes():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, 500)  # class 6 never occurs
    probs = rng.dirichlet(np.ones(7), 500)
    expected = f1_score(labels, probs.argmax(1), average="macro", labels=np.arange(6))
    assert metrics.macro_f1(labels, probs) == pytest.approx(expected)
    assert metrics.macro_f1(labels, np.eye(7)[labels]) == 1.0


def test_confusion_matrix_rows_are_true_classes():
    labels = np.array([0, 0, 1, 2])
    probs = np.eye(3)[[0, 2, 1, 2]]
    np.testing.assert_array_equal(
        metrics.confusion_matrix(labels, probs), [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
    )


def test_confusion_scores_are_the_scores_of_the_predictions_behind_the_matrix():
    rng = np.random.default_rng(4)
    labels = rng.choice([0, 1, 2, 4], size=200)  # class 3 is never true, and never said where it is absent
    probs = rng.dirichlet(np.ones(5), size=200)
    scores = metrics.confusion_scores(metrics.confusion_matrix(labels, probs))
    assert scores.accuracy == pytest.approx(metrics.accuracy(labels, probs))
    np.testing.assert_allclose(scores.recall, metrics.per_class_scores(labels, probs).recall)
    assert scores.macro_f1 == pytest.approx(metrics.macro_f1(labels, probs))


def test_valence_summed_and_top_class_readings_differ_as_defined():
    probs = np.stack([
        one_row(fear=0.3, sad=0.3, happy=0.4),  # top class happy (positive), summed negative 0.6
        one_row(happy=0.9, surprise=0.1),
        one_row(neutral=0.45, angry=0.3, disgust=0.25),  # top neutral, summed negative 0.55
    ])
    labels = np.array([SAD, SURPRISE, NEUTRAL])
    scores = metrics.valence_scores(labels, probs, FER2013_LABELS)
    assert scores.summed_accuracy == pytest.approx(2 / 3)  # rows 0 and 1
    assert scores.argmax_accuracy == pytest.approx(2 / 3)  # rows 1 and 2
    # rows: true negative, neutral, positive; columns: predicted by summed probabilities
    np.testing.assert_array_equal(scores.confusion, [[1, 0, 0], [1, 0, 0], [0, 0, 1]])


def test_valence_needs_one_name_per_class():
    with pytest.raises(ValueError, match="3 class names given for 7"):
        metrics.valence_scores(np.array([0]), np.eye(7)[:1], ("angry", "happy", "sad"))


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.35, 0.65]])
    labels = np.array([0, 1, 1, 1])
    # bin (13/15, 14/15]: confidence 0.9, accuracy 1/2, 2 faces; 0.7 right; 0.65 right
    expected = 0.4 * 2 / 4 + 0.3 / 4 + 0.35 / 4
    assert metrics.expected_calibration_error(labels, probs) == pytest.approx(expected)


def test_reliability_bins_put_certainty_in_the_last_bin_and_leave_empty_bins_nan():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    bins = metrics.reliability_bins(np.array([0, 0]), probs)
    assert bins.count.tolist() == [0] * 14 + [2]
    assert bins.accuracy[-1] == 0.5 and bins.confidence[-1] == 1.0
    assert np.isnan(bins.accuracy[:-1]).all()
    assert bins.expected_calibration_error == pytest.approx(0.5)
    assert len(bins.edges) == metrics.ECE_BINS + 1


def test_ece_is_zero_for_confident_correct_predictions():
    labels = np.array([0, 1, 2])
    assert metrics.expected_calibration_error(labels, np.eye(3)[labels]) == 0.0


def test_negative_log_likelihood_by_hand_and_without_infinity():
    probs = np.array([[0.5, 0.5], [0.75, 0.25]], np.float32)
    assert metrics.negative_log_likelihood(np.array([0, 1]), probs) == pytest.approx(1.5 * math.log(2))
    worst = metrics.negative_log_likelihood(np.array([1]), np.array([[1.0, 0.0]]))
    assert math.isfinite(worst) and worst == pytest.approx(-math.log(np.finfo(np.float32).tiny))


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        (np.array([0]), np.array([0.5, 0.5]), "shape \\(N, k\\)"),
        (np.array([0, 1]), np.array([[0.5, 0.5]]), "labels must have shape \\(1,\\)"),
        (np.array([], np.int64), np.zeros((0, 2)), "empty"),
        (np.array([0.0]), np.array([[0.5, 0.5]]), "integer"),
        (np.array([2]), np.array([[0.5, 0.5]]), "in 0..1"),
    ],
)
def test_bad_predictions_are_refused_with_the_reason(labels, probs, message):
    with pytest.raises(ValueError, match=message):
        metrics.accuracy(labels, probs)


def test_reliability_bins_need_at_least_one_bin():
    with pytest.raises(ValueError, match="got 0"):
        metrics.reliability_bins(np.array([0]), np.array([[0.6, 0.4]]), bins=0)
