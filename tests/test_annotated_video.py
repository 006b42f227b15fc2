"""The annotated copy of `emocap transcribe` plays where people watch video, with its sound;
its --report page plays it and seeks it from the timeline.

With --embed-subtitles the copy also carries the captions as a mov_text track,
read back here with FFmpeg (PyAV): Chromium does not expose a file's own
subtitle tracks to a page (video.textTracks stays empty for mov_text in MP4 and
WebVTT in WebM or Matroska alike, checked with Chromium 156), so in a browser
the captions come from the .vtt file as a <track> (test_transcribe_browser.py)
or from the --report page.

A clip of the bundled sample's faces with a sine tone (H.264 and AAC, made
with PyAV by the tests) is transcribed by the real CLI; its annotated MP4 must be
H.264 with the source's AAC sound, as long as the source to a frame, and
play in headless Chromium with its sound decoded.
"""

from __future__ import annotations

import asyncio
import base64
import json

import cv2
import numpy as np
import pytest
import webvtt
from chromium import requires_chromium, save_artifact, served
from video_fixtures import streams_of, subtitle_track, write_clip_with_tone
from websockets.asyncio.client import connect

from emocap.cli import main
from emocap.outputs.video import stacked_captions
from emocap.sources import sample_clip
from emocap_testkit.chromium import DevToolsPage, page_socket_url, run_chromium

pytestmark = pytest.mark.slow  # H.264 encodes and Chromium

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
    assert main(["transcribe", str(source), "-o", str(folder / "talk.vtt"), "--annotate", str(out), "--embed-subtitles"]) == 0
    return source, out


def test_annotated_mp4_is_h264_with_the_source_sound_and_its_length(annotated):
    source, out = annotated
    streams, original = streams_of(out), streams_of(source)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac"
    for kind in ("video", "audio"):
        assert abs(streams[kind][1] - original[kind][1]) <= 1 / FPS, (kind, streams, original)


def test_annotated_mp4_carries_the_subtitles_as_a_track(annotated):
    source, out = annotated
    cues = [
        (caption.start_time.in_milliseconds() / 1000, caption.end_time.in_milliseconds() / 1000, caption.text)
        for caption in webvtt.read(str(out.parent / "talk.vtt"))
    ]
    assert len(cues) >= 2
    codec, embedded = subtitle_track(out)
    assert codec == "mov_text"
    assert embedded == [(round(s, 3), round(e, 3), text) for s, e, text in stacked_captions(cues)]


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

    async def drive(devtools: int, base_url: str) -> dict:
        async with connect(page_socket_url(devtools), max_size=None) as socket:
            page = DevToolsPage(socket)
            await page.call("Page.navigate", url=f"{base_url}/play.html")
            await page.wait_for("document.readyState === 'complete' && !!document.querySelector('video')", timeout_s=30)
            mime = json.dumps('video/mp4; codecs="avc1.64001e, mp4a.40.2"')
            seen = {"can_play": await page.evaluate(f"document.createElement('video').canPlayType({mime})")}
            seen.update(await page.evaluate(PLAY_SCRIPT))
            return seen

    with served(folder) as base_url, run_chromium(tmp_path / "profile", "--autoplay-policy=no-user-gesture-required") as devtools:
        seen = asyncio.run(drive(devtools, base_url))
    assert seen["can_play"] == "probably", seen
    assert seen.get("error") is None, seen
    assert seen["ready"] >= 2 and seen["time"] > 1.5 and seen["width"] == 640, seen
    assert seen["audioBytes"] > 0, seen  # the sound was decoded as it played


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """The real CLI on the bundled sample: an annotated copy and the --report page beside it."""
    folder = tmp_path_factory.mktemp("report")
    clip = folder / "talk.mp4"
    clip.write_bytes(sample_clip().read_bytes())
    assert main(["transcribe", str(clip), "-o", "vtt", "--annotate", "--report"]) == 0
    return folder / "talk.report.html", folder / "talk.annotated.mp4"


