"""`emocap evaluate`: accuracy, per-class scores, valence and calibration of a model on FER2013."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from emocap.commands.arguments import add_command, whole_number
from emocap.commands.options import (
    add_fer_data_option, add_image_limit_option, add_lift_light_option, add_model_choice, chosen_model, steps_bar,
)
from emocap.errors import DataError, ModelError, OutputError
from emocap.evaluation.defaults import DEFAULT_BATCH_SIZE, DEFAULT_TRAIN_SAMPLE

EPILOG = """\
what it reports, for the whole test set (7,178 faces) and its halves
PrivateTest and PublicTest (3,589 each, told apart by the file names):
  accuracy, macro-F1, precision / recall / F1 per class, valence accuracy
  (negative / neutral / positive) read two ways, expected calibration error
  (ECE, 15 bins) and negative log-likelihood. The test set is classified once.
  Confidence: ECE before and after the model's temperature (`emocap calibrate`
  fits it on PublicTest), and the risk-coverage table: at each threshold, the
  share of faces whose caption names an emotion and how often it is right; the
  model's own "unsure" threshold is marked.

figures (PNG) in the plots folder:
  confusion_<split>.png   confusion matrices, shares of each true class and counts
  reliability_test.png    calibration: accuracy against confidence
  risk_coverage.png       accuracy of the captions shown against the share of faces
                          shown, as the "unsure" threshold rises (PublicTest, PrivateTest)
  tsne_test.png           t-SNE map of the penultimate-layer embeddings of the test set
  tsne_train.png          the same for a stratified sample of the train set
The plots folder defaults to evaluation-<model name>/ beside the --json file,
or in the current folder without --json. t-SNE takes about a minute on two
CPU cores; --no-tsne skips it.

FER2013-C (--corruptions): the faces of one test half (--corruption-split)
under what webcams and recorded video do to faces, each at 3 severities,
made the same way every time (fixed seeds) and never stored: dark, gamma,
low_contrast, uneven_light, gaussian_blur, motion_blur, downscale (a small
face), jpeg, noise, rotation, detector_jitter (MTCNN's own frame-to-frame
spread, measured on the bundled clip, times 1, 2, 3) and occlusion (the
mouth covered). mCA is the mean accuracy over all 36; corruptions_SPLIT.png
plots accuracy against severity. The split is classified 36 more times,
once per corruption and severity; the JSON records how long that took.

