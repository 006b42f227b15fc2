"""Speed of the MTCNN face detector (ONNX Runtime, CPU) on frames with real faces.

Faces are cut from two public-domain photos (Eileen Collins, scikit-image's
`astronaut`; Grace Hopper, matplotlib's sample data) and pasted on a plain
background: 1 face of ~150 px, 4 of ~100 px or 8 of ~60 px, at 640x480 and
1280x720. For each min_face_size and thread count it prints the median and
90th-percentile milliseconds per `detect` call and how many faces were found,
then a per-stage breakdown for the product's main case (640x480, one face).
Run from the repository root:

    python benchmarks/detection_speed.py                  # ~1 min on 2 cores
    python benchmarks/detection_speed.py --repeats 10 --threads 1 --out detection_speed.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import onnxruntime
from common import save_report

from emocap.detection import MtcnnFaceDetector
from emocap.detection.mtcnn_stages import output_stage, propose, pyramid_scales, refine
from emocap.geometry import iou_matrix
from emocap_testkit.faces import face_scene

RESOLUTIONS = ((640, 480), (1280, 720))
FACES = ((1, 150), (4, 100), (8, 60))  # (count, face side in pixels)
TARGET_MS = 15.0


def timed_ms(call, repeats: int) -> tuple[list[float], object]:
    result = call()  # warm-up: first-call allocations and ONNX Runtime shape planning
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def scene_rows(detectors: dict, repeats: int) -> list[dict]:
    rows = []
    for width, height in RESOLUTIONS:
        for count, side in FACES:
            frame, truth = face_scene(width, height, count, side, seed=count)
            for (min_face, threads), detector in detectors.items():
                times, faces = timed_ms(lambda: detector.detect(frame), repeats)
                found = int((iou_matrix(truth, faces.boxes).max(axis=1, initial=0) > 0.4).sum())
                rows.append({
                    "frame": f"{width}x{height}", "faces": count, "face_px": side,
                    "min_face_size": min_face, "threads": threads,
                    "median_ms": statistics.median(times), "p90_ms": percentile(times, 90),
                    "detected": len(faces), "true_positives": found,
                })
                row = rows[-1]
                print(
                    f"{row['frame']:>9} {count} x {side:>3}px  min_face {min_face:>2}  threads {threads}  "
                    f"{row['median_ms']:6.1f} ms (p90 {row['p90_ms']:5.1f})  "
                    f"found {found}/{count}, {len(faces) - found} other"
                )
    return rows


def stage_rows(detectors: dict, repeats: int) -> list[dict]:
    """Milliseconds of each stage on 640x480 with one face, and how many candidates each passes on."""
    frame, _ = face_scene(640, 480, 1, 150, seed=1)
    rows = []
    for (min_face, threads), detector in detectors.items():
        scales = pyramid_scales(480, 640, min_face, detector.scale_factor)
        nets, (t_p, t_r, t_o) = detector.networks, detector.thresholds
        p_times, proposed = timed_ms(lambda: propose(nets.pnet, frame, scales, t_p), repeats)
        r_times, refined = timed_ms(lambda: refine(nets.rnet, frame, proposed, t_r), repeats)
        o_times, final = timed_ms(lambda: output_stage(nets.onet, frame, refined, t_o), repeats)
        rows.append({
            "min_face_size": min_face, "threads": threads, "pyramid_levels": len(scales),
            "pnet_ms": statistics.median(p_times), "pnet_boxes": len(proposed),
            "rnet_ms": statistics.median(r_times), "rnet_boxes": len(refined),
            "onet_ms": statistics.median(o_times), "onet_boxes": len(final),
        })
        row = rows[-1]
        print(
            f"min_face {min_face:>2} threads {threads}: {len(scales)} levels, "
            f"P-Net {row['pnet_ms']:5.1f} ms -> {len(proposed):3d} boxes, "
            f"R-Net {row['rnet_ms']:4.1f} ms -> {len(refined):2d}, "
            f"O-Net {row['onet_ms']:4.1f} ms -> {len(final)}"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per case (after one warm-up)")
    parser.add_argument("--min-face-sizes", type=int, nargs="+", default=[20, 40, 60])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="ONNX Runtime intra-op threads")
    parser.add_argument("--out", help="also save the figures as JSON here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    print(f"onnxruntime {onnxruntime.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    detectors = {
        (min_face, threads): MtcnnFaceDetector(min_face_size=min_face, threads=threads)
        for min_face in args.min_face_sizes
        for threads in args.threads
    }
    print(f"\nms per detect() call, median of {args.repeats} (target <= {TARGET_MS:.0f} ms at 640x480, one face)")
    scenes = scene_rows(detectors, args.repeats)
    print("\nper stage, 640x480, one 150 px face")
    stages = stage_rows(detectors, args.repeats)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (other processes on these cores slow every figure)")
    return save_report(args.out, {"scenes": scenes, "stages": stages, "repeats": args.repeats})


if __name__ == "__main__":
    raise SystemExit(main())
