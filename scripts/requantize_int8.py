"""Re-quantise a shipped int8 model so that it computes exactly on every x86 CPU.

Developer tooling, not a command: it rebuilds a model the package ships when that model's fp32
checkpoint is gone (a user exports from their own checkpoint with `emocap export`).

The fp32 checkpoint of a model may be gone while its int8 graph ships: that
graph holds every weight (per-channel int8 with scales), so this rebuilds the
fp32 graph from it (`dequantize_qdq`), then quantises it again the way
`emocap export` now does (7-bit weights, see emocap.training.quantization),
calibrated on the same 512 training faces. It prints accuracy and top-1
agreement with the rebuilt fp32 graph on PublicTest (to choose) and
PrivateTest (to report):

    python scripts/requantize_int8.py --data fer2013/ --out out/requantized
    cp out/requantized/model.int8.onnx src/emocap/models/emotion.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx

from emocap.atomic import atomic_json, atomic_path
from emocap.classifier import BUILTIN_MODEL
from emocap.commands.arguments import positive_int
from emocap.datasets import load_fer2013
from emocap.onnx_session import cpu_features
from emocap.preprocessing import Preprocess
from emocap.training import export
from emocap.training.defaults import DEFAULT_CALIBRATION_FACES
from emocap.training.quantization import calibration_faces, dequantize_qdq, quantize_int8, saturation_risks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(BUILTIN_MODEL), help="a static QDQ int8 model (default: the built-in one)")
    parser.add_argument("--data", required=True, help="FER2013 (train calibrates; PublicTest and PrivateTest are measured)")
    parser.add_argument("--out", required=True, help="folder for model.onnx (rebuilt fp32), model.int8.onnx, summary.json")
    parser.add_argument("--calibration-faces", type=positive_int, default=DEFAULT_CALIBRATION_FACES, metavar="N")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = onnx.load(args.model)
    fp32_path, int8_path = out / "model.onnx", out / "model.int8.onnx"
    with atomic_path(fp32_path) as temporary:
        onnx.save(dequantize_qdq(source), str(temporary))
    metadata = {p.key: p.value for p in source.metadata_props}
    preprocess = Preprocess.from_json(metadata["emocap.preprocess"])
    train = load_fer2013(args.data, "train")
    quantize_int8(fp32_path, int8_path, calibration_faces=calibration_faces(train, args.calibration_faces),
                  preprocess=preprocess)
    summary = {
        "cpu": cpu_features().describe(),
        "source": args.model,
        "source_saturation_risks": len(saturation_risks(source)),
        "int8_saturation_risks": len(saturation_risks(onnx.load(str(int8_path)))),
        "int8_mib": int8_path.stat().st_size / 2**20,
        "fp32_ms_per_face": export.ms_per_face(fp32_path, preprocess),
        "int8_ms_per_face": export.ms_per_face(int8_path, preprocess),
    }
    for split in ("PublicTest", "PrivateTest"):
        figures = export.agreement(fp32_path, int8_path, load_fer2013(args.data, split), preprocess)
        summary.update({f"{split}_{k}": v for k, v in figures.items()})
    atomic_json(out / "summary.json", summary)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
