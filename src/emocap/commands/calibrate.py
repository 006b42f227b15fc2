"""`emocap calibrate`: fit a model's temperature and "unsure" threshold on PublicTest, write them in its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

from emocap.commands.arguments import add_command, real_number
from emocap.commands.options import add_fer_data_option, add_image_limit_option, add_model_choice, chosen_model
from emocap.errors import EmocapError, ModelError

EPILOG = """\
Reads only the PublicTest half of the FER2013 test set, so PrivateTest stays
clean to report on (`emocap evaluate` shows ECE before and after, and the
risk-coverage table, on both halves). Two numbers are fitted:

  temperature   T dividing the model's logits before softmax, the one that makes
                PublicTest's probabilities most likely (negative log-likelihood)
  unsure below  the rule, fixed before any figure is seen: the lowest threshold
                (0.20, 0.25, ... 0.95) at which the PublicTest faces whose top
                calibrated probability reaches it are right at least --target of
                the time; captions of faces under it say "unsure"

With --wild the threshold must also keep the target on the same PublicTest faces
rendered as the wild yardstick renders them (`emocap evaluate --wild`), so the
captions a video shows keep the promise, at the cost of naming fewer clean faces.

examples:
  emocap calibrate --model paper.int8.onnx --data fer2013/ -o paper.calibrated.onnx
  emocap calibrate --data fer2013/ -o builtin.onnx --target 0.9     the built-in model, stricter
  emocap calibrate --labels ferplus --data fer2013/ --votes ferplus/labels.csv -o ferplus.onnx
  emocap calibrate --data fer2013/ --wild -o builtin.onnx           the promise held on video's faces too
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "calibrate", help="fit a model's confidence (temperature, unsure threshold) on PublicTest",
        description="Fit the temperature of a model's probabilities and the threshold under which its\n"
        "captions say \"unsure\" on FER2013's PublicTest, and write a copy of the model that carries them.",
        epilog=EPILOG,
    )
    add_fer_data_option(parser)
    add_model_choice(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="the calibrated model to write")
    parser.add_argument("--votes", metavar="CSV",
                        help="FER+ votes (labels.csv): fit on each face's vote majority instead of FER2013's label, "
                        "as a model trained on FER+ is scored (faces voted mostly unknown or not a face left out)")
    parser.add_argument("--target", type=real_number(0.5, maximum=0.99, unit="share"), default=None, metavar="P",
                        help="accuracy the captions still shown must reach on PublicTest (default: 0.85)")
    parser.add_argument("--wild", action="store_true",
                        help="the threshold must also hold on the same PublicTest faces as video shows them (every "
                        "condition and severity of the wild yardstick, pooled: turned, tilted, side-lit, dim, "
                        "covered, small, off-centre), "
                        "not only on clean ones; the temperature is still fitted on the clean faces")
    add_image_limit_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from emocap.calibration import DEFAULT_TARGET, Calibration, fit_calibration, risk_coverage, softmax
    from emocap.classifier import BUILTIN_MODEL, EmotionClassifier
    from emocap.datasets import load_fer2013
    from emocap.evaluation.metrics import expected_calibration_error
    from emocap.evaluation.fer_scores import labels_in_model_order
    from emocap.outputs.files import check_named_outputs

    model = Path(chosen_model(args) or BUILTIN_MODEL)
    output = Path(args.output)
    if output.suffix != ".onnx":
        raise EmocapError(f"-o must end in .onnx, got {str(output)!r}")
    if not model.is_file():
        raise ModelError(f"model not found: {str(model)!r}")
    check_named_outputs({"-o": output}, {"the model": model, "--data": args.data, "--votes": args.votes})
    try:
        from emocap.training.export import write_calibration
    except ImportError as error:
        raise EmocapError(f"calibrate needs onnx: pip install 'emocap[train]' ({error.name} is missing)") from None
    target = DEFAULT_TARGET if args.target is None else args.target
    public = load_fer2013(args.data, "PublicTest", max_side=args.max_image_side)
    classifier = EmotionClassifier(model)
    faces = public.images
    if args.votes:
        from emocap.votes import load_votes, majority_labels

        data_csv = Path(args.data) if Path(args.data).suffix.lower() == ".csv" else None
        try:
            labels, kept = majority_labels(load_votes(args.votes, original_csv=data_csv).for_files(public.files),
                                           classifier.labels)
        except ValueError as error:
            raise EmocapError(f"--votes: {error}") from None
        faces, labels = faces[kept], labels[kept]
    else:
        labels = labels_in_model_order(public, classifier.labels)
    if not len(labels):
        raise EmocapError(f"no PublicTest face of {args.data!r} has a label to fit on")
    logits = classifier.logits(faces)
    wild = [_wild_logits(classifier, faces, labels)] if args.wild else []
    calibration = fit_calibration(logits, labels, target, also=wild)
    write_calibration(model, calibration, output)
    before = expected_calibration_error(labels, softmax(logits))
    probs = softmax(logits, calibration.temperature)
    after = expected_calibration_error(labels, probs)
    print(f"{model.name} on {len(labels)} PublicTest faces{' (FER+ majority)' if args.votes else ''}: temperature {calibration.temperature:.3f} "
          f"(ECE {before:.2%} -> {after:.2%})")
    if calibration == Calibration(calibration.temperature):
        print(f"no threshold makes the shown captions right {target:.0%} of the time: this model never says unsure")
    else:
        curve = risk_coverage(probs, labels, [calibration.unsure_below])
        print(f"unsure below {calibration.unsure_below:.2f}: {curve.coverage[0]:.1%} of PublicTest faces shown, "
              f"right {curve.accuracy[0]:.1%} of the time (target {target:.0%})")
    for wild_logits, wild_labels in wild:
        curve = risk_coverage(softmax(wild_logits, calibration.temperature), wild_labels, [calibration.unsure_below])
        right = "none" if np.isnan(curve.accuracy[0]) else f"{curve.accuracy[0]:.1%}"
        print(f"  the same faces as video shows them (the wild yardstick's {len(wild_labels) // len(labels)} "
              f"renders of each): {curve.coverage[0]:.1%} shown, right {right} of the time")
    print(f"wrote {output}  (report it on PrivateTest: emocap evaluate --data {args.data} --model {output})")
    return 0


def _wild_logits(classifier, faces: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels) of the faces under every condition and severity of the wild yardstick, pooled as
    its figure of the faces shown and right is."""
    import numpy as np

    from emocap.commands.options import steps_bar
    from emocap.evaluation.wild import WILD, wild_views

    with steps_bar(len(WILD), "wild", "condition") as progress:
        views = [classifier.logits(images) for _, _, images in wild_views(faces, progress=progress)]
    return np.concatenate(views), np.tile(labels, len(views))
