"""Cost of an emotion model a face: multiply-accumulates, parameters, and ms with ONNX Runtime.

For each model (the built-in one first, as the baseline of the ratios), on
PrivateTest faces when --data is given (random faces otherwise: the time of
these networks does not depend on the pixels):

    MMAC a face       from the graph's convolutions and matrix products (mirror averaging included)
    parameters        the weights in the graph
    ms a face         EmotionClassifier.predict at batch 1 and batch 8, with 1 and 2 ONNX Runtime threads

Run:  python benchmarks/classifier_speed.py [MODEL.onnx ...] [--data fer2013/] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference
from common import save_report

from emocap.classifier import BUILTIN_MODEL, EmotionClassifier


def graph_cost(path: Path) -> tuple[float, int]:
    """(million multiply-accumulates for one face, parameters) of an emocap ONNX model."""
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].Clear()
    dims[0].dim_value = 1  # one face: every batch dimension after it is inferred from it
    inferred = shape_inference.infer_shapes(model)
    shapes = {value.name: [d.dim_value for d in value.type.tensor_type.shape.dim]
              for value in [*inferred.graph.value_info, *inferred.graph.output]}
    initializers = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    # A QDQ graph feeds each weight through DequantizeLinear: follow it back to the stored tensor.
    dequantized = {node.output[0]: node.input[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}

    def weight(name: str) -> np.ndarray:
        return initializers[dequantized.get(name, name)]

    macs = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            kernel = weight(node.input[1])
            macs += int(np.prod(shapes[node.output[0]])) * int(np.prod(kernel.shape[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            matrix = weight(node.input[1])
            transposed = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
            macs += int(np.prod(shapes[node.output[0]])) * int(matrix.shape[1] if transposed else matrix.shape[0])
    parameters = sum(int(np.prod(array.shape)) for name, array in initializers.items()
                     if array.ndim >= 1 and array.size > 1 and not name.endswith(("_scale", "_zero_point")))
    return macs / 1e6, parameters


def ms_a_face(classifier: EmotionClassifier, faces: np.ndarray, batch: int, seconds: float) -> float:
    for start in range(0, 4 * batch, batch):  # warm-up
        classifier.predict(faces[start : start + batch])
    done, position, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        if position + batch > len(faces):
            position = 0
        classifier.predict(faces[position : position + batch])
        position, done = position + batch, done + batch
    return (time.perf_counter() - started) * 1000 / done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="emocap ONNX models to compare with the built-in one")
    parser.add_argument("--data", default=None, help="FER2013 (PrivateTest faces are classified)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of timing per figure (default 3)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    if args.data:
        from emocap.datasets import load_fer2013

        faces = load_fer2013(args.data, "PrivateTest").images[:512]
    else:
        faces = np.random.default_rng(0).integers(0, 256, (512, 48, 48), dtype=np.uint8)
    models = [BUILTIN_MODEL, *map(Path, args.models)]
    print(f"{'model':<40} {'MMAC':>6} {'params':>7}  {'ms a face: batch 1 / batch 8, 1 thread':>39}  {'2 threads':>13}")
    report: dict = {"models": []}
    baseline = None
    for path in models:
        macs, parameters = graph_cost(path)
        row = {"model": str(path), "mmac": round(macs, 1), "parameters": parameters}
        for threads in (1, 2):
            classifier = EmotionClassifier(path, threads=threads)
            for batch in (1, 8):
                row[f"ms_batch{batch}_threads{threads}"] = round(ms_a_face(classifier, faces, batch, args.seconds), 3)
        baseline = baseline or row
        row["speed_up_batch1_threads2"] = round(baseline["ms_batch1_threads2"] / row["ms_batch1_threads2"], 2)
        report["models"].append(row)
        name = "built-in" if path == BUILTIN_MODEL else path.name
        print(f"{name:<40} {macs:>6.0f} {parameters / 1e6:>6.1f}M  {row['ms_batch1_threads1']:>19.2f} / "
              f"{row['ms_batch8_threads1']:<17.2f}  {row['ms_batch1_threads2']:>5.2f} / {row['ms_batch8_threads2']:<5.2f}"
              f"  ({row['speed_up_batch1_threads2']:.2f}x at batch 1)")
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
