"""The caption page in a real browser: headless Chromium with a fake camera showing a real face.

Chromium is driven over its DevTools protocol, which is a WebSocket, with the
`websockets` client emocap already depends on (no WebDriver package needed).
The fake camera plays a Y4M video built here from scikit-image's astronaut
photo. The test skips only when Chromium is not installed
(scripts/install-chromium.sh installs it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from websockets.asyncio.client import connect

from emocap.cli import build_parser
from emocap.commands.serve import build_pipeline_factory
from emocap.web.server import CaptionServer

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
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--window-size=1280,1400",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
CAPTION_TIMEOUT_S = 40
SNAPSHOT_SCRIPT = """JSON.stringify({
  result: window.emocap.lastResult,
  caption: document.querySelector('#captions li.caption').innerText,
  history: document.getElementById('history').innerText,
  frames: window.emocap.framesAnswered,
  painted: (() => {
    const c = document.getElementById('overlay');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
    return n;
  })(),
})"""

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Chromium is not installed (run scripts/install-chromium.sh)",
)


def write_y4m(path: Path, frame_bgr: np.ndarray, frames: int, fps: int = 10) -> None:
    """A Y4M (YUV4MPEG2, 4:2:0) video of `frames` copies of one picture; Chromium's fake camera loops it."""
    height, width = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as stream:
        stream.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            stream.write(b"FRAME\n" + i420)


def astronaut_frame() -> np.ndarray:
    """640x480 BGR frame with the astronaut portrait (one real face) on a grey wall."""
    from skimage import data

    portrait = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 80:560] = cv2.resize(portrait, (480, 480), interpolation=cv2.INTER_AREA)
    return frame


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


@pytest.fixture
def caption_server():
    """The real server with the real pipeline, on a free port, in a background event loop."""
    loop = asyncio.new_event_loop()
    server = CaptionServer(build_pipeline_factory(build_parser().parse_args(["serve"])), port=0)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_page_shows_face_box_and_caption_from_fake_camera(caption_server, tmp_path):
    video = tmp_path / "face.y4m"
    write_y4m(video, astronaut_frame(), frames=10)
    profile = tmp_path / "profile"
    profile.mkdir()
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--use-file-for-fake-video-capture={video}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        snapshot = asyncio.run(drive_page(devtools_port(profile, process), caption_server.url, tmp_path))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    result = snapshot["result"]
    assert result["frame"] == {"width": 640, "height": 480}
    assert len(result["faces"]) == 1, result["faces"]
    face = result["faces"][0]
    x1, y1, x2, y2 = face["box"]
    # The astronaut's face lies in the upper middle of the portrait (pasted at x 80..560).
    assert 200 < (x1 + x2) / 2 < 440 and 60 < (y1 + y2) / 2 < 260, face["box"]
    assert face["label"] in result["labels"]
    assert face["label"] in snapshot["caption"] and face["valence"] in snapshot["caption"]
    assert f"Face {face['id']}" in snapshot["history"]
    assert snapshot["frames"] >= 3
    assert snapshot["painted"] > 500  # the box and its caption chip were drawn on the overlay


async def drive_page(devtools: int, page_url: str, out_dir: Path) -> dict:
    """Open the page, start the camera, wait for a settled caption; screenshot whatever happens."""
    with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list") as answer:
        target = next(t for t in json.load(answer) if t["type"] == "page")
    async with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
        page = DevToolsPage(socket)
        try:
            await page.call("Page.navigate", url=page_url)
            await page.wait_for("document.readyState === 'complete' && !!window.emocap", timeout_s=15)
            await page.evaluate("document.getElementById('start-camera').click()")
            # A face is captioned once its memory agrees on a label.
            await page.wait_for(
                "document.querySelector('#captions li.caption:not(.pending)')?.dataset.label",
                timeout_s=CAPTION_TIMEOUT_S,
            )
            # One snapshot, so the result, the DOM and the overlay all belong to the same frame.
            return json.loads(await page.evaluate(SNAPSHOT_SCRIPT))
        finally:
            shot = await page.call("Page.captureScreenshot", format="png")
            save_artifact(out_dir / "web_page_caption.png", base64.b64decode(shot["data"]))


def save_artifact(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    artifacts = os.environ.get("EMOCAP_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
