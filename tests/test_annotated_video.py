"""The annotated copy of `emocap transcribe` plays where people watch video, with its sound.

A clip of the bundled sample's faces with a sine tone (H.264 and AAC, made
with PyAV by the tests) is transcribed by the real CLI; its annotated MP4 must be
H.264 with the source's AAC sound, as long as the source to a frame, and
play in headless Chromium with its sound decoded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from http.server import ThreadingHTTPServer

import cv2
import numpy as np
import pytest
from chromium import DevToolsPage, page_socket_url, requires_chromium, run_chromium
from test_outputs_video import streams_of, write_clip_with_tone
from test_transcribe_browser import MediaHandler
from websockets.asyncio.client import connect

from emocap.cli import main
from emocap.sources import sample_clip

FPS = 15


def sample_frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(sample_clip()))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    return images


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("annotated")
    source = write_clip_with_tone(folder / "talk.mp4", sample_frames(), fps=FPS)
    out = folder / "talk.annotated.mp4"
    assert main(["transcribe", str(source), "-o", str(folder / "talk.vtt"), "--annotate", str(out)]) == 0
    return source, out


def test_annotated_mp4_is_h264_with_the_source_sound_and_its_length(annotated):
    source, out = annotated
    streams, original = streams_of(out), streams_of(source)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    for kind in ("video", "audio"):
        assert abs(streams[kind][1] - original[kind][1]) <= 1 / FPS, (kind, streams, original)


PLAY_SCRIPT = """new Promise((resolve) => {
  const video = document.querySelector('video');
  const done = () => resolve({ready: video.readyState, time: video.currentTime, width: video.videoWidth,
    audioBytes: video.webkitAudioDecodedByteCount, error: video.error && video.error.message});
  video.addEventListener('error', done);
  const poll = () => (video.currentTime > 1.5 ? done() : setTimeout(poll, 50));
  video.play().then(poll, (e) => resolve({error: String(e)}));
  setTimeout(done, 20000);
})"""


@requires_chromium
def test_chromium_plays_the_annotated_mp4_with_sound(annotated, tmp_path):
    source, out = annotated
    folder = out.parent
    (folder / "play.html").write_text(f'<!doctype html><video src="{out.name}" preload="auto"></video>', encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(MediaHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    async def drive(devtools: int) -> dict:
        async with connect(page_socket_url(devtools), max_size=None) as socket:
            page = DevToolsPage(socket)
            await page.call("Page.navigate", url=f"http://127.0.0.1:{server.server_address[1]}/play.html")
            await page.wait_for("document.readyState === 'complete'", timeout_s=30)
            mime = json.dumps('video/mp4; codecs="avc1.64001e, mp4a.40.2"')
            seen = {"can_play": await page.evaluate(f"document.createElement('video').canPlayType({mime})")}
            seen.update(await page.evaluate(PLAY_SCRIPT))
            return seen

    try:
        with run_chromium(tmp_path / "profile", "--autoplay-policy=no-user-gesture-required") as devtools:
            seen = asyncio.run(drive(devtools))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert seen["can_play"] == "probably", seen
    assert seen.get("error") is None, seen
    assert seen["ready"] >= 2 and seen["time"] > 1.5 and seen["width"] == 640, seen
    assert seen["audioBytes"] > 0, seen  # the sound was decoded as it played
