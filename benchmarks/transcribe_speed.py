"""Real-time factor of `emocap transcribe` on a 640x360, 30 fps clip of two real faces.

The clip is built here from two public-domain portraits (scikit-image's
astronaut, Eileen Collins, and matplotlib's Grace Hopper) drifting slowly
over a plain wall, so there is no download. Each setting of --detect-every
runs the whole transcription of one video (decode, detection, classification,
tracking, smoothing, segmenting, a WebVTT and a JSON Lines writer) and is
timed without the one-off model loading.

    real-time factor = processing time / video duration   (below 1: faster than real time)

Run:  python benchmarks/transcribe_speed.py [--seconds 10] [--detect-every 1 2 3]
Needs scikit-image (a test dependency) and the emocap pipeline.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 30.0


def portraits() -> list[np.ndarray]:
    """Head-and-shoulders crops (BGR) of the two portraits."""
    from matplotlib import cbook
    from skimage import data

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 100:400]
    hopper = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))[0:380, 80:440]
    return [cv2.resize(astronaut, (190, 190)), cv2.resize(hopper, (180, 190))]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default: 10)")
    parser.add_argument("--detect-every", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--detector", default="mtcnn")
    options = parser.parse_args()

    if importlib.util.find_spec("emocap.pipeline") is None:
        raise SystemExit("transcribe_speed: emocap.pipeline is not there yet; nothing to time")
    from emocap.commands import transcribe

    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "two_faces.mp4"
        frames = write_clip(clip, options.seconds)
        duration = frames / FPS
        print(f"clip: {WIDTH}x{HEIGHT}, {FPS:.0f} fps, {frames} frames, {duration:.1f} s, 2 faces")
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; detector {options.detector}")
        print(f"{'detect-every':>12}  {'seconds':>8}  {'frames/s':>8}  {'real-time factor':>16}  faces/frame  cues")
        command = argparse.ArgumentParser(prog="emocap")
        transcribe.add_parser(command.add_subparsers())
        for every in options.detect_every:
            args = command.parse_args([
                "transcribe", str(clip), "-o", str(Path(folder) / f"k{every}.vtt"),
                "-o", str(Path(folder) / f"k{every}.jsonl"),
                "--detect-every", str(every), "--detector", options.detector,
            ])
            plan = transcribe.plan_outputs(transcribe.find_videos(clip), args)[0]
            pipeline = transcribe.build_pipeline(args)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                transcribe.transcribe_video(plan, pipeline, args)
            elapsed = time.perf_counter() - started
            lines = (Path(folder) / f"k{every}.jsonl").read_text().splitlines()
            faces_per_frame = np.mean([line.count('"face":') for line in lines])
            cues = (Path(folder) / f"k{every}.vtt").read_text().count(" --> ")
            print(f"{every:>12}  {elapsed:>8.2f}  {frames / elapsed:>8.1f}  {elapsed / duration:>16.2f}"
                  f"  {faces_per_frame:>11.2f}  {cues:>4}")


if __name__ == "__main__":
    main()
