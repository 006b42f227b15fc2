import csv
import datetime
import html
import json

import numpy as np
import pytest
import srt
import webvtt
from frame_fixtures import FEAR, HAPPY, SAD, feed, make_results

from emocap.errors import OutputError
from emocap.outputs import (
    WRITERS,
    CsvWriter,
    JsonLinesWriter,
    SegmentBuilder,
    SrtWriter,
    WebVTTWriter,
    frame_record,
    writer_for,
)
from emocap.outputs.subtitles import timestamp
from emocap.types import NO_LABEL

# Two faces: face 1 (left) happy, then sad with fear close; face 3 (right) joins at 0.5 s, happy.
TIMES = np.arange(30) / 10
FRAMES = [
    [(0, HAPPY if i < 15 else SAD, NO_LABEL if i < 15 else FEAR)] + ([(2, HAPPY, NO_LABEL)] if i >= 5 else [])
    for i in range(30)
]
EXPECTED_CUES = [
    ("00:00:00.000", "00:00:01.500", "Face 1 (left): looks happy — positive"),
    ("00:00:00.500", "00:00:03.000", "Face 3 (right): looks happy — positive"),
    ("00:00:01.500", "00:00:03.000", "Face 1 (left): looks sad / fear — negative"),
]
PLAIN_CUES = [
    ("00:00:00.000", "00:00:01.500", "Face 1 (left): happy — positive"),
    ("00:00:00.500", "00:00:03.000", "Face 3 (right): happy — positive"),
    ("00:00:01.500", "00:00:03.000", "Face 1 (left): sad / fear — negative"),
]


def write(path, results=None, records="frame", wording="looks"):
    """Run a writer over the two-face fixture the way `transcribe` does."""
    results = make_results(TIMES, FRAMES) if results is None else results
    builder = SegmentBuilder(min_duration_s=0.5, wording=wording)
    with writer_for(path, records=records, wording=wording) as writer:
        feed(writer, results, builder)
    return path


def test_webvtt_parses_with_webvtt_py_and_says_who_shows_what_when(tmp_path):
    captions = webvtt.read(str(write(tmp_path / "t.vtt"))).captions
    assert [(c.start, c.end, c.text) for c in captions] == EXPECTED_CUES


def test_srt_parses_with_srt_and_has_the_same_cues(tmp_path):
    cues = list(srt.parse(write(tmp_path / "t.srt").read_text(encoding="utf-8")))
    assert [cue.index for cue in cues] == [1, 2, 3]
    to_vtt = lambda delta: timestamp(delta.total_seconds(), ".")  # noqa: E731
    assert [(to_vtt(c.start), to_vtt(c.end), c.content) for c in cues] == EXPECTED_CUES


def test_plain_wording_reaches_the_subtitles_and_records_and_labels_stay_class_names(tmp_path):
    captions = webvtt.read(str(write(tmp_path / "p.vtt", wording="plain"))).captions
    assert [(c.start, c.end, c.text) for c in captions] == PLAIN_CUES
    cues = list(srt.parse(write(tmp_path / "p.srt", wording="plain").read_text(encoding="utf-8")))
    assert [c.content for c in cues] == [text for *_, text in PLAIN_CUES]
    for wording, words in (("plain", "sad / fear"), ("looks", "looks sad / fear")):
        frames = [json.loads(line) for line in write(tmp_path / f"{wording}.jsonl", wording=wording).read_text().splitlines()]
        late = frames[20]["faces"][0]
        assert (late["label"], late["runner_up"], late["emotion_words"]) == ("sad", "fear", words)
        segments = write(tmp_path / f"{wording}-s.jsonl", records="segment", wording=wording).read_text().splitlines()
        assert json.loads(segments[2])["emotion_words"] == words
    with pytest.raises(ValueError, match="wording must be one of looks, plain, got 'feels'"):
        writer_for(tmp_path / "x.vtt", wording="feels")


def test_empty_transcripts_are_still_valid_files(tmp_path):
    no_faces = make_results(TIMES, [[] for _ in TIMES])
    assert webvtt.read(str(write(tmp_path / "e.vtt", no_faces))).captions == []
    assert list(srt.parse(write(tmp_path / "e.srt", no_faces).read_text())) == []
    assert (tmp_path / "e.vtt").read_text() == "WEBVTT\n\n"


