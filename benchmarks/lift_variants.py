"""Accuracy, clean and under FER2013-C, of a trained model behind light or contrast corrections (no training again).

Each variant changes only the faces the model sees; the model is the built-in one (or --model).
For each, on one test half (PublicTest by default: this is for choosing):

    clean        accuracy on all its faces
    mCA          mean accuracy over FER2013-C made from a fixed sample of them (--faces, seed 0)
    drop at 2    clean minus the accuracy at the middle severity, per corruption

Variants:
    none          the model's own preprocessing
    lift          `Preprocess.lift_to` at FER2013's average face (0.514, 0.304): `--lift-light`
    lift-median   the same lift to the training faces' medians (0.505, 0.293)
    lift-p5       ... to their 5th percentiles (0.493, 0.288): only the dimmest and flattest move
    standardise   every face to mean 0.514 and std 0.304, brighter ones dimmed too
    brightness    every face's mean moved to 0.514, contrast kept
    equalise      OpenCV's histogram equalisation of every face
    lift-sharpen  lift, then an unsharp mask (amount 1, sigma 1) on faces less sharp than the
                  median training face (mean |Laplacian| / std)

Run:  python benchmarks/lift_variants.py --data fer2013/ none lift equalise [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Callable

import cv2
import numpy as np
from common import save_report

from emocap.classifier import EmotionClassifier
from emocap.datasets import load_fer2013
from emocap.evaluation.corruptions import corruption_accuracy
from emocap.preprocessing import FER2013_FACE_LIGHT, Preprocess, lift_light

LIFT_TARGETS = {"lift": FER2013_FACE_LIGHT, "lift-median": (0.505, 0.293), "lift-p5": (0.493, 0.288)}
VARIANTS = (*LIFT_TARGETS, "standardise", "brightness", "equalise", "lift-sharpen", "none")


def sharpness(faces: np.ndarray) -> np.ndarray:
    """Mean absolute Laplacian over the pixels' spread, per [0, 1] float face: lower is blurrier."""
    laplacians = np.stack([cv2.Laplacian(face, cv2.CV_32F) for face in faces])
    return np.abs(laplacians).mean(axis=(1, 2)) / (faces.std(axis=(1, 2)) + 1e-3)


def corrected_input(variant: str, base: Preprocess, median_sharpness: float) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 faces (N, H, W) -> the model's input, with the variant's correction in front."""
    if variant == "none":
        return base
    if variant in LIFT_TARGETS:
        return dataclasses.replace(base, lift_to=LIFT_TARGETS[variant])
    target_mean, target_std = FER2013_FACE_LIGHT

    def preprocess(gray: np.ndarray) -> np.ndarray:
        if variant == "equalise":
            gray = np.stack([cv2.equalizeHist(np.ascontiguousarray(face)) for face in gray])
        faces = gray.astype(np.float32) / 255
        means = faces.mean(axis=(1, 2), keepdims=True)
        if variant == "standardise":
            faces = (faces - means) / (faces.std(axis=(1, 2), keepdims=True) + 1e-3) * target_std + target_mean
        elif variant == "brightness":
            faces = faces - means + target_mean
        elif variant == "lift-sharpen":
            faces = lift_light(faces, FER2013_FACE_LIGHT)
            amount = np.clip((median_sharpness - sharpness(faces)) / median_sharpness, 0, 1)
            blurred = np.stack([cv2.GaussianBlur(face, (0, 0), 1.0) for face in faces])
            faces = faces + amount[:, None, None] * (faces - blurred)
        normalised = (faces - base.mean) / base.std
        return np.repeat(normalised[:, None], base.channels, axis=1).astype(np.float32)

    return preprocess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", choices=VARIANTS, metavar="VARIANT",
                        help=f"one or more of: {', '.join(VARIANTS)}")
    parser.add_argument("--data", required=True, help="FER2013 (any layout emocap reads)")
    parser.add_argument("--model", default=None, help="an emocap .onnx model (default: the built-in one)")
    parser.add_argument("--split", choices=("PublicTest", "PrivateTest"), default="PublicTest")
    parser.add_argument("--faces", type=int, default=300, help="faces FER2013-C is made from (default: 300)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default: 2)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    test = load_fer2013(args.data, args.split)
    sample = np.random.default_rng(0).choice(len(test), min(args.faces, len(test)), replace=False)
    train = load_fer2013(args.data, "train")
    median_sharpness = float(np.median(sharpness(train.images[:5000].astype(np.float32) / 255)))
    classifier = EmotionClassifier(args.model, threads=args.threads)
    base = classifier.preprocess
    rows = {}
    print(f"{'variant':14s} {'clean':>7s} {'mCA':>7s}  drop at severity 2 (points)")
    for variant in args.variants:
        classifier.preprocess = corrected_input(variant, base, median_sharpness)
        clean = float((classifier.predict(test.images).argmax(axis=1) == test.labels).mean())
        corrupted = corruption_accuracy(classifier.predict, test.images[sample], test.labels[sample])
        rows[variant] = {"clean": clean, "mca": corrupted["mca"], "corruptions": corrupted["corruptions"],
                         "middle_severity_drop": corrupted["middle_severity_drop"]}
        drops = " ".join(f"{name} {100 * drop:.1f}" for name, drop in corrupted["middle_severity_drop"].items())
        print(f"{variant:14s} {100 * clean:6.2f}% {100 * corrupted['mca']:6.2f}%  {drops}", flush=True)
    report = {"model": args.model or "builtin", "split": args.split, "clean_faces": len(test),
              "corruption_faces": len(sample), "median_train_sharpness": median_sharpness, "variants": rows}
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
