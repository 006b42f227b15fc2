"""Evaluate a classifier on FER2013: one pass over the test set, metrics per split, a text report.

PublicTest and PrivateTest are halves of the test set told apart by their
file names, so the test set is classified once and the halves are scored
from the same predictions. (The HTML page about a transcribed video is another thing:
`emocap.outputs.html_report`.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from emocap.datasets import FerData, load_fer2013
from emocap.datasets import split_mask
from emocap.errors import DataError
from emocap.evaluation import metrics
from emocap.evaluation.defaults import DEFAULT_BATCH_SIZE
from emocap.labels import VALENCE_OF, VALENCES

TEST_SPLITS = ("test", "PrivateTest", "PublicTest")


class FaceClassifier(Protocol):
    """What evaluation needs of `emocap.classifier.EmotionClassifier`."""

    labels: tuple[str, ...]

    def predict(self, gray_faces: np.ndarray) -> np.ndarray: ...

    def predict_and_embed(self, gray_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Predictions:
    """A classifier's output on a dataset, row for row.

    labels      int64 (N,)     true classes, as indices into the classifier's `class_names`
    probs       float32 (N, k) predicted probabilities
    embeddings  float32 (N, d) penultimate-layer features; d = 0 when they were not asked for
    files       where each face came from (PublicTest_* / PrivateTest_* names tell the test halves apart)
    """

    class_names: tuple[str, ...]
    labels: np.ndarray
    probs: np.ndarray
    embeddings: np.ndarray
    files: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.probs.shape != (n, len(self.class_names)):
            raise ValueError(f"probs of shape {self.probs.shape} do not fit {n} faces and {len(self.class_names)} classes")
        if len(self.embeddings) != n or len(self.files) != n:
            raise ValueError(f"{n} labels but {len(self.embeddings)} embeddings and {len(self.files)} files")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> "Predictions":
        index = np.flatnonzero(mask)
        return Predictions(
            self.class_names, self.labels[index], self.probs[index], self.embeddings[index],
            tuple(self.files[i] for i in index),
        )


def labels_in_model_order(data: FerData, class_names: tuple[str, ...]) -> np.ndarray:
    """The dataset's labels re-indexed into the model's class order (the two may sort differently)."""
    missing = sorted(set(data.labels_names) - set(class_names))
    if missing:
        raise DataError(f"the model cannot be scored on FER2013: it has no class {', '.join(map(repr, missing))}")
    to_model = np.array([class_names.index(name) for name in data.labels_names], np.int64)
    return to_model[data.labels]


def predict_faces(
    classifier: FaceClassifier,
    data: FerData,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    with_embeddings: bool = False,
    progress: bool = False,
    description: str = "classifying",
) -> Predictions:
    """Run the classifier over every face of `data` in batches (a tqdm bar on a terminal if `progress`)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    class_names = tuple(classifier.labels)
    labels = labels_in_model_order(data, class_names)
    probs, embeddings = [], []
    with tqdm(total=len(data), desc=description, unit="face", disable=None if progress else True) as bar:
        for start in range(0, len(data), batch_size):
            batch = data.images[start : start + batch_size]
            if with_embeddings:  # both from one run of the network
                batch_probs, batch_embeddings = classifier.predict_and_embed(batch)
                embeddings.append(np.asarray(batch_embeddings, np.float32))
            else:
                batch_probs = classifier.predict(batch)
            probs.append(np.asarray(batch_probs, np.float32))
            bar.update(len(batch))
    return Predictions(
        class_names=class_names,
        labels=labels,
        probs=np.concatenate(probs),
        embeddings=np.concatenate(embeddings) if with_embeddings else np.zeros((len(data), 0), np.float32),
        files=data.files,
    )


