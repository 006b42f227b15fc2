"""`emocap export`: a training checkpoint -> ONNX (fp32 and int8) for the run-time classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from emocap.commands.arguments import positive_int
from emocap.errors import EmocapError

EPILOG = """\
The ONNX model carries its class names, input size, channels and normalisation
in its metadata; `emocap live --model FILE` (and image, transcribe, serve,
evaluate) builds its preprocessing from them.
A parity check runs PyTorch and ONNX Runtime on the same faces and fails the
export if their logits differ by more than 1e-3.

examples:
  emocap export runs/paper/best.pt -o paper.onnx --data fer2013/
      writes paper.onnx and paper.int8.onnx (int8 calibrated on 512 training faces)
  emocap evaluate --data fer2013/ --model paper.int8.onnx
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a trained checkpoint to ONNX (needs emocap[train])",
        description="Export a checkpoint (best.pt) to ONNX, check parity with PyTorch, and write a "
        "static int8 variant calibrated on training faces, with its agreement and speed next to fp32.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", help="best.pt or last.pt from `emocap train`")
    parser.add_argument("-o", "--output", required=True, help="the fp32 .onnx file to write")
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="FER2013 (training faces calibrate int8; PublicTest faces check agreement)")
    parser.add_argument("--mirror", action="store_true",
                        help="the model also looks at each face mirrored and averages the two (more accurate, "
                        "twice the classifier's work); evaluation and run time both get it, as it is in the graph")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 variant")
    parser.add_argument("--calibration-faces", type=positive_int, default=512, metavar="N",
                        help="random training faces that calibrate the int8 ranges (default: 512; "
                        "all of them when there are fewer)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from emocap.training import export
    except ImportError as error:
        raise EmocapError(f"export needs PyTorch and onnx: pip install 'emocap[train]' ({error.name} is missing)") from None
    from emocap.datasets import load_fer2013

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if not checkpoint.is_file():
        raise EmocapError(f"checkpoint not found: {str(checkpoint)!r}")
    if output.suffix != ".onnx":
        raise EmocapError(f"output must end in .onnx, got {str(output)!r}")
    train = load_fer2013(args.data, "train")
    public = load_fer2013(args.data, "PublicTest")
    try:
        report = export.export_onnx(checkpoint, output, sample_faces=public.images[:64], mirror=args.mirror)
    except ValueError as error:
        raise EmocapError(str(error)) from None
    print(f"wrote {output}  (parity: max abs logit difference PyTorch vs ONNX Runtime {report.parity_max_abs_diff:.2e})")
    if args.no_int8:
        return 0
    _, _, preprocess, _ = export.load_checkpoint(checkpoint)
    int8_path = output.with_suffix(".int8.onnx")
    calibration = export.calibration_faces(train, args.calibration_faces)
    export.quantize_int8(output, int8_path, calibration_faces=calibration, preprocess=preprocess)
    figures = export.agreement(output, int8_path, public, preprocess)
    fp32_ms, int8_ms = export.ms_per_face(output, preprocess), export.ms_per_face(int8_path, preprocess)
    print(
        f"wrote {int8_path}  PublicTest accuracy fp32 {figures['fp32_accuracy']:.4f} int8 {figures['int8_accuracy']:.4f} "
        f"(top-1 agreement {figures['top1_agreement']:.4f}); batch-1 latency fp32 {fp32_ms:.2f} ms, int8 {int8_ms:.2f} ms; "
        f"size fp32 {output.stat().st_size / 2**20:.1f} MiB, int8 {int8_path.stat().st_size / 2**20:.1f} MiB"
    )
    return 0
