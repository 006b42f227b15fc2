"""Headless Chromium driven over its DevTools protocol: the browser tests and
`benchmarks/web_latency.py --browser` start it, open the caption page and read what the page reports.

The DevTools protocol is a WebSocket, spoken with the `websockets` client emocap already depends on,
so no WebDriver package is needed. Chromium itself: scripts/install-test-tools.sh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
"""Flags every test starts Chromium with; tests add their own (window size, fake camera)."""


class DevToolsPage:
    """One Chromium tab spoken to over the DevTools protocol."""

    def __init__(self, socket) -> None:
        self._socket = socket
        self._next_id = 0

    async def call(self, method: str, **params) -> dict:
        self._next_id += 1
        await self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message["result"]

    async def evaluate(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True, userGesture=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {expression}")


def devtools_port(profile: Path, process: subprocess.Popen, timeout_s: float = 30) -> int:
    """Chromium writes its chosen debugging port to DevToolsActivePort in the profile."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with code {process.returncode}")
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text().split()[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium wrote no {port_file} in {timeout_s} s")


@contextlib.contextmanager
def run_chromium(profile: Path, *extra_flags: str) -> Iterator[int]:
    """Headless Chromium with a fresh profile (created if needed) on about:blank; yields its DevTools port.

    The browser is ended on the way out, whatever happened.
    """
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, *extra_flags, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield devtools_port(profile, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def page_socket_url(devtools: int) -> str:
    """The DevTools WebSocket of the browser's first tab."""
    with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list") as answer:
        target = next(t for t in json.load(answer) if t["type"] == "page")
    return target["webSocketDebuggerUrl"]


def write_y4m(path: Path, frame_bgr: np.ndarray, frames: int, fps: int = 10) -> None:
    """A Y4M (YUV4MPEG2, 4:2:0) video of `frames` copies of one picture; Chromium's fake camera loops it
    (--use-file-for-fake-video-capture)."""
    height, width = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as stream:
        stream.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            stream.write(b"FRAME\n" + i420)
