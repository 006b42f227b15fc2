"""Caption changes per face-minute, and how often the captions are right, for settings of the caption memory.

A caption that changes every second is hard to read, and one that goes "happy", "unsure", "happy" as a
smoothed confidence wavers about the unsure threshold changes for nothing. Two settings steady it: the
EMA smoother's `alpha` (how much of each frame goes into a face's average: less is calmer and slower)
and the unsure rule's band, `UnsureRule(lower=L, upper=U)`: a face that names an emotion turns unsure
only under threshold - L, and an unsure one names an emotion again only at threshold + U. Measured for
each alpha of ALPHAS and band of BANDS, the EMA's hysteresis and the model's own threshold as they
are, on:

- built clips: simulated people whose emotion changes every 1-4 s, every frame a FER2013 face of the
  true class, jittered (one face a segment, moved and relit a little each frame) and classified by the
  real model, with detection drop-outs (benchmarks/smoothing.py's "jitter" video). The setting is chosen
  on clips of PublicTest faces and reported on clips of PrivateTest faces;
- any video given with --video: the real pipeline (MTCNN, tracking, confirmation) detects and classifies
  once, then its tracking stages are replayed for each setting (no truth there: changes only).

Figures, over the frames where a face is detected:

  changes/min  caption changes per face per minute (to and from "unsure" included)
  named %      frames whose caption names an emotion (not "unsure", not yet nothing)
  right|named  of those, the share that name the true emotion
  right %      frames that name the true emotion, of all

The rule: the default is the setting with the fewest changes per face-minute on the PublicTest clips
among those whose right|named is not under today's (alpha 0.3, no band) by more than its sampling noise
and whose named % is at most 3 points under today's. The noise is two standard errors of the paired
difference over the simulated people: each person's right|named under the setting minus under today's,
their standard deviation over the square root of their number. (The rule's first form asked for
right|named at least today's to the last digit, and kept today's default on seeds 0 and 1: the bands
about the threshold missed it by 0.01-0.02 points. The tolerance was written then,
before the clips of --seed 10, on which it is judged, were made.)

    python benchmarks/steadiness.py --data fer2013/ [--seed 10]
    python benchmarks/steadiness.py --data fer2013/ --video talk.mp4
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import (Video, add_video_options, checked_video_options, classifier_and_test_faces, one_line_errors,
                    save_report, simulate)

from emocap.tracking import EmaSmoother, UnsureRule
from emocap.types import NO_LABEL, UNSURE, Faces

ALPHAS = (0.3, 0.2, 0.15)
BANDS = ((0.0, 0.0), (0.0, 0.05), (0.0, 0.1), (0.025, 0.025), (0.05, 0.05), (0.075, 0.075), (0.1, 0.1))
SETTINGS = tuple((alpha, *band) for alpha in ALPHAS for band in BANDS)
TODAY = (0.3, 0.0, 0.0)
NAMED_SLACK_POINTS = 3.0
NOISE_STANDARD_ERRORS = 2.0


def shown_captions(video: Video, below: float, alpha: float, lower: float, upper: float) -> np.ndarray:
    """int64 (people, frames): what the EMA smoother and the unsure rule show, NO_LABEL where no face."""
    smoother, rule = EmaSmoother(alpha=alpha), UnsureRule(below, lower=lower, upper=upper)
    people = np.arange(len(video.truth))
    boxes = np.stack([people * 120.0, np.zeros(len(people)), people * 120.0 + 100, np.full(len(people), 100.0)], 1)
    display = np.full(video.truth.shape, NO_LABEL, np.int64)
    for frame in range(video.truth.shape[1]):
        here = video.present[:, frame]
        faces = Faces(boxes=boxes[here], scores=np.ones(here.sum()), track_ids=people[here], probs=video.probs[here, frame])
        out = rule.update(smoother.update(faces))
        display[out.track_ids, frame] = out.display
    return display


def changes_per_face_minute(display_rows, fps: float) -> float:
    """Caption changes per minute of face on screen; each row is one face's captions (NO_LABEL: not shown)."""
    changes, frames = 0, 0
    for row in display_rows:
        shown = row[row != NO_LABEL]
        changes += int(np.count_nonzero(shown[1:] != shown[:-1]))
        frames += len(shown)
    return changes / max(frames / fps / 60, 1e-9)


def clip_figures(display: np.ndarray, video: Video) -> dict:
    present = video.present
    shown, truth = display[present], video.truth[present]
    named = shown >= 0
    right = named & (shown == truth)
    rows = [np.where(video.present[person], display[person], NO_LABEL) for person in range(len(display))]
    named_by_person = ((display >= 0) & present).sum(axis=1)
    right_by_person = ((display == video.truth) & present).sum(axis=1)
    return {
        "changes_per_face_min": changes_per_face_minute(rows, video.fps),
        "named_pct": 100 * named.mean(),
        "right_when_named_pct": 100 * right.sum() / max(named.sum(), 1),
        "right_pct": 100 * right.mean(),
        "unsure_pct": 100 * (shown == UNSURE).mean(),
        "right_when_named_by_person": (100 * right_by_person / np.maximum(named_by_person, 1)).tolist(),
    }


def paired_noise(row: dict, today: dict) -> float:
    """NOISE_STANDARD_ERRORS standard errors, in points, of the mean over people of right|named's
    paired difference between a setting and today's."""
    difference = np.subtract(row["right_when_named_by_person"], today["right_when_named_by_person"])
    if len(difference) < 2:
        return 0.0
    return NOISE_STANDARD_ERRORS * float(difference.std(ddof=1)) / np.sqrt(len(difference))


