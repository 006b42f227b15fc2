"""Turn an exported model's dim-light lift (`Preprocess.lift_to`) on or off, weights untouched.

Developer tooling, not a command: it serves measuring a trained model with and without the
lift (docs/BENCHMARKS.md).

The lift changes only the input the graph receives, so a model trained without it can be given it
(and measured) without training again: the built-in model was measured with it this way
(docs/BENCHMARKS.md, "Dim and flat faces: lifted before the model"; it did not become its default).
Models trained with `emocap train --lift-light` carry it from the start.

    python scripts/set_lift_light.py src/emocap/models/emotion.onnx -o out/models/lifted.onnx
    python scripts/set_lift_light.py out/models/lifted.onnx -o out/models/plain.onnx --off
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import onnx

from emocap.atomic import atomic_path
from emocap.errors import EmocapError
from emocap.preprocessing import FER2013_FACE_LIGHT, Preprocess
from emocap.training.quantization import set_metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an .onnx file written by `emocap export`")
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write (may be the input)")
    parser.add_argument("--off", action="store_true", help="remove the lift instead of setting it")
    args = parser.parse_args(argv)
    try:
        model = onnx.load(args.model)
    except Exception as error:  # onnx raises its own and protobuf's types for unreadable files
        print(f"error: {args.model!r} is not a readable ONNX model: {error}", file=sys.stderr)
        return 2
    metadata = {p.key: p.value for p in model.metadata_props}
    if "emocap.preprocess" not in metadata:
        print(f"error: {args.model!r} has no emocap preprocessing in its metadata (make models with `emocap export`)",
              file=sys.stderr)
        return 2
    try:
        preprocess = Preprocess.from_json(metadata["emocap.preprocess"])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    lifted = dataclasses.replace(preprocess, lift_to=None if args.off else FER2013_FACE_LIGHT)
    set_metadata(model, {**metadata, "emocap.preprocess": lifted.to_json()})
    try:
        with atomic_path(args.output) as temporary:
            onnx.save(model, str(temporary))
    except EmocapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {lifted.to_json()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
