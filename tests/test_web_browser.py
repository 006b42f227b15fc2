"""The caption page in a real browser: headless Chromium with a fake camera showing a real face.

Chromium is driven over its DevTools protocol, which is a WebSocket, with the
`websockets` client emocap already depends on (no WebDriver package needed;
the helpers are in tests/chromium.py). The fake camera plays a Y4M video built here from scikit-image's astronaut
photo. The test skips only when Chromium is not installed
(scripts/install-test-tools.sh installs it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from pathlib import Path

import pytest
from chromium import requires_chromium, save_artifact
from websockets.asyncio.client import connect

from emocap.cli import build_parser
from emocap.commands.serve import build_pipeline_factory
from emocap.labels import UNSURE_INK_HEX
from emocap.web.server import CaptionServer
from emocap_testkit.chromium import DevToolsPage, page_socket_url, run_chromium, write_y4m
from emocap_testkit.faces import astronaut_frame

CAMERA_FLAGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--window-size=1280,1400",
)
CAPTION_TIMEOUT_S = 40
SNAPSHOT_SCRIPT = """JSON.stringify({
  result: window.emocap.lastResult,
  caption: document.querySelector('#captions li.caption').innerText,
  history: document.getElementById('history').innerText,
  frames: window.emocap.framesAnswered,
  latencies: window.emocap.captionLatenciesMs,
  painted: (() => {
    const c = document.getElementById('overlay');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
    return n;
  })(),
})"""

# Once the camera stops: an "unsure" face put through the page's own caption and drawing functions.
UNSURE_PROBE_SCRIPT = """(() => {
  document.getElementById('stop').click();
  const item = captionItem({face: 9, label: 'unsure', emotion_words: 'unsure', valence: null, colour: null});
  document.getElementById('captions').append(item);
  drawBoxes({size: {width: 200, height: 200}, faces: [
    {face: 9, box: [20, 60, 180, 190], label: 'unsure', valence: null, colour: null, caption: 'Face 9: unsure'}]});
  const edge = document.getElementById('overlay').getContext('2d').getImageData(20, 80, 1, 100).data;
  let ink = 0, ground = 0;
  for (let i = 0; i < edge.length; i += 4) {
    if (edge[i + 3] > 200 && edge[i] < 40) ink += 1;
    if (edge[i + 3] > 200 && edge[i] > 215) ground += 1;
  }
  return JSON.stringify({
    className: item.className, borderImage: getComputedStyle(item).borderImageSource, ink, ground,
    inkVariable: getComputedStyle(document.documentElement).getPropertyValue('--unsure-ink').trim(),
  });
})()"""

pytestmark = [requires_chromium, pytest.mark.slow]


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
    with run_chromium(tmp_path / "profile", *CAMERA_FLAGS, f"--use-file-for-fake-video-capture={video}") as devtools:
        snapshot = asyncio.run(drive_page(devtools, caption_server.url, tmp_path))

    result = snapshot["result"]
    assert result["size"] == {"width": 640, "height": 480}
    assert len(result["faces"]) == 1, result["faces"]
    face = result["faces"][0]
    x1, y1, x2, y2 = face["box"]
    # The astronaut's face lies in the upper middle of the portrait (pasted at x 80..560).
    assert 200 < (x1 + x2) / 2 < 440 and 60 < (y1 + y2) / 2 < 260, face["box"]
    assert face["label"] in result["labels"]
    assert face["emotion_words"] in snapshot["caption"] and face["valence"] in snapshot["caption"]
    assert face["emotion_words"] == f"looks {face['label']}" or face["label"] == "unsure"  # serve's default wording
    assert face["caption"] in snapshot["history"] and face["caption"].startswith(f"Face {face['face']} (")
    assert snapshot["frames"] >= 3
    assert snapshot["painted"] > 500  # the box and its caption chip were drawn on the overlay
    # The page times each caption for benchmarks/web_latency.py --browser; how fast is the benchmark's business.
    latencies = snapshot["latencies"]
    assert isinstance(latencies, list) and latencies, latencies
    assert all(isinstance(ms, (int, float)) and ms > 0 for ms in latencies), latencies
    # "unsure" is hatched in the list and dashed ink on white on the overlay: the served look.css, not a colour.
    unsure = snapshot["unsure"]
    assert unsure["inkVariable"] == UNSURE_INK_HEX
    assert "unsure" in unsure["className"].split() and "repeating-linear-gradient" in unsure["borderImage"]
    assert unsure["ink"] > 25 and unsure["ground"] > 25, unsure


async def drive_page(devtools: int, page_url: str, out_dir: Path) -> dict:
    """Open the page, start the camera, wait for a settled caption; screenshot whatever happens."""
    async with connect(page_socket_url(devtools), max_size=None) as socket:
        page = DevToolsPage(socket)
        try:
            await page.call("Page.navigate", url=page_url)
            await page.wait_for("document.readyState === 'complete' && !!window.emocap", timeout_s=15)
            await page.evaluate("document.getElementById('start-camera').click()")
            # A face is captioned once its smoother settles on a label; a few frames show the page keeps going.
            await page.wait_for(
                "document.querySelector('#captions li.caption:not(.pending)')?.dataset.label"
                " && window.emocap.framesAnswered >= 3",
                timeout_s=CAPTION_TIMEOUT_S,
            )
            # One snapshot, so the result, the DOM and the overlay all belong to the same frame.
            snapshot = json.loads(await page.evaluate(SNAPSHOT_SCRIPT))
            return {**snapshot, "unsure": json.loads(await page.evaluate(UNSURE_PROBE_SCRIPT))}
        finally:
            shot = await page.call("Page.captureScreenshot", format="png")
            save_artifact(out_dir / "web_page_caption.png", base64.b64decode(shot["data"]))
