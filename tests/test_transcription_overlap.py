"""Decoding and detecting the next frame on a second thread changes nothing in the results."""

import json

import pytest

from emocap.pipeline import Pipeline
from emocap.sources import sample_clip
from emocap.transcription import OutputPlan, TranscriptionSettings, transcribe_video


@pytest.mark.slow  # the bundled clip twice, through MTCNN
def test_overlapped_detection_gives_the_same_records_and_subtitles_on_the_bundled_clip(tmp_path):
    pipeline = Pipeline(detect_every=2)  # carried boxes too: the detection schedule must stay in step
    outputs = {}
    for overlap in (False, True):
        folder = tmp_path / f"overlap-{overlap}"
        folder.mkdir()
        plan = OutputPlan(sample_clip(), (folder / "clip.jsonl", folder / "clip.vtt"))
        pipeline.reset()
        result = transcribe_video(plan, pipeline, TranscriptionSettings(progress=False, overlap=overlap))
        records = [json.loads(line) for line in (folder / "clip.jsonl").read_text(encoding="utf-8").splitlines()]
        outputs[overlap] = (result.frames, records, (folder / "clip.vtt").read_text(encoding="utf-8"))
    frames, records, vtt = outputs[False]
    assert frames == 135 and sum(len(record["faces"]) for record in records) > 100
    # Boxes, face numbers, captions, probabilities and times, frame for frame; the same cues.
    assert outputs[True] == outputs[False]