def test_timestamps_round_to_milliseconds_and_cues_never_vanish(tmp_path):
    assert timestamp(3725.0004, ".") == "01:02:05.000"
    assert timestamp(0.0015, ",") == "00:00:00,002"
    assert timestamp(100 * 3600 + 1.5, ".") == "100:00:01.500"
    # A 1000 fps clip: a segment shorter than a millisecond still gets a 1 ms cue.
    times = [0.0, 0.0004, 0.0008]
    results = make_results(times, [[(0, HAPPY, NO_LABEL)]] * 3)
    builder = SegmentBuilder(min_duration_s=0)
    with WebVTTWriter(tmp_path / "fast.vtt") as writer:
        for result in results:
            builder.update(result)
        for segment in builder.finish(end_time_s=0.0009):
            writer.segment(segment)
    (caption,) = webvtt.read(str(tmp_path / "fast.vtt")).captions
    assert (caption.start, caption.end) == ("00:00:00.000", "00:00:00.001")


def test_webvtt_escapes_markup_in_class_names(tmp_path):
    class Fake:
        start_s, end_s, caption = 0.0, 1.0, "Face 1: <b> & -->"

    with WebVTTWriter(tmp_path / "m.vtt") as writer:
        writer.segment(Fake())
    text = (tmp_path / "m.vtt").read_text()
    assert "Face 1: &lt;b&gt; &amp; --&gt;" in text
    (caption,) = webvtt.read(str(tmp_path / "m.vtt")).captions  # the escaped '-->' does not break the cue
    assert html.unescape(caption.text) == "Face 1: <b> & -->"


def test_jsonl_frame_records_have_one_line_per_frame_with_every_face(tmp_path):
    lines = write(tmp_path / "f.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 30
    assert records[0] == {
        "frame": 0,
        "time": 0.0,
        "faces": [
            {
                "face": 1,
                "box": [20.0, 100.0, 140.0, 240.0],
                "score": 0.99,
                "label": "happy",
                "runner_up": None,
                "valence": "positive",
                "position": "left",
                "caption": "Face 1 (left): looks happy — positive",
                "emotion_words": "looks happy",
                "colour": "#0072B2",
                "probabilities": {
                    "angry": 0.02, "disgust": 0.02, "fear": 0.02, "happy": 0.88,
                    "neutral": 0.02, "sad": 0.02, "surprise": 0.02,
                },
                "valence_probabilities": {"negative": 0.08, "neutral": 0.02, "positive": 0.9},
            }
        ],
    }
    late = records[20]["faces"]
    assert [(f["face"], f["label"], f["runner_up"], f["valence"]) for f in late] == [
        (1, "sad", "fear", "negative"),
        (3, "happy", None, "positive"),
    ]


def test_jsonl_segment_records_match_the_subtitle_cues(tmp_path):
    lines = write(tmp_path / "s.jsonl", records="segment").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["face"], r["start"], r["end"], r["label"], r["runner_up"], r["position"]) for r in records] == [
        (1, 0.0, 1.5, "happy", None, "left"),
        (3, 0.5, 3.0, "happy", None, "right"),
        (1, 1.5, 3.0, "sad", "fear", "left"),
    ]
    assert [r["caption"] for r in records] == [text for *_, text in EXPECTED_CUES]
    assert records[0]["frames"] == 15
    assert records[2]["valence_probabilities"]["negative"] == pytest.approx(0.94)


def test_frame_record_of_an_unclassified_face_has_empty_probabilities():
    result = make_results([0.0], [[(0, NO_LABEL, NO_LABEL)]])[0]
    faces = result.faces.with_(probs=np.zeros((1, 0), np.float32))
    record = frame_record(type(result)(0, 0.0, result.frame_size, faces, result.labels))
    face = record["faces"][0]
    assert (face["label"], face["valence"], face["probabilities"], face["valence_probabilities"]) == (None, None, {}, {})


