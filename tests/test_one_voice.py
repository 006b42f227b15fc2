"""One voice per face: the web page, the subtitles and the records call a face by the same number
and say the same caption (the page once said "Face 4" where the subtitles said "Face 5")."""

from __future__ import annotations

import asyncio
import json

import cv2
import pytest
import webvtt
from websockets.asyncio.client import connect

from emocap.cli import build_parser
from emocap.cli import main as emocap_main
from emocap.commands.serve import build_pipeline_factory
from emocap.sources import open_path, sample_clip
from emocap.web.server import CaptionServer


def page_answers(frames_png: list[bytes]) -> list[dict]:
    """What the page receives for each frame of the clip, from a real server with the default settings."""

    async def scenario():
        factory = build_pipeline_factory(build_parser().parse_args(["serve"]))
        async with CaptionServer(factory, port=0) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/ws", max_size=2**24) as client:
                answers = []
                for png in frames_png:
                    await client.send(png)
                    answers.append(json.loads(await client.recv()))
                return answers

    return asyncio.run(scenario())


@pytest.mark.slow  # the bundled clip through MTCNN
def test_page_subtitles_and_records_name_each_face_alike_on_the_bundled_clip(tmp_path):
    clip = sample_clip()
    vtt, jsonl = tmp_path / "clip.vtt", tmp_path / "clip.jsonl"
    assert emocap_main(["transcribe", str(clip), "-o", str(vtt), "-o", str(jsonl)]) == 0
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]

    with open_path(clip) as source:  # lossless frames, so the server sees the pixels transcribe saw
        frames_png = [cv2.imencode(".png", frame.image_bgr)[1].tobytes() for frame in source]
    answers = page_answers(frames_png)

    assert len(answers) == len(records) == len(frames_png)
    said_by_page = [[(face["face"], face["caption"]) for face in answer["faces"]] for answer in answers]
    said_by_records = [[(face["face"], face["caption"]) for face in record["faces"]] for record in records]
    assert said_by_page == said_by_records
    shown = {pair for frame in said_by_records for pair in frame}
    assert len({number for number, _ in shown}) >= 2  # two people, each with a number of their own
    assert any(":" in caption for _, caption in shown)  # and the memory settled on captions

    cues = {caption.text for caption in webvtt.read(str(vtt)).captions}
    assert cues and cues <= {caption for _, caption in shown}  # every cue is what page and records said