def check_splits(splits: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [split for split in splits if split not in TEST_SPLITS]
    if unknown or not splits:
        raise ValueError(f"splits must be some of {', '.join(TEST_SPLITS)}, got {tuple(splits)!r}")
    return tuple(splits)


def split_metrics(predictions: Predictions) -> dict:
    """Every metric of one split, as JSON-ready numbers and lists."""
    labels, probs, names = predictions.labels, predictions.probs, predictions.class_names
    per_class = metrics.per_class_scores(labels, probs)
    valence = metrics.valence_scores(labels, probs, names)
    bins = metrics.reliability_bins(labels, probs)
    return {
        "faces": len(predictions),
        "accuracy": metrics.accuracy(labels, probs),
        "macro_f1": metrics.macro_f1(labels, probs),
        "per_class": {
            name: {
                "precision": float(per_class.precision[i]),
                "recall": float(per_class.recall[i]),
                "f1": float(per_class.f1[i]),
                "support": int(per_class.support[i]),
            }
            for i, name in enumerate(names)
        },
        "confusion_matrix": metrics.confusion_matrix(labels, probs).tolist(),
        "valence": {
            "accuracy_summed_probs": valence.summed_accuracy,
            "accuracy_top_class": valence.argmax_accuracy,
            "confusion_summed_probs": valence.confusion.tolist(),
        },
        "ece": bins.expected_calibration_error,
        "nll": metrics.negative_log_likelihood(labels, probs),
        "reliability": {
            "bin_edges": bins.edges.tolist(),
            "count": bins.count.tolist(),
            "confidence": [None if np.isnan(v) else float(v) for v in bins.confidence],
            "accuracy": [None if np.isnan(v) else float(v) for v in bins.accuracy],
        },
    }


def evaluate_predictions(predictions: Predictions, splits: tuple[str, ...] = TEST_SPLITS, votes=None) -> dict:
    """Metrics of each split that the file names can tell apart; the others listed with the reason.
    With FER+ `votes` (emocap.votes.Votes), each split also gets "ferplus": `vote_scores`."""
    from emocap.votes import vote_scores

    scored, missing = {}, {}
    for split in check_splits(splits):
        mask = split_mask(predictions.files, split)
        if mask.any():
            part = predictions.subset(mask)
            scored[split] = split_metrics(part)
            if votes is not None:
                scored[split]["ferplus"] = vote_scores(part.probs, part.class_names, votes.for_files(part.files))
        else:
            missing[split] = f"no {split}_* file names in the test data"
    return {"labels": list(predictions.class_names), "splits": scored, "missing_splits": missing}


def evaluate_model(
    classifier: FaceClassifier,
    data_root: str | Path,
    *,
    splits: tuple[str, ...] = TEST_SPLITS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> dict:
    """Classify the FER2013 test set once and score `splits` of it: `evaluate_test_set` on the
    test set of `data_root` (the JSON that `emocap evaluate --json` writes, less its plots)."""
    started = time.perf_counter()
    test = load_fer2013(data_root, "test")
    loaded_s = time.perf_counter() - started
    report, _ = evaluate_test_set(
        classifier, test, data_name=str(data_root), load_s=loaded_s, splits=splits, batch_size=batch_size,
        progress=progress,
    )
    return report


def evaluate_test_set(
    classifier: FaceClassifier,
    test: FerData,
    *,
    data_name: str,
    load_s: float = float("nan"),
    splits: tuple[str, ...] = TEST_SPLITS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    with_embeddings: bool = False,
    votes=None,
) -> tuple[dict, Predictions]:
    """Classify a loaded test set once and score `splits` of it; the report and the predictions.

    The report: {"labels", "splits": {split: metrics}, "missing_splits": {split: reason}, "confidence"
    (`confidence_report`), "data",
    "faces_per_s", "cpu", "timings_s": {"load_test", "classify_test"}}, one shape for
    `evaluate_model` and `emocap evaluate` alike.
    """
    from emocap.onnx_session import cpu_features

    splits = check_splits(splits)
    started = time.perf_counter()
    predictions = predict_faces(
        classifier, test, batch_size=batch_size, with_embeddings=with_embeddings, progress=progress,
        description="test set",
    )
    classify_s = time.perf_counter() - started
    from emocap.calibration import Calibration

    report = {
        **evaluate_predictions(predictions, splits, votes),
        "confidence": confidence_report(predictions, getattr(classifier, "calibration", Calibration()), votes),
        "data": data_name,
        "faces_per_s": len(test) / max(classify_s, 1e-9),
        "cpu": cpu_features().describe(),
        "timings_s": {"load_test": load_s, "classify_test": classify_s},
    }
    return report, predictions


def _percent(value: float) -> str:
    return f"{value:6.1%}"


def format_report(report: dict) -> str:
    """The report as a plain-text table: one row per split, then per-class scores of the first split."""
    splits = report["splits"]
    lines = [
        f"{'split':<12} {'faces':>6} {'accuracy':>9} {'macro-F1':>9} {'valence':>9} {'valence':>9} {'ECE':>7} {'NLL':>6}",
        f"{'':<12} {'':>6} {'':>9} {'':>9} {'(summed)':>9} {'(top)':>9} {'':>7} {'':>6}",
    ]
    for split, scores in splits.items():
        valence = scores["valence"]
        lines.append(
            f"{split:<12} {scores['faces']:>6} {_percent(scores['accuracy']):>9} {_percent(scores['macro_f1']):>9} "
            f"{_percent(valence['accuracy_summed_probs']):>9} {_percent(valence['accuracy_top_class']):>9} "
            f"{_percent(scores['ece']):>7} {scores['nll']:>6.3f}"
        )
    for split, reason in report.get("missing_splits", {}).items():
        lines.append(f"{split:<12} not scored: {reason}")
    if splits:
        first, scores = next(iter(splits.items()))
        lines += ["", f"per class on {first}:", f"{'class':<12} {'precision':>9} {'recall':>9} {'F1':>9} {'support':>8}"]
        for name, row in scores["per_class"].items():
            lines.append(
                f"{name:<12} {_percent(row['precision']):>9} {_percent(row['recall']):>9} "
                f"{_percent(row['f1']):>9} {row['support']:>8}"
            )
    groups = "; ".join(
        f"{valence}: {' '.join(name for name in report['labels'] if VALENCE_OF[name] == valence)}"
        for valence in VALENCES
    )
    lines += [
        "",
        f"valence ({groups}):",
        "  summed = the valence whose classes' probabilities add up to the most;",
        "  top    = the valence of the single most probable class.",
        "ECE: expected calibration error of the top-class confidence, 15 equal-width bins; NLL in nats.",
    ]
    with_votes = {split: scores["ferplus"] for split, scores in splits.items() if "ferplus" in scores}
    if with_votes:
        lines += ["", "FER+ votes (10 annotators a face): majority accuracy on faces whose majority is an emotion;",
                  "agreement = the top class got 3 or more votes; KL(votes || model) in nats:"]
        for split, scores in with_votes.items():
            lines.append(
                f"  {split:<12} majority {_percent(scores['majority_accuracy'])} of "
                f"{scores['faces_with_an_emotion_majority']}, agreement {_percent(scores['human_agreement'])}, "
                f"KL {scores['kl_divergence']:.3f}"
            )
            lines.append("               recall by majority: " + ", ".join(
                f"{name} {_percent(value)}" for name, value in scores["majority_recall"].items()
            ))
    if "cpu" in report:  # an int8 model's figures are only as portable as its kernels: say which ran
        lines.append(f"measured on: {report['cpu']}")
    return "\n".join(lines)


def confidence_report(
    predictions: Predictions, calibration, votes=None, splits: tuple[str, ...] = ("PublicTest", "PrivateTest"),
) -> dict:
    """Per split: ECE at T = 1 and at the model's temperature, and the risk-coverage table (share of
    faces shown and their accuracy at each threshold) of the calibrated probabilities; on FER+'s
    vote majority when `votes` are given (what a FER+ model is calibrated on), else on FER2013's labels."""
    import dataclasses

    from emocap.calibration import risk_coverage, uncalibrated

    labels = "fer2013"
    if votes is not None:
        from emocap.votes import majority_labels

        majority, kept = majority_labels(votes.for_files(predictions.files), predictions.class_names)
        predictions = dataclasses.replace(predictions, labels=majority).subset(kept)
        labels = "ferplus majority"
    report = {"labels": labels, "temperature": calibration.temperature, "unsure_below": calibration.unsure_below,
              "splits": {}}
    for split in splits:
        part = predictions.subset(split_mask(predictions.files, split))
        if not len(part):
            continue
        at_one = uncalibrated(part.probs, calibration.temperature)
        report["splits"][split] = {
            "ece_at_temperature_1": metrics.expected_calibration_error(part.labels, at_one),
            "ece": metrics.expected_calibration_error(part.labels, part.probs),
            "risk_coverage": risk_coverage(part.probs, part.labels).rows(),
        }
    return report


def format_confidence(report: dict) -> str:
    """The confidence report as text: ECE before and after, then one risk-coverage row per threshold."""
    splits = report["splits"]
    if not splits:
        return ""
    chosen = report["unsure_below"]
    on = " on FER+'s vote majority" if report.get("labels") == "ferplus majority" else ""
    lines = [f"confidence{on} (temperature {report['temperature']:.3f} from the model; captions say \"unsure\" "
             f"below {chosen:.2f}{' (never)' if chosen == 0 else ''}):"]
    lines += [f"  {split}: ECE {s['ece_at_temperature_1']:.2%} at T = 1, {s['ece']:.2%} calibrated"
              for split, s in splits.items()]
    lines.append("  threshold" + "".join(f"  {split + ' shown':>17}  {'right':>6}" for split in splits))
    for index, row in enumerate(next(iter(splits.values()))["risk_coverage"]):
        cells = ""
        for split in splits:
            entry = splits[split]["risk_coverage"][index]
            right = "-" if entry["accuracy"] is None else f"{entry['accuracy']:.1%}"
            cells += f"  {entry['coverage']:>17.1%}  {right:>6}"
        mark = "  <- the model's" if np.isclose(row["threshold"], chosen) else ""
        lines.append(f"  {row['threshold']:>9.2f}{cells}{mark}")
    return "\n".join(lines)
