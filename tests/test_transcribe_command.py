"""`emocap transcribe` end to end on tiny clips made here.

The command's own work (finding videos, naming and checking outputs, one
pass into every writer, the summary, errors and atomic files) is tested with
`SquarePipeline`, a stand-in that reads the synthetic clips exactly: a bright
square is a face, blue means happy, red angry. The tests at the end run the
real pipeline on the bundled sample clip; they skip only while
`emocap.pipeline` does not exist yet.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import srt
import webvtt
from transcribe_fixtures import (
    BLUE,
    HAPPY_THEN_ANGRY,
    RED,
    SquarePipeline,
    files_in,
    run,
    write_clip,
)

from emocap.commands import transcribe
from emocap.commands.options import pipeline_config
from emocap.errors import DataError, OutputError, SourceError
from emocap.pipeline import Pipeline
from emocap.preprocessing import FER2013_FACE_LIGHT
from emocap.transcription import OutputPlan, TranscriptionSettings, open_outputs


def test_default_is_webvtt_beside_the_video(tmp_path, pipeline, capsys):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    assert run([clip]) == 0
    captions = webvtt.read(str(tmp_path / "talk.emotions.vtt")).captions
    assert [(c.start, c.end, c.text) for c in captions] == [
        ("00:00:00.000", "00:00:01.500", "Face 1 (left): looks happy — positive"),
        ("00:00:01.500", "00:00:03.000", "Face 1 (left): looks angry — negative"),
    ]
    out = capsys.readouterr().out
    assert "talk.avi: 30 frames, 3.0 s; faces with a caption: 1" in out
    assert f"wrote {tmp_path / 'talk.emotions.vtt'}" in out
    assert out.splitlines()[2].split()[:3] == ["1", "3.0", "s"]  # the summary table's row for face 1


def test_all_outputs_in_one_pass(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    out = tmp_path / "out"
    out.mkdir()
    argv = [clip, "-o", out / "t.vtt", "-o", out / "t.srt", "-o", out / "t.jsonl", "-o", out / "t.csv",
            "--annotate", out / "t.mp4", "--summary-plot", out / "t.png"]
    assert run(argv) == 0
    assert pipeline.frames == 30  # one pass for every output
    assert files_in(out) == ["t.csv", "t.jsonl", "t.mp4", "t.png", "t.srt", "t.vtt"]
    assert [c.content for c in srt.parse((out / "t.srt").read_text())] == [
        "Face 1 (left): looks happy — positive", "Face 1 (left): looks angry — negative"
    ]
    records = [json.loads(line) for line in (out / "t.jsonl").read_text().splitlines()]
    assert len(records) == 30 and records[-1]["faces"][0]["label"] == "angry"
    assert len((out / "t.csv").read_text().splitlines()) == 31
    capture = cv2.VideoCapture(str(out / "t.mp4"))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    assert ok and count == 30 and first.shape == (120, 160, 3)
    # The caption box of a happy face is drawn in the positive colour (Okabe-Ito blue).
    assert cv2.imread(str(out / "t.png")) is not None


def test_plain_wording_reaches_every_output_and_looks_is_the_default(tmp_path, pipeline, capsys):
    clip = write_clip(tmp_path / "talk.avi", [BLUE] * 20 + [RED] * 10)
    for wording, happy in (("plain", "happy"), ("looks", "looks happy")):
        out = tmp_path / wording
        out.mkdir()
        options = ["--wording", wording] if wording == "plain" else []
        argv = [clip, *options, "-o", out / "t.srt", "-o", out / "t.jsonl", "--report", out / "t.html"]
        assert run(argv) == 0
        assert [c.content for c in srt.parse((out / "t.srt").read_text())][0] == f"Face 1 (left): {happy} — positive"
        face = json.loads((out / "t.jsonl").read_text().splitlines()[0])["faces"][0]
        assert (face["label"], face["emotion_words"]) == ("happy", happy)
        page = (out / "t.html").read_text()
        assert f'aria-label="Face 1: {happy}, 0:00.0 to 0:02.0"' in page
        assert f"<dt>wording</dt><dd>{wording}</dd>" in page
        table = capsys.readouterr().out.splitlines()[1:3]  # the summary: what face 1 said longest
        assert re.split(r"\s{2,}", table[1])[2] == happy and table[0].split()[2] == "mostly"


def test_the_outputs_of_a_transcription_are_worded_as_its_settings_say(tmp_path):
    plan = OutputPlan(tmp_path / "v.avi", ())
    with contextlib.ExitStack() as stack:
        outputs = open_outputs(stack, plan, TranscriptionSettings(wording="plain"), fps=10, frame_size=(160, 120))
    assert (outputs.overlay.wording, outputs.builder.wording) == ("plain", "plain")
    with pytest.raises(ValueError, match="wording must be one of looks, plain, got 'feels'"):
        TranscriptionSettings(wording="feels")


def test_segment_records_and_min_duration(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", [BLUE] * 10 + [RED] * 3 + [BLUE] * 10)
    assert run([clip, "-o", tmp_path / "s.jsonl", "--records", "segment"]) == 0
    records = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(r["start"], r["end"], r["label"]) for r in records] == [(0.0, 2.3, "happy")]
    assert run([clip, "-o", tmp_path / "s.jsonl", "--records", "segment", "--min-duration", "0.2"]) == 0
    records = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["label"] for r in records] == ["happy", "angry", "happy"]


def test_format_names_put_outputs_named_after_the_video_in_out_dir(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    assert run([clip, "-o", "srt", "-o", ".csv", "--annotate", "--summary-plot", "--out-dir", tmp_path / "new"]) == 0
    assert files_in(tmp_path / "new") == [
        "talk.annotated.mp4", "talk.emotions.csv", "talk.emotions.srt", "talk.timeline.png"
    ]


def test_a_folder_of_videos_in_one_command(tmp_path, pipeline, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "a.avi", HAPPY_THEN_ANGRY)
    write_clip(videos / "b.mp4", [RED] * 12)
    (videos / "notes.txt").write_text("not a video")
    write_clip(videos / "a.annotated.mp4", [RED] * 3)  # an earlier run's output is not transcribed again
    assert run([videos, "-o", "vtt", "--out-dir", tmp_path / "out"]) == 0
    assert files_in(tmp_path / "out") == ["a.emotions.vtt", "b.emotions.vtt"]
    assert pipeline.resets == 2  # fresh identities and memory for each video
    b_cues = webvtt.read(str(tmp_path / "out" / "b.emotions.vtt")).captions
    assert [(c.start, c.end, c.text) for c in b_cues] == [("00:00:00.000", "00:00:01.200", "Face 1 (left): looks angry — negative")]


def test_a_bad_video_in_a_folder_fails_alone(tmp_path, pipeline, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "good.avi", HAPPY_THEN_ANGRY)
    (videos / "broken.mp4").write_bytes(b"\x00not really a video" * 50)
    assert run([videos, "-o", "vtt", "-o", "jsonl"]) == 2
    assert files_in(videos) == ["broken.mp4", "good.avi", "good.emotions.jsonl", "good.emotions.vtt"]
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "not a video FFmpeg can read" in err
    assert "1 of 2 videos failed" in err


def test_files_named_for_one_video_are_refused_for_a_folder(tmp_path, pipeline):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "a.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=r"with several videos, name formats \(-o vtt\), not files"):
        run([videos, "-o", tmp_path / "all.vtt"])


def test_a_video_without_faces_gives_an_empty_transcript_and_a_note(tmp_path, pipeline, capsys):
    clip = write_clip(tmp_path / "wall.avi", [None] * 20)
    assert run([clip, "-o", tmp_path / "w.vtt", "-o", tmp_path / "w.srt", "-o", tmp_path / "w.csv"]) == 0
    assert webvtt.read(str(tmp_path / "w.vtt")).captions == []
    assert list(srt.parse((tmp_path / "w.srt").read_text())) == []
    assert (tmp_path / "w.csv").read_text().splitlines()[0].startswith("frame,time,face")
    assert "no faces found in" in capsys.readouterr().err


def test_unknown_output_format_fails_before_any_work(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=r"'\.txt' is not a transcript format; use \.vtt, \.srt, \.jsonl, \.csv"):
        run([clip, "-o", tmp_path / "t.vtt", "-o", tmp_path / "t.txt"])
    with pytest.raises(OutputError, match=r"'\.gif' is not supported"):
        run([clip, "--annotate", tmp_path / "t.gif"])
    with pytest.raises(OutputError, match=r"'\.doc' is not an image format"):
        run([clip, "--summary-plot", tmp_path / "t.doc"])
    assert pipeline.frames == 0
    assert files_in(tmp_path) == ["talk.avi"]


def test_unwritable_output_path_is_a_one_line_error(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match="folder .*missing.* does not exist"):
        run([clip, "-o", tmp_path / "missing" / "t.vtt"])
    with pytest.raises(OutputError, match="would overwrite the video"):
        run([clip, "--annotate", clip])
    with pytest.raises(OutputError, match="two outputs would both be written"):
        run([clip, "-o", tmp_path / "t.vtt", "-o", tmp_path / "t.vtt"])
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        run([clip, "--out-dir", tmp_path / "afile"])
    assert pipeline.frames == 0


def test_an_out_dir_that_cannot_be_made_is_a_one_line_error_and_is_made_only_after_the_checks(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputError, match="cannot make --out-dir .*afile/sub"):
        run([clip, "--out-dir", tmp_path / "afile" / "sub"])
    with pytest.raises(OutputError, match="two outputs would both be written"):
        run([clip, "-o", "vtt", "-o", ".vtt", "--out-dir", tmp_path / "new"])
    assert files_in(tmp_path) == ["afile", "talk.avi"]  # the refused run made no folder
    assert pipeline.frames == 0


@pytest.mark.slow
def test_a_video_named_like_a_camera_or_the_screen_is_read_as_a_file(tmp_path, pipeline, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("5", "screen"):
        write_clip(tmp_path / "clip.avi", HAPPY_THEN_ANGRY).rename(tmp_path / name)
        assert run([name, "-o", f"{name}.vtt"]) == 0
        assert "happy" in (tmp_path / f"{name}.vtt").read_text()


@pytest.mark.parametrize("content", [b"", b"plain text, not a video\n" * 20])
def test_unreadable_or_non_video_files_are_source_errors(tmp_path, pipeline, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(SourceError, match="cannot open video .*bad.mp4"):
        run([bad])
    assert files_in(tmp_path) == ["bad.mp4"]


def test_missing_input_and_empty_folder_are_source_errors(tmp_path, pipeline):
    with pytest.raises(SourceError, match="no such file or folder: .*nothing.mp4"):
        run([tmp_path / "nothing.mp4"])
    with pytest.raises(SourceError, match="has no videos"):
        run([tmp_path])


@pytest.mark.slow
def test_a_truncated_video_fails_without_output_unless_partial_is_kept(tmp_path, pipeline, capsys):
    clip = write_clip(tmp_path / "long.avi", [BLUE] * 60)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])  # MJPG AVI: still opens, ends early
    with pytest.raises(DataError, match=r"ended after \d+ of 60 frames: the file looks truncated"):
        run([clip, "-o", tmp_path / "t.vtt", "--annotate", tmp_path / "t.mp4"])
    assert files_in(tmp_path) == ["long.avi"]
    assert run([clip, "-o", tmp_path / "t.vtt", "--keep-partial"]) == 0
    assert len(webvtt.read(str(tmp_path / "t.vtt")).captions) == 1
    assert "looks truncated" in capsys.readouterr().err


@pytest.mark.slow
def test_a_bad_video_is_one_line_on_stderr_with_nothing_from_ffmpeg(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("plain text, not a video\n" * 20)
    environment = {key: value for key, value in os.environ.items() if key != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "emocap", "transcribe", str(bad)], capture_output=True, text=True, env=environment,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"emocap transcribe: error: cannot open video {str(bad)!r}: not a video FFmpeg can read"]


def test_an_error_midway_leaves_no_half_written_output(tmp_path, monkeypatch):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    (tmp_path / "t.vtt").write_text("WEBVTT\n\nkeep me\n")
    monkeypatch.setattr(transcribe, "build_pipeline", lambda args, **_: SquarePipeline(fail_at_frame=12))
    with pytest.raises(DataError, match="the model broke"):
        run([clip, "-o", tmp_path / "t.vtt", "-o", tmp_path / "t.jsonl", "--annotate", tmp_path / "t.mp4",
             "--summary-plot", tmp_path / "t.png"])
    assert files_in(tmp_path) == ["t.vtt", "talk.avi"]
    assert "keep me" in (tmp_path / "t.vtt").read_text()


def test_errors_reach_the_user_as_one_line_and_exit_code_2(tmp_path, capsys):
    from emocap.cli import main

    assert main(["transcribe", str(tmp_path / "nothing.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("emocap transcribe: error: no such file or folder")


def test_help_teaches_with_examples(capsys):
    with pytest.raises(SystemExit):
        run(["--help"])
    text = capsys.readouterr().out
    for needle in ("examples:", "emocap transcribe talk.mp4", "--out-dir", "with the sound of the original", "--min-duration",
                   "--records {frame,segment}", "--detect-every", "--detector", "--smoother", "--model",
                   "Face 1 (left): looks happy — positive", "docs/RECORDS.md", "--report [HTML]",
                   "--wording {looks,plain}"):
        assert needle in text, needle


@pytest.mark.parametrize("bad", ["-1", "soon", "nan"])
def test_bad_min_duration_is_an_argument_error(bad, capsys):
    with pytest.raises(SystemExit):
        run(["x.mp4", "--min-duration", bad])
    assert "expected a number of seconds" in capsys.readouterr().err


def test_every_output_keeps_the_video_s_own_times_when_its_picture_starts_after_its_sound(tmp_path, pipeline):
    from video_fixtures import stream_spans, write_clip_with_tone

    images = [np.zeros((120, 160, 3), np.uint8) for _ in range(30)]
    for image in images:
        image[40:80, 60:100] = BLUE
    clip = write_clip_with_tone(tmp_path / "late.mp4", images, video_start_s=0.85, audio_start_s=0.008, audio_s=2.85)
    assert run([clip, "-o", tmp_path / "t.vtt", "-o", tmp_path / "t.jsonl", "--annotate", tmp_path / "copy.mp4"]) == 0
    cues = webvtt.read(str(tmp_path / "t.vtt")).captions
    assert cues[0].start == "00:00:00.850"  # where the first picture plays, not 0
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert records[0]["time"] == pytest.approx(0.85, abs=1e-3)
    (spans, samples), (original, original_samples) = stream_spans(tmp_path / "copy.mp4"), stream_spans(clip)
    for kind in ("video", "audio"):
        assert spans[kind] == pytest.approx(original[kind], abs=1 / 15), (kind, spans, original)
    assert samples == original_samples


needs_display_matrix = pytest.mark.skipif(
    not hasattr(__import__("av").video.stream.VideoStream, "set_display_rotation"),
    reason="this PyAV cannot write a display matrix",
)


@needs_display_matrix
def test_a_phone_video_is_transcribed_and_annotated_upright(tmp_path, pipeline):
    """A portrait phone video (stored sideways, a display matrix to turn it) was read sideways and its
    annotated copy lost the turn: a player showed it on its side."""
    import av
    from hostile_media import stored_sideways, write_h264_video

    upright = np.zeros((120, 160, 3), np.uint8)
    upright[10:50, 10:50] = BLUE
    clip = write_h264_video(tmp_path / "phone.mp4", [stored_sideways(upright, -90)] * 10, nominal_fps=10,
                            display_rotation=-90)
    assert run([clip, "-o", tmp_path / "t.jsonl", "--annotate", tmp_path / "copy.mp4"]) == 0
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(records[-1]["faces"][0]["box"], [10, 10, 50, 50], atol=3)
    with av.open(str(tmp_path / "copy.mp4")) as copy:
        shown = [(frame.width, frame.height, frame.rotation) for frame in copy.decode(video=0)]
    assert shown == [(160, 120, 0)] * 10  # upright as stored: no display matrix needed


def test_a_variable_rate_video_is_transcribed_at_its_frames_own_times(tmp_path, pipeline):
    """A Matroska file that says 30 fps but holds 12 frames over 4 s was refused as truncated."""
    from hostile_media import write_h264_video

    stamps_ms = [0, 40, 400, 433, 1200, 1900, 2000, 2033, 2700, 3300, 3900, 3966]
    images = [np.zeros((120, 160, 3), np.uint8) for _ in stamps_ms]
    for index, image in enumerate(images):
        image[40:80, 60:100] = BLUE if index < 5 else RED
    clip = write_h264_video(tmp_path / "vfr.mkv", images, stamps_ms=stamps_ms, nominal_fps=30)
    assert run([clip, "-o", tmp_path / "t.jsonl", "-o", tmp_path / "t.vtt"]) == 0
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [record["time"] for record in records] == pytest.approx(np.array(stamps_ms) / 1000)
    cues = webvtt.read(str(tmp_path / "t.vtt")).captions
    assert [(cue.start, cue.text.split(": ")[1]) for cue in cues] == [
        ("00:00:00.000", "looks happy — positive"), ("00:00:01.900", "looks angry — negative")
    ]


# --- with the real pipeline ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_transcript(tmp_path_factory):
    """The bundled 9 s sample clip through the real pipeline, once for the tests below."""
    from emocap.sources import sample_clip

    out = tmp_path_factory.mktemp("sample")
    argv = [sample_clip(), "-o", out / "s.vtt", "-o", out / "s.jsonl", "--annotate", out / "s.mp4",
            "--detect-every", "2"]
    parser = argparse.ArgumentParser(prog="emocap")
    transcribe.add_parser(parser.add_subparsers())
    args = parser.parse_args(["transcribe", *map(str, argv)])
    assert args.run(args) == 0
    return out


@pytest.mark.slow  # the bundled clip through MTCNN, and an H.264 encode
def test_sample_clip_transcript_follows_the_faces_in_it(sample_transcript):
    records = [json.loads(line) for line in (sample_transcript / "s.jsonl").read_text().splitlines()]
    assert len(records) == 135
    times = [r["time"] for r in records]
    assert times == sorted(times) and times[-1] == pytest.approx(134 / 15, abs=0.01)
    # The README of the clip: one face first, none on the bare wall, two at the end.
    # A face is captioned from its third detection: the 5th frame, detecting every 2nd.
    assert all(len(r["faces"]) == 0 for r in records[:4]) and len(records[4]["faces"]) == 1
    assert all(len(r["faces"]) == 1 for r in records[4:] if r["time"] < 1.5)
    assert all(len(r["faces"]) == 0 for r in records if 3.0 < r["time"] < 4.0)
    # The second face, found by a whole-frame scan (every 8th frame here), then confirmed in 3 detections.
    assert all(len(r["faces"]) == 2 for r in records if r["time"] > 7.8)
    captions = webvtt.read(str(sample_transcript / "s.vtt")).captions
    faces = {c.text.split(":")[0].split(" (")[0] for c in captions}
    assert len(faces) >= 2 and all(c.text.startswith("Face ") for c in captions)


@pytest.mark.slow  # the bundled clip through MTCNN, and an H.264 encode
def test_sample_clip_annotated_copy_has_every_frame(sample_transcript):
    capture = cv2.VideoCapture(str(sample_transcript / "s.mp4"))
    try:
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 135
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(15)
    finally:
        capture.release()


@needs_display_matrix
@pytest.mark.slow  # MTCNN and the classifier on 20 frames
def test_the_faces_of_a_phone_video_are_found(tmp_path):
    """The sample clip's first 20 frames stored as a phone stores portrait video: read sideways, no
    face was found in them."""
    from hostile_media import stored_sideways, write_h264_video

    from emocap.sources import open_path, sample_clip

    with open_path(sample_clip(), end_s=20 / 15) as source:
        sideways = [stored_sideways(frame.image_bgr, -90) for frame in source]
    clip = write_h264_video(tmp_path / "phone.mp4", sideways, nominal_fps=15, display_rotation=-90)
    parser = argparse.ArgumentParser(prog="emocap")
    transcribe.add_parser(parser.add_subparsers())
    args = parser.parse_args(["transcribe", str(clip), "-o", str(tmp_path / "t.jsonl"), "--workers", "1"])
    assert args.run(args) == 0
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(records) == 20 and all(len(record["faces"]) == 1 for record in records[4:])


@pytest.mark.parametrize(
    "options, message",
    [
        (["--embed-subtitles"], "--embed-subtitles puts the subtitles into the annotated copy: add --annotate"),
        (["--embed-subtitles", "--annotate", "{tmp}/out.avi"], "cannot embed subtitles in '{tmp}/out.avi': use .mp4"),
    ],
)
def test_embedding_subtitles_needs_a_copy_that_can_carry_them(tmp_path, pipeline, options, message):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=re.escape(message.format(tmp=tmp_path))):
        run([clip, *(option.format(tmp=tmp_path) for option in options)])
    assert files_in(tmp_path) == ["talk.avi"]


def test_end_must_come_after_start(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=r"--end 1 must come after --start 2"):
        run([clip, "--start", "2", "--end", "1"])
    assert files_in(tmp_path) == ["talk.avi"]


def test_the_report_says_when_tilted_faces_were_turned_upright():
    parser = argparse.ArgumentParser()
    transcribe.add_parser(parser.add_subparsers())
    plain = dict(transcribe.run_info(parser.parse_args(["transcribe", "talk.mp4"])))
    turned = dict(transcribe.run_info(parser.parse_args(["transcribe", "talk.mp4", "--upright-from", "10"])))
    assert "upright" not in plain["face detector"]
    assert turned["face detector"].endswith("; faces tilted 10 degrees or more turned upright")


def test_the_report_says_when_dim_faces_were_lifted():
    parser = argparse.ArgumentParser()
    transcribe.add_parser(parser.add_subparsers())
    plain = dict(transcribe.run_info(parser.parse_args(["transcribe", "talk.mp4"])))
    lifted = dict(transcribe.run_info(parser.parse_args(["transcribe", "talk.mp4", "--lift-light"])))
    assert plain["model"] == "the built-in fer2013 model"
    assert lifted["model"] == "the built-in fer2013 model; dim and flat faces lifted (--lift-light)"
    # Ray workers build their pipelines from these settings: the lift must travel with them.
    config = pipeline_config(parser.parse_args(["transcribe", "talk.mp4", "--lift-light", "--detector", "haar"]))
    assert config.lift_light is True
    assert Pipeline(config=config).classifier.preprocess.lift_to == FER2013_FACE_LIGHT
