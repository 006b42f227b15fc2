"""How far a model's probabilities can be trusted, and where its captions say "unsure".

Two numbers travel in a model's metadata (`emocap.calibration`, written by
`emocap calibrate`; `emocap export` does not fit them), both fitted on PublicTest only, so
PrivateTest stays clean for reporting:

  temperature   T dividing the logits before softmax (Guo et al., 2017), the T that
                minimises PublicTest's negative log-likelihood; T < 1 sharpens an
                under-confident model, T > 1 softens an over-confident one
  unsure_below  the threshold under which a face's smoothed top probability reads
                "unsure": the lowest of THRESHOLDS at which the PublicTest faces still
                shown are right at least `target` of the time (a rule written before
                any PrivateTest figure is seen); 0 when no threshold reaches it

A model without the key has T = 1 and never says "unsure".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from emocap.checks import read_json

CALIBRATION_KEY = "emocap.calibration"
DEFAULT_TARGET = 0.85
"""Shown captions must be right this often on PublicTest (the rule that picks `unsure_below`)."""
THRESHOLDS = np.round(np.arange(0.20, 0.951, 0.05), 2)
"""The thresholds the rule tries and risk-coverage tables list."""
TEMPERATURE_RANGE = (0.05, 20.0)


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    unsure_below: float = 0.0

    def __post_init__(self) -> None:
        low, high = TEMPERATURE_RANGE
        if not (_is_number(self.temperature) and low <= self.temperature <= high):
            raise ValueError(f"temperature must be a number in [{low:g}, {high:g}], got {self.temperature!r}")
        if not (_is_number(self.unsure_below) and 0 <= self.unsure_below < 1):
            raise ValueError(f"unsure_below must be a number in [0, 1), got {self.unsure_below!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        try:
            fields = read_json(text)
        except ValueError as error:
            raise ValueError(f"calibration must be JSON, got {str(text)[:200]!r} ({error})") from None
        if not isinstance(fields, dict) or set(fields) - {"temperature", "unsure_below"}:
            raise ValueError(f"calibration must be an object with temperature and unsure_below, got {text[:200]!r}")
        return cls(**fields)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean -log p(true class) of softmax(logits / temperature)."""
    log_probs = log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `labels` (N,) under `logits` (N, k)."""
    if len(logits) == 0 or len(logits) != len(labels):
        raise ValueError(f"need logits and labels for the same faces, got {len(logits)} and {len(labels)}")
    found = minimize_scalar(
        lambda t: negative_log_likelihood(logits, labels, t), bounds=TEMPERATURE_RANGE, method="bounded",
    )
    return float(found.x)


@dataclass(frozen=True)
class RiskCoverage:
    """For each threshold: the share of faces shown (top probability >= it) and how often those are right."""

    thresholds: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray
    """NaN where no face is shown."""

    def rows(self) -> list[dict]:
        return [
            {"threshold": float(t), "coverage": float(c), "accuracy": None if math.isnan(a) else float(a)}
            for t, c, a in zip(self.thresholds, self.coverage, self.accuracy)
        ]


def risk_coverage(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> RiskCoverage:
    """Coverage and accuracy of the shown faces when faces under each threshold read "unsure"."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    top, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    shown = top[None, :] >= np.asarray(thresholds)[:, None]  # (thresholds, faces)
    counts = shown.sum(axis=1)
    accuracy = np.divide((shown & right[None, :]).sum(axis=1), counts, out=np.full(len(counts), np.nan), where=counts > 0)
    return RiskCoverage(np.asarray(thresholds, np.float64), counts / max(len(labels), 1), accuracy)


def lowest_threshold(probs: np.ndarray, labels: np.ndarray, target: float = DEFAULT_TARGET,
                     also: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> float:
    """The rule: the lowest threshold whose shown faces are right at least `target` of the time, and
    those of each further (probs, labels) set in `also` too; 0 if none is."""
    reaching = np.ones(len(THRESHOLDS), bool)
    for set_probs, set_labels in ((probs, labels), *also):
        reaching &= np.nan_to_num(risk_coverage(set_probs, set_labels).accuracy, nan=-1.0) >= target
    return float(THRESHOLDS[np.flatnonzero(reaching)[0]]) if reaching.any() else 0.0


def fit_calibration(logits: np.ndarray, labels: np.ndarray, target: float = DEFAULT_TARGET,
                    also: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> Calibration:
    """The temperature and the unsure threshold of a model, from its logits on PublicTest faces; the
    threshold holds on each further (logits, labels) set in `also` too (the same faces as video shows
    them), while the temperature is fitted on the clean faces alone."""
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    temperature = fit_temperature(logits, labels)
    also_probs = [(softmax(set_logits, temperature), set_labels) for set_logits, set_labels in also]
    return Calibration(temperature, lowest_threshold(softmax(logits, temperature), labels, target, also_probs))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """float32 softmax of `logits` (N, k) / `temperature`."""
    shifted = np.asarray(logits, np.float64) / temperature
    shifted -= shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def uncalibrated(probs: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities at T = 1 of probabilities made at `temperature`: softmax(z / T) ** T is
    proportional to exp(z), so evaluation can show ECE before and after without the logits."""
    powered = np.power(np.asarray(probs, np.float64), temperature)
    return (powered / powered.sum(axis=1, keepdims=True)).astype(np.float32)