def choose_setting(rows: dict[tuple, dict]) -> tuple:
    today = rows[TODAY]
    allowed = [setting for setting, row in rows.items()
               if row["right_when_named_pct"] >= today["right_when_named_pct"] - paired_noise(row, today)
               and row["named_pct"] >= today["named_pct"] - NAMED_SLACK_POINTS]
    return min(allowed, key=lambda setting: rows[setting]["changes_per_face_min"])


def video_changes(path: str, settings, model: str | None) -> dict[tuple, dict[str, float]]:
    """Changes per face-minute on a real video: detect and classify once, replay the tracking stages per setting."""
    from emocap.overlap import run_ahead
    from emocap.pipeline import Pipeline
    from emocap.sources import open_path

    pipeline = Pipeline(model=model)
    with open_path(path) as source:
        fps = source.fps or 30.0
        perceived = run_ahead(source, lambda frame: pipeline.perceive(frame.image_bgr, frame.time_s))
        records = [record for _frame, record in perceived]
    figures = {}
    for alpha, lower, upper in settings:
        replay = pipeline.fresh().captioning
        replay.smoother = EmaSmoother(alpha=alpha, patience_frames=replay.config.patience_frames)
        replay.unsure = UnsureRule(replay.unsure.below, lower=lower, upper=upper)
        per_track: dict[int, list[int]] = {}
        for record in records:
            out = replay.caption(record).faces
            for track, shown in zip(out.track_ids.tolist(), out.display.tolist()):
                per_track.setdefault(track, []).append(shown)
        rows = [np.asarray(row) for row in per_track.values()]
        shown = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        figures[alpha, lower, upper] = {
            "changes_per_face_min": changes_per_face_minute(rows, fps),
            "named_pct": 100 * (shown >= 0).mean() if len(shown) else float("nan"),
            "unsure_pct": 100 * (shown == UNSURE).mean() if len(shown) else float("nan"),
            "face_minutes": len(shown) / fps / 60,
        }
    return figures


def print_rows(title: str, rows: dict[tuple, dict], columns) -> None:
    print(f"\n{title}")
    noise = "right_when_named_by_person" in rows[TODAY]
    print("alpha |      band     | " + " | ".join(name.rjust(11) for _, name in columns) + (" |       noise" if noise else ""))
    for (alpha, lower, upper), row in rows.items():
        today = "  (today)" if (alpha, lower, upper) == TODAY else ""
        cells = [f"{row[key]:11.2f}" if key == "right_when_named_pct" else f"{row[key]:11.1f}" for key, _ in columns]
        if noise:
            cells.append(f"{paired_noise(row, rows[TODAY]):11.2f}")
        print(f"{alpha:5.2f} | -{lower:5.3f} +{upper:5.3f} | " + " | ".join(cells) + today)


def setting_name(setting: tuple) -> str:
    return "alpha={},lower={},upper={}".format(*setting)


CLIP_COLUMNS = (("changes_per_face_min", "changes/min"), ("named_pct", "named %"),
                ("right_when_named_pct", "right|named"), ("right_pct", "right %"), ("unsure_pct", "unsure %"))
VIDEO_COLUMNS = (("changes_per_face_min", "changes/min"), ("named_pct", "named %"), ("unsure_pct", "unsure %"),
                 ("face_minutes", "face-min"))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the FER2013 folder, CSV or pack (PublicTest and PrivateTest faces)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the built-in one)")
    parser.add_argument("--video", action="append", default=[], help="a video to measure changes on too (repeatable)")
    add_video_options(parser, people=12, seconds=90.0)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the PublicTest clips; the PrivateTest clips take the next (default: 0)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return checked_video_options(parser, parser.parse_args(argv))


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    classifier, faces = classifier_and_test_faces(args.model, args.data)
    below = classifier.calibration.unsure_below
    print(f"{args.people} people x {args.seconds:g} s at {args.fps:g} fps, jittered faces; EMA smoother (hysteresis "
          f"{EmaSmoother().hysteresis:g}); "
          f"unsure below {below:g} (the model's own threshold)")
    tables = {}
    for split, seed in (("PublicTest", args.seed), ("PrivateTest", args.seed + 1)):
        probs = classifier.predict(faces[split].images)
        video = simulate("jitter", seed, faces[split], probs, classifier, args)
        tables[split] = {setting: clip_figures(shown_captions(video, below, *setting), video) for setting in SETTINGS}
    chosen = choose_setting(tables["PublicTest"])
    print_rows("built clips of PublicTest faces (where the setting is chosen)", tables["PublicTest"], CLIP_COLUMNS)
    print_rows("built clips of PrivateTest faces (reported)", tables["PrivateTest"], CLIP_COLUMNS)
    print(f"\nchosen by the rule on PublicTest: alpha {chosen[0]:g}, band -{chosen[1]:g} +{chosen[2]:g}")
    report = {"args": vars(args), "below": below, "chosen": dict(zip(("alpha", "lower", "upper"), chosen)),
              "clips": {split: {setting_name(setting): row for setting, row in rows.items()}
                        for split, rows in tables.items()}, "videos": {}}
    for path in args.video:
        rows = video_changes(path, SETTINGS, args.model)
        print_rows(f"{path} (the real pipeline; no truth, changes only)", rows, VIDEO_COLUMNS)
        report["videos"][path] = {setting_name(setting): row for setting, row in rows.items()}
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