def test_csv_frame_rows_one_per_face_per_frame(tmp_path):
    with open(write(tmp_path / "f.csv"), newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 30 + 25  # face 1 is in 30 frames, face 3 in 25
    assert list(rows[0])[:14] == [
        "frame", "time", "face", "x1", "y1", "x2", "y2", "score", "label", "runner_up", "valence", "position", "caption",
        "emotion_words",
    ]
    assert list(rows[0])[14:] == [
        "p_angry", "p_disgust", "p_fear", "p_happy", "p_neutral", "p_sad", "p_surprise",
        "v_negative", "v_neutral", "v_positive",
    ]
    assert rows[0]["label"] == "happy" and rows[0]["runner_up"] == "" and float(rows[0]["p_happy"]) == 0.88
    assert rows[0]["emotion_words"] == "looks happy"
    late = [row for row in rows if row["frame"] == "20"]
    assert [(r["face"], r["label"], r["runner_up"], r["x1"]) for r in late] == [("1", "sad", "fear", "20.0"), ("3", "happy", "", "420.0")]


def test_csv_segment_rows(tmp_path):
    with open(write(tmp_path / "s.csv", records="segment"), newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["face"], r["start"], r["end"], r["label"], r["runner_up"], r["position"]) for r in rows] == [
        ("1", "0.0", "1.5", "happy", "", "left"),
        ("3", "0.5", "3.0", "happy", "", "right"),
        ("1", "1.5", "3.0", "sad", "fear", "left"),
    ]
    assert float(rows[2]["v_negative"]) == pytest.approx(0.94)


def test_csv_without_any_frame_still_has_a_header(tmp_path):
    with CsvWriter(tmp_path / "none.csv", records="segment"):
        pass
    assert (tmp_path / "none.csv").read_text().strip().startswith("face,start,end,label")


def test_writer_registry_picks_by_extension_and_names_the_supported_ones(tmp_path):
    assert {suffix: cls for suffix, cls in WRITERS.items()} == {
        ".vtt": WebVTTWriter, ".srt": SrtWriter, ".jsonl": JsonLinesWriter, ".csv": CsvWriter
    }
    assert isinstance(writer_for(tmp_path / "A.VTT"), WebVTTWriter)
    with pytest.raises(OutputError, match=r"'\.txt' is not a transcript format; use \.vtt, \.srt, \.jsonl, \.csv"):
        writer_for(tmp_path / "notes.txt")
    with pytest.raises(OutputError, match="no extension"):
        writer_for(tmp_path / "notes")


def test_bad_record_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="records must be one of .* got 'row'"):
        JsonLinesWriter(tmp_path / "x.jsonl", records="row")


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_an_error_midway_leaves_no_file_and_keeps_the_old_one(tmp_path, suffix):
    target = tmp_path / f"t{suffix}"
    target.write_text("old transcript")
    results = make_results(TIMES, FRAMES)
    with pytest.raises(RuntimeError, match="pipeline broke"):
        with writer_for(target) as writer:
            writer.frame(results[0])
            raise RuntimeError("pipeline broke")
    assert target.read_text() == "old transcript"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_an_error_while_finishing_also_leaves_no_file(tmp_path):
    class BrokenEnd(WebVTTWriter):
        def end(self):
            self.stream.write("partial")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with BrokenEnd(tmp_path / "b.vtt"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_a_one_line_output_error(tmp_path):
    with pytest.raises(OutputError, match="folder .* does not exist"):
        with writer_for(tmp_path / "missing" / "t.vtt"):
            pass


def test_writing_outside_a_with_block_is_a_clear_error(tmp_path):
    writer = WebVTTWriter(tmp_path / "t.vtt")
    with pytest.raises(RuntimeError, match="not open"):
        writer.begin()


def test_srt_cue_times_are_exact_to_the_millisecond(tmp_path):
    times = [0.0, 0.0333, 0.0667, 1.001, 1.5, 2.0]
    states = [HAPPY, HAPPY, HAPPY, SAD, SAD, SAD]
    results = make_results(times, [[(0, s, NO_LABEL)] for s in states])
    builder = SegmentBuilder(min_duration_s=0)
    with SrtWriter(tmp_path / "t.srt") as writer:
        for result in results:
            for segment in builder.update(result):
                writer.segment(segment)
        for segment in builder.finish(end_time_s=2.5):
            writer.segment(segment)
    cues = list(srt.parse((tmp_path / "t.srt").read_text()))
    assert [(c.start, c.end) for c in cues] == [
        (datetime.timedelta(0), datetime.timedelta(milliseconds=1001)),
        (datetime.timedelta(milliseconds=1001), datetime.timedelta(milliseconds=2500)),
    ]
