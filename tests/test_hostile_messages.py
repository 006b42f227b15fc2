"""Messages that named the wrong problem, and model labels that broke the subtitles' cues
(issue 43, point 14): a FIFO is not "no such file", a float TIFF is not "not an image", a file given
as a folder is not "does not exist"; a label with a line break or '-->' is refused with the model."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import srt
import webvtt
from processes import emocap_process

from emocap.cli import main
from emocap.errors import ModelError
from emocap.images import write_image
from emocap.outputs.segments import Segment
from emocap.outputs.subtitles import SrtWriter, WebVTTWriter
from emocap.sources import sample_clip
from emocap_testkit.faces import grace_hopper_bgr


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("argv", [["image", "{}"], ["transcribe", "{}", "-o", "vtt"]])
def test_a_fifo_is_said_to_be_no_regular_file(capsys, fifo, argv):
    assert main([part.format(fifo) for part in argv]) == 2
    assert capsys.readouterr().err == f"emocap {argv[0]}: error: {str(fifo)!r} is a named pipe (FIFO), not a regular file\n"


def test_live_over_a_fifo_refuses_it_instead_of_waiting_for_a_writer(fifo):
    done = emocap_process("live", "--source", fifo, "--no-window", timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"emocap live: error: {str(fifo)!r} is a named pipe (FIFO), not a regular file\n"


@pytest.mark.parametrize("channels", [3, 1])
def test_a_float_tiff_is_said_to_have_an_unsupported_pixel_format(capsys, tmp_path, channels):
    pixels = np.random.default_rng(0).random((48, 48, channels), np.float32)
    ok, data = cv2.imencode(".tiff", pixels if channels == 3 else pixels[:, :, 0].copy())
    photo = tmp_path / "float.tiff"
    photo.write_bytes(data.tobytes())
    assert main(["image", str(photo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"emocap image: error: cannot decode image {str(photo)!r}")
    assert "pixel format is not supported" in err or "pixel format that is not supported" in err
    assert "save it with 8- or 16-bit whole-number samples" in err


def test_a_snapshot_folder_that_is_a_file_is_said_to_be_one(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":fake")
    taken = tmp_path / "snaps"
    taken.write_text("a file")
    assert main(["live", "--source", str(sample_clip()), "--snapshot-dir", str(taken)]) == 2
    assert capsys.readouterr().err == f"emocap live: error: snapshot folder {str(taken)!r} is a file, not a folder\n"


LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@pytest.mark.parametrize("bad", ["happy\n\n99\n00:00:00,000 --> 00:09:00,000\nforged", "happy -->", " happy", "hap\u2028py"])
def test_a_model_whose_labels_could_break_a_cue_is_refused(tmp_path, bad):
    pytest.importorskip("onnx")
    from model_fixtures import edited_model

    from emocap.classifier import EmotionClassifier

    model = edited_model(tmp_path / "labels.onnx", metadata={"emocap.labels": json.dumps([bad, *LABELS[1:]])})
    with pytest.raises(ModelError) as error:
        EmotionClassifier(model)
    assert len(str(error.value).splitlines()) == 1
    assert "class names must be one line of printable characters, without '-->'" in str(error.value)


def segment(caption_label: str) -> Segment:
    return Segment(track_id=0, start_s=1.0, end_s=2.0, display=0, runner_up=-1, labels=(caption_label, "sad"),
                   box=np.array([10, 10, 50, 50], np.float32), probs=np.array([0.9, 0.1], np.float32), frames=10,
                   frame_size=(100, 100))


@pytest.mark.parametrize("writer, parse", [(SrtWriter, lambda path: list(srt.parse(path.read_text()))),
                                           (WebVTTWriter, lambda path: list(webvtt.read(str(path))))])
def test_a_caption_never_breaks_its_cue(tmp_path, writer, parse):
    """A label of a model loaded by other means (the library, not the command) still makes one cue."""
    path = tmp_path / f"t{writer.suffix}"
    with writer(path) as subtitles:
        subtitles.segment(segment("happy\n\n2\n00:00:05,000 --> 00:00:09,000\nforged"))
    cues = parse(path)
    assert len(cues) == 1
    text = cues[0].content if writer is SrtWriter else cues[0].text
    assert "\n" not in text and "-->" not in text and "forged" in text
