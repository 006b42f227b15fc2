"""Headless Chromium for the browser tests, driven over its DevTools protocol.

Plain helpers (imported like `frame_fixtures`: pytest puts tests/ on
sys.path). The DevTools protocol is a WebSocket, spoken with the `websockets`
client emocap already depends on, so no WebDriver package is needed. Tests
that use Chromium mark themselves with `requires_chromium`, which skips them
only when Chromium is not installed (scripts/install-test-tools.sh installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

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
ARTIFACTS_VARIABLE = "EMOCAP_ARTIFACTS"
"""Names a folder where tests also copy what they save for people to look at (screenshots)."""

requires_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Chromium is not installed (run scripts/install-test-tools.sh)",
)


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


def save_artifact(path: Path, data: bytes) -> None:
    """Write `data` to `path`, and copy it into $EMOCAP_ARTIFACTS when that names a folder."""
    path.write_bytes(data)
    artifacts = os.environ.get(ARTIFACTS_VARIABLE)
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)


class MediaHandler(SimpleHTTPRequestHandler):
    """Static files with the media types players insist on, byte ranges, and no request log on stderr.

    Byte ranges matter: Chromium seeks only in media whose server answers `Range` requests
    with 206 (http.server's handler ignores them, and a seek then lands at 0).
    """

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".vtt": "text/vtt",
        ".webm": "video/webm",
        ".mp4": "video/mp4",
        ".html": "text/html",
    }

    def send_head(self):
        path = Path(self.translate_path(self.path))
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if wanted is None or wanted.groups() == ("", "") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        start, end = (max(0, size - int(last)), size - 1) if not first else (int(first), min(size - 1, int(last or size)))
        if start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        with path.open("rb") as stream:
            stream.seek(start)
            body = stream.read(end - start + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, format, *args) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """`folder` over http on 127.0.0.1 (a free port, byte ranges answered, so videos seek), in a
    thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(MediaHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def write_y4m(path: Path, frame_bgr: np.ndarray, frames: int, fps: int = 10) -> None:
    """A Y4M (YUV4MPEG2, 4:2:0) video of `frames` copies of one picture; Chromium's fake camera loops it
    (--use-file-for-fake-video-capture)."""
    height, width = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as stream:
        stream.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            stream.write(b"FRAME\n" + i420)