def test_report_is_one_page_that_names_the_video_and_holds_everything_else(reported):
    page, annotated = reported
    text = page.read_text(encoding="utf-8")
    assert 'src="talk.annotated.mp4"' in text  # relative: the page and the video travel together
    assert "http://" not in text and "https://" not in text and "<link" not in text  # nothing fetched
    assert text.count('class="segment"') >= 2 and "Face 1" in text and "How this was made" in text


@requires_chromium
def test_clicking_a_timeline_segment_seeks_the_video(reported, tmp_path):
    page, annotated = reported

    async def drive(devtools: int, base_url: str) -> dict:
        async with connect(page_socket_url(devtools), max_size=None) as socket:
            tab = DevToolsPage(socket)
            await tab.call("Page.navigate", url=f"{base_url}/{page.name}")
            # Until the navigation commits, the tab still shows about:blank, which has no video.
            await tab.wait_for("(v => !!v && v.readyState >= 1)(document.getElementById('video'))", timeout_s=30)
            # The last segment that starts after 1 s: clicked for real, at its centre, by the mouse.
            target = await tab.evaluate("""(() => {
              const buttons = [...document.querySelectorAll('button.segment')].filter(b => Number(b.dataset.start) > 1);
              const button = buttons[buttons.length - 1];
              button.scrollIntoView();
              const box = button.getBoundingClientRect();
              return {start: Number(button.dataset.start), x: box.x + box.width / 2, y: box.y + box.height / 2,
                      label: button.getAttribute('aria-label')};
            })()""")
            for kind in ("mousePressed", "mouseReleased"):
                await tab.call("Input.dispatchMouseEvent", type=kind, x=target["x"], y=target["y"], button="left",
                               clickCount=1)
            await tab.wait_for(f"Math.abs(document.getElementById('video').currentTime - {target['start']}) < 0.05",
                               timeout_s=15)
            await tab.wait_for("(v => v.readyState >= 2 && !v.seeking)(document.getElementById('video'))", timeout_s=15)
            state = await tab.evaluate("""(() => { const v = document.getElementById('video');
              return {time: v.currentTime, tracks: v.textTracks.length, cues: v.textTracks[0].cues.length}; })()""")
            shot = await tab.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            save_artifact(tmp_path / "report.png", base64.b64decode(shot["data"]))
            return {**target, **state}

    with served(page.parent) as base_url, run_chromium(tmp_path / "profile", "--window-size=1100,1400") as devtools:
        seen = asyncio.run(drive(devtools, base_url))
    assert seen["time"] == pytest.approx(seen["start"], abs=0.05), seen
    assert seen["tracks"] == 1 and seen["cues"] >= 2, seen
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_a_part_of_a_video_keeps_its_times_in_the_subtitles_and_begins_the_copy_at_zero(tmp_path):
    source = write_clip_with_tone(tmp_path / "talk.mp4", sample_frames(), fps=FPS)
    vtt, copy = tmp_path / "part.vtt", tmp_path / "part.mp4"
    assert main(["transcribe", str(source), "-o", str(vtt), "--annotate", str(copy), "--embed-subtitles",
                 "--start", "4", "--end", "8"]) == 0
    cues = [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text)
            for c in webvtt.read(str(vtt))]
    assert cues and all(4.0 <= start < end <= 8.0 for start, end, _ in cues)  # the video's own times
    streams = streams_of(copy)
    for kind in ("video", "audio"):  # four seconds of pictures and of sound, from the copy's start
        assert abs(streams[kind][1] - 4.0) <= 1 / FPS, (kind, streams)
    _, embedded = subtitle_track(copy)  # the copy's track, moved with the copy
    assert embedded == [(round(s - 4, 3), round(e - 4, 3), text) for s, e, text in stacked_captions(cues)]
