"""Does mirror averaging still pay on video, once the per-face memory averages frames?

The built-in models average each face with its mirror image inside the graph (`LogitsAndEmbedding(mirror=True)`),
which doubles the classifier's work. `EmotionClassifier(mirror=False)` cuts the mirror branch out as it loads
the graph (`emocap.classifier.without_mirror`: the same weights see the face alone), and this script measures
both ways on:

  1. still faces: accuracy on FER2013 PublicTest and PrivateTest, one face at a time (what `emocap image` and
     `emocap evaluate` see);
  2. built clips (benchmarks/common.py's `simulate`, the clips of benchmarks/steadiness.py): simulated people
     whose emotion changes every 1-4 s, every frame a FER2013 face of the true class, "jitter" (one face a
     segment, moved and relit a little each frame) and "independent" (a new face every frame), with
     detection drop-outs, through the pipeline's EMA smoother and unsure rule with their default settings.
     The same seeds give both graphs the same clips. Caption figures as in steadiness.py: right % (frames
     whose caption names the true emotion, of all frames with a face), right|named, named %, changes/min;
     the paired noise (two standard errors over people) of right % between the graphs;
  3. the classifier's ms a face at batch 1, 4 and 8 (the faces of one frame), preprocessing included.

Run from the repository root:

    python benchmarks/mirror_on_video.py --data fer2013/ [--split PublicTest] [--seeds 0 1 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import add_video_options, checked_video_options, classifier_and_test_faces, one_line_errors, save_report, simulate
from steadiness import clip_figures, shown_captions

from emocap.classifier import EmotionClassifier
from emocap.defaults import DEFAULT_UNSURE_BAND
from emocap.onnx_session import cpu_features
from emocap.tracking import EmaSmoother

BATCHES = (1, 4, 8)


def captions(video, below: float) -> np.ndarray:
    """int64 (people, frames): what the pipeline's default EMA smoother and unsure rule show."""
    return shown_captions(video, below, EmaSmoother().alpha, DEFAULT_UNSURE_BAND, DEFAULT_UNSURE_BAND)


def ms_a_face(classifiers: dict, faces: np.ndarray, batch: int, rounds: int) -> dict[str, float]:
    """{name: median over rounds of ms a face}, `batch` faces a call, preprocessing included; the
    classifiers take turns each round, so a load on the CPU falls on both."""
    times: dict[str, list[float]] = {name: [] for name in classifiers}
    for classifier in classifiers.values():
        classifier.predict(faces[:batch])
    for round_ in range(rounds):
        picked = faces[(round_ * batch) % (len(faces) - batch):][:batch]
        for name, classifier in classifiers.items():
            began = time.perf_counter()
            for _ in range(10):
                classifier.predict(picked)
            times[name].append((time.perf_counter() - began) * 100 / batch)
    return {name: float(np.median(values)) for name, values in times.items()}


def accuracy(classifier: EmotionClassifier, data) -> float:
    return float(100 * (classifier.predict(data.images).argmax(1) == data.labels).mean())


def clip_rows(classifiers: dict, faces, args) -> dict:
    """Caption figures of each graph on each seed's clips, and the paired noise of right % between them."""
    rows = {}
    for mode in ("jitter", "independent"):
        for seed in args.seeds:
            for name, classifier in classifiers.items():
                probs = classifier.predict(faces.images)
                video = simulate(mode, seed, faces, probs, classifier, args)
                shown = captions(video, classifier.calibration.unsure_below)
                figures = clip_figures(shown, video)
                figures["right_by_person"] = (100 * ((shown == video.truth) & video.present).sum(1)
                                              / np.maximum(video.present.sum(1), 1)).tolist()
                figures["raw_right_pct"] = float(100 * (video.probs.argmax(2) == video.truth)[video.present].mean())
                rows[mode, seed, name] = figures
    return rows


def print_clips(rows: dict, args) -> None:
    print(f"\nbuilt clips of {args.split} faces, {args.people} people x {args.seconds:g} s at {args.fps:g} fps, "
          "EMA smoother and unsure rule at their defaults")
    print("mode        | seed | graph     | raw frame % | right % | right|named | named % | changes/min")
    for (mode, seed, name), row in rows.items():
        print(f"{mode:11} | {seed:4} | {name:9} | {row['raw_right_pct']:11.2f} | {row['right_pct']:7.2f} | "
              f"{row['right_when_named_pct']:11.2f} | {row['named_pct']:7.2f} | {row['changes_per_face_min']:11.1f}")
    for mode in ("jitter", "independent"):
        gains = np.concatenate([np.subtract(rows[mode, seed, "mirror"]["right_by_person"],
                                            rows[mode, seed, "no mirror"]["right_by_person"]) for seed in args.seeds])
        noise = 2 * gains.std(ddof=1) / np.sqrt(len(gains))
        print(f"{mode}: mirror minus no mirror, right % of captions: {gains.mean():+.2f} points "
              f"(two standard errors over {len(gains)} people: {noise:.2f})")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--model", default=None, help="an emocap model with mirror averaging (default: the built-in one)")
    parser.add_argument("--split", choices=("PublicTest", "PrivateTest"), default="PublicTest",
                        help="the faces of the built clips (default PublicTest)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="clip seeds (none: stills and speed only)")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds (10 calls each) per batch size")
    parser.add_argument("--json", default=None)
    add_video_options(parser, people=12, seconds=60.0)
    return checked_video_options(parser, parser.parse_args(argv))


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"CPU: {cpu_features().describe()}")
    mirrored, faces = classifier_and_test_faces(args.model, args.data)
    if not mirrored.mirrored:
        raise SystemExit(f"{str(mirrored.path)!r} does not average mirror images: nothing to compare")
    plain = EmotionClassifier(args.model, mirror=False)
    classifiers = {"mirror": mirrored, "no mirror": plain}
    report: dict = {"cpu": cpu_features().describe(), "still": {}, "ms_a_face": {}}
    print("\nstill faces, accuracy %:  split       | mirror | no mirror")
    for split, data in faces.items():
        report["still"][split] = {name: accuracy(classifier, data) for name, classifier in classifiers.items()}
        print(f"                          {split:11} | {report['still'][split]['mirror']:6.2f} | "
              f"{report['still'][split]['no mirror']:9.2f}")
    print("\nclassifier ms a face (median):  batch | mirror | no mirror")
    for batch in BATCHES:
        report["ms_a_face"][batch] = ms_a_face(classifiers, faces["PrivateTest"].images, batch, args.rounds)
        print(f"                                {batch:5} | {report['ms_a_face'][batch]['mirror']:6.2f} | "
              f"{report['ms_a_face'][batch]['no mirror']:9.2f}")
    rows = clip_rows(classifiers, faces[args.split], args) if args.seeds else {}
    if rows:
        print_clips(rows, args)
    report["clips"] = {f"{mode}/{seed}/{name}": row for (mode, seed, name), row in rows.items()}
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
