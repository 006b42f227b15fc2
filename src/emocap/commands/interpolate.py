"""`emocap interpolate`: a model and its fine-tuned copy averaged in weight space (WiSE-FT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from emocap.commands.arguments import add_command, positive_int, real_number
from emocap.commands.options import add_fer_data_option, model_by_name
from emocap.errors import EmocapError
from emocap.training.defaults import DEFAULT_ALPHAS, DEFAULT_BATCH_NORM_FACES, DEFAULT_CORRUPTION_FACES

DESCRIPTION = """\
Average a model and its fine-tuned copy in weight space (WiSE-FT, Wortsman et
al., 2022): for each alpha, (1 - alpha) * base + alpha * tuned, batch norms
measured again on clean training faces. Each alpha is scored with mirror
averaging on clean PublicTest and on FER2013-C built from a PublicTest sample;
the one chosen is the most robust (highest mCA) among those no worse than the
base on clean PublicTest in accuracy, macro-F1 and the recall of fear and
disgust (failing that, in accuracy alone). PrivateTest is printed for the
record, never used to choose. Writes OUT/wise.pt, a checkpoint `emocap export`
takes, and OUT/interpolation.json, the table.
"""

EPILOG = """\
The built-in model's recipe: the cpu preset, fine-tuned with the robust preset,
then this step, then the export with mirror averaging.

examples:
  emocap train --preset robust --data fer2013/ --votes labels.csv --teacher builtin --init-from builtin --out runs/robust
  emocap interpolate --tuned runs/robust/best.pt --data fer2013/ --out runs/wise
  emocap interpolate --tuned runs/robust/best.pt --data fer2013/ --out runs/wise --alphas 0.6 0.8 --adjust-logits
  emocap export runs/wise/wise.pt -o robust.onnx --data fer2013/ --mirror

needs the training extra: pip install 'emocap[train]'
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "interpolate", help="average a model and its fine-tuned copy in weight space (needs emocap[train])",
        description=DESCRIPTION, epilog=EPILOG,
    )
    parser.add_argument("--tuned", required=True, metavar="CHECKPOINT",
                        help="the fine-tuned checkpoint: best.pt of a run started from the base (`emocap train --init-from`)")
    add_fer_data_option(parser, use="training faces measure the batch norms; PublicTest chooses; "
                        "PrivateTest is reported")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for wise.pt and interpolation.json")
    parser.add_argument("--base", type=model_by_name, default="builtin", metavar="MODEL",
                        help="the model the tuned one was fine-tuned from: its float weights (a best.pt or "
                        "checkpoints/*.pt, the better source), or an emocap ONNX model, its network rebuilt from the "
                        "graph ('builtin' or a built-in model's name; default: builtin)")
    parser.add_argument("--alphas", type=real_number(0, maximum=1), nargs="+",
                        default=list(DEFAULT_ALPHAS), metavar="A",
                        help=f"points on the line, 0 the base and 1 the tuned (default: {' '.join(map(str, DEFAULT_ALPHAS))})")
    parser.add_argument("--corruption-faces", type=positive_int, default=DEFAULT_CORRUPTION_FACES, metavar="N",
                        help=f"PublicTest faces FER2013-C is built from for choosing (default: {DEFAULT_CORRUPTION_FACES})")
    parser.add_argument("--calibration-faces", type=positive_int, default=DEFAULT_BATCH_NORM_FACES, metavar="N",
                        help=f"random training faces the batch norms are measured on (default: {DEFAULT_BATCH_NORM_FACES})")
    parser.add_argument("--adjust-logits", action="store_true",
                        help="for each alpha, raise the logits of fear and disgust by the offsets that give back their "
                        "recall on PublicTest (written into the head's bias)")
    parser.add_argument("--mca-tolerance", type=real_number(0, unit="fraction"), default=0.0, metavar="F",
                        help="mCA differences up to F (0.005 is half a point) count as ties, won by clean PublicTest "
                        "accuracy; 300 faces cannot tell 0.1 points apart (default: 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from emocap.outputs.files import check_named_outputs

    base = Path(args.base)
    if not base.is_file():
        raise EmocapError(f"--base model not found: {str(base)!r}")
    out = Path(args.out)
    try:
        from emocap.training.interpolation import CHECKPOINT_NAME, TABLE_NAME, interpolate
    except ImportError as error:
        raise EmocapError(f"interpolate needs PyTorch and onnx: pip install 'emocap[train]' ({error.name} is missing)") from None
    check_named_outputs([("--out", out / CHECKPOINT_NAME), ("--out", out / TABLE_NAME)],
                        {"--tuned": args.tuned, "--base": base, "--data": args.data})
    from emocap.onnx_session import cpu_features

    try:
        table = interpolate(
            base, args.tuned, args.data, out, alphas=tuple(args.alphas), corruption_faces=args.corruption_faces,
            batch_norm_faces=args.calibration_faces, adjust_logits=args.adjust_logits,
            mca_tolerance=args.mca_tolerance, progress=lambda line: print(line, flush=True),
        )
    except ValueError as error:
        raise EmocapError(str(error)) from None
    print(f"chosen: alpha {table['chosen_alpha']} (highest PublicTest-C mCA, {table['rule']}); "
          f"wrote {out / CHECKPOINT_NAME}")
    print(f"measured on: {cpu_features().describe()}")
    return 0
