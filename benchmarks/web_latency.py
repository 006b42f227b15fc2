"""Caption latency of `emocap serve`: frame leaves the client -> caption arrives, on localhost.

Starts `emocap serve` as a subprocess (as a user would), connects a WebSocket
client like the page does (one frame in flight at a time), sends a 640x480
JPEG with one real face (scikit-image's astronaut photo) N times and prints
the round-trip times and the server's own timings.

With --browser the client is the real caption page instead: headless Chromium
(as the browser test drives it: emocap_testkit.chromium, one driver for
tests and benchmarks, outside the emocap package, which ships no browser driver) with a fake
camera playing the same 640x480 astronaut frame. The page itself times each
frame (window.emocap.captionLatenciesMs and encodeLatenciesMs, see app.js):
frame sent -> caption painted on screen (list and overlay), and grab + JPEG
encode before the send; the benchmark prints both paths and the frames per
second the page reached.

    python benchmarks/web_latency.py [--browser] [--frames 200] [--warmup 10] [--json out.json] [-- serve options]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import save_report
from websockets.asyncio.client import connect

from emocap_testkit.faces import astronaut_frame

BROWSER_FLAGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--window-size=1280,800",
)
FAKE_CAMERA_FPS = 30
PAGE_KEEPS_LATENCIES = 1000
"""How many latencies the page keeps (LATENCY_LIMIT in app.js)."""


def face_frame_jpeg(quality: int = 80) -> bytes:
    """640x480 JPEG, as the page sends it: the astronaut portrait on a grey wall."""
    ok, jpeg = cv2.imencode(".jpg", astronaut_frame(), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the benchmark frame")
    return jpeg.tobytes()


def start_server(serve_options: list[str]) -> tuple[subprocess.Popen, str]:
    """`emocap serve` on a free port; returns the process and the page's URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emocap", "serve", "--port", "0", *serve_options],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("emocap serve: open "):
        process.kill()
        raise RuntimeError(f"emocap serve did not start: {line!r}")
    return process, line.split()[3]


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


async def measure_page(devtools: int, page_url: str, frames: int, warmup: int) -> dict:
    """Open the caption page, start the camera, read the page's own latencies once enough frames are answered."""
    from emocap_testkit.chromium import DevToolsPage, page_socket_url

    snapshot = """JSON.stringify({
      answered: window.emocap.framesAnswered,
      now: performance.now(),
      caption: window.emocap.captionLatenciesMs,
      encode: window.emocap.encodeLatenciesMs,
      faces: window.emocap.lastResult ? window.emocap.lastResult.faces.length : null,
      captions: [...window.emocap.shown.values()],
      error: document.getElementById('error').textContent,
    })"""
    failed = "!!document.getElementById('error').textContent"  # no camera, or the server closed the socket
    async with connect(page_socket_url(devtools), max_size=None) as socket:
        page = DevToolsPage(socket)
        browser = (await page.call("Browser.getVersion"))["product"]
        await page.call("Page.navigate", url=page_url)
        await page.wait_for("document.readyState === 'complete' && !!window.emocap", timeout_s=15)
        await page.evaluate("document.getElementById('start-camera').click()")
        # The first answers also wait for the server to build its pipeline: a generous limit.
        await page.wait_for(f"window.emocap.framesAnswered >= {warmup} || {failed}", timeout_s=120)
        start = json.loads(await page.evaluate(snapshot))
        # Polled every 0.2 s, so a few frames more than asked for may be answered; all of them count.
        await page.wait_for(
            f"window.emocap.framesAnswered >= {warmup + frames} || {failed}", timeout_s=60 + 2 * frames
        )
        end = json.loads(await page.evaluate(snapshot))
        await page.evaluate("document.getElementById('stop').click()")
    if end["error"] or end["answered"] < warmup + frames:
        raise RuntimeError(f"the page stopped after {end['answered']} answers: {end['error']!r}")
    return {"browser": browser, "start": start, "end": end}


def measure_browser(serve_options: list[str], frames: int, warmup: int) -> dict:
    from emocap_testkit.chromium import CHROMIUM, run_chromium, write_y4m

    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"--browser needs Chromium at {CHROMIUM} (run scripts/install-test-tools.sh)")
    with tempfile.TemporaryDirectory(prefix="emocap-web-latency-") as folder:
        video = Path(folder) / "face.y4m"
        write_y4m(video, astronaut_frame(), frames=FAKE_CAMERA_FPS, fps=FAKE_CAMERA_FPS)
        process, page_url = start_server(serve_options)
        try:
            flags = (*BROWSER_FLAGS, f"--use-file-for-fake-video-capture={video}")
            with run_chromium(Path(folder) / "profile", *flags) as devtools:
                reading = asyncio.run(measure_page(devtools, page_url, frames, warmup))
        finally:
            stop_server(process)
    return browser_summary(reading, warmup)


