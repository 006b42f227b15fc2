"""Accuracy and agreement of the int8 model with and without AVX-512 VNNI: the real kernels, native and emulated.

ONNX Runtime picks its int8 kernels by the CPU's instruction sets. This runs the
same Python, the same ONNX Runtime and the same model twice on the same
PrivateTest faces: natively, and under `qemu-x86_64 -cpu Haswell` (AVX2, no
AVX-512, no VNNI: the kernels that saturate int16 sums). It prints both
accuracies, how often the two agree, and the largest logit difference.
qemu costs about 0.4 s a face: use a few hundred faces. Needs Debian's qemu-user.

    python benchmarks/int8_kernels.py --data fer2013/                 # the built-in model
    python benchmarks/int8_kernels.py --data fer2013/ --model old.onnx --faces 100
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import save_report

from emocap.commands.arguments import positive_int

EMULATED_CPU = "Haswell"


def classify(model: str, faces_path: str, out_path: str) -> None:
    """The worker, run natively and under qemu: logits of the faces, and what the CPU could do."""
    from emocap.classifier import EmotionClassifier
    from emocap.onnx_session import cpu_features

    classifier = EmotionClassifier(model, threads=1)
    faces = np.load(faces_path)
    start = time.perf_counter()
    logits = np.log(np.maximum(classifier.predict(faces), 1e-30))
    seconds = time.perf_counter() - start
    np.save(out_path, logits)
    print(json.dumps({"cpu": cpu_features().describe(), "seconds": seconds}))


def run_worker(prefix: list[str], model: str, faces_path: Path, out_path: Path) -> dict:
    command = [*prefix, sys.executable, __file__, "--worker", model, str(faces_path), str(out_path)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"error: {' '.join(command[:4])} ... failed: {completed.stderr.strip().splitlines()[-1:]}")
    return {**json.loads(completed.stdout.strip().splitlines()[-1]), "logits": np.load(out_path)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="FER2013 (its PrivateTest faces are classified)")
    parser.add_argument("--model", default=None, help="an int8 model (default: the built-in one)")
    parser.add_argument("--faces", type=positive_int, default=300, help="PrivateTest faces, a seeded sample (default: 300)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        classify(*args.worker)
        return 0
    if not args.data:
        parser.error("--data is required")
    if shutil.which("qemu-x86_64") is None:
        print("error: qemu-x86_64 not found: apt-get install qemu-user", file=sys.stderr)
        return 2

    from emocap.classifier import BUILTIN_MODEL
    from emocap.datasets import load_fer2013

    model = args.model or str(BUILTIN_MODEL)
    private = load_fer2013(args.data, "PrivateTest")
    chosen = np.sort(np.random.default_rng(0).choice(len(private), min(args.faces, len(private)), replace=False))
    faces, labels = private.images[chosen], private.labels[chosen]
    with tempfile.TemporaryDirectory() as folder:
        faces_path = Path(folder) / "faces.npy"
        np.save(faces_path, faces)
        native = run_worker([], model, faces_path, Path(folder) / "native.npy")
        emulated = run_worker(["qemu-x86_64", "-cpu", EMULATED_CPU], model, faces_path, Path(folder) / "emulated.npy")
    report = {"model": model, "faces": len(faces), "native_cpu": native["cpu"],
              "emulated_cpu": f"qemu-x86_64 -cpu {EMULATED_CPU}: {emulated['cpu']}"}
    for name, run in (("native", native), ("emulated", emulated)):
        report[f"{name}_accuracy"] = float((run["logits"].argmax(1) == labels).mean())
    report["top1_agreement"] = float((native["logits"].argmax(1) == emulated["logits"].argmax(1)).mean())
    report["max_abs_log_probability_difference"] = float(np.abs(native["logits"] - emulated["logits"]).max())
    report["emulated_seconds_per_face"] = emulated["seconds"] / len(faces)

    print(f"model {model}, {len(faces)} PrivateTest faces")
    print(f"  native   {report['native_cpu']}: accuracy {100 * report['native_accuracy']:.1f}%")
    print(f"  emulated {report['emulated_cpu']}: accuracy {100 * report['emulated_accuracy']:.1f}% "
          f"({report['emulated_seconds_per_face']:.2f} s a face)")
    print(f"  same class on {100 * report['top1_agreement']:.1f}% of faces; "
          f"largest log-probability difference {report['max_abs_log_probability_difference']:.2e}")
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
