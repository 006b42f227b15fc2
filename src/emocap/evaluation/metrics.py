"""Classification metrics as pure functions of true labels and predicted probabilities.

Every function takes `labels` int (N,) class indices and `probs` float (N, k)
rows of class probabilities, and returns plain numbers or arrays; nothing
here knows about models, files or plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from sklearn.metrics import f1_score, precision_recall_fscore_support

from emocap.labels import VALENCES, valence_matrix

ECE_BINS = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al., 2017)."""


def check_predictions(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`labels` as int64 (N,) and `probs` as float64 (N, k), or ValueError naming what is wrong."""
    labels = np.asarray(labels)
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, k) with k >= 2 classes, got shape {probs.shape}")
    if labels.shape != (len(probs),):
        raise ValueError(f"labels must have shape ({len(probs)},) to match probs, got shape {labels.shape}")
    if len(labels) == 0:
        raise ValueError("no predictions to score: labels and probs are empty")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(
            f"labels must be in 0..{probs.shape[1] - 1}, got values from {labels.min()} to {labels.max()}"
        )
    return labels.astype(np.int64), probs


def accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    labels, probs = check_predictions(labels, probs)
    return float(np.mean(probs.argmax(1) == labels))


@dataclass(frozen=True)
class PerClassScores:
    """Arrays (k,) indexed by class: precision, recall and F1 of that class, and its true count."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def per_class_scores(labels: np.ndarray, probs: np.ndarray) -> PerClassScores:
    """Scores of every class; 0 where a class is never predicted or never true (no division by zero)."""
    labels, probs = check_predictions(labels, probs)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, probs.argmax(1), labels=np.arange(probs.shape[1]), zero_division=0
    )
    return PerClassScores(precision, recall, f1, support.astype(np.int64))


def macro_f1(labels: np.ndarray, probs: np.ndarray) -> float:
    """Unweighted mean F1 over the classes that occur in `labels`."""
    labels, probs = check_predictions(labels, probs)
    return float(f1_score(labels, probs.argmax(1), labels=np.unique(labels), average="macro", zero_division=0))


def confusion_matrix(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """int64 (k, k): row = true class, column = predicted class."""
    labels, probs = check_predictions(labels, probs)
    return sklearn_confusion_matrix(labels, probs.argmax(1), labels=np.arange(probs.shape[1])).astype(np.int64)


@dataclass(frozen=True)
class ConfusionScores:
    """What a confusion matrix alone tells: accuracy, recall (k,) per class, macro-F1 over the true classes."""

    accuracy: float
    recall: np.ndarray
    macro_f1: float


def confusion_scores(confusion: np.ndarray) -> ConfusionScores:
    """The scores of `accuracy`, `per_class_scores` and `macro_f1`, read from their confusion matrix: for
    loops that score many argmax variants of one set of faces, where the three would each recount it."""
    confusion = np.asarray(confusion)
    true, said, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    f1 = 2 * hits / np.maximum(true + said, 1)
    return ConfusionScores(
        accuracy=float(hits.sum() / max(confusion.sum(), 1)),
        recall=hits / np.maximum(true, 1),
        macro_f1=float(f1[true > 0].mean()),
    )


@dataclass(frozen=True)
class ValenceScores:
    """Valence (negative / neutral / positive, in `emocap.labels.VALENCES` order) read two ways.

    summed_accuracy   predicted valence = the valence with the largest summed class probability
    argmax_accuracy   predicted valence = the valence of the single most probable class
    confusion         int64 (3, 3) of the summed reading: row = true valence, column = predicted
    """

    summed_accuracy: float
    argmax_accuracy: float
    confusion: np.ndarray


def valence_scores(labels: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...]) -> ValenceScores:
    labels, probs = check_predictions(labels, probs)
    if len(class_names) != probs.shape[1]:
        raise ValueError(f"{len(class_names)} class names given for {probs.shape[1]} probability columns")
    class_to_valence = valence_matrix(tuple(class_names))
    to_valence = class_to_valence.argmax(1)
    true_valence = to_valence[labels]
    summed_valence = (probs @ class_to_valence).argmax(1)
    argmax_valence = to_valence[probs.argmax(1)]
    return ValenceScores(
        summed_accuracy=float(np.mean(summed_valence == true_valence)),
        argmax_accuracy=float(np.mean(argmax_valence == true_valence)),
        confusion=sklearn_confusion_matrix(
            true_valence, summed_valence, labels=np.arange(len(VALENCES))
        ).astype(np.int64),
    )


@dataclass(frozen=True)
class ReliabilityBins:
    """Top-label calibration in equal-width confidence bins; arrays (bins,).

    Bin b holds confidences in (b/bins, (b+1)/bins]; `confidence` and
    `accuracy` are NaN in empty bins.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def expected_calibration_error(self) -> float:
        filled = self.count > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(gaps * self.count[filled]) / self.count.sum())


def reliability_bins(labels: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> ReliabilityBins:
    labels, probs = check_predictions(labels, probs)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins!r}")
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    # Right-closed bins, so a confidence of exactly 1.0 falls in the last one.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, minlength=bins) / count
        mean_accuracy = np.bincount(index, correct, minlength=bins) / count
    return ReliabilityBins(np.linspace(0.0, 1.0, bins + 1), count.astype(np.int64), mean_confidence, mean_accuracy)


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> float:
    """Count-weighted mean |accuracy - confidence| over equal-width bins of the top-label confidence."""
    return reliability_bins(labels, probs, bins).expected_calibration_error


def negative_log_likelihood(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean -log p(true class), in nats.

    The probabilities are scored as given (sklearn's log_loss would warn on
    float32 rows that sum to 1 only within float32 precision); a probability
    that underflowed to 0 counts as the smallest float32 value, at most 87.3 nats.
    """
    labels, probs = check_predictions(labels, probs)
    true_class_probs = probs[np.arange(len(labels)), labels]
    # + 0.0 turns the -0.0 of perfect predictions into 0.0
    return float(-np.mean(np.log(np.maximum(true_class_probs, np.finfo(np.float32).tiny)))) + 0.0
