"""Hostile input that ended in a traceback (issue 30, point 4): now exit 2 and one line, or a run that works.

Each input is built here: videos one pixel thin, models whose metadata or outputs are broken
(copies of the built-in model, edited with the onnx package), evaluation packs with bad
labels, file names that are not UTF-8, and a Ray run terminated mid-way.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fer_fixtures import smooth_faces, write_fer_pack
from processes import ancestors, terminated_when

from emocap.classifier import EmotionClassifier
from emocap.cli import main
from emocap.datasets import load_fer2013
from emocap.errors import DataError, ModelError, SourceError
from emocap.onnx_session import usable_cores
from emocap.sources import open_path, sample_clip
from emocap_testkit.faces import grace_hopper_bgr

onnx = pytest.importorskip("onnx")
from model_fixtures import edited_model  # noqa: E402


def emocap(*argv, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emocap", *map(os.fsdecode, argv)], capture_output=True,
                          text=True, errors="surrogateescape", env=env, timeout=timeout)


def write_thin_video(path: Path, width: int, height: int, frames: int = 4) -> Path:
    """PNG frames in AVI: a codec that takes any size, one pixel included."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 40 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decoded_sizes(path: Path) -> list[tuple[int, int]]:
    import av

    with av.open(str(path)) as container:
        return [(frame.width, frame.height) for frame in container.decode(video=0)]


# --- times beyond any video --------------------------------------------------------------------


@pytest.mark.parametrize("option, value", [("--start", "1e15"), ("--start", "1e308"), ("--end", "1e308"),
                                           ("--min-duration", "1e308"), ("--chunk-seconds", "1e20")])
