"""`emocap export`: a training checkpoint -> ONNX (fp32 and int8) for the run-time classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from emocap.commands.arguments import add_command, positive_int
from emocap.commands.options import add_fer_data_option
from emocap.errors import EmocapError
from emocap.training.defaults import DEFAULT_CALIBRATION_FACES, INT8_SUFFIX

EPILOG = """\
The ONNX model carries its class names, its input size, channels and
normalisation (with the lift of dim faces, after `train --lift-light`) and its
training config in its metadata; `emocap live --model FILE` (and image,
transcribe, serve, evaluate) builds its preprocessing from them.
A parity check runs PyTorch and ONNX Runtime on the same faces and fails the
export if their logits differ by more than 1e-3.
The int8 model has uint8 activations and 7-bit per-channel weights, so its
integer arithmetic is exact on every x86 CPU, with or without AVX-512 VNNI
(8-bit weights saturate int16 sums on CPUs without it and lose accuracy).

examples:
  emocap export runs/paper/best.pt -o paper.onnx --data fer2013/
      writes paper.onnx and paper.int8.onnx (int8 calibrated on 512 training faces)
  emocap evaluate --data fer2013/ --model paper.int8.onnx
"""


DESCRIPTION = """\
Export a checkpoint (best.pt) to ONNX, check parity with PyTorch, and write a
static int8 variant calibrated on training faces, with its agreement and speed
next to fp32.
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "export", help="export a trained checkpoint to ONNX (needs emocap[train])",
        description=DESCRIPTION, epilog=EPILOG,
    )
    parser.add_argument("checkpoint", help="best.pt or last.pt from `emocap train` (a last.pt gives its weight EMA, "
                        "the weights the run scored, where it kept one)")
    parser.add_argument("-o", "--output", required=True, help="the fp32 .onnx file to write")
    add_fer_data_option(parser, use="training faces calibrate int8; PublicTest faces check agreement")
    parser.add_argument("--mirror", action="store_true",
                        help="the model also looks at each face mirrored and averages the two (more accurate, "
                        "twice the classifier's work); evaluation and run time both get it, as it is in the graph")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 variant")
    parser.add_argument("--calibration-faces", type=positive_int, default=DEFAULT_CALIBRATION_FACES, metavar="N",
                        help=f"random training faces that calibrate the int8 ranges (default: {DEFAULT_CALIBRATION_FACES}; "
                        "all of them when there are fewer)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from emocap.outputs.files import check_named_outputs

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if not checkpoint.is_file():
        raise EmocapError(f"checkpoint not found: {str(checkpoint)!r}")
    if output.suffix != ".onnx":
        raise EmocapError(f"output must end in .onnx, got {str(output)!r}")
    outputs = [("-o", output)] + ([] if args.no_int8 else [("-o", output.with_suffix(INT8_SUFFIX))])
    check_named_outputs(outputs, {"the checkpoint": checkpoint, "--data": args.data})
    try:
        from emocap.training import export
    except ImportError as error:
        raise EmocapError(f"export needs PyTorch and onnx: pip install 'emocap[train]' ({error.name} is missing)") from None
    from emocap.datasets import load_fer2013

    train = load_fer2013(args.data, "train")
    public = load_fer2013(args.data, "PublicTest")
    try:
        if args.no_int8:
            report = export.export_onnx(checkpoint, output, sample_faces=public.images[:64], mirror=args.mirror)
            print(f"wrote {output}  (parity: max abs logit difference PyTorch vs ONNX Runtime {report.parity_max_abs_diff:.2e})")
            return 0
        figures = export.export_with_int8(
            checkpoint, output, train=train, check_splits={"PublicTest": public}, mirror=args.mirror,
            calibration_count=args.calibration_faces,
        )
    except ValueError as error:
        raise EmocapError(str(error)) from None
    print(f"wrote {output}  (parity: max abs logit difference PyTorch vs ONNX Runtime {figures['parity_max_abs_diff']:.2e})")
    print(
        f"wrote {figures['int8_path']}  PublicTest accuracy fp32 {figures['PublicTest_fp32_accuracy']:.4f} "
        f"int8 {figures['PublicTest_int8_accuracy']:.4f} (top-1 agreement {figures['PublicTest_top1_agreement']:.4f}); "
        f"batch-1 latency fp32 {figures['fp32_ms_per_face']:.2f} ms, int8 {figures['int8_ms_per_face']:.2f} ms; "
        f"size fp32 {figures['fp32_mib']:.1f} MiB, int8 {figures['int8_mib']:.1f} MiB"
    )
    return 0
