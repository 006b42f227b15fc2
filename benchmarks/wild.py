"""Faces as video shows them (issue 44's yardstick): the built-in models side by side, and on the shipped faces.

1. FER2013 test faces (PrivateTest to report, PublicTest to choose a recipe on) turned, tilted, lit from
   one side, in warm dim light, partly covered, small and soft and cropped off-centre, three severities
   each (`emocap.evaluation.wild`, parameters in `emocap.corruption_families.WILD_CONDITIONS`, fixed
   before any model was scored on them). For each model: accuracy per condition and severity, their mean
   (the wild accuracy) and, under the model's own calibrated "unsure" threshold, the share of faces shown
   and the share right among those shown. The same figures as `emocap evaluate --wild`.
   Models: the built-in 7-class model, the built-in FER+ model and each --model given. A model with
   FER+'s contempt class is scored on FER+'s vote majority when --votes is given (as it is calibrated; its
   faces are those whose majority is one of its emotions), the others on FER2013's labels.
2. The public-domain faces the repository ships (the two portraits of emocap_testkit.faces and the bundled
   clip made of them), against the labels a person wrote down before any model ran on them
   (benchmarks/shipped_faces_labels.json): each model's caption through the whole live path (MTCNN,
   tracking, smoothing, "unsure"), and what it would caption with "unsure" off.

Run from the repository root (about 22 passes over each split a model; --limit N takes the first N faces
of each split for a first look, never for a reported figure):

    python benchmarks/wild.py --data fer2013/ --votes ferplus/labels.csv
    python benchmarks/wild.py --data fer2013/ --votes ferplus/labels.csv --model new.onnx --json out/wild.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from common import one_line_errors, save_report

from emocap.classifier import BUILTIN_MODELS, EmotionClassifier
from emocap.datasets import load_fer2013, split_mask
from emocap.errors import DataError
from emocap.evaluation.wild import WILD, wild_accuracy, yardstick_labels

SPLITS = ("PrivateTest", "PublicTest")
LABELS_FILE = Path(__file__).with_name("shipped_faces_labels.json")


def models_of(args: argparse.Namespace) -> dict[str, EmotionClassifier]:
    """The built-in 7-class and FER+ models, then each --model, by the name the table shows."""
    models = {"builtin": EmotionClassifier(BUILTIN_MODELS["fer2013"]),
              "ferplus": EmotionClassifier(BUILTIN_MODELS["ferplus"])}
    for path in args.model:
        models[Path(path).stem] = EmotionClassifier(path)
    return models


def score_split(classifier: EmotionClassifier, test, split: str, votes, limit: int | None) -> dict:
    """The yardstick's report of one model on one split (FER+ majority for a model with contempt)."""
    part = test.subset(split_mask(test.files, split))
    if limit is not None:
        part = part.subset(np.arange(len(part)) < limit)
    with_votes = votes if "contempt" in classifier.labels else None
    labels, kept, whose = yardstick_labels(part, tuple(classifier.labels), with_votes)
    if not kept.any():
        raise DataError(f"no {split}_* faces with {whose} labels in the test data")
    started = time.perf_counter()
    report = wild_accuracy(classifier.predict, part.images[kept], labels[kept],
                           unsure_below=classifier.calibration.unsure_below)
    return {"split": split, "labels": whose, **report, "seconds": time.perf_counter() - started}


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_side_by_side(split: str, reports: dict[str, dict]) -> str:
    """One column a model: accuracy per condition and severity, then the "unsure" rule's shown / right."""
    names = list(reports)
    width = max(16, *(len(name) + 2 for name in names))

    def row(title: str, cells) -> str:
        return f"{title:<18}" + "".join(f"{cell:>{width}}" for cell in cells)

    lines = [f"Faces as video shows them, from {split}:",
             row("", names),
             row("labels", [r["labels"] for r in reports.values()]),
             row("faces", [str(r["faces"]) for r in reports.values()]),
             row("clean", [_cell(r["clean"]) for r in reports.values()])]
    for condition in WILD:
        for severity in ("1", "2", "3"):
            lines.append(row(f"{condition} {severity}", [_cell(r["conditions"][condition][severity])
                                                         for r in reports.values()]))
    lines.append(row("WILD ACCURACY", [_cell(r["wild_accuracy"]) for r in reports.values()]))
    lines += ["", "under \"unsure\" (each model's own threshold): faces shown / right among them",
              row("threshold", [f"{r['unsure_below']:.2f}" for r in reports.values()])]
    for title, pick in [("clean", lambda u: u["clean"]),
                        *((name, lambda u, name=name: u["conditions"][name]) for name in WILD),
                        ("all wild", lambda u: u["all"])]:
        lines.append(row(title, [f"{pick(r['unsure'])['shown']:.1%} / {_cell(pick(r['unsure'])['right_when_shown'])}"
                                 for r in reports.values()]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--votes", default=None, help="FER+ labels.csv: FER+ models are scored on the vote majority")
    parser.add_argument("--model", action="append", default=[], metavar="FILE.onnx",
                        help="another model to score beside the built-in ones (repeatable)")
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both", help="default: both halves")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N faces of each split (a first look; report whole splits)")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped photos and clip")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit!r}")

    models = models_of(args)
    test = load_fer2013(args.data, "test")
    votes = None
    if args.votes:
        from emocap.votes import load_votes

        votes = load_votes(args.votes)
    report: dict = {"data": args.data, "votes": args.votes, "limit": args.limit, "yardstick": {}}
    for split in (SPLITS if args.split == "both" else (args.split,)):
        report["yardstick"][split] = {name: score_split(classifier, test, split, votes, args.limit)
                                      for name, classifier in models.items()}
        print(format_side_by_side(split + (f" (first {args.limit} faces)" if args.limit else ""),
                                  report["yardstick"][split]))
        print()
    if not args.no_shipped:
        report["shipped"] = shipped_faces(models)
    return save_report(args.json, report)


