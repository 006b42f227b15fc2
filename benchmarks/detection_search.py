"""Faces lost and detection time saved by searching around known faces instead of scanning every frame.

`Pipeline(full_scan_every=K)` runs MTCNN over the whole frame on every K-th
frame and, on the others, O-Net only on boxes around the faces found
before (`MtcnnFaceDetector.detect_near`). This compares it, frame by frame, with a
whole-frame scan of the same frame (the paper's way):

  faces     faces the whole-frame scan finds, summed over frames
  lost      of those, faces the search did not find (IoU < 0.5 with every box it gave)
  extra     boxes the search gave that match no face of the scan
  px        how far the matched boxes' corners are from the scan's (mean / max, pixels)
  wait      frames a face new to the scan took to be found by the search (mean / max)
  scans     share of frames that scanned the whole frame (every K-th, and where a face was lost)
  ms        detection milliseconds per frame, scan every frame -> with search (ratio)

on the bundled clip and on drifting grids of 4 and 8 portraits at 640x480
(common.grid_frames, as benchmarks/pipeline_speed.py's). Run from the repository root:

    python benchmarks/detection_search.py                # K = 2, 4, 6, 8
    python benchmarks/detection_search.py --k 4 --frames 90
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import grid_frames

from emocap.detection.mtcnn import MtcnnFaceDetector
from emocap.geometry import iou_matrix as iou
from emocap.onnx_session import cpu_features
from emocap.pipeline import Pipeline
from emocap.sources import open_source, sample_clip


def compare(frames: list[np.ndarray], detector: MtcnnFaceDetector, k: int) -> dict:
    """The search schedule against a whole-frame scan on every frame (same detector, same frames)."""
    pipeline = Pipeline(detector, full_scan_every=k)
    totals = {"faces": 0, "lost": 0, "extra": 0, "corner_px": [], "wait": [], "scan_ms": 0.0, "search_ms": 0.0}
    pending: list[list] = []  # [box in the latest scan, frames waited] of faces new to the scan, not yet searched out
    previous_scan = np.zeros((0, 4))
    for frame in frames:
        started = time.perf_counter()
        scanned = detector.detect(frame).boxes
        totals["scan_ms"] += (time.perf_counter() - started) * 1000
        detected = pipeline.detect(frame)
        totals["search_ms"] += detected.detect_ms
        searched = detected.faces.boxes
        overlaps = iou(scanned, searched) if len(scanned) and len(searched) else np.zeros((len(scanned), len(searched)))
        found = overlaps.max(axis=1) >= 0.5 if len(searched) else np.zeros(len(scanned), bool)
        totals["faces"] += len(scanned)
        totals["lost"] += int((~found).sum())
        totals["extra"] += int((overlaps.max(axis=0) < 0.5).sum()) if len(scanned) else len(searched)
        for row in np.flatnonzero(found):
            totals["corner_px"].append(float(np.abs(scanned[row] - searched[overlaps[row].argmax()]).max()))
        # A face is new where it overlaps no face of the previous frame's scan; it waits until the search finds it.
        for row in range(len(scanned)):
            if not len(previous_scan) or iou(scanned[row : row + 1], previous_scan).max() < 0.3:
                pending.append([scanned[row], 0])
        still = []
        for box, waited in pending:
            match = iou(box[None], scanned)[0] if len(scanned) else np.zeros(0)
            if not len(match) or match.max() < 0.3:
                continue  # gone from the scan before the search found it
            row = int(match.argmax())
            if found[row]:
                totals["wait"].append(waited)
            else:
                still.append([scanned[row], waited + 1])
        pending = still
        previous_scan = scanned
    totals["scans"] = pipeline.full_scans / len(frames)
    return totals


def summary(name: str, k: int, totals: dict, frames: int) -> str:
    px = totals["corner_px"] or [0.0]
    wait = totals["wait"] or [0]
    scan, search = totals["scan_ms"] / frames, totals["search_ms"] / frames
    return (f"{name:<18} K={k}  faces {totals['faces']:5d}  lost {totals['lost']:3d}  extra {totals['extra']:3d}  "
            f"px {np.mean(px):4.1f} / {np.max(px):4.1f}  wait {np.mean(wait):3.1f} / {np.max(wait):2d}  "
            f"scans {totals['scans']:4.0%}  ms {scan:5.1f} -> {search:5.1f} ({scan / max(search, 1e-9):.1f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 4, 6, 8], help="full_scan_every values")
    parser.add_argument("--frames", type=int, default=120, help="frames of each grid (default 120)")
    args = parser.parse_args(argv)
    with open_source(str(sample_clip())) as source:
        clip = [frame.image_bgr for frame in source]
    sets = {
        "bundled clip": clip,
        "4 faces 640x480": grid_frames(4, (640, 480), args.frames),
        "8 faces 640x480": grid_frames(8, (640, 480), args.frames),
    }
    detector = MtcnnFaceDetector()
    print(f"emocap detection search: measured on {cpu_features().describe()}")
    for k in args.k:
        for name, frames in sets.items():
            print(summary(name, k, compare(frames, detector, k), len(frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
