"""Real-time factor of `emocap transcribe` on a 640x360, 30 fps clip of two real faces.

The clip is built here from two public-domain portraits (scikit-image's
astronaut, Eileen Collins, and matplotlib's Grace Hopper) drifting slowly
over a plain wall, so there is no download. Each setting of --detect-every
runs the whole transcription of one video (decode, detection, classification,
tracking, smoothing, segmenting, a WebVTT and a JSON Lines writer) and is
timed without the one-off model loading.

    real-time factor = processing time / video duration   (below 1: faster than real time)

For each K it also prints what detecting only every K-th frame costs: the
share of face-frames whose displayed label is the same as with K=1 (faces
matched by their reading order within a frame) and the number of cues
(more cues than K=1: more flicker).

With --memory-minutes M, a clip of M minutes is transcribed once more and the
process's resident memory is sampled as it runs, to show that it stays flat
on a long video.

The first row is the paper's way (every frame scanned whole by MTCNN); the others use the default
scan schedule (`--full-scan-every`), and their labels are compared with the first's.

Run:  python benchmarks/transcribe_speed.py [--seconds 10] [--detect-every 1 2 3] [--memory-minutes 5]
Needs scikit-image (a test dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from emocap.onnx_session import cpu_features
from emocap_testkit.faces import portrait

WIDTH, HEIGHT, FPS = 640, 360, 30.0


def portraits() -> list[np.ndarray]:
    """Head-and-shoulders crops (BGR) of the two portraits, at the size they hang on the wall."""
    return [cv2.resize(portrait("astronaut", (100, 0, 400, 300)), (190, 190)),
            cv2.resize(portrait("grace_hopper", (80, 0, 440, 380)), (180, 190))]


def write_clip(path: Path, seconds: float) -> int:
    """Both portraits on a wall, each drifting a few pixels a second, like a held camera."""
    faces = portraits()
    wall = np.full((HEIGHT, WIDTH, 3), (170, 180, 190), np.uint8)
    count = int(round(seconds * FPS))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    try:
        for i in range(count):
            t = i / FPS
            frame = wall.copy()
            for k, face in enumerate(faces):
                h, w = face.shape[:2]
                x = int(60 + 330 * k + 25 * np.sin(0.4 * t + k))
                y = int(80 + 15 * np.sin(0.3 * t + 2 * k))
                frame[y : y + h, x : x + w] = face
            writer.write(frame)
    finally:
        writer.release()
    return count


def displayed_labels(jsonl: Path) -> list[list]:
    """Per frame, the displayed label of each face in reading order."""
    return [[face["label"] for face in json.loads(line)["faces"]] for line in jsonl.read_text().splitlines()]


def agreement(labels: list[list], reference: list[list]) -> float:
    """Share of the reference's face-frames whose label is the same (a frame with another face count agrees on none)."""
    same = sum(
        sum(a == b for a, b in zip(mine, theirs)) for mine, theirs in zip(labels, reference) if len(mine) == len(theirs)
    )
    return same / max(sum(len(theirs) for theirs in reference), 1)


