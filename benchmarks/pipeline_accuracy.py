"""End-to-end accuracy of the live path on labelled faces: frame -> detect -> crop -> classify.

Every FER2013 PrivateTest face (3,589; --split PublicTest for the other half) is upscaled 3x (48 -> 144 px, bicubic)
and pasted at a random position (seeded) into its own 640x480 BGR frame of a
plain background. The full `Pipeline` (MTCNN at its default settings:
confidence 0.95, min face 40 px; the classifier; tracker; smoother "none")
runs on that frame, reset before each one, so every frame is a new person. A
face counts as detected when a detection's box overlaps the pasted square
with IoU >= 0.3; the best-overlapping detection's probabilities are its
prediction. The baseline is the same classifier on the same 48x48 faces
given directly (`classifier.predict(data.images)`, what `emocap evaluate`
scores), in the same process. Run from the repository root:

    python benchmarks/pipeline_accuracy.py --data fer2013/                      # all 3,589 faces (~3-5 min on 2 cores)
    python benchmarks/pipeline_accuracy.py --data fer2013/ --limit 300          # a quick look at 300, spread over the classes
    python benchmarks/pipeline_accuracy.py --data fer2013/ --margins            # also sweep the crop margin
    python benchmarks/pipeline_accuracy.py --data fer2013/ --margins 0 0.1 0.25 0.4 --json out/pipeline_accuracy.json
    python benchmarks/pipeline_accuracy.py --data fer2013/ --rotate 20 --align  # tilted heads, with and without turning them upright
    python benchmarks/pipeline_accuracy.py --data fer2013/ --light 0.15 --lift  # a dim room, with and without --lift-light

Prints:
  1. detection rate (pasted faces found), false detections per frame (detections
     other than the one matched to the pasted face), how the matched boxes sit
     on the pasted square (IoU, box side / square side), ms per frame of
     `Pipeline.process` and by stage;
  2. accuracy: on detected faces, end to end (a missed face counts as wrong),
     direct on all faces and on the detected ones, and the gap direct -
     end to end in percentage points (overall, and on detected faces only,
     which isolates what detection + cropping + resampling cost);
  3. recall per class, end to end against direct;
  4. with --margins: accuracy on the detected faces for each crop margin,
     classified with `classifier.classify_boxes(frame, box, margin=m)` on the
     SAME detections (each frame is detected once; the sweep classifies the
     matched box of the frame still in memory, so no frame is built twice and
     only one frame is held at a time). Use it with --split PublicTest to
     choose `emocap.preprocessing.DEFAULT_FACE_MARGIN` from data, never on
     the PrivateTest faces the figure is reported on;
  5. with --align: accuracy on the same detections when each crop whose eye
     line (MTCNN's eye landmarks) tilts at least T degrees is turned upright,
     for each T in ALIGN_THRESHOLDS, against the pipeline's crop. With --rotate DEG every pasted face is first turned
     by DEG degrees, either way at random (seeded), as FER2013-C's rotation;
  6. with --lift: accuracy on the same detections when the classifier lifts dim and flat faces
     (`--lift-light`), against the pipeline's classifier. With --light F the whole frame, face and
     background, gets F of its light (a dim room; MTCNN has to find the face in it too, brightened
     first as the pipeline does unless --no-brighten).
  7. confidence: the risk-coverage table of the detected faces (share shown with an emotion and
     their accuracy at each "unsure" threshold, on the calibrated probabilities), live beside direct,
     the model's own threshold marked.

A subtlety: FER2013 faces are tight crops. Pasted on a plain background,
any crop margin that reaches beyond the face's own 48x48 square (here the
144 px pasted square) shows background, a flat border the model never saw
in training, whereas a face in a real frame continues into hair, ears, neck
and room. The margin sweep measures exactly this: on these frames, expect
the margins that frame the crop like FER2013 (crop side close to the pasted
square) to do best and larger ones to lose accuracy because of the flat
border, not because of the framing; real video would penalise them less, so
read the sweep as a lower bound for wide margins. The printed "margin that
would frame the pasted square" (square side / matched box side - 1) tells
which margin reproduces the FER2013 framing from MTCNN's boxes.

Timings are those of whatever else runs on the machine; on a busy machine
they are upper bounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np
from common import one_line_errors, save_report
from tqdm import tqdm

from emocap.calibration import risk_coverage
from emocap.classifier import EmotionClassifier
from emocap.datasets import FerData, load_fer2013
from emocap.detection import MtcnnFaceDetector
from emocap.geometry import iou_matrix
from emocap.evaluation.corruptions import rotated_faces
from emocap.evaluation.fer_scores import labels_in_model_order
from emocap.pipeline import Pipeline
from emocap.preprocessing import DEFAULT_FACE_MARGIN, FER_SIZE, eye_line_angles, upright_angles

FRAME_SIZE = (640, 480)  # width, height
BACKGROUNDS = {"grey": 128, "black": 0, "white": 255, "noise": None}
"""Plain grey levels; "noise" is uniform grey-level noise, new (but seeded) in every frame."""
DEFAULT_MARGIN_GRID = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
"""Margins swept by a bare `--margins`."""
MIN_IOU = 0.3
ALIGN_THRESHOLDS = (0, 5, 10, 15, 20)
"""Degrees of eye-line tilt from which --align turns a crop upright."""
STAGES = ("detect", "classify", "track")


def paste_positions(count: int, side: int, seed: int) -> np.ndarray:
    """Top-left corners (count, 2) int, x and y, of a side x side square anywhere inside the frame.

    Drawn for the whole split before --limit picks faces, so a face gets the same
    position (and frame) however many faces are run."""
    width, height = FRAME_SIZE
    rng = np.random.default_rng(seed)
    return np.stack(
        [rng.integers(0, width - side, count, endpoint=True), rng.integers(0, height - side, count, endpoint=True)],
        axis=1,
    )


def make_frame(face: np.ndarray, corner: np.ndarray, scale: int, background: str, seed: int, index: int,
               degrees: float = 0.0, light: float = 1.0):
    """The BGR frame of one face, turned by `degrees`, at `light` of its brightness, and the pasted square (4,)
    xyxy. Deterministic in (seed, index)."""
    width, height = FRAME_SIZE
    level = BACKGROUNDS[background]
    if level is None:
        gray = np.random.default_rng((seed, index)).integers(0, 256, (height, width), np.uint8, endpoint=False)
        frame = np.repeat(gray[:, :, None], 3, axis=2)
    else:
        frame = np.full((height, width, 3), level, np.uint8)
    side = FER_SIZE * scale
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    if degrees:
        big = rotated_faces(big[None], [degrees])[0]
    x, y = int(corner[0]), int(corner[1])
    frame[y : y + side, x : x + side] = big[:, :, None]
    if light != 1.0:
        frame = np.round(frame * np.float32(light)).astype(np.uint8)
    return frame, np.array([x, y, x + side, y + side], np.float32)


def rotation_angles(count: int, degrees: float, seed: int) -> np.ndarray:
    """Degrees (count,): +-degrees, the sign drawn per face for the whole split (like paste_positions)."""
    return degrees * np.random.default_rng((seed, 1)).choice([-1.0, 1.0], count)


def recall_per_class(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Share of each true class predicted right; NaN for a class with no faces."""
    counts = np.bincount(truth, minlength=classes)
    hits = np.bincount(truth[predicted == truth], minlength=classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def percent(value: float) -> str:
    return "  n/a" if not np.isfinite(value) else f"{100 * value:5.1f}%"


def mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def print_risk_coverage(classifier, live_probs: np.ndarray, truth: np.ndarray, direct_probs: np.ndarray) -> list[dict]:
    """The risk-coverage table of the detected faces, on the live path (crops from the frame) beside the
    direct 48 px faces, with the model's own "unsure" threshold marked."""
    chosen = classifier.calibration.unsure_below
    live, direct = risk_coverage(live_probs, truth), risk_coverage(direct_probs, truth)
    print(f"\n7. confidence on detected faces (temperature {classifier.calibration.temperature:.3f}; the model says "
          f"\"unsure\" below {chosen:.2f}): faces shown and their accuracy at each threshold")
    print("   threshold   live shown   right   direct shown   right")
    for row_live, row_direct in zip(live.rows(), direct.rows()):
        cells = [percent(v) if v is not None else "    -" for v in
                 (row_live["coverage"], row_live["accuracy"], row_direct["coverage"], row_direct["accuracy"])]
        mark = "  <- the model's" if np.isclose(row_live["threshold"], chosen) else ""
        print(f"   {row_live['threshold']:9.2f}   {cells[0]:>10}  {cells[1]:>6}   {cells[2]:>12}  {cells[3]:>6}{mark}")
    return live.rows()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FER2013 (Kaggle folders, CSV or pack)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the built-in one)")
    parser.add_argument("--split", choices=("PrivateTest", "PublicTest"), default="PrivateTest",
                        help="faces to paste (default: PrivateTest, the figure we report; choose settings such "
                        "as the crop margin on PublicTest)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only N faces, evenly spread over the split (it is sorted by class)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the paste positions (and noise background)")
    parser.add_argument("--background", choices=tuple(BACKGROUNDS), default="grey",
                        help="frame background (default: grey, mid grey 128)")
    parser.add_argument("--scale", type=int, default=3, help="upscaling of the 48 px faces (default 3: 144 px)")
    parser.add_argument("--margins", type=float, nargs="*", default=None, metavar="M",
                        help="also classify the detected faces with each crop margin M; a bare --margins "
                        f"sweeps {' '.join(map(str, DEFAULT_MARGIN_GRID))}")
    parser.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                        help="turn every pasted face by DEG degrees, either way at random (default: 0)")
    parser.add_argument("--align", action="store_true",
                        help="also classify the detected faces turned upright by their eye line")
    parser.add_argument("--light", type=float, default=1.0, metavar="F",
                        help="the whole frame at F of its light, 0 < F <= 1 (default: 1)")
    parser.add_argument("--no-brighten", action="store_true",
                        help="give the detector dim frames as they come (the pipeline brightens them by default)")
    parser.add_argument("--lift", action="store_true",
                        help="also classify the detected faces with dim and flat faces lifted (--lift-light)")
    parser.add_argument("--threads", type=int, default=None,
                        help="ONNX Runtime threads of the detector and the classifier (default: one per core)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    if not 0 <= args.rotate <= 90:
        parser.error(f"--rotate must be 0..90 degrees, got {args.rotate:g}")
    if not 0 < args.light <= 1:
        parser.error(f"--light must be in (0, 1], got {args.light:g}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if not 1 <= args.scale or FER_SIZE * args.scale > min(FRAME_SIZE):
        parser.error(f"--scale must be 1..{min(FRAME_SIZE) // FER_SIZE} (the face must fit the frame), got {args.scale}")
    if args.margins is not None:
        args.margins = sorted(set(args.margins or DEFAULT_MARGIN_GRID))
        if min(args.margins) <= -1:
            parser.error(f"--margins must be greater than -1, got {min(args.margins)}")
    return args


@dataclass
class Run:
    """What a run reads: the faces (after --limit), their frames' layout, and the models."""

    args: argparse.Namespace
    data: FerData
    chosen: np.ndarray  # index of each face in the whole split: its frame's seed
    truth: np.ndarray  # labels in the classifier's order
    corners: np.ndarray
    degrees: np.ndarray
    side: int
    classifier: EmotionClassifier
    lifted: EmotionClassifier | None
    detector: MtcnnFaceDetector
    pipeline: Pipeline

    def frame(self, i: int):
        return make_frame(self.data.images[i], self.corners[i], self.args.scale, self.args.background,
                          self.args.seed, self.chosen[i], self.degrees[i], self.args.light)


def prepare(args: argparse.Namespace) -> Run:
    """The faces, positions and models of a run; EmocapError for data or a model that cannot be read."""
    data = load_fer2013(args.data, args.split)
    classifier = EmotionClassifier(args.model, threads=args.threads)
    lifted = EmotionClassifier(args.model, threads=args.threads, lift_light=True) if args.lift else None
    truth = labels_in_model_order(data, classifier.labels)
    side = FER_SIZE * args.scale
    corners = paste_positions(len(data), side, args.seed)
    degrees = rotation_angles(len(data), args.rotate, args.seed)
    chosen = np.arange(len(data))
    if args.limit is not None and args.limit < len(data):
        # Spread over the split, not its first N: the split is sorted by class.
        chosen = np.unique(np.linspace(0, len(data) - 1, args.limit).round().astype(np.int64))
        data = data.subset(chosen)
    detector = MtcnnFaceDetector(threads=args.threads)  # the live defaults: confidence 0.95, min face 40 px
    # unsure_below=0: every face's display is its top class, which the check in measure() relies on; the
    # risk-coverage table (7.) applies the model's own threshold to the probabilities instead.
    pipeline = Pipeline(detector, classifier, smoother="none", brighten_dim_frames=not args.no_brighten, unsure_below=0,
                        confirm_frames=1)  # each frame is a new person, seen once
    return Run(args, data, chosen, truth[chosen], corners[chosen], degrees[chosen], side, classifier, lifted,
               detector, pipeline)


def print_setting(run: Run) -> None:
    args, detector = run.args, run.detector
    print(f"emocap pipeline accuracy: FER2013 {args.split}, {len(run.data)} faces, each {FER_SIZE} -> {run.side} px "
          f"(bicubic) in a {FRAME_SIZE[0]}x{FRAME_SIZE[1]} {args.background} frame, seed {args.seed}; "
          f"MTCNN confidence {detector.min_confidence}, min face {detector.min_face_size:g} px; "
          f"crop margin {DEFAULT_FACE_MARGIN}; faces turned {args.rotate:g} degrees either way; "
          f"frames at {args.light:g} of their light, {'not ' if args.no_brighten else ''}brightened for the detector; "
          f"model {run.classifier.path.name}")


@dataclass
class Measured:
    """Per face, what the pipeline found in its frame and what each experiment made of that detection."""

    detected: np.ndarray
    pred: np.ndarray  # end to end; -1 when missed
    live_probs: np.ndarray
    matched_boxes: np.ndarray
    matched_iou: np.ndarray
    matched_landmarks: np.ndarray
    false_detections: np.ndarray
    margin_pred: np.ndarray  # (margins, faces)
    aligned_pred: np.ndarray
    lifted_pred: np.ndarray
    process_ms: np.ndarray
    stage_ms: dict[str, float]
    display_disagrees: int = 0

    @classmethod
    def empty(cls, faces: int, classes: int, margins: int) -> Measured:
        missed = np.full(faces, -1, np.int64)
        return cls(np.zeros(faces, bool), missed.copy(), np.full((faces, classes), np.nan, np.float32),
                   np.full((faces, 4), np.nan, np.float32), np.full(faces, np.nan), np.full((faces, 5, 2), np.nan, np.float32),
                   np.zeros(faces, np.int64), np.full((margins, faces), -1, np.int64), missed.copy(), missed.copy(),
                   np.zeros(faces), {stage: 0.0 for stage in STAGES})


def measure(run: Run) -> Measured:
    """Every face's frame through the pipeline, reset before each one (every frame is a new person)."""
    n, margins = len(run.data), run.args.margins or []
    measured = Measured.empty(n, len(run.classifier.labels), len(margins))
    # One warm-up frame (ONNX Runtime's first runs are slow), not counted.
    run.pipeline.process(make_frame(run.data.images[0], run.corners[0], run.args.scale, run.args.background,
                                    run.args.seed, run.chosen[0])[0])
    for i in tqdm(range(n), desc="frames", unit="frame", disable=None):
        frame, square = run.frame(i)
        run.pipeline.reset()
        clock = time.perf_counter()
        result = run.pipeline.process(frame)
        measured.process_ms[i] = (time.perf_counter() - clock) * 1000
        for stage in STAGES:
            measured.stage_ms[stage] += result.timings_ms.get(stage, 0.0)
        if len(result.faces):
            read_match(run, measured, i, frame, square, result.faces, margins)
        measured.false_detections[i] = len(result.faces) - int(measured.detected[i])
    return measured


def read_match(run: Run, measured: Measured, i: int, frame, square, faces, margins) -> None:
    """The detection that best overlaps face i's pasted square, if it overlaps enough, classified the
    pipeline's way and each experiment's way."""
    overlap = iou_matrix(faces.boxes, square[None])[:, 0]
    best = int(overlap.argmax())
    if overlap[best] < MIN_IOU:
        return
    box = faces.boxes[best : best + 1]
    measured.detected[i] = True
    measured.matched_iou[i] = overlap[best]
    measured.matched_boxes[i] = faces.boxes[best]
    measured.pred[i] = int(faces.probs[best].argmax())
    measured.live_probs[i] = faces.probs[best]
    measured.display_disagrees += int(faces.display[best] != measured.pred[i])
    for row, margin in enumerate(margins):
        measured.margin_pred[row, i] = int(run.classifier.classify_boxes(frame, box, margin=margin)[0].argmax())
    if run.args.align:
        measured.matched_landmarks[i] = faces.landmarks[best]
        angle = eye_line_angles(measured.matched_landmarks[i : i + 1])
        measured.aligned_pred[i] = int(run.classifier.classify_boxes(frame, box, angles=angle)[0].argmax())
    if run.lifted is not None:
        measured.lifted_pred[i] = int(run.lifted.classify_boxes(frame, box)[0].argmax())


def detection_and_accuracy(run: Run, measured: Measured, direct_pred: np.ndarray) -> tuple[dict, np.ndarray]:
    """The figures of 1. and 2., and each detected face's framing margin."""
    n, detected, hit = len(run.data), measured.detected, int(measured.detected.sum())
    correct, direct_correct = measured.pred == run.truth, direct_pred == run.truth
    boxes = measured.matched_boxes
    box_side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[detected]
    framing_margin = run.side / box_side - 1
    figures = {
        "faces": int(n),
        "detected": hit,
        "detection_rate": float(hit / n),
        "false_detections_per_frame": float(measured.false_detections.mean()),
        "frames_with_false_detections": int((measured.false_detections > 0).sum()),
        "matched_iou_mean": mean_or_nan(measured.matched_iou[detected]),
        "matched_box_side_over_square_median": float(np.median(box_side / run.side)) if hit else float("nan"),
        "framing_margin_median": float(np.median(framing_margin)) if hit else float("nan"),
        "accuracy_on_detected": mean_or_nan(correct[detected]),
        "accuracy_end_to_end": float(correct.mean()),
        "direct_accuracy": float(direct_correct.mean()),
        "direct_accuracy_on_detected": mean_or_nan(direct_correct[detected]),
        "gap_pp": float(100 * (direct_correct.mean() - correct.mean())),
        "gap_on_detected_pp": float(100 * (mean_or_nan(direct_correct[detected]) - mean_or_nan(correct[detected]))),
        "agreement_with_direct_on_detected": mean_or_nan((measured.pred == direct_pred)[detected]),
        "ms_per_frame": float(measured.process_ms.mean()),
        "ms_per_frame_median": float(np.median(measured.process_ms)),
        "ms_per_frame_by_stage": {stage: total / n for stage, total in measured.stage_ms.items()},
    }
    return figures, framing_margin


def print_detection_and_accuracy(figures: dict, framing_margin: np.ndarray, display_disagrees: int) -> None:
    hit, n = figures["detected"], figures["faces"]
    print(f"\n1. detection: {percent(figures['detection_rate'])} of pasted faces found ({hit} of {n}); "
          f"false detections {figures['false_detections_per_frame']:.3f} per frame "
          f"({figures['frames_with_false_detections']} frames with any)")
    if hit:
        print(f"   matched boxes: mean IoU with the pasted square {figures['matched_iou_mean']:.2f}, "
              f"median box side {figures['matched_box_side_over_square_median']:.2f} x the square's; "
              f"margin that would frame the pasted square: median {figures['framing_margin_median']:.2f} "
              f"(quartiles {np.percentile(framing_margin, 25):.2f}..{np.percentile(framing_margin, 75):.2f})")
    print(f"   ms per frame (Pipeline.process): mean {figures['ms_per_frame']:.1f}, median {figures['ms_per_frame_median']:.1f}; "
          + "  ".join(f"{stage} {ms:.1f}" for stage, ms in figures["ms_per_frame_by_stage"].items()))

    print("\n2. accuracy")
    print(f"   on detected faces            {percent(figures['accuracy_on_detected'])}")
    print(f"   end to end (missed = wrong)  {percent(figures['accuracy_end_to_end'])}")
    print(f"   direct, all faces            {percent(figures['direct_accuracy'])}")
    print(f"   direct, detected faces       {percent(figures['direct_accuracy_on_detected'])}")
    print(f"   gap direct - end to end      {figures['gap_pp']:+.1f} pp "
          f"(on detected faces only: {figures['gap_on_detected_pp']:+.1f} pp; "
          f"same class as direct on {percent(figures['agreement_with_direct_on_detected']).strip()} of them)")
    if display_disagrees:
        print(f"   warning: on {display_disagrees} faces the displayed class is not the argmax of the probabilities")


def recall_table(run: Run, measured: Measured, direct_pred: np.ndarray) -> dict:
    """3.: recall per class, end to end against direct."""
    truth, k = run.truth, len(run.classifier.labels)
    e2e_recall = recall_per_class(truth, measured.pred, k)
    direct_recall = recall_per_class(truth, direct_pred, k)
    counts = np.bincount(truth, minlength=k)
    found = np.bincount(truth[measured.detected], minlength=k)
    print("\n3. recall per class")
    print(f"   {'class':<10} {'faces':>6} {'found':>7} {'end to end':>11} {'direct':>7} {'gap pp':>7}")
    per_class = {}
    for c, name in enumerate(run.classifier.labels):
        gap = f"{100 * (direct_recall[c] - e2e_recall[c]):+.1f}" if counts[c] else "n/a"
        found_share = found[c] / counts[c] if counts[c] else float("nan")
        print(f"   {name:<10} {counts[c]:>6} {percent(found_share):>7} {percent(e2e_recall[c]):>11} "
              f"{percent(direct_recall[c]):>7} {gap:>7}")
        per_class[name] = {
            "faces": int(counts[c]), "detection_rate": float(found_share),
            "recall_end_to_end": float(e2e_recall[c]), "recall_direct": float(direct_recall[c]),
        }
    return per_class


def margin_sweep(run: Run, measured: Measured) -> dict:
    """4. (--margins): accuracy of the same detections cropped with each margin."""
    margins, detected, hit = run.args.margins or [], measured.detected, int(measured.detected.sum())
    sweep = {}
    if not margins:
        return sweep
    print(f"\n4. crop margin, on the same {hit} detections (accuracy on detected faces; end to end)")
    for row, margin in enumerate(margins):
        right = measured.margin_pred[row] == run.truth
        sweep[f"{margin:g}"] = {
            "accuracy_on_detected": mean_or_nan(right[detected]), "accuracy_end_to_end": float(right.mean()),
        }
        note = "  (the pipeline's default)" if np.isclose(margin, DEFAULT_FACE_MARGIN) else ""
        if note and hit:
            same = float((measured.margin_pred[row] == measured.pred)[detected].mean())
            note += f"; same class as the pipeline on {100 * same:.1f}%"
        print(f"   margin {margin:5.2f}  {percent(sweep[f'{margin:g}']['accuracy_on_detected'])}  "
              f"{percent(sweep[f'{margin:g}']['accuracy_end_to_end'])}{note}")
    return sweep


def alignment_sweep(run: Run, measured: Measured, figures: dict) -> dict:
    """5. (--align, with the faces --rotate turned): the same detections turned upright by their eye line."""
    detected, hit, landmarks = measured.detected, int(measured.detected.sum()), measured.matched_landmarks
    if not (run.args.align and hit):
        return {}
    # The face was turned counter-clockwise by +degrees, which lowers its left-hand eye: the eye line
    # then reads -degrees in the frame's y-down coordinates.
    angle_error = np.abs(np.degrees(eye_line_angles(landmarks)) + run.degrees)[detected]
    alignment = {
        "eye_line_error_degrees_median": float(np.median(angle_error)),
        "eye_line_error_degrees_p90": float(np.percentile(angle_error, 90)),
        "by_threshold": {},
    }
    print(f"\n5. turned upright by the eye line where it tilts at least T degrees, on the same {hit} "
          f"detections (T = 0: every face; eye line against the turn: median error "
          f"{alignment['eye_line_error_degrees_median']:.1f} degrees, 90th percentile "
          f"{alignment['eye_line_error_degrees_p90']:.1f})")
    print(f"   {'T':>4} {'turned':>7} {'on detected':>12} {'end to end':>11}")
    print(f"   {'none':>4} {percent(0.0):>7} {percent(figures['accuracy_on_detected']):>12} "
          f"{percent(figures['accuracy_end_to_end']):>11}  (the pipeline's crop)")
    for threshold in ALIGN_THRESHOLDS:
        turn = detected & (upright_angles(landmarks, threshold) != 0)  # the pipeline's own rule
        right = np.where(turn, measured.aligned_pred, measured.pred) == run.truth
        row = {"turned_share_of_detected": mean_or_nan(turn[detected]),
               "accuracy_on_detected": mean_or_nan(right[detected]), "accuracy_end_to_end": float(right.mean())}
        alignment["by_threshold"][f"{threshold:g}"] = row
        print(f"   {threshold:>4g} {percent(row['turned_share_of_detected']):>7} "
              f"{percent(row['accuracy_on_detected']):>12} {percent(row['accuracy_end_to_end']):>11}")
    return alignment


def lift_comparison(run: Run, measured: Measured, figures: dict) -> dict:
    """6. (--lift, at the --light of the frames): the same detections classified with dim faces lifted."""
    detected, hit = measured.detected, int(measured.detected.sum())
    if run.lifted is None or not hit:
        return {}
    right = measured.lifted_pred == run.truth
    # The 48 px faces at the frames' light: what the classifier alone does with them, plain and lifted.
    dim_faces = np.round(run.data.images * np.float32(run.args.light)).astype(np.uint8)
    lift = {"accuracy_on_detected": mean_or_nan(right[detected]), "accuracy_end_to_end": float(right.mean()),
            "direct_accuracy_plain": float((run.classifier.predict(dim_faces).argmax(1) == run.truth).mean()),
            "direct_accuracy": float((run.lifted.predict(dim_faces).argmax(1) == run.truth).mean())}
    print(f"\n6. dim and flat faces lifted (--lift-light), on the same {hit} detections")
    print(f"   {'':<10} {'on detected':>12} {'end to end':>11} {'direct, 48 px faces at this light':>34}")
    print(f"   {'plain':<10} {percent(figures['accuracy_on_detected']):>12} "
          f"{percent(figures['accuracy_end_to_end']):>11} {percent(lift['direct_accuracy_plain']):>34}")
    print(f"   {'lifted':<10} {percent(lift['accuracy_on_detected']):>12} {percent(lift['accuracy_end_to_end']):>11} "
          f"{percent(lift['direct_accuracy']):>34}")
    return lift


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    run = prepare(args)
    print_setting(run)
    direct_probs = run.classifier.predict(run.data.images)
    direct_pred = direct_probs.argmax(1)
    measured = measure(run)
    figures, framing_margin = detection_and_accuracy(run, measured, direct_pred)
    print_detection_and_accuracy(figures, framing_margin, measured.display_disagrees)
    per_class = recall_table(run, measured, direct_pred)
    sweep = margin_sweep(run, measured)
    alignment = alignment_sweep(run, measured, figures)
    lift = lift_comparison(run, measured, figures)
    detected = measured.detected
    figures["risk_coverage"] = print_risk_coverage(run.classifier, measured.live_probs[detected], run.truth[detected],
                                                   direct_probs[detected])
    missed = [run.data.files[i] for i in np.flatnonzero(~detected)]
    if missed:
        print(f"\nmissed faces: {len(missed)}, e.g. {', '.join(missed[:5])}")
    elapsed = time.perf_counter() - started
    print(f"\n({elapsed:.0f} s)")
    report = {
        "args": vars(args), "labels": list(run.classifier.labels), "default_face_margin": DEFAULT_FACE_MARGIN,
        "figures": figures, "per_class": per_class, "margins": sweep, "alignment": alignment, "lift": lift,
        "missed_files": missed,
        "seconds": elapsed,
    }
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
