"""How far the built-in model's confidence can be trusted: temperature, ECE and risk-coverage on FER2013.

The measurement the "unsure" captions were built on, taken before any caption said it. On the
FER2013 test set (the Kaggle folders or a pack), the model's logits are read once; then:

  temperature  one T fitted on PublicTest by minimising the negative log-likelihood of
               softmax(logits / T) (Guo et al., 2017), applied as it is to PrivateTest
  ECE, NLL     on PrivateTest at T = 1 and at the fitted T (15 equal-width bins, as evaluate)
  threshold    the rule, written before PrivateTest is read: the lowest top-class probability
               (after T) at which the PublicTest faces shown are right at least --target of the
               time; faces below it would read "unsure"
  risk-coverage  on PrivateTest: for each threshold, the share of faces shown (coverage) and
               the accuracy of those shown, the chosen threshold marked

The same figures as `emocap calibrate` (the fit) and `emocap evaluate` (the report), from the
model's raw logits whatever temperature it carries. Single still faces, not the live path (where the per-face memory smooths first). Run from the
repository root:

    python benchmarks/confidence.py --data fer2013/
    python benchmarks/confidence.py --data fer2013/ --model my.onnx --target 0.9
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from emocap.calibration import (
    THRESHOLDS, fit_temperature, lowest_threshold, negative_log_likelihood, risk_coverage, softmax,
)
from emocap.classifier import EmotionClassifier
from emocap.datasets import load_fer2013, split_mask
from emocap.evaluation.metrics import expected_calibration_error


def logits_of(classifier: EmotionClassifier, images: np.ndarray, batch: int = 256) -> np.ndarray:
    # Logits, not probabilities: the temperature divides logits.
    return np.concatenate([classifier.logits(images[i:i + batch]) for i in range(0, len(images), batch)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--model", default=None, help="an emocap ONNX model (default: the built-in one)")
    parser.add_argument("--target", type=float, default=0.85, help="accuracy the shown captions must reach")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    test = load_fer2013(args.data, "test")
    classifier = EmotionClassifier(args.model)
    logits = logits_of(classifier, test.images)
    public, private = split_mask(test.files, "PublicTest"), split_mask(test.files, "PrivateTest")
    temperature = fit_temperature(logits[public], test.labels[public])
    print(f"model {classifier.path.name}; {public.sum()} PublicTest and {private.sum()} PrivateTest faces; "
          f"{time.perf_counter() - started:.0f} s")
    print(f"temperature fitted on PublicTest: T = {temperature:.3f}")
    for name, t in (("T = 1", 1.0), (f"T = {temperature:.3f}", temperature)):
        probs = softmax(logits[private], t)
        ece = expected_calibration_error(test.labels[private], probs)
        nll = negative_log_likelihood(logits[private], test.labels[private], t)
        print(f"  PrivateTest at {name:<10} ECE {ece:6.2%}  NLL {nll:.3f}")
    public_probs = softmax(logits[public], temperature)
    chosen = lowest_threshold(public_probs, test.labels[public], args.target)
    print(f"threshold by the rule (lowest at which PublicTest's shown faces are right >= {args.target:.0%}): "
          f"{'none reaches it' if not chosen else f'{chosen:.2f}'}")
    private_probs = softmax(logits[private], temperature)
    print("risk-coverage on PrivateTest (calibrated):\n  threshold  shown  accuracy of shown")
    curve = risk_coverage(private_probs, test.labels[private])
    for threshold, coverage, accuracy in zip(THRESHOLDS, curve.coverage, curve.accuracy):
        mark = "  <- chosen on PublicTest" if chosen and np.isclose(threshold, chosen) else ""
        print(f"  {threshold:9.2f}  {coverage:5.1%}  {accuracy:8.1%}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