Faces as video shows them (--wild, issue 44's yardstick): the faces of one
test half (--wild-split) turned (yaw 20/35/50 degrees), tilted (roll 15/25/35
with some yaw), lit from one side, in warm dim light with sensor noise, partly
covered by a hand or a bar (15/25/35% of the face), small and soft (36/30/24
px and back) and cropped off-centre (4/6/8 times MTCNN's box jitter), made the
same way every time; parameters in emocap.corruption_families.WILD_CONDITIONS.
The wild accuracy is the mean over all 21; under the model's "unsure" rule it
also reports the share of faces shown and the share right among those shown.
With --votes the truth is FER+'s vote majority (faces voted mostly contempt,
unknown or not a face are left out where the model lacks the class), else
FER2013's labels. wild_SPLIT.png plots accuracy against severity.

examples:
  emocap evaluate --data fer2013/
  emocap evaluate --data fer2013.csv --model paper.int8.onnx --json paper.json
  emocap evaluate --data fer2013/ --no-tsne --plots figures/
  emocap evaluate --data fer2013/ --corruptions --no-tsne     with FER2013-C
  emocap evaluate --data fer2013/ --wild --no-tsne            with faces as video shows them
  emocap evaluate --data fer2013/ --labels ferplus --votes ferplus/labels.csv --wild --no-tsne
"""


def add_parser(subparsers) -> None:
    parser = add_command(
        subparsers, "evaluate", help="accuracy of a model on the FER2013 test set, with figures",
        description="Classify the FER2013 test set with the built-in model (or --model) and report\n"
        "accuracy on test, PrivateTest and PublicTest, per-class scores, valence accuracy and\n"
        "calibration; draw confusion matrices, a reliability diagram and t-SNE maps of the\n"
        "embedding space.",
        epilog=EPILOG,
    )
    add_fer_data_option(parser)
    add_model_choice(parser)
    add_lift_light_option(parser)
    add_image_limit_option(parser)
    parser.add_argument("--json", default=None, metavar="FILE", help="also write all results (and timings) as JSON to FILE")
    parser.add_argument("--plots", default=None, metavar="DIR",
                        help="folder for the PNG figures (default: evaluation-<model name>/, see below)")
    parser.add_argument("--no-plots", action="store_true", help="write no figures")
    parser.add_argument("--no-tsne", action="store_true", help="skip the t-SNE maps (the slow part)")
    parser.add_argument("--tsne-train", type=whole_number(1), default=DEFAULT_TRAIN_SAMPLE, metavar="N",
                        help=f"train faces in the train-set t-SNE map, a stratified sample (default: {DEFAULT_TRAIN_SAMPLE})")
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=0, metavar="N",
                        help="seed of the train sample, of t-SNE and of FER2013-C (default: 0)")
    parser.add_argument("--votes", metavar="CSV",
                        help="FER+ votes: the matched labels.csv, or FER+'s fer2013new.csv beside a --data fer2013.csv; "
                        "adds majority accuracy, recall per class on the majority, human agreement and KL divergence per split")
    parser.add_argument("--corruptions", action="store_true",
                        help="also score FER2013-C: the faces under 12 corruptions a webcam or video brings, at 3 "
                        "severities each, and their mean (mCA); a table, and corruptions_SPLIT.png (see below)")
    add_test_half_option(parser, "--corruption-split", "FER2013-C")
    parser.add_argument("--wild", action="store_true",
                        help="also score faces as video shows them: turned, tilted, lit from one side, dim, covered, "
                        "small, off-centre, at 3 severities each; their mean (wild accuracy) and the share shown "
                        "and right under \"unsure\"; a table, and wild_SPLIT.png (see below)")
    add_test_half_option(parser, "--wild-split", "--wild")
    parser.add_argument("--batch-size", type=whole_number(1), default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"faces per model call (default: {DEFAULT_BATCH_SIZE})")
    parser.set_defaults(run=run)


def add_test_half_option(parser: argparse.ArgumentParser, flag: str, made: str) -> None:
    """The test half a derived set of faces (FER2013-C, --wild) is made from: PrivateTest to report a
    figure, PublicTest to choose between models or settings without looking at it."""
    parser.add_argument(flag, choices=("PrivateTest", "PublicTest"), default="PrivateTest",
                        help=f"the test half {made} is made from (default: PrivateTest, to report; "
                        "PublicTest to choose)")


def _model_name(model: str | None) -> str:
    return Path(model).stem if model else "builtin"


def _plots_dir(args: argparse.Namespace) -> Path | None:
    if args.no_plots:
        return None
    if args.plots:
        return Path(args.plots)
    beside = Path(args.json).parent if args.json else Path(".")
    return beside / f"evaluation-{_model_name(args.model)}"


def figure_names(args: argparse.Namespace) -> list[str]:
    """Every figure the run may draw, by its key in the results' "plots"; each is saved as KEY.png."""
    from emocap.evaluation.fer_scores import TEST_SPLITS

    names = [f"confusion_{split}" for split in TEST_SPLITS] + ["reliability_test", "risk_coverage"]
    if not args.no_tsne:
        names += ["tsne_test", "tsne_train"]
    if args.corruptions:
        names.append(f"corruptions_{args.corruption_split}")
    if args.wild:
        names.append(f"wild_{args.wild_split}")
    return names


def _figure_path(plots_dir: Path, name: str) -> Path:
    return plots_dir / f"{name}.png"


def _check_outputs(args: argparse.Namespace, plots_dir: Path | None) -> None:
    """Refuse, before any work, outputs that would overwrite or add to what the run reads (a dataset folder
    counts its PNGs; the model in use counts, named or not) or one another, or that cannot be written."""
    from emocap.outputs.files import check_named_outputs

    inputs = {"--data": args.data, "--model": args.model, "--votes": args.votes}
    figures = []
    if plots_dir is not None:
        named = "--plots" if args.plots else "the plots folder"
        hint = "" if args.plots else " (choose another with --plots, or --no-plots)"
        check_named_outputs({named: plots_dir}, inputs, hint=hint)
        figures = [(f"the {name} figure", _figure_path(plots_dir, name)) for name in figure_names(args)]
        figures.insert(0, (named, plots_dir))
    check_named_outputs([*figures, ("--json", args.json)], inputs)
    _check_json_path(args)


def _check_json_path(args: argparse.Namespace) -> None:
    """Fail on an unwritable --json before minutes of classifying, not after."""
    if args.json and not Path(args.json).parent.is_dir():
        raise OutputError(f"cannot write {args.json!r}: folder {str(Path(args.json).parent)!r} does not exist")
    if args.json and Path(args.json).is_dir():
        raise OutputError(f"cannot write {args.json!r}: it is a folder")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from emocap.atomic import all_or_nothing, atomic_json
    from emocap.classifier import EmotionClassifier
    from emocap.datasets import load_fer2013
    from emocap.outputs.files import folder_for_outputs

    args.model = chosen_model(args)
    if args.model and not Path(args.model).is_file():  # before the test set's seconds of loading
        raise ModelError(f"model not found: {args.model!r}")
    plots_dir = _plots_dir(args)
    _check_outputs(args, plots_dir)
    started = time.perf_counter()
    test = load_fer2013(args.data, "test", max_side=args.max_image_side)
    load_s = time.perf_counter() - started
    classifier = EmotionClassifier(args.model, lift_light=args.lift_light)
    votes = None
    if args.votes:
        from emocap.votes import load_votes

        data_csv = Path(args.data) if Path(args.data).suffix.lower() == ".csv" else None
        votes = load_votes(args.votes, original_csv=data_csv)
    # The figures and the JSON appear together at the end, or none of them, and the plots folder only with them.
    with folder_for_outputs(plots_dir, option="the plots folder"), all_or_nothing():
        result = _evaluate(args, classifier, test, votes, plots_dir, load_s=load_s)
        if args.json:
            atomic_json(args.json, result)
    for figure in result["plots"].values():
        print(f"wrote {figure}")
    if args.json:
        print(f"wrote {args.json}")
    return 0


def _evaluate(args: argparse.Namespace, classifier, test, votes, plots_dir: Path | None, *, load_s: float) -> dict:
    """The report of one model on the test set, with its figures saved in `plots_dir` and printed."""
    from emocap.evaluation.fer_scores import evaluate_test_set, format_report

    with_tsne = plots_dir is not None and not args.no_tsne
    report, predictions = evaluate_test_set(
        classifier, test, data_name=str(args.data), load_s=load_s, batch_size=args.batch_size, progress=True,
        with_embeddings=with_tsne, votes=votes,
    )
    from emocap.evaluation.fer_scores import format_confidence

    timings = report["timings_s"]
    result = {"model": args.model or "builtin", "preprocess": json.loads(classifier.preprocess.to_json()),
              **report, "plots": {}}
    if plots_dir is not None:
        result["plots"] = _save_score_plots(plots_dir, _model_name(args.model), result, predictions)
    if with_tsne:
        maps = {"test": predictions}
        started = time.perf_counter()
        try:
            maps["train"] = _embed_train_sample(classifier, args)
        except DataError as error:
            result["tsne_train_skipped"] = str(error)
            _say(f"no train-set t-SNE map: {error}")
        timings["embed_train_sample"] = time.perf_counter() - started
        result["plots"].update(_save_tsne_maps(plots_dir, _model_name(args.model), maps, args.seed, timings))
    if args.corruptions:
        result["fer2013_c"] = _score_corruptions(classifier, test, args)
        if plots_dir is not None:
            from emocap.evaluation.plots import save_corruption_plot

            split = args.corruption_split
            result["plots"][f"corruptions_{split}"] = str(save_corruption_plot(
                _figure_path(plots_dir, f"corruptions_{split}"), {_model_name(args.model): result["fer2013_c"]},
                title=f"FER2013-C from {split}",
            ))
    if args.wild:
        result["wild"] = _score_wild(classifier, test, votes, args)
        if plots_dir is not None:
            result["plots"][f"wild_{args.wild_split}"] = str(_save_wild_plot(plots_dir, args, result["wild"]))
    print(format_report(result))
    print(format_confidence(result["confidence"]))
    if args.corruptions:
        print(format_corruptions(result["fer2013_c"]))
    if args.wild:
        from emocap.evaluation.wild import format_wild

        print(format_wild(result["wild"]))
    from emocap.model_card import model_card_lines

    print("\n".join(model_card_lines()))
    return result


def _score_wild(classifier, test, votes, args: argparse.Namespace) -> dict:
    from emocap.datasets import split_mask
    from emocap.evaluation.wild import WILD, wild_accuracy, yardstick_labels

    part = test.subset(split_mask(test.files, args.wild_split))
    labels, kept, whose = yardstick_labels(part, tuple(classifier.labels), votes)
    if not kept.any():
        raise DataError(f"no {args.wild_split}_* faces with {whose} labels in the test data to make the wild "
                        "yardstick from")
    started = time.perf_counter()
    with steps_bar(len(WILD), "wild", "condition") as progress:
        report = wild_accuracy(classifier.predict, part.images[kept], labels[kept], seed=args.seed,
                               unsure_below=classifier.calibration.unsure_below, progress=progress)
    return {"split": args.wild_split, "labels": whose, **report, "seconds": time.perf_counter() - started}


def _save_wild_plot(plots_dir: Path, args: argparse.Namespace, report: dict) -> Path:
    from emocap.evaluation.plots import save_corruption_plot

    return save_corruption_plot(
        _figure_path(plots_dir, f"wild_{args.wild_split}"), {_model_name(args.model): report},
        title=f"Faces as video shows them, from {args.wild_split} ({report['labels']} labels)",
        families_key="conditions", mean_key="wild_accuracy", mean_name="wild accuracy",
    )


def _score_corruptions(classifier, test, args: argparse.Namespace) -> dict:
    from emocap.datasets import split_mask
    from emocap.evaluation.corruptions import CORRUPTIONS, corruption_accuracy

    part = test.subset(split_mask(test.files, args.corruption_split))
    if not len(part):
        raise DataError(f"no {args.corruption_split}_* files in the test data to make FER2013-C from")
    started = time.perf_counter()
    with steps_bar(len(CORRUPTIONS), "FER2013-C", "corruption") as progress:
        report = corruption_accuracy(classifier.predict, part.images, part.labels, seed=args.seed,
                                     progress=progress)
    return {"split": args.corruption_split, **report, "seconds": time.perf_counter() - started}


def format_corruptions(report: dict) -> str:
    """FER2013-C as a table: one row per corruption, accuracy at each severity and the drop at the middle one."""
    lines = [
        f"FER2013-C from {report['split']} ({report['faces']} faces): clean {report['clean']:.1%}, "
        f"mCA {report['mca']:.1%}",
        f"{'corruption':<16} {'1':>7} {'2':>7} {'3':>7} {'drop at 2':>10}",
    ]
    for name, by_severity in report["corruptions"].items():
        cells = " ".join(f"{by_severity[s]:>7.1%}" for s in ("1", "2", "3"))
        lines.append(f"{name:<16} {cells} {100 * report['middle_severity_drop'][name]:>+9.1f}pp")
    return "\n".join(lines)


def _save_score_plots(plots_dir: Path, name: str, result: dict, predictions) -> dict[str, str]:
    """A confusion matrix per split and the test set's reliability diagram."""
    from emocap.evaluation import plots
    from emocap.evaluation.metrics import reliability_bins

    written = {}
    for split, scores in result["splits"].items():
        written[f"confusion_{split}"] = str(plots.save_confusion_matrix(
            _figure_path(plots_dir, f"confusion_{split}"), scores["confusion_matrix"], predictions.class_names,
            title=f"{name} on FER2013 {split} ({scores['faces']} faces, accuracy {scores['accuracy']:.1%})",
        ))
    written["reliability_test"] = str(plots.save_reliability_diagram(
        _figure_path(plots_dir, "reliability_test"), reliability_bins(predictions.labels, predictions.probs),
        title=f"{name} on FER2013 test",
    ))
    if result["confidence"]["splits"]:
        written["risk_coverage"] = str(plots.save_risk_coverage(
            _figure_path(plots_dir, "risk_coverage"), result["confidence"]["splits"],
            unsure_below=result["confidence"]["unsure_below"], title=f"{name}: accuracy against faces shown",
        ))
    return written


def _embed_train_sample(classifier, args: argparse.Namespace):
    """Embeddings of a stratified, seeded sample of the train set (DataError when there is no train set)."""
    from emocap.datasets import load_fer2013
    from emocap.evaluation.fer_scores import predict_faces
    from emocap.evaluation.tsne import stratified_sample

    train = load_fer2013(args.data, "train", max_side=args.max_image_side)
    sample = train.subset(stratified_sample(train.labels, args.tsne_train, seed=args.seed))
    return predict_faces(
        classifier, sample, batch_size=args.batch_size, with_embeddings=True, progress=True, description="train sample"
    )


def _save_tsne_maps(plots_dir: Path, name: str, maps: dict, seed: int, timings: dict[str, float]) -> dict[str, str]:
    """One t-SNE map per entry of `maps` (split name -> Predictions with embeddings); records each t-SNE's seconds."""
    from emocap.evaluation import plots
    from emocap.evaluation.tsne import tsne_map

    written = {}
    for split, mapped in maps.items():
        if len(mapped) < 4:
            _say(f"no {split} t-SNE map: only {len(mapped)} faces")
            continue
        _say(f"t-SNE of {len(mapped)} {split} embeddings ...")
        started = time.perf_counter()
        points = tsne_map(mapped.embeddings, seed=seed)
        timings[f"tsne_{split}"] = time.perf_counter() - started
        written[f"tsne_{split}"] = str(plots.save_embedding_map(
            _figure_path(plots_dir, f"tsne_{split}"), points, mapped.labels, mapped.class_names,
            title=f"t-SNE of {name} embeddings, FER2013 {split} ({len(mapped)} faces)",
        ))
    return written
