"""Caption accuracy and speed of the whole pipeline on a built clip, for the detection schedule and mirror averaging.

The clip: --people simulated people in a grid of a 640x480 frame, each showing FER2013 faces (--split,
PublicTest by default) whose emotion changes every 1-4 s (benchmarks/common.py's segments): one face a
segment, moved, scaled and relit a little each frame (common.jittered), upscaled 3x to 144 px and drifting
a few pixels across its cell, on a grey background. Every frame is run through the real `Pipeline` (MTCNN,
classifier, tracker, memory, unsure rule, confirmation) on one thread, each setting over the same frames.

Per setting: ms a frame of `Pipeline.process` (median over --rounds passes; each frame goes through every
setting in turn, so a load on the CPU falls on all alike), and over every person's frames: right % (the caption names the true emotion), named %
(it names an emotion, not "unsure" nor nothing), and the paired difference of right % from the first
setting with two standard errors over people. A caption is the person's when its box's centre lies in
the person's cell. Run from the repository root:

    python benchmarks/clip_schedule.py --data fer2013/ [--people 6 --seconds 30 --seed 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import cv2
import numpy as np
from common import in_model_order, jittered, one_line_errors, random_face_of_class, save_report, segment_classes

from emocap.onnx_session import cpu_features
from emocap.pipeline import Pipeline
from emocap.pipeline_config import PipelineConfig

FRAME = (640, 480)
SCALE = 3
SETTINGS = {  # name: (mirror, detect_every, full_scan_every)
    "mirror, scan 1 in 4 (before)": (True, 1, 4),
    "no mirror, scan 1 in 4": (False, 1, 4),
    "no mirror, scan every frame": (False, 1, 1),
    "no mirror, scan 1 in 8": (False, 1, 8),
    "no mirror, detect every 2nd": (False, 2, 4),
    "no mirror, detect every 3rd": (False, 3, 4),
}


def build_clip(data, people: int, frames: int, fps: float, seed: int):
    """(faces (people, frames, 48, 48) uint8 jittered, truth (people, frames), cells (people, 4) xyxy)."""
    rng = np.random.default_rng(seed)
    truth = segment_classes(rng, people, frames, fps, int(data.labels.max()) + 1)
    starts = np.ones_like(truth, bool)
    starts[:, 1:] = truth[:, 1:] != truth[:, :-1]
    chosen = random_face_of_class(rng, data, truth[starts])
    face_of_frame = chosen[np.cumsum(starts.ravel()).reshape(truth.shape) - 1]
    faces = np.stack([jittered(rng, data.images[index]) for index in face_of_frame.ravel()]).reshape(*truth.shape, 48, 48)
    columns = int(np.ceil(np.sqrt(people * FRAME[0] / FRAME[1])))
    rows = int(np.ceil(people / columns))
    cell_w, cell_h = FRAME[0] // columns, FRAME[1] // rows
    cells = np.array([[c * cell_w, r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h]
                      for r, c in (divmod(i, columns) for i in range(people))], np.float64)
    return faces, truth, cells


def frame_at(faces: np.ndarray, cells: np.ndarray, t: int) -> np.ndarray:
    frame = np.full((FRAME[1], FRAME[0], 3), 128, np.uint8)
    side = 48 * SCALE
    for person, (x1, y1, x2, y2) in enumerate(cells.astype(int)):
        slack_x, slack_y = (x2 - x1) - side, (y2 - y1) - side
        x = x1 + int(slack_x * (0.5 + 0.4 * np.sin(0.05 * t + person)))
        y = y1 + int(slack_y * (0.5 + 0.4 * np.cos(0.04 * t + person)))
        big = cv2.resize(faces[person, t], (side, side), interpolation=cv2.INTER_CUBIC)
        frame[y : y + side, x : x + side] = big[:, :, None]
    return frame


def person_of(faces, cells: np.ndarray) -> list[tuple[int, int]]:
    """(person, caption) of each face whose box's centre lies in a person's cell."""
    centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
    pairs = []
    for centre, display in zip(centres, faces.display):
        inside = np.nonzero((cells[:, 0] <= centre[0]) & (centre[0] < cells[:, 2])
                            & (cells[:, 1] <= centre[1]) & (centre[1] < cells[:, 3]))[0]
        if len(inside):
            pairs.append((int(inside[0]), int(display)))
    return pairs


def captions(pipelines: dict, frames: list[np.ndarray], cells: np.ndarray, fps: float) -> tuple[dict, dict]:
    """({setting: shown (people, frames), NO_LABEL where no caption is the person's}, {setting: ms a frame of
    `process`}). Each frame goes through every setting's pipeline in turn, so a load falls on all alike."""
    shown = {name: np.full((len(cells), len(frames)), -1, np.int64) for name in pipelines}
    spent = dict.fromkeys(pipelines, 0.0)
    for pipeline in pipelines.values():
        pipeline.reset()
    for t, frame in enumerate(frames):
        for name, pipeline in pipelines.items():
            started = time.perf_counter()
            faces = pipeline.process(frame, t / fps).faces
            spent[name] += time.perf_counter() - started
            for person, display in person_of(faces, cells):
                shown[name][person, t] = display
    return shown, {name: 1000 * seconds / len(frames) for name, seconds in spent.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--split", choices=("PublicTest", "PrivateTest"), default="PublicTest")
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1, help="passes over the clip per setting (timing)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from emocap.datasets import load_fer2013

    pipelines = {name: Pipeline(config=PipelineConfig(mirror=mirror, detect_every=every, full_scan_every=scan, threads=1))
                 for name, (mirror, every, scan) in SETTINGS.items()}
    first = next(iter(pipelines.values()))
    data = in_model_order(load_fer2013(args.data, args.split), first.classifier)
    faces, truth, cells = build_clip(data, args.people, int(round(args.seconds * args.fps)), args.fps, args.seed)
    frames = [frame_at(faces, cells, t) for t in range(truth.shape[1])]
    print(f"CPU: {cpu_features().describe()}; {args.people} people x {args.seconds:g} s at {args.fps:g} fps, "
          f"{args.split} faces, seed {args.seed}; one thread a network")
    times = {name: [] for name in pipelines}
    for _ in range(args.rounds):
        shown, ms = captions(pipelines, frames, cells, args.fps)
        for name in pipelines:
            times[name].append(ms[name])
    base = next(iter(pipelines))
    right_base = 100 * (shown[base] == truth).mean(axis=1)
    report = {"cpu": cpu_features().describe(), "settings": {}}
    print(f"{'setting':32} | ms a frame | right % | named % | right % - first (2 s.e.)")
    for name in pipelines:
        right = 100 * (shown[name] == truth).mean(axis=1)
        difference = right - right_base
        noise = 2 * difference.std(ddof=1) / np.sqrt(len(difference))
        row = {"ms_a_frame": statistics.median(times[name]), "right_pct": float(right.mean()),
               "named_pct": float(100 * (shown[name] >= 0).mean()), "difference": float(difference.mean()),
               "noise": float(noise)}
        report["settings"][name] = row
        print(f"{name:32} | {row['ms_a_frame']:10.1f} | {row['right_pct']:7.2f} | {row['named_pct']:7.2f} | "
              f"{row['difference']:+.2f} ({noise:.2f})")
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