class MemorySampler:
    """Resident memory of this process (from /proc), sampled in a thread every `interval_s` seconds."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_mib() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(self.interval_s):
            self.samples.append((time.perf_counter() - started, self.rss_mib()))

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def transcribe_once(clip: Path, folder: Path, every: int, detector: str, overlap: bool = True,
                    full_scan_every: int | None = None) -> tuple[float, Path, Path]:
    """Seconds to transcribe `clip` (models loaded beforehand), and the VTT and JSON Lines it wrote.
    `full_scan_every`: None for the default."""
    from emocap.pipeline import Pipeline
    from emocap.defaults import DEFAULT_FULL_SCAN_EVERY
    from emocap.transcription import OutputPlan, TranscriptionSettings, transcribe_video

    scan = full_scan_every or DEFAULT_FULL_SCAN_EVERY
    vtt, jsonl = folder / f"k{every}-s{scan}.vtt", folder / f"k{every}-s{scan}.jsonl"
    pipeline = Pipeline(detector=detector, detect_every=every, full_scan_every=scan)
    started = time.perf_counter()
    transcribe_video(OutputPlan(clip, (vtt, jsonl)), pipeline, TranscriptionSettings(progress=False, overlap=overlap))
    return time.perf_counter() - started, vtt, jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default: 10)")
    parser.add_argument("--detect-every", type=int, nargs="+", default=[1, 2, 3],
                        help="rows at the default scan schedule (after the paper's way, every frame scanned)")
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--memory-minutes", type=float, default=0.0,
                        help="also transcribe a clip this long and sample memory as it runs (default: 0, skip)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip = folder / "two_faces.mp4"
        frames = write_clip(clip, options.seconds)
        duration = frames / FPS
        print(f"clip: {WIDTH}x{HEIGHT}, {FPS:.0f} fps, {frames} frames, {duration:.1f} s, 2 faces")
        print(f"machine: {cpu_features().describe()}, {os.cpu_count()} CPUs; detector {options.detector}")
        print(f"{'setting':>30}  {'seconds':>8}  {'frames/s':>8}  {'real-time factor':>16}  faces/frame  cues"
              "  labels as the paper's way")
        reference = None
        (folder / "single").mkdir()
        # The paper's way first (every frame detected and scanned whole): the labels the others are held to.
        settings = [("every frame scanned", 1, 1)] + [(f"--detect-every {k}, default scan", k, None)
                                                       for k in options.detect_every]
        for name, every, full_scan_every in settings:
            elapsed, vtt, jsonl = transcribe_once(clip, folder, every, options.detector, full_scan_every=full_scan_every)
            labels = displayed_labels(jsonl)
            reference = reference if reference is not None else labels
            same = f"{100 * agreement(labels, reference):12.1f}%"
            faces_per_frame = np.mean([len(frame) for frame in labels])
            cues = vtt.read_text().count(" --> ")
            print(f"{name:>30}  {elapsed:>8.2f}  {frames / elapsed:>8.1f}  {elapsed / duration:>16.2f}"
                  f"  {faces_per_frame:>11.2f}  {cues:>4}  {same}")

        # What the second thread buys at the default settings: detection overlapped or on the calling
        # thread, alternated three times each (this machine's run-to-run noise is of the same size).
        runs: dict = {False: [], True: []}
        for _ in range(3):
            for overlap in (False, True):
                elapsed, _, jsonl = transcribe_once(clip, folder / "single", 1, options.detector, overlap=overlap)
                runs[overlap].append(elapsed)
                labels = runs.setdefault(f"labels-{overlap}", displayed_labels(jsonl))
                assert displayed_labels(jsonl) == labels, "the labels changed between runs of one setting"
        assert runs["labels-False"] == runs["labels-True"], "overlap changed the labels"
        single, overlapped = statistics.median(runs[False]), statistics.median(runs[True])
        print(f"\ndefault settings, median of 3: one thread {single:.2f} s (real-time factor {single / duration:.2f}), decode "
              f"and detect on a second thread {overlapped:.2f} s ({overlapped / duration:.2f}): "
              f"{single / overlapped:.2f}x faster, the same labels on every frame")

        if options.memory_minutes > 0:
            long_clip = folder / "long.mp4"
            long_frames = write_clip(long_clip, options.memory_minutes * 60)
            with MemorySampler() as sampler:
                elapsed, _, _ = transcribe_once(long_clip, folder, 1, options.detector)
            rss = np.array([mib for _, mib in sampler.samples])
            quarter = max(len(rss) // 4, 1)
            print(f"\nmemory over {long_frames} frames ({long_frames / FPS / 60:.1f} min of video, "
                  f"real-time factor {elapsed / (long_frames / FPS):.2f}), sampled every second:")
            print(f"  resident memory: first quarter mean {rss[:quarter].mean():.1f} MiB, last quarter mean "
                  f"{rss[-quarter:].mean():.1f} MiB, max {rss.max():.1f} MiB; change {rss[-quarter:].mean() - rss[:quarter].mean():+.1f} MiB")


if __name__ == "__main__":
    main()
