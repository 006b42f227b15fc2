"""Caption latency of `emocap serve`: frame leaves the client -> caption arrives, on localhost.

Starts `emocap serve` as a subprocess (as a user would), connects a WebSocket
client like the page does (one frame in flight at a time), sends a 640x480
JPEG with one real face (scikit-image's astronaut photo) N times and prints
the round-trip times and the server's own timings.

    python benchmarks/web_latency.py [--frames 200] [--warmup 10] [--json out.json] [-- serve options]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np
from websockets.asyncio.client import connect


def face_frame_jpeg(quality: int = 80) -> bytes:
    """640x480 JPEG, as the page sends it: the astronaut portrait on a grey wall."""
    from skimage import data

    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 80:560] = cv2.resize(portrait, (480, 480), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the benchmark frame")
    return jpeg.tobytes()


def start_server(serve_options: list[str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "emocap", "serve", "--port", "0", *serve_options],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("emocap serve: open "):
        process.kill()
        raise RuntimeError(f"emocap serve did not start: {line!r}")
    page_url = line.split()[3]
    return process, page_url.replace("http://", "ws://", 1) + "ws"


async def measure(socket_url: str, jpeg: bytes, frames: int, warmup: int) -> tuple[list[float], list[dict]]:
    round_trips, answers = [], []
    async with connect(socket_url, compression=None) as client:
        for index in range(warmup + frames):
            sent = time.perf_counter()
            await client.send(jpeg)
            answer = json.loads(await client.recv())
            elapsed_ms = (time.perf_counter() - sent) * 1000
            if index >= warmup:
                round_trips.append(elapsed_ms)
                answers.append(answer)
    return round_trips, answers


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summary(round_trips: list[float], answers: list[dict]) -> dict:
    timings = {
        name: [answer["timings_ms"][name] for answer in answers if name in answer["timings_ms"]]
        for name in answers[0]["timings_ms"]
    }
    faces = [len(answer["faces"]) for answer in answers]
    return {
        "frames": len(round_trips),
        "faces_per_frame": statistics.mean(faces),
        "round_trip_ms": {
            "median": statistics.median(round_trips),
            "p95": percentile(round_trips, 95),
            "max": max(round_trips),
        },
        "server_ms_median": {name: statistics.median(values) for name, values in timings.items()},
        "labels_shown": sorted({face["label"] for answer in answers for face in answer["faces"] if face["label"]}),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200, help="frames measured (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="frames sent first and not measured (default: %(default)s)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("serve_options", nargs="*", help="options passed on to `emocap serve` (after --)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.warmup < 0:
        parser.error(f"--frames must be at least 1 and --warmup at least 0, got {args.frames} and {args.warmup}")

    jpeg = face_frame_jpeg()
    process, socket_url = start_server(args.serve_options)
    try:
        round_trips, answers = asyncio.run(measure(socket_url, jpeg, args.frames, args.warmup))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    figures = {"jpeg_bytes": len(jpeg), "frame": "640x480", **summary(round_trips, answers)}
    rtt = figures["round_trip_ms"]
    print(f"web caption latency, {figures['frames']} frames of 640x480 JPEG ({len(jpeg)} bytes), "
          f"{figures['faces_per_frame']:.2f} faces per frame, one frame in flight")
    print(f"  round trip (send -> caption received): median {rtt['median']:.1f} ms, "
          f"p95 {rtt['p95']:.1f} ms, max {rtt['max']:.1f} ms")
    print("  server, median: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in figures["server_ms_median"].items()))
    print(f"  labels shown: {', '.join(figures['labels_shown']) or 'none'}")
    print(f"  {figures['machine']}")
    if args.json:
        from emocap.atomic import atomic_json

        atomic_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
