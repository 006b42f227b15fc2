"""End-to-end speed and memory of the live path: decode -> pipeline -> draw.

Faces are real (two public-domain portraits: Eileen Collins via
skimage.data.astronaut, Grace Hopper via matplotlib's sample data), pasted
into frames of the tested size with a slow drift so that the tracker and the
smoother do their usual work. Run from the repository root:

    python benchmarks/pipeline_speed.py                 # everything (~6 min on 2 cores)
    python benchmarks/pipeline_speed.py --memory-frames 0 --frames 60   # a quick look

Prints:
  1. end to end at 640x480, one face: a video file decoded with `open_source`,
     the pipeline, the overlay drawn; FPS and per-stage milliseconds
     (the pipeline's own `FrameResult.timings_ms`, plus decode and draw);
  2. the goals of a video call on a 2-core CPU (1 face, 1 face scanned every
     frame, 4 and 8 faces, 4 faces at 1280x720), frames in memory: FPS of the
     paper's way (one thread, the whole frame scanned on every frame) and of
     the default settings (detection of the next frame on a second thread, a
     whole-frame scan every --full-scan-every frames), with their ratio;
  3. with --detect-every K: boxes carried over between detections;
  4. resident memory over --memory-frames frames (default 10,000) of the
     sample clip on a loop (faces come, go and come back), start and end;
  5. with --models A B ...: the built-in models (or model files) side by side
     with 1, 4 and 8 faces at 640x480, default settings: FPS, the classifier's
     milliseconds a frame and a face, and each model's ratio to the first.

    python benchmarks/pipeline_speed.py --memory-frames 0 --models standard fast
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import grid_frames, make_pipeline

from emocap.onnx_session import cpu_features
from emocap.outputs import CaptionOverlay
from emocap.sources import open_source, sample_clip

RESOLUTIONS = ((640, 480), (1280, 720))
FACE_COUNTS = (1, 4, 8)
TARGET_FPS = 30.0


def write_video(frames: list[np.ndarray], path: Path, fps: float = 30.0) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


GOALS = (  # (row, faces, frame size, full-scan-every: None for the default, FPS goal on a 2-core AVX2 CPU: issue 45's)
    ("1 face", 1, (640, 480), None, 60.0),
    ("1 face, every frame scanned", 1, (640, 480), 1, 30.0),
    ("4 faces", 4, (640, 480), None, 35.0),
    ("8 faces", 8, (640, 480), None, 20.0),
    ("4 faces, 1280x720", 4, (1280, 720), None, 15.0),
)


class StageClock:
    """Milliseconds per stage, summed over frames."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.frames = 0

    def add(self, stage: str, ms: float) -> None:
        self.totals[stage] = self.totals.get(stage, 0.0) + ms

    def add_all(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.add(stage, ms)

    def means(self) -> str:
        return "  ".join(f"{stage} {total / max(self.frames, 1):.1f}" for stage, total in self.totals.items())


def end_to_end(args, video: Path, detect_every: int = 1) -> tuple[float, StageClock]:
    """FPS of decode + pipeline + draw over a video file; the first frames warm up and are not counted."""
    pipeline, overlay, clock = make_pipeline(args, detect_every), CaptionOverlay(), StageClock()
    warmup = 10
    with open_source(str(video)) as source:
        started = time.perf_counter()
        before_read = started
        for frame in source:
            decoded = time.perf_counter()
            result = pipeline.process(frame.image_bgr, frame.time_s)
            processed = time.perf_counter()
            overlay.annotate(frame.image_bgr, result)
            drawn = time.perf_counter()
            if frame.index == warmup:
                started, clock = before_read, StageClock()
            clock.frames += 1
            clock.add("decode", (decoded - before_read) * 1000)
            clock.add_all(result.timings_ms)
            clock.add("draw", (drawn - processed) * 1000)
            before_read = time.perf_counter()
    return clock.frames / (before_read - started), clock


class InMemoryFrame:
    def __init__(self, index: int, image_bgr: np.ndarray) -> None:
        self.index, self.image_bgr, self.time_s = index, image_bgr, index / 30.0


def in_memory(args, frames: list[np.ndarray], detect_every: int = 1, full_scan_every: int | None = None,
              overlap: bool = True) -> tuple[float, StageClock, float]:
    """FPS of pipeline + draw on frames already in memory, and the mean number of faces found.
    `overlap`: the next frame is detected on a second thread, as `transcribe` does."""
    from emocap.overlap import run_ahead

    pipeline, overlay, clock = make_pipeline(args, detect_every, full_scan_every), CaptionOverlay(), StageClock()
    found = []
    for frame in frames[:5]:  # warm-up
        pipeline.process(frame, None)
    pipeline.reset()
    source = [InMemoryFrame(index, frame) for index, frame in enumerate(frames)]
    started = time.perf_counter()
    for item, detected in run_ahead(source, lambda item: pipeline.detect(item.image_bgr), overlap=overlap):
        frame = item.image_bgr
        result = pipeline.finish(detected, item.time_s)
        drawn_from = time.perf_counter()
        overlay.annotate(frame, result)
        clock.add_all(result.timings_ms)
        clock.add("draw", (time.perf_counter() - drawn_from) * 1000)
        clock.frames += 1
        found.append(len(result.faces))
    return len(frames) / (time.perf_counter() - started), clock, float(np.mean(found))


def rss_mib() -> float:
    """Resident set size now, from /proc (Linux); the peak from getrusage elsewhere."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def memory_run(args) -> None:
    with open_source(str(sample_clip())) as source:
        clip = [frame.image_bgr for frame in source]
    pipeline, overlay = make_pipeline(args), CaptionOverlay()
    checkpoints = {1000, args.memory_frames // 2, args.memory_frames}
    readings = []
    started = time.perf_counter()
    for index in range(args.memory_frames):
        frame = clip[index % len(clip)]
        overlay.annotate(frame, pipeline.process(frame, index / 15.0))
        if index + 1 in checkpoints:
            readings.append((index + 1, rss_mib()))
    elapsed = time.perf_counter() - started
    print(f"\n4. memory over {args.memory_frames} frames of the sample clip on a loop "
          f"({args.memory_frames / elapsed:.1f} FPS, {elapsed:.0f} s)")
    for frames, mib in readings:
        print(f"   after {frames:>6} frames: RSS {mib:7.1f} MiB")
    first, last = readings[0][1], readings[-1][1]
    print(f"   change from frame 1000 to the end: {last - first:+.1f} MiB")


def models_side_by_side(args) -> None:
    """Section 5: each model of --models in the same process, on the same frames, in turn."""
    from emocap.commands.options import model_by_name

    print(f"\n5. the models side by side, 640x480, default settings ({', '.join(args.models)}): FPS, and the "
          "classifier's ms a frame / a face; ratio of FPS to the first model's")
    for faces in FACE_COUNTS:
        frames = grid_frames(faces, (640, 480), args.frames)
        first = None
        for name in args.models:
            run = copy.copy(args)
            run.model = model_by_name(name)
            fps, clock, found = in_memory(run, frames)
            first = first or fps
            classify = clock.totals.get("classify", 0.0) / max(clock.frames, 1)
            print(f"   {faces} face{'s' if faces > 1 else ' '}  {name:<12} {fps:6.1f} FPS ({fps / first:.2f}x)  "
                  f"classify {classify:5.1f} ms a frame, {classify / max(found, 1e-9):4.1f} a face  "
                  f"(found {found:.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=150, help="frames per measurement (default 150)")
    parser.add_argument("--memory-frames", type=int, default=10_000, help="frames for the memory run (0 skips it)")
    parser.add_argument("--detect-every", type=int, nargs="*", default=[], metavar="K",
                        help="also measure --detect-every K (boxes carried between detections)")
    parser.add_argument("--detector", choices=("mtcnn", "haar"), default="mtcnn")
    parser.add_argument("--min-face-size", type=int, default=40)
    parser.add_argument("--model", default=None, help="the model of sections 1-4 (default: the built-in one)")
    parser.add_argument("--models", nargs="+", default=[], metavar="NAME",
                        help="section 5: these built-in models by name (or model files) side by side")
    parser.add_argument("--only-models", action="store_true", help="run section 5 alone")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="the classifier sees each face alone, not averaged with its mirror image")
    args = parser.parse_args(argv)

    import onnxruntime

    print(f"emocap pipeline speed: detector {args.detector}, min face {args.min_face_size} px, "
          f"{'mirror averaging' if args.mirror else 'no mirror averaging'}, "
          f"{args.frames} frames per row; OpenCV {cv2.__version__}, ONNX Runtime {onnxruntime.__version__}, "
          f"{len(__import__('os').sched_getaffinity(0))} CPU cores of {cpu_features().describe()}")

    if args.only_models:
        models_side_by_side(args)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "one_face_640x480.mp4"
        write_video(grid_frames(1, (640, 480), args.frames + 10), video)
        fps, clock = end_to_end(args, video)
        verdict = "meets" if fps >= TARGET_FPS else "misses"
        print(f"\n1. end to end on one thread, 640x480, one face, from a video file: {fps:.1f} FPS ({verdict} the {TARGET_FPS:.0f} FPS target)")
        print(f"   ms per frame: {clock.means()}")

    print("\n2. the goals, pipeline + draw on frames in memory: FPS of the paper's way (one thread, every frame "
          "scanned) -> the default settings (second thread, search between scans); ms per frame by stage")
    for row, faces, size, full_scan_every, goal in GOALS:
        frames = grid_frames(faces, size, args.frames)
        before, _, _ = in_memory(args, frames, full_scan_every=1, overlap=False)
        fps, clock, found = in_memory(args, frames, full_scan_every=full_scan_every)
        verdict = "meets" if fps >= goal else "misses"
        print(f"   {row:<28} {before:6.1f} -> {fps:6.1f} FPS ({fps / before:.2f}x; {verdict} {goal:.0f})  "
              f"found {found:.1f}  {clock.means()}")

    if args.detect_every:
        print("\n3. --detect-every K, 640x480")
        for faces in (1, 4):
            frames = grid_frames(faces, (640, 480), args.frames)
            for k in (1, *args.detect_every):
                fps, clock, found = in_memory(args, frames, detect_every=k)
                print(f"   {faces} face{'s' if faces > 1 else ' '}  K={k}  {fps:6.1f} FPS  (found {found:.1f})  {clock.means()}")

    if args.memory_frames:
        memory_run(args)
    if args.models:
        models_side_by_side(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
