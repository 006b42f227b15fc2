"""The WebVTT subtitles of `emocap transcribe` play as captions in a real browser.

The real CLI transcribes the bundled sample clip; a page with
`<video><track kind="captions" src="sample.vtt" default></video>`, served over
http on 127.0.0.1, is opened in headless Chromium (driven over its DevTools
protocol, helpers in tests/chromium.py). Chromium must load the track, parse
the same cues as the `webvtt` package (webvtt-py) does, and show the right
cue when the video is seeked into it. A screenshot of the video with the
caption showing is saved (also copied to $EMOCAP_ARTIFACTS when set).

The video: the sample clip re-encoded here with OpenCV to VP8 WebM, frame by
frame, rather than the annotated copy (an H.264 MP4 that Chromium plays too,
see test_annotated_video.py), so that the screenshot shows the browser's
captions and not the ones drawn into the picture. (OpenCV's pip wheels have
no H.264 encoder; FFmpeg prints "tag 'VP80' is not supported with ... webm",
which is harmless: WebM has no codec tags, the codec is still VP8.)

The files are served by http.server with byte ranges added: without answers
to `Range` requests Chromium cannot seek (the seek lands at 0 s).

The test skips only when Chromium is not installed
(scripts/install-test-tools.sh installs it).
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import urllib.request
from pathlib import Path
from typing import NamedTuple

import cv2
import pytest
import webvtt
from chromium import requires_chromium, save_artifact, served
from websockets.asyncio.client import connect

import emocap.cli
import emocap.sources
from emocap_testkit.chromium import DevToolsPage, page_socket_url, run_chromium

pytestmark = [requires_chromium, pytest.mark.slow]

BROWSER_CODECS = (
    # fourcc, file suffix, the type the page asks Chromium about
    ("VP80", ".webm", 'video/webm; codecs="vp8"'),
    ("VP90", ".webm", 'video/webm; codecs="vp9"'),
    ("avc1", ".mp4", 'video/mp4; codecs="avc1.42E01E"'),
)
"""Codecs Chromium decodes, in order of preference; the first OpenCV's writer opens is used."""
WINDOW_FLAGS = ("--window-size=800,600",)
BROWSER_TIMEOUT_S = 15
PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>emocap subtitles</title>
<style>body {{ margin: 0; background: #000; }} video {{ display: block; }}</style></head>
<body>
<video src="{video}" width="{width}" height="{height}" muted preload="auto">
  <track kind="captions" src="sample.vtt" srclang="en" label="Emotions" default>
</video>
</body>
</html>
"""
TRACK_LOADED_SCRIPT = """new Promise((resolve, reject) => {
  const track = document.querySelector('track');
  const check = () => {
    if (track.readyState === 2) resolve(true);
    else if (track.readyState === 3) reject(new Error('the track failed to load (readyState ERROR)'));
  };
  track.addEventListener('load', check);
  track.addEventListener('error', check);
  check();
  setTimeout(() => reject(new Error(`track not loaded in time, readyState ${track.readyState}`)), %d);
})""" % (BROWSER_TIMEOUT_S * 1000)
CUES_SCRIPT = """(() => {
  const video = document.querySelector('video');
  const track = document.querySelector('track').track;
  return {
    tracks: video.textTracks.length,
    same_track: video.textTracks[0] === track,
    kind: track.kind,
    mode: track.mode,
    cues: Array.from(track.cues, cue => ({
      start: cue.startTime, end: cue.endTime, text: cue.text, shown: cue.getCueAsHTML().textContent,
    })),
  };
})()"""
SEEK_SCRIPT = """new Promise((resolve, reject) => {
  const video = document.querySelector('video');
  const track = document.querySelector('track').track;
  setTimeout(() => reject(new Error(`no seeked event in time, readyState ${video.readyState}`)), %d);
  video.addEventListener('seeked', () => {
    // Two animation frames: the seeked-to picture and the cue boxes are painted before the screenshot.
    requestAnimationFrame(() => requestAnimationFrame(() => resolve({
      time: video.currentTime,
      ready: video.readyState,
      width: video.videoWidth,
      height: video.videoHeight,
      error: video.error && video.error.code,
      active: Array.from(track.activeCues, cue => cue.text),
    })));
  }, {once: true});
  video.currentTime = %r;
})"""

VIDEO_BOX_SCRIPT = """(video => video && (r => ({x: r.x, y: r.y, width: r.width, height: r.height}))(
  video.getBoundingClientRect()))(document.querySelector('video'))"""


class Transcribed(NamedTuple):
    folder: Path
    exit_code: int
    outputs: dict[str, Path]


@pytest.fixture(scope="module")
def transcribed(tmp_path_factory) -> Transcribed:
    """The real CLI on the bundled sample clip: subtitles, records and an annotated copy, in one folder."""
    folder = tmp_path_factory.mktemp("transcribe")
    outputs = {"vtt": folder / "sample.vtt", "jsonl": folder / "sample.jsonl", "annotated": folder / "sample.mp4"}
    code = emocap.cli.main([
        "transcribe", str(emocap.sources.sample_clip()),
        "-o", str(outputs["vtt"]), "-o", str(outputs["jsonl"]), "--annotate", str(outputs["annotated"]),
    ])
    return Transcribed(folder, code, outputs)


@pytest.fixture(scope="module")
def browser_video(transcribed):
    """The sample clip re-encoded, frame by frame with OpenCV, to the first codec Chromium decodes that OpenCV writes."""
    folder = transcribed.folder
    capture = cv2.VideoCapture(str(emocap.sources.sample_clip()))
    assert capture.isOpened()
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    try:
        for fourcc, suffix, mime in BROWSER_CODECS:
            path = folder / f"sample{suffix}"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
            if writer.isOpened():
                break
            path.unlink(missing_ok=True)
        else:
            pytest.fail(f"OpenCV writes none of {[c[0] for c in BROWSER_CODECS]}: no video Chromium can play")
        frames = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                writer.write(frame)
                frames += 1
        finally:
            writer.release()
    finally:
        capture.release()
    assert frames > 0 and path.stat().st_size > 0
    return path, mime, size, frames / fps


@pytest.fixture
def http_folder(transcribed):
    """The transcript folder over http on 127.0.0.1 (a free port), in a thread; yields the base URL."""
    with served(transcribed.folder) as base_url:
        yield base_url


def test_transcribe_writes_subtitles_records_and_annotated_copy(transcribed):
    assert transcribed.exit_code == 0
    outputs = transcribed.outputs
    for path in outputs.values():
        assert path.is_file() and path.stat().st_size > 0, path
    assert outputs["vtt"].read_text(encoding="utf-8").startswith("WEBVTT\n")
    sample = cv2.VideoCapture(str(emocap.sources.sample_clip()))
    annotated = cv2.VideoCapture(str(outputs["annotated"]))
    try:
        assert annotated.isOpened()
        for prop in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            assert annotated.get(prop) == sample.get(prop)
    finally:
        sample.release()
        annotated.release()


def test_subtitles_play_as_captions_in_chromium(transcribed, browser_video, http_folder, tmp_path):
    outputs = transcribed.outputs
    video, mime, (width, height), duration_s = browser_video
    expected = [
        {
            "start": caption.start_time.in_milliseconds() / 1000,
            "end": caption.end_time.in_milliseconds() / 1000,
            "raw": caption.raw_text,
            "text": caption.text,
        }
        for caption in webvtt.read(str(outputs["vtt"]))
    ]
    assert expected, "the sample clip has faces, so its subtitles have cues"
    assert all(cue["text"].strip() for cue in expected)

    # The moment to look at: the middle of the cue that overlaps the most others there (stacked captions).
    def showing(time_s):
        return [cue["raw"] for cue in expected if cue["start"] <= time_s < cue["end"]]

    seek_s = max(((cue["start"] + cue["end"]) / 2 for cue in expected), key=lambda t: len(showing(t)))
    assert seek_s < duration_s

    with urllib.request.urlopen(f"{http_folder}/sample.vtt") as answer:
        assert answer.headers.get_content_type() == "text/vtt"
    (transcribed.folder / "index.html").write_text(PAGE.format(video=video.name, width=width, height=height), encoding="utf-8")
    with run_chromium(tmp_path / "profile", *WINDOW_FLAGS) as devtools:
        seen = asyncio.run(drive_page(devtools, f"{http_folder}/index.html", mime, seek_s, tmp_path))

    assert seen["can_play"] == "probably", mime
    assert seen["tracks"] == 1 and seen["same_track"] and seen["kind"] == "captions" and seen["mode"] == "showing"
    assert len(seen["cues"]) == len(expected)
    for got, want in zip(seen["cues"], expected):
        assert got["start"] == pytest.approx(want["start"], abs=1e-3), (got, want)
        assert got["end"] == pytest.approx(want["end"], abs=1e-3), (got, want)
        assert got["text"] == want["raw"]  # the cue's text as written, markup and escapes included
        assert got["shown"] == html.unescape(want["text"])  # what is drawn on the picture

    seeked = seen["seeked"]
    assert seeked["error"] is None
    assert (seeked["width"], seeked["height"]) == (width, height)  # the video was decoded
    assert seeked["ready"] >= 2  # HAVE_CURRENT_DATA: a picture at the seeked-to time
    assert seeked["time"] == pytest.approx(seek_s, abs=1e-3)
    assert sorted(seeked["active"]) == sorted(showing(seek_s))
    assert seeked["active"], f"no caption showing at {seek_s} s"
    assert seen["screenshot"].stat().st_size > 0


async def drive_page(devtools: int, page_url: str, mime: str, seek_s: float, out_dir: Path) -> dict:
    """Open the page, wait for the track, read its cues, seek into one; screenshot the video whatever happens."""
    seen: dict = {}
    async with connect(page_socket_url(devtools), max_size=None) as socket:
        page = DevToolsPage(socket)
        try:
            await page.call("Page.navigate", url=page_url)
            await page.wait_for("document.readyState === 'complete'", timeout_s=BROWSER_TIMEOUT_S)
            seen["can_play"] = await page.evaluate(f"document.createElement('video').canPlayType({json.dumps(mime)})")
            await page.evaluate(TRACK_LOADED_SCRIPT)
            seen.update(await page.evaluate(CUES_SCRIPT))
            seen["seeked"] = await page.evaluate(SEEK_SCRIPT % (BROWSER_TIMEOUT_S * 1000, seek_s))
        finally:
            box = await page.evaluate(VIDEO_BOX_SCRIPT)  # null if the page did not load: then the whole tab
            clip = {} if box is None else {"clip": {**box, "scale": 1}}
            shot = await page.call("Page.captureScreenshot", format="png", **clip)
            seen["screenshot"] = out_dir / "transcribe_captions.png"
            save_artifact(seen["screenshot"], base64.b64decode(shot["data"]))
    return seen