def test_a_time_beyond_any_video_is_refused_with_its_value(tmp_path, capsys, option, value):
    """--start 1e15 overflowed PyAV's seek, --start 1e308 the count of frames to expect."""
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(sample_clip(), clip)
    with pytest.raises(SystemExit) as stop:
        main(["transcribe", str(clip), option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    bound = {"--end": "> 0 and <= 1e+09", "--chunk-seconds": "in 1..1e+09"}.get(option, "in 0..1e+09")
    assert err.splitlines() == [
        f"emocap transcribe: error: argument {option}: expected a number of seconds {bound}, got {value!r} "
        "(see emocap transcribe --help)"
    ]
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.parametrize("start_s", [1e15, 1e308])
def test_a_source_started_past_the_end_of_time_says_it_gave_no_frame(start_s):
    with pytest.raises(SourceError, match=r"opened but gave no frame after 1e\+(15|308) s"):
        open_path(sample_clip(), start_s=start_s)


# --- videos one pixel thin ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 64), (64, 1), (1, 1)])
def test_a_video_one_pixel_thin_is_annotated_padded_to_even_sides(tmp_path, size):
    """H.264 needs even sides: odd ones were cropped by a pixel, and a side of 1 to nothing (IndexError)."""
    clip = write_thin_video(tmp_path / "thin.avi", *size)
    annotated = tmp_path / "thin.annotated.mp4"
    assert main(["transcribe", str(clip), "--annotate", str(annotated), "-o", str(tmp_path / "thin.vtt")]) == 0
    width, height = size
    assert decoded_sizes(annotated) == [(width + width % 2, height + height % 2)] * 4


# --- models that are broken --------------------------------------------------------------------


PREPROCESS = {"size": 48, "channels": 1, "mean": 0.5, "std": 0.5}


@pytest.mark.parametrize("key, value, message", [
    ("emocap.preprocess", {**PREPROCESS, "mean": "x"}, "Preprocess.mean must be in [0, 1], got 'x'"),
    ("emocap.preprocess", {**PREPROCESS, "std": [0.5]}, "Preprocess.std must be a number > 0, got [0.5]"),
    ("emocap.preprocess", {**PREPROCESS, "size": 48.5}, "Preprocess.size must be a whole number in 8..512, got 48.5"),
    ("emocap.preprocess", {**PREPROCESS, "channels": True}, "Preprocess.channels must be 1 or 3, got True"),
    ("emocap.preprocess", {**PREPROCESS, "lift_to": ["a", "b"]},
     "Preprocess.lift_to must be (mean, std), each in (0, 1), got ('a', 'b')"),
    ("emocap.labels", '"happy"', "labels must be a list of distinct class names, got '\"happy\"'"),
    ("emocap.labels", json.dumps([1, 2, 3, 4, 5, 6, 7]), "labels must be a list of distinct class names, got '[1, 2"),
])
def test_a_model_with_ill_typed_metadata_is_refused_at_load_naming_the_field(tmp_path, key, value, message):
    """"mean": "x" loaded, then every face failed in NumPy (a UFunc traceback)."""
    text = value if isinstance(value, str) else json.dumps(value)
    path = edited_model(tmp_path / "bad.onnx", metadata={key: text})
    with pytest.raises(ModelError) as error:
        EmotionClassifier(path)
    assert str(error.value).startswith(f"{str(path)!r} is not an emocap model: its metadata {key} is invalid: ")
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1


def test_the_image_command_refuses_a_model_with_a_mean_of_x_in_one_line(tmp_path, capsys):
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), grace_hopper_bgr())
    model = edited_model(tmp_path / "bad.onnx", metadata={"emocap.preprocess": json.dumps({**PREPROCESS, "mean": "x"})})
    assert main(["image", str(photo), "--model", str(model)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "mean must be" in captured.err


@pytest.fixture
def nan_model(tmp_path):
    """The built-in model whose last dequantisation scale is NaN: every logit comes out NaN."""
    return edited_model(tmp_path / "nan.onnx", nan_initializer="logits_scale")


def test_a_model_that_gives_nan_is_refused_not_printed(tmp_path, nan_model, capsys):
    """--json ended in "Out of range float values are not JSON compliant"; text mode printed "nan%"."""
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), grace_hopper_bgr())
    expected = (f"emocap image: error: {str(nan_model)!r} gave non-finite scores (NaN or infinite) for 1 of 1 faces: "
                "the model is broken, and its probabilities would mean nothing\n")
    for mode in ([], ["--json"]):
        assert main(["image", str(photo), "--model", str(nan_model), *mode]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err == expected


def test_transcribe_with_a_model_that_gives_nan_writes_no_records(tmp_path, nan_model, capsys):
    records = tmp_path / "clip.jsonl"
    assert main(["transcribe", str(sample_clip()), "--end", "1", "-o", str(records), "--model", str(nan_model)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("emocap transcribe: error: ") and "gave non-finite scores" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.onnx"]


def test_serve_closes_the_socket_with_the_reason_when_the_model_gives_nan(nan_model, caplog):
    """The page got NaN in its JSON, which browsers' JSON.parse refuses."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedError

    from emocap.cli import build_parser
    from emocap.commands.serve import build_pipeline_factory
    from emocap.web.server import CaptionServer

    factory = build_pipeline_factory(build_parser().parse_args(["serve", "--model", str(nan_model)]))
    jpeg = cv2.imencode(".jpg", grace_hopper_bgr())[1].tobytes()

    async def scenario():
        async with CaptionServer(factory, port=0) as server:
            async with connect(f"ws://127.0.0.1:{server.port}/ws") as client:
                await client.send(jpeg)
                with pytest.raises(ConnectionClosedError) as closed:
                    await client.recv()
                return closed.value

    closed = asyncio.run(scenario())
    assert closed.rcvd.code == 1011 and "gave non-finite scores" in closed.rcvd.reason
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []  # no traceback logged


# --- evaluation packs with bad labels ----------------------------------------------------------


def pickled_labels(path: Path) -> None:
    np.save(path, np.array([0, "happy", None], dtype=object), allow_pickle=True)


@pytest.mark.parametrize("write_labels, message", [
    (lambda path: np.save(path, np.array([0, 7, 2])), "label 7 (face 1) is not in 0..6"),
    (lambda path: np.save(path, np.array([0, -1, 2])), "label -1 (face 1) is not in 0..6"),
    (lambda path: np.save(path, np.array([0.0, 2.5, 1.0])), "labels must be whole numbers, got float64"),
    (lambda path: np.save(path, np.array([[0, 1, 2]])), "labels must be one list, got shape (1, 3)"),
    (pickled_labels, "not a NumPy array file without pickles"),
    (lambda path: path.write_bytes(np.random.default_rng(0).bytes(300)), "not a NumPy array file without pickles"),
], ids=["too large", "negative", "fractions", "a table", "pickled", "random bytes"])
def test_a_pack_with_bad_labels_names_the_file_and_the_value(tmp_path, write_labels, message):
    write_fer_pack(tmp_path, "test", smooth_faces(3), [0, 1, 2], ["PublicTest_0", "PublicTest_1", "PrivateTest_2"])
    labels = tmp_path / "test_labels.npy"
    write_labels(labels)
    with pytest.raises(DataError) as error:
        load_fer2013(tmp_path, "test")
    assert str(error.value).startswith(f"{str(labels)!r}: ") and message in str(error.value)


# --- file names that are not UTF-8 -------------------------------------------------------------


@pytest.fixture
def strict_stdout_env():
    return {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "PYTHONPATH": os.pathsep.join(sys.path)}


def test_image_names_that_are_not_utf8_are_printed_escaped_after_the_outputs(tmp_path, strict_stdout_env):
    """Printing a name with byte 0xff to a strict UTF-8 stdout raised UnicodeEncodeError once the
    copies were written; OpenCV's imwrite crashed the process on such a name (a segfault)."""
    photos, marked = tmp_path / "photos", tmp_path / "marked"
    photos.mkdir(), marked.mkdir()
    cv2.imwrite(str(photos / "face.png"), grace_hopper_bgr())
    os.rename(photos / "face.png", os.path.join(os.fsencode(photos), b"\xff.png"))
    done = emocap("image", photos, "--annotate", marked, env=strict_stdout_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{photos}/\\udcff.png: 1 face") and "Traceback" not in done.stderr
    assert os.listdir(os.fsencode(marked)) == [b"\xff.annotated.png"]
    done = emocap("image", photos, "--json", env=strict_stdout_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == f"{photos}/\udcff.png"  # JSON's own escape of the byte


def test_a_video_name_that_is_not_utf8_is_transcribed_and_reported(tmp_path, strict_stdout_env):
    video = os.path.join(os.fsencode(tmp_path), b"\xff.mp4")
    shutil.copyfile(sample_clip(), video)
    done = emocap("transcribe", video, "--end", "1", "-o", "vtt", "-o", "jsonl", "--annotate", env=strict_stdout_env)
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path}/\\udcff.emotions.vtt" in done.stdout and "Traceback" not in done.stderr
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"\xff.annotated.mp4", b"\xff.emotions.jsonl",
                                                         b"\xff.emotions.vtt", b"\xff.mp4"]


# --- SIGTERM during a Ray run ------------------------------------------------------------------


def descendants_titled(root: int, title: str) -> list[int]:
    """Pids of `root`'s descendants whose program is `title`: the start of their command line (Ray
    titles its workers ray::TASK), or the name of the file it runs (gcs_server, raylet)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if (command.startswith(title) or Path(command).name == title) and root in ancestors(int(entry.name)):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def processes_naming(text: str) -> list[int]:
    """Pids of the processes whose command line holds `text` (Ray's own name the folder of their session)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


RAY_MOMENTS = {
    "starting": "gcs_server",  # the first process ray.init starts: Ray is seconds from ready
    "connecting": "raylet",  # the driver is still starting, then joining Ray
    "running": "ray::transcribe_chunk",  # a chunk is being read on a worker
}


@pytest.mark.slow
@pytest.mark.skipif(usable_cores() < 2,
                    reason="--workers 2 is one process where only one core is usable: no Ray to signal")
@pytest.mark.parametrize("moment", RAY_MOMENTS)
@pytest.mark.parametrize("signum, status, line", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_a_ray_run_exits_in_one_line_and_leaves_no_output(tmp_path, request, moment, signum, status,
                                                                           line):
    """SIGTERM reached Ray's wait for its workers, which turned it into a SystemError: exit 1, a traceback.
    Ctrl+C exited 130, at times under a line of Ray's own ("Failed to push error to driver"), and on a
    loaded machine was lost in Ray's wait (exit 0, no line). While Ray started, SIGTERM met Ray's own
    handlers: exit 15 or -6 and no line, or lost. The signal is now held while Ray runs and acted on
    after, as itself; the moment to send it is a process Ray has started, never a fixed delay."""
    pytest.importorskip("ray")
    videos, out = tmp_path / "videos", tmp_path / "out"
    videos.mkdir(), out.mkdir()
    # Short, as Ray's socket paths in it must be (108 bytes at most); removed whatever happens.
    temporary = Path(tempfile.mkdtemp(prefix="emocap-test-"))
    request.addfinalizer(lambda: shutil.rmtree(temporary, ignore_errors=True))
    for name in ("a.mp4", "b.mp4"):
        shutil.copyfile(sample_clip(), videos / name)
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env["TMPDIR"] = str(temporary)  # where the run's Ray keeps its session: found again below
    returncode, err = terminated_when(
        ["transcribe", str(videos), "-o", "vtt", "--out-dir", str(out), "--workers", "2", "--chunk-seconds", "3"],
        lambda process: bool(descendants_titled(process.pid, RAY_MOMENTS[moment])), env=env,
        what=f"Ray's {RAY_MOMENTS[moment]}", signum=signum, timeout_s=300,
    )
    assert (returncode, err) == (status, f"emocap transcribe: {line}\n")
    assert list(out.iterdir()) == []
    deadline = time.monotonic() + 60  # Ray's processes end on their own once told to, not at once
    while processes_naming(str(temporary)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_naming(str(temporary)) == []
    assert list(temporary.glob("emocap-ray-*")) == []  # the session's folder (Ray leaves a .ses file beside it)


# --- the paper memory's length ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["transcribe", "live", "serve"])
def test_a_paper_memory_beyond_two_minutes_of_frames_is_refused_quoting_it(capsys, command):
    """--memory 100000000 grew to 16 GB and made SIGTERM wait 5-13 s; argparse now refuses it at once."""
    from emocap.cli import build_parser

    # The parser alone: on code that accepts the value, `live` and `serve` would go on to run.
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([command, "--smoother", "paper", "--memory", "100000000"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"emocap {command}: error: argument --memory: expected a whole number in 1..3600 "
        f"(two minutes at 30 fps), got '100000000' (see emocap {command} --help)"
    ]


def test_the_longest_paper_memory_is_accepted_and_its_bound_explained_in_help(capsys):
    from emocap.cli import build_parser

    args = build_parser().parse_args(["transcribe", "x.mp4", "--smoother", "paper", "--memory", "3600"])
    assert args.memory == 3600
    with pytest.raises(SystemExit):
        main(["transcribe", "--help"])
    assert "at most 3600" in " ".join(capsys.readouterr().out.split())
