import json
import os
import re
import time

import cv2
import numpy as np
import pytest

import emocap.sources
from emocap.cli import build_parser, main
from emocap.commands.arguments import positive_int
from emocap.commands.live import Pacer, save_snapshot
from emocap.errors import OutputError, SourceError
from emocap.sources import sample_clip


def run_cli(capsys, *argv):
    code = main(["live", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emocap live: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "make_spec, fragment",
    [
        (lambda tmp: "97", "cannot open camera 97 ('97')"),
        (lambda tmp: str(tmp / "missing.mp4"), "no such file, folder or camera"),
        (lambda tmp: str((tmp / "notes.txt").write_text("hi") and tmp / "notes.txt"), "cannot open video"),
        (lambda tmp: "screen:1,2,3", "bad screen region 'screen:1,2,3'"),
    ],
)
def test_bad_sources_exit_2_with_one_line(capsys, tmp_path, make_spec, fragment):
    spec = make_spec(tmp_path)
    code, out, err = run_cli(capsys, "--source", spec, "--no-window")
    assert code == 2 and out == ""
    assert_one_line_error(err, fragment, repr(spec))


@pytest.mark.skipif(not os.uname().sysname == "Linux", reason="DISPLAY decides only on Linux")
def test_without_a_display_the_window_becomes_json_lines_with_a_note(capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, out, err = run_cli(capsys, "--source", str(sample_clip()), "--max-frames", "3")
    assert code == 0
    assert [record["frame"] for record in json_lines(out)] == [0, 1, 2]
    assert err.count("\n") == 1 and "note: no display" in err and "--no-window" in err


def test_missing_snapshot_folder_is_reported_before_anything_opens(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":fake")
    missing = tmp_path / "nowhere"
    code, _, err = run_cli(capsys, "--source", str(sample_clip()), "--snapshot-dir", str(missing))
    assert code == 2
    assert_one_line_error(err, "snapshot folder", repr(str(missing)))


@pytest.mark.parametrize("option", ["--max-frames", "--memory", "--detect-every", "--min-face-size"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_count_options_must_be_positive_whole_numbers(capsys, option, value):
    with pytest.raises(SystemExit) as caught:
        main(["live", option, value])
    assert caught.value.code == 2
    assert repr(value) in capsys.readouterr().err


def test_positive_int_parses():
    assert positive_int("12") == 12


def test_help_teaches_sources_keys_and_examples():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    text = subparsers.choices["live"].format_help()
    for fragment in ("screen:X,Y,W,H", "q or Esc", "space or p", "emocap live --source", "--no-window", "sample clip"):
        assert fragment in text


def test_pacer_schedules_frames_at_their_own_time():
    pacer = Pacer()
    assert pacer.wait_ms(5.0) == 0.0  # the first frame sets the schedule
    assert pacer.wait_ms(5.2) == pytest.approx(200, abs=30)
    pacer.shift(1.0)
    assert pacer.wait_ms(5.2) == pytest.approx(1200, abs=30)
    time.sleep(0.01)
    assert pacer.wait_ms(4.0) == 0.0  # behind schedule: no wait, no dropped frame


def test_snapshot_is_written_whole_and_named_by_frame(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    path = save_snapshot(image, tmp_path, 42)
    assert re.fullmatch(r"emocap-\d{8}-\d{6}-000042\.png", path.name)
    np.testing.assert_array_equal(cv2.imread(str(path)), image)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_snapshot_into_a_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        save_snapshot(np.zeros((4, 4, 3), np.uint8), tmp_path / "gone", 0)


def test_snapshot_opencv_cannot_encode_is_an_output_error_and_leaves_nothing(tmp_path):
    with pytest.raises(OutputError, match="cannot write image .*emocap-.*-000007\\.png"):
        save_snapshot(np.zeros((0, 0, 3), np.uint8), tmp_path, 7)
    assert list(tmp_path.iterdir()) == []


# ---- with the model: these run the real pipeline on the bundled clip ----


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def whole_clip_records():
    """Every frame of the sample clip through `emocap live --no-window` (run once for the module)."""
    from io import StringIO
    from contextlib import redirect_stdout

    buffer = StringIO()
    with redirect_stdout(buffer):
        code = main(["live", "--source", str(sample_clip()), "--no-window"])
    assert code == 0
    return json_lines(buffer.getvalue())


def test_no_window_prints_one_valid_json_line_per_frame(capsys):
    code, out, err = run_cli(capsys, "--source", str(sample_clip()), "--no-window", "--max-frames", "5")
    assert code == 0 and err == ""
    records = json_lines(out)
    assert [r["frame"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["time"] for r in records] == pytest.approx([i / 15 for i in range(5)], abs=1e-3)
    for record in records:
        for face in record["faces"]:
            assert len(face["box"]) == 4
            assert set(face["probabilities"]) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
            assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
            assert sum(face["valence_probabilities"].values()) == pytest.approx(1, abs=1e-3)


def test_no_window_lines_are_worded_as_asked_and_keep_the_class_names(capsys):
    """The clip opens on a smiling face: captioned "looks happy" by default, "happy" when plain."""
    worded = {}
    for options in ([], ["--wording", "plain"]):
        code, out, _ = run_cli(capsys, "--source", str(sample_clip()), "--no-window", "--max-frames", "4", *options)
        assert code == 0
        (face,) = json_lines(out)[-1]["faces"]
        worded[tuple(options)] = (face["label"], face["emotion_words"], face["caption"])
    assert worded[()] == ("happy", "looks happy", "Face 1 (centre): looks happy — positive")
    assert worded[("--wording", "plain")] == ("happy", "happy", "Face 1 (centre): happy — positive")


def test_whole_clip_keeps_face_ids_and_sees_the_drop_out_and_two_faces(whole_clip_records):
    records = whole_clip_records
    assert len(records) == 135
    counts = np.array([len(r["faces"]) for r in records])
    # 0-2 s: Collins alone; the same face number throughout.
    opening = [r["faces"] for r in records[:28]]
    assert (counts[:28] == 1).mean() >= 0.9
    assert len({face["face"] for faces in opening for face in faces}) == 1
    # ~3.4-4.4 s: the camera rests on the bare wall.
    assert (counts[52:66] == 0).all()
    # From 7.4 s both portraits are in view, as two different faces.
    closing = records[112:]
    assert (counts[112:] == 2).mean() >= 0.9
    assert all(len({f["face"] for f in r["faces"]}) == len(r["faces"]) for r in closing)
    # A face that stays in view keeps its number: few distinct numbers over the closing hold.
    assert len({f["face"] for r in closing for f in r["faces"]}) == 2
    # The smoother settles on a label while the first face is in view.
    assert any(f["label"] for r in records[:28] for f in r["faces"])


def test_no_camera_falls_back_to_the_sample_clip_with_a_note(capsys, monkeypatch):
    real_open = emocap.sources.open_source

    def no_cameras(spec, **options):
        if spec.isdigit():
            raise SourceError(f"cannot open camera {spec} ({spec!r}): no such camera, or another program is using it")
        return real_open(spec, **options)

    monkeypatch.setattr(emocap.sources, "open_source", no_cameras)
    code, out, err = run_cli(capsys, "--no-window", "--max-frames", "2")
    assert code == 0 and len(json_lines(out)) == 2
    assert "note:" in err and "bundled sample clip" in err and "--source" in err


@pytest.mark.parametrize("detector, smallest", [("mtcnn", 12), ("haar", 24)])
def test_a_face_size_below_the_detectors_window_is_a_one_line_error(capsys, detector, smallest):
    code, out, err = run_cli(
        capsys, "--source", str(sample_clip()), "--no-window", "--detector", detector,
        "--min-face-size", str(smallest - 1),
    )
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and f">= {smallest}" in err and f"--min-face-size {smallest - 1}" in err


def test_memory_without_the_paper_smoother_is_a_one_line_error(capsys):
    code, out, err = run_cli(capsys, "--source", str(sample_clip()), "--no-window", "--memory", "3")
    assert code == 2 and out == ""
    assert_one_line_error(err, "--memory 3 applies to the paper smoother only, not 'ema'")


def test_paper_smoother_with_its_memory_runs(capsys):
    code, out, _ = run_cli(capsys, "--source", str(sample_clip()), "--no-window", "--max-frames", "4",
                           "--smoother", "paper", "--memory", "3")
    assert code == 0 and len(json_lines(out)) == 4


def test_live_detects_ahead_on_a_second_thread_and_gives_what_one_thread_gives(whole_clip_records):
    from emocap.outputs import frame_record
    from emocap.pipeline import Pipeline
    from emocap.sources import open_source

    pipeline = Pipeline()
    with open_source(str(sample_clip())) as source:
        one_thread = [frame_record(pipeline.process(frame.image_bgr, frame.time_s)) for frame in source]
    # Boxes, face numbers, captions and probabilities, frame for frame.
    assert json.loads(json.dumps(one_thread)) == whole_clip_records
