"""The wild yardstick (issue 44) scored straight on a training checkpoint's PyTorch weights, no export.

For a short schedule's arms (issue 44, goal 2): each `best.pt` (or any best.pt / last.pt / fp16 weights file
that `emocap train --init-from` takes) scored on the clean faces and on every condition and severity of
`emocap.evaluation.wild`, the yardstick's own rendering, seed and accuracy table, the model in fp32 (the
EMA weights that best.pt keeps). No calibration travels with a checkpoint, so the table's "unsure" lines
show every face (threshold 0); the accuracies are those `emocap evaluate --wild` gives the exported model,
up to the int8 export's own rounding.

One thread. Each split is 22 passes over its faces (clean, 7 conditions x 3 severities): on a 2-core EPYC
shared with other work, about 60-110 ms a face, so --sample N takes a random N faces of each split
(seed 0: the same faces for every checkpoint).

    python benchmarks/wild_checkpoint.py --data fer2013/ --split PublicTest --sample 600 runs/a/best.pt runs/b/best.pt
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from common import one_line_errors, save_report

from emocap.datasets import load_fer2013, split_mask
from emocap.errors import ModelError
from emocap.labels import LABEL_SETS
from emocap.evaluation.wild import format_wild, wild_accuracy, yardstick_labels
from emocap.training.augment import to_model_input
from emocap.training.export import load_checkpoint

SPLITS = ("PublicTest", "PrivateTest")


def checkpoint_predictor(path: str, batch_size: int = 256):
    """uint8 faces (N, 48, 48) -> softmax probabilities (N, classes) of the checkpoint's network in fp32,
    and its class names."""
    net, config, preprocess, _ = load_checkpoint(path)
    net = net.float().eval().to(memory_format=torch.channels_last)  # as training runs it: 20% faster on a CPU

    @torch.inference_mode()
    def predict(faces: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(faces), batch_size):
            x = to_model_input(torch.from_numpy(np.ascontiguousarray(faces[start:start + batch_size])), preprocess)
            out.append(torch.softmax(net(x.contiguous(memory_format=torch.channels_last)), dim=1).numpy())
        return np.concatenate(out)

    return predict, LABEL_SETS[config.labels]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="best.pt, last.pt or fp16 weights")
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="PublicTest",
                        help="PublicTest (to choose on; the default), PrivateTest (to report) or both")
    parser.add_argument("--sample", type=int, default=None, metavar="N",
                        help="a random N faces of each split, the same every time (seed 0); not the first N: "
                        "FER2013's files are grouped by class, so the first 600 of a split are angry, disgust "
                        "and fear only")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be at least 1, got {args.sample!r}")

    test = load_fer2013(args.data, "test")
    torch.set_num_threads(1)
    report: dict = {"data": args.data, "sample": args.sample, "scores": {}}
    for path in args.checkpoints:
        try:
            predict, class_names = checkpoint_predictor(path)
        except ValueError as error:  # read_checkpoint's, quoting the path
            raise ModelError(str(error)) from None
        for split in (SPLITS if args.split == "both" else (args.split,)):
            part = test.subset(split_mask(test.files, split))
            if args.sample is not None:
                part = part.subset(np.sort(np.random.default_rng(0).permutation(len(part))[:args.sample]))
            labels, kept, whose = yardstick_labels(part, tuple(class_names))
            started = time.perf_counter()
            scored = wild_accuracy(predict, part.images[kept], labels[kept], unsure_below=0.0)
            scored = {"split": split, "labels": whose, **scored, "seconds": time.perf_counter() - started}
            report["scores"].setdefault(path, {})[split] = scored
            print(f"{path} ({scored['seconds']:.0f} s):")
            print(format_wild(scored))
            print()
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