# --- the shipped faces, against a person's labels --------------------------------------------------

def _acceptable(labels: dict, who: str) -> set[str]:
    photo = labels["photos"][who]
    return {photo["label"], *photo["also_acceptable"]}


def _captions(pipeline, image_bgr, time_s: float | None = None) -> list[str]:
    """The caption of each face in a frame, left to right ('' while a face has none yet)."""
    from emocap.outputs.captions import class_name

    result = pipeline.process(image_bgr, time_s)
    order = np.argsort(result.faces.boxes[:, 0]) if len(result.faces.boxes) else []
    return [class_name(result.labels, int(result.faces.display[i])) for i in order]


def _read_clip(pipelines: dict, labels: dict) -> dict:
    """Per person, how often each pipeline captioned them what in the clip's whole-face spans; and the
    frames of the spans where a pipeline found another number of faces than the span has."""
    from emocap.sources import open_path

    people: dict = {who: {kind: Counter() for kind in pipelines} for who in labels["photos"]}
    miscounted = Counter()
    with open_path(labels["clip"]["path"]) as source:
        for frame in source:
            span = next((s for s in labels["clip"]["spans"] if s["from_s"] <= frame.time_s <= s["to_s"]), None)
            for kind, pipeline in pipelines.items():
                captions = _captions(pipeline, frame.image_bgr, frame.time_s)  # every frame, as the live path
                if span is None:
                    continue
                if len(captions) != len(span["faces_left_to_right"]):
                    miscounted[kind] += 1
                    continue
                for who, caption in zip(span["faces_left_to_right"], captions):
                    people[who][kind][caption or "(none yet)"] += 1
    return {"people": {who: {kind: dict(c) for kind, c in kinds.items()} for who, kinds in people.items()},
            "frames_miscounted": dict(miscounted)}


def shipped_faces(models: dict[str, EmotionClassifier]) -> dict:
    """Each model's captions, with "unsure" on (its own threshold) and off, on the two portraits and on the
    whole-face spans of the bundled clip, through the live path's default settings."""
    from emocap.pipeline import Pipeline
    from emocap_testkit.faces import portrait

    labels = json.loads(LABELS_FILE.read_text())
    print(f"The shipped faces, labelled by a person before any model ran on them ({LABELS_FILE.name}):")
    out: dict = {}
    for name, classifier in models.items():
        photos = {}
        for who in labels["photos"]:
            photos[who] = {kind: _captions(Pipeline(None, classifier, confirm_frames=1, **settings), portrait(who))
                           for kind, settings in (("caption", {}), ("unsure_off", {"unsure_below": 0.0}))}
        pipelines = {"caption": Pipeline(None, classifier), "unsure_off": Pipeline(None, classifier, unsure_below=0.0)}
        out[name] = {"photos": photos, "clip": _read_clip(pipelines, labels)}
    print(format_shipped(labels, out))
    return out


def format_shipped(labels: dict, results: dict) -> str:
    lines = [f"{'face':<20} {'a person says':<18} " + " ".join(f"{name:<30}" for name in results)]
    for who, photo in labels["photos"].items():
        person = photo["label"] + "".join(f" ({alt})" for alt in photo["also_acceptable"])
        cells = [f"{', '.join(r['photos'][who]['caption']) or 'no face'} "
                 f"[{', '.join(r['photos'][who]['unsure_off']) or 'no face'}]" for r in results.values()]
        lines.append(f"{'photo ' + who:<20} {person:<18} " + " ".join(f"{cell:<30}" for cell in cells))
    for who, photo in labels["photos"].items():
        person = photo["label"] + "".join(f" ({alt})" for alt in photo["also_acceptable"])
        cells = []
        for result in results.values():
            tally = result["clip"]["people"][who]
            agree = {kind: sum(n for c, n in counts.items() if c in _acceptable(labels, who))
                     for kind, counts in tally.items()}
            frames = sum(tally["caption"].values())
            cells.append(f"{agree['caption']}/{frames} [{agree['unsure_off']}/{sum(tally['unsure_off'].values())}]")
        lines.append(f"{'clip ' + who:<20} {person:<18} " + " ".join(f"{cell:<30}" for cell in cells))
    lines.append("photo: each face's caption, and in [ ] its caption with \"unsure\" off; clip: frames of the "
                 "whole-face spans whose caption a person agrees with (the label, or one in parentheses), [ ] with "
                 "\"unsure\" off")
    for name, result in results.items():
        for who, tally in result["clip"]["people"].items():
            lines.append(f"  {name}, clip {who}: {tally['caption']}; unsure off {tally['unsure_off']}")
        if result["clip"]["frames_miscounted"]:
            lines.append(f"  {name}: span frames with another number of faces: {result['clip']['frames_miscounted']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