def browser_summary(reading: dict, warmup: int) -> dict:
    start, end = reading["start"], reading["end"]
    # The page keeps only its latest latencies: entry i belongs to answer number first + i.
    # Those of answers before `warmup` are dropped; later ones it no longer keeps are simply not counted.
    first = end["answered"] - len(end["caption"])
    caption = end["caption"][max(0, warmup - first):]
    encode = end["encode"][max(0, warmup - first):]
    capture = [grab + sent for grab, sent in zip(encode, caption)]

    def spread(values: list[float]) -> dict:
        return {"median": statistics.median(values), "p95": percentile(values, 95), "max": max(values)}

    return {
        "client": "caption page in headless Chromium, fake camera",
        "frame": "640x480",
        "frames": len(caption),
        "faces_last_frame": end["faces"],
        "send_to_caption_ms": spread(caption),
        "capture_to_caption_ms": spread(capture),
        "encode_ms": spread(encode),
        "frames_per_second": (end["answered"] - start["answered"]) * 1000 / (end["now"] - start["now"]),
        "captions_announced": sorted(set(end["captions"])),
        "browser": reading["browser"],
        "machine": machine(),
    }


def print_browser_report(figures: dict) -> None:
    print(f"browser caption latency, {figures['frames']} frames from a 640x480 fake camera in headless Chromium, "
          f"{figures['faces_last_frame']} face(s) in the last frame, one frame in flight")
    for key, name in (
        ("send_to_caption_ms", "send -> caption painted"),
        ("capture_to_caption_ms", "grab + encode -> caption painted"),
        ("encode_ms", "grab + encode (before the send)"),
    ):
        ms = figures[key]
        print(f"  {name}: median {ms['median']:.1f} ms, p95 {ms['p95']:.1f} ms, max {ms['max']:.1f} ms")
    print(f"  frames per second the page reached: {figures['frames_per_second']:.1f}")
    print(f"  captions announced: {'; '.join(figures['captions_announced']) or 'none'}")
    print(f"  {figures['browser']}; {figures['machine']}")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def machine() -> str:
    return f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"


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
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browser", action="store_true",
                        help="measure in headless Chromium through the real caption page (needs Chromium)")
    parser.add_argument("--frames", type=int, default=200, help="frames measured (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="frames sent first and not measured (default: %(default)s)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("serve_options", nargs="*", help="options passed on to `emocap serve` (after --)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.warmup < 0:
        parser.error(f"--frames must be at least 1 and --warmup at least 0, got {args.frames} and {args.warmup}")
    if args.browser and args.frames > PAGE_KEEPS_LATENCIES:
        parser.error(f"--browser measures at most {PAGE_KEEPS_LATENCIES} frames (the page keeps no more), "
                     f"got --frames {args.frames}")

    if args.browser:
        try:
            figures = measure_browser(args.serve_options, args.frames, args.warmup)
        except RuntimeError as error:  # no Chromium, or the server or the page stopped: each says so in a line
            print(f"error: {error}", file=sys.stderr)
            return 2
        print_browser_report(figures)
        return save_report(args.json, figures)

    jpeg = face_frame_jpeg()
    process, page_url = start_server(args.serve_options)
    socket_url = page_url.replace("http://", "ws://", 1) + "ws"
    try:
        round_trips, answers = asyncio.run(measure(socket_url, jpeg, args.frames, args.warmup))
    finally:
        stop_server(process)

    figures = {"jpeg_bytes": len(jpeg), "frame": "640x480", **summary(round_trips, answers)}
    rtt = figures["round_trip_ms"]
    print(f"web caption latency, {figures['frames']} frames of 640x480 JPEG ({len(jpeg)} bytes), "
          f"{figures['faces_per_frame']:.2f} faces per frame, one frame in flight")
    print(f"  round trip (send -> caption received): median {rtt['median']:.1f} ms, "
          f"p95 {rtt['p95']:.1f} ms, max {rtt['max']:.1f} ms")
    print("  server, median: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in figures["server_ms_median"].items()))
    print(f"  labels shown: {', '.join(figures['labels_shown']) or 'none'}")
    print(f"  {figures['machine']}")
    return save_report(args.json, figures)


if __name__ == "__main__":
    sys.exit(main())
