"""Latency of the live path: from a frame's capture by the camera to its caption drawn.

A simulated camera captures frames at --camera-fps (default 30) on a thread of
its own, as a webcam does whether or not anyone reads them, and queues them
in --camera-buffers slots (default 4, as OpenCV's V4L2 backend asks the
driver for); when every slot is full, the new frame is dropped, as V4L2 does.
Each frame is stamped with the moment it was captured. The live loop reads
the camera as `emocap live` reads a real one (`run_ahead` with `Pipeline.perceive`
on a second thread, then `Pipeline.caption` and the caption overlay; --ahead
detection runs only the detector ahead, as `transcribe` does), and a frame's latency is the time
from its capture to the end of its drawing (showing it on screen is left out:
there is no screen here).

Faces are those of benchmarks/pipeline_speed.py (two public-domain portraits
in a grid, drifting). Two ways are compared in the same run, on the same
frames:

    the paper's way     one thread, the whole frame scanned for faces on every frame
    default settings    the next frame detected on a second thread, a whole scan every
                        --full-scan-every frames (emocap.defaults) and a search between

Run:  python benchmarks/live_latency.py [--faces 1 4 8] [--seconds 10] [--json out/live_latency.json]
Prints, for each number of faces and each way: frames drawn per second, frames
the camera dropped, and the latency's median, 95th percentile and maximum.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from common import grid_frames, make_pipeline, save_report

from emocap.outputs import CaptionOverlay
from emocap.defaults import DEFAULT_FULL_SCAN_EVERY

FRAME_SIZE = (640, 480)


@dataclass(frozen=True)
class CapturedFrame:
    index: int
    time_s: float  # seconds since the camera started, as a live source stamps its frames
    image_bgr: np.ndarray
    captured_at: float  # time.perf_counter() at capture


class SimulatedCamera:
    """Frames from `images` on a loop at `fps`, queued in `buffers` slots; new frames are dropped while
    every slot is full. Iterating gives the queued frames in order, waiting for the next capture
    when the queue is empty, for `seconds` of capture."""

    is_live = True

    def __init__(self, images: list[np.ndarray], *, fps: float, buffers: int, seconds: float) -> None:
        self.images, self.interval, self.buffers, self.seconds = images, 1.0 / fps, buffers, seconds
        self.queue: deque[CapturedFrame] = deque()
        self.ready = threading.Condition()
        self.captured = self.dropped = 0
        self.finished = False

    def run(self) -> None:
        started = time.perf_counter()
        index = 0
        while (due := started + index * self.interval) < started + self.seconds:
            time.sleep(max(0.0, due - time.perf_counter()))
            frame = CapturedFrame(index, index * self.interval, self.images[index % len(self.images)].copy(),
                                  time.perf_counter())
            with self.ready:
                self.captured += 1
                if len(self.queue) < self.buffers:
                    self.queue.append(frame)
                    self.ready.notify()
                else:
                    self.dropped += 1
            index += 1
        with self.ready:
            self.finished = True
            self.ready.notify_all()

    def __iter__(self):
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.queue or self.finished)
                if not self.queue:
                    break
                frame = self.queue.popleft()
            yield frame
        thread.join()


def measure(args, images: list[np.ndarray], *, paper_way: bool) -> dict:
    from emocap.overlap import run_ahead

    pipeline = make_pipeline(args, full_scan_every=1 if paper_way else args.full_scan_every)
    overlay = CaptionOverlay()
    for image in images[:5]:  # warm-up: the first runs of each network allocate
        pipeline.process(image, None)
    pipeline.reset()
    camera = SimulatedCamera(images, fps=args.camera_fps, buffers=args.camera_buffers, seconds=args.seconds)
    latencies_ms, started = [], time.perf_counter()
    perception = args.ahead == "perception"  # detect and classify on the second thread (live), or detect only

    def ahead(frame):
        return pipeline.perceive(frame.image_bgr, frame.time_s) if perception else pipeline.detect(frame.image_bgr)

    for frame, done in run_ahead(camera, ahead, overlap=not paper_way):
        result = pipeline.caption(done) if perception else pipeline.finish(done, frame.time_s)
        overlay.annotate(frame.image_bgr, result)
        latencies_ms.append((time.perf_counter() - frame.captured_at) * 1000)
    elapsed = time.perf_counter() - started
    settled = np.array(latencies_ms[len(latencies_ms) // 10:])  # the first tenth fills the camera's queue
    return {"drawn_fps": round(len(latencies_ms) / elapsed, 1), "captured": camera.captured,
            "dropped": camera.dropped, "median_ms": round(float(np.median(settled)), 1),
            "p95_ms": round(float(np.percentile(settled, 95)), 1), "max_ms": round(float(settled.max()), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds the camera captures, each case")
    parser.add_argument("--camera-fps", type=float, default=30.0)
    parser.add_argument("--camera-buffers", type=int, default=4)
    parser.add_argument("--ahead", choices=("perception", "detection"), default="perception",
                        help="what runs on the second thread: all of perception (as `emocap live`), or detection only")
    parser.add_argument("--full-scan-every", type=int, default=DEFAULT_FULL_SCAN_EVERY)
    parser.add_argument("--model", default=None, help="an emotion model (default: the built-in one)")
    parser.add_argument("--detector", choices=("mtcnn", "haar"), default="mtcnn")
    parser.add_argument("--min-face-size", type=int, default=40)
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    print(f"camera: {args.camera_fps:g} fps, {args.camera_buffers} buffers (new frames dropped when full), "
          f"{args.seconds:g} s a case; {FRAME_SIZE[0]}x{FRAME_SIZE[1]}")
    print(f"{'faces':>5}  {'way':<17} {'drawn FPS':>9}  {'dropped':>11}  {'median ms':>9}  {'p95 ms':>7}  {'max ms':>7}")
    report: dict = {"camera_fps": args.camera_fps, "camera_buffers": args.camera_buffers, "cases": []}
    for faces in args.faces:
        images = grid_frames(faces, FRAME_SIZE, 90)
        for paper_way in (True, False):
            figures = measure(args, images, paper_way=paper_way)
            way = "the paper's way" if paper_way else "default settings"
            report["cases"].append({"faces": faces, "way": way, **figures})
            print(f"{faces:>5}  {way:<17} {figures['drawn_fps']:>9.1f}  {figures['dropped']:>4} of {figures['captured']:<4}  "
                  f"{figures['median_ms']:>9.1f}  {figures['p95_ms']:>7.1f}  {figures['max_ms']:>7.1f}")
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
