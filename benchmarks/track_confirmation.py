"""How many detections before a face is captioned: false tracks against delay.

A face is captioned once its track has been detected in N frames
(`Pipeline(confirm_frames=N)`). Each clip is run once with N = 1, every track's
detections counted; a track is captioned at N when it has at least N. Printed
per clip and N:

  tracks     tracks captioned
  short      of those, tracks detected in fewer than 5 frames (a real face in view stays
             longer: these are false detections, or a face flickering in and out)
  1-2 frame  of those, tracks of one or two detections (one-frame cues)
  delay      how long a real face waits for its first caption, (N - 1) frames

on the bundled clip (15 fps), the same clip at 30% of its light with sensor noise
(sigma 8 grey levels), and 8 drifting portraits at 640x360 (30 fps, faces about 40 px).
Run from the repository root:

    python benchmarks/track_confirmation.py
    python benchmarks/track_confirmation.py --min-face-size 20  # smaller faces: more false alarms
    python benchmarks/track_confirmation.py --video talk.mp4    # any video as well
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from common import grid_frames

from emocap.pipeline import Pipeline
from emocap.sources import open_path, sample_clip

SHORT_TRACK = 5
CONFIRMS = (1, 2, 3, 4, 5)


def detections_per_track(frames, pipeline: Pipeline) -> Counter:
    """Frames in which each track was detected, with every detection shown (confirm_frames=1)."""
    pipeline.reset()
    seen: Counter = Counter()
    for frame in frames:
        seen.update(pipeline.process(frame).faces.track_ids.tolist())
    return seen


def dimmed_with_noise(frames, light: float = 0.3, sigma: float = 8.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    for frame in frames:
        noisy = frame.astype(np.float32) * light + rng.normal(0, sigma, frame.shape)
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def clip_frames(path) -> tuple[list[np.ndarray], float]:
    with open_path(path) as source:
        return [frame.image_bgr for frame in source], source.fps or 30.0


def report(name: str, seen: Counter, fps: float) -> None:
    counts = np.array(list(seen.values()))
    print(f"{name}: {len(counts)} tracks, detections per track {sorted(counts.tolist())}")
    print(f"  {'N':>2} {'tracks':>7} {'short':>6} {'1-2 frame':>10} {'delay':>8}")
    for n in CONFIRMS:
        shown = counts[counts >= n]
        print(f"  {n:>2} {len(shown):>7} {int((shown < SHORT_TRACK).sum()):>6} {int((shown <= 2).sum()):>10} "
              f"{(n - 1) / fps:>7.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", action="append", default=[], help="also measure this video")
    parser.add_argument("--min-face-size", type=int, default=40, help="as emocap's option (default: 40)")
    args = parser.parse_args()
    pipeline = Pipeline(confirm_frames=1, min_face_size=args.min_face_size)
    sample, fps = clip_frames(sample_clip())
    clips = [("bundled clip", sample, fps), ("bundled clip, 30% light + noise", list(dimmed_with_noise(sample)), fps),
             ("8 portraits, 640x360", grid_frames(8, (640, 360), 150), 30.0)]
    clips += [(video, *clip_frames(video)) for video in args.video]
    for name, frames, rate in clips:
        report(name, detections_per_track(frames, pipeline), rate)


if __name__ == "__main__":
    main()
