"""How much a teacher made of several networks would know: each checkpoint alone and every average of them.

Issue 27's way to a more accurate single model is a better teacher. Before a run is spent teaching from
an ensemble, this scores each checkpoint (float weights: best.pt, last.pt or checkpoints/*.pt), each
face averaged with its mirror image as the shipped models read it, and every average of two or more of
them: PublicTest accuracy (to choose on), PrivateTest accuracy and faces (to report), and the share of
PrivateTest faces shown at the 85% promise, the "unsure" threshold chosen on PublicTest (max probability,
no temperature: the ranking a calibrated model would show is close to it). An eight-class FER+ model
joins on the seven classes, its contempt dropped and the rest renormalised.

    python benchmarks/ensemble.py --data ../shared/data/fer2013-pack checkpoints/distill-campaign.pt out/runs/x/best.pt
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import torch
from common import one_line_errors, save_report
from wild_checkpoint import checkpoint_predictor

from emocap.calibration import lowest_threshold
from emocap.datasets import load_fer2013, split_mask
from emocap.errors import ModelError
from emocap.labels import FER2013_LABELS

PROMISE = 0.85


def mirrored_probabilities(path: str, faces: np.ndarray) -> np.ndarray:
    """(N, 7) probabilities of the checkpoint on `faces`, each averaged with its mirror image, in FER2013's
    class order."""
    try:
        predict, class_names = checkpoint_predictor(path)
    except ValueError as error:  # read_checkpoint's, quoting the path
        raise ModelError(str(error)) from None
    probs = (predict(faces) + predict(np.ascontiguousarray(faces[:, :, ::-1]))) / 2
    if tuple(class_names) != FER2013_LABELS:
        missing = [name for name in FER2013_LABELS if name not in class_names]
        if missing:
            raise ModelError(f"{path!r} names no {', '.join(missing)}: it cannot join a seven-class ensemble")
        probs = probs[:, [list(class_names).index(name) for name in FER2013_LABELS]]
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


def score(probs: np.ndarray, labels: np.ndarray, public: np.ndarray, private: np.ndarray) -> dict:
    right = probs.argmax(axis=1) == labels
    threshold = lowest_threshold(probs[public], labels[public], PROMISE)
    shown = probs[private].max(axis=1) >= threshold
    return {
        "public_accuracy": float(right[public].mean()),
        "private_accuracy": float(right[private].mean()),
        "private_right": int(right[private].sum()),
        "unsure_below": threshold,
        "private_shown": float(shown.mean()),
        "private_shown_right": float(right[private][shown].mean()) if shown.any() else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="best.pt, last.pt or fp16 weights")
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    if len(args.checkpoints) > 5:
        parser.error(f"at most 5 checkpoints ({2 ** 5 - 1} averages), got {len(args.checkpoints)}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads!r}")
    torch.set_num_threads(args.threads)

    test = load_fer2013(args.data, "test")
    public, private = split_mask(test.files, "PublicTest"), split_mask(test.files, "PrivateTest")
    probs = {}
    for path in args.checkpoints:
        started = time.perf_counter()
        probs[path] = mirrored_probabilities(path, test.images)
        print(f"scored {path} on {len(test.images)} faces in {time.perf_counter() - started:.0f} s", flush=True)

    rows = []
    for size in range(1, len(args.checkpoints) + 1):
        for members in itertools.combinations(args.checkpoints, size):
            average = sum(probs[path] for path in members) / size
            rows.append({"members": list(members), **score(average, test.labels, public, private)})
    print()
    print(f"| members | PublicTest | PrivateTest (faces) | shown at {PROMISE:.0%} (right) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {' + '.join(row['members'])} | {row['public_accuracy']:.2%} | {row['private_accuracy']:.2%} "
              f"({row['private_right']:,}) | {row['private_shown']:.1%} ({row['private_shown_right']:.1%}) |")
    return save_report(args.json, {"data": args.data, "promise": PROMISE, "rows": rows})


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
