"""Bad input a newcomer tried, each once a traceback, a silent stop or a stray line: now one clear line.

(The serve origins and the CSV overflow have their tests beside their modules:
test_web_server.py, test_web_protocol.py and test_datasets.py.)
"""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from processes import terminated_when

from emocap.cli import main
from emocap.pipeline import Pipeline
from emocap.sources import sample_clip


def emocap(*argv, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emocap", *map(str, argv)], capture_output=True, text=True,
                          timeout=timeout)


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header (IHDR, with a correct CRC) claims width x height pixels: a
    decompression bomb's shape without its cost."""
    ok, data = cv2.imencode(".png", np.full((8, 8, 3), 90, np.uint8))
    data = bytearray(data.tobytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


def test_image_refuses_a_huge_image_before_decoding_it_and_the_limit_can_be_raised(tmp_path):
    """A 1.2 MB PNG of 20000x20000 took 51 s and 7.6 GB, or died with a bad_alloc traceback."""
    bomb = png_claiming_size(tmp_path / "bomb.png", 20000, 20000)
    done = emocap("image", bomb)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"emocap image: error: cannot decode image {str(bomb)!r}: image of 20000x20000 pixels "
        "is larger than 4096 per side (--max-image-side raises the limit)"
    ]
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((80, 100, 3), 90, np.uint8))
    assert main(["image", str(small), "--max-image-side", "64"]) == 2
    assert main(["image", str(small), "--max-image-side", "100"]) == 0


def test_live_applies_the_same_limit_to_a_photo(tmp_path, capsys):
    bomb = png_claiming_size(tmp_path / "bomb.png", 20000, 20000)
    assert main(["live", "--source", str(bomb), "--no-window"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is larger than 4096 per side" in err


def test_live_over_a_folder_reports_a_corrupt_image_and_goes_on(tmp_path, capsys):
    """live stopped at the first corrupt image of a folder, where `image` reports it and goes on."""
    for name in ("1.png", "3.png"):
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), 90, np.uint8))
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 20)
    assert main(["live", "--source", str(tmp_path), "--no-window"]) == 2
    captured = capsys.readouterr()
    frames = [json.loads(line) for line in captured.out.splitlines()]
    assert [frame["time"] for frame in frames] == [0.0, 2.0]  # 3.png keeps its place in the folder's time
    errors = captured.err.splitlines()
    assert len(errors) == 1 and errors[0].startswith("emocap live: error: cannot decode image ") and "2.png" in errors[0]


def test_live_on_a_truncated_video_says_so(tmp_path, capsys):
    """transcribe refused a cut-off video, live played it to where it stops without a word."""
    clip = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(60):
        writer.write(np.full((120, 160, 3), i * 4, np.uint8))
    writer.release()
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    assert main(["live", "--source", str(clip), "--no-window"]) == 0
    captured = capsys.readouterr()
    assert 0 < len(captured.out.splitlines()) < 50
    assert "emocap live: note: " in captured.err and "of 60 frames: the file looks truncated" in captured.err


@pytest.mark.slow
def test_a_damaged_jpeg_gets_our_line_and_none_of_libjpeg(tmp_path):
    """libjpeg's own "Corrupt JPEG data: ..." line was printed before our one-line error."""
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    data = bytearray(cv2.imencode(".jpg", noise)[1].tobytes())
    middle = len(data) // 2
    data[middle : middle + 40] = b"\xff\x00" * 20
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(bytes(data[:-200]) + b"\xff\xd9")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    done = emocap("image", corrupt, truncated)
    assert done.returncode == 2
    assert "Corrupt JPEG" not in done.stderr and "Premature end" not in done.stderr
    assert done.stderr.splitlines() == [
        f"emocap image: error: cannot decode image {str(truncated)!r}: "
        f"damaged JPEG ({len(data) // 2} bytes): image file is truncated "
        + done.stderr.split("image file is truncated ", 1)[1].strip()
    ]


def test_memory_without_the_paper_smoother_is_refused_before_the_camera_is_probed(monkeypatch, capsys):
    def no_source(*args, **kwargs):
        raise AssertionError("a source was opened before the options were checked")

    monkeypatch.setattr("emocap.sources.open_source", no_source)
    assert main(["live", "--memory", "3", "--no-window"]) == 2
    assert capsys.readouterr().err == "emocap live: error: --memory 3 applies to the paper smoother only, not 'ema'\n"
    assert main(["live", "--upright-from", "120", "--no-window"]) == 2
    assert capsys.readouterr().err == "emocap live: error: --upright-from must be 0..90 degrees, got 120\n"


@pytest.mark.parametrize("time_s", [math.nan, math.inf, -1.0, "0.5"])
def test_pipeline_refuses_a_frame_time_that_is_not_a_time(time_s):
    """time_s=nan was accepted and broke the JSON output later."""
    pipeline = Pipeline()
    with pytest.raises(ValueError, match=r"time_s must be a finite number of seconds >= 0 or None, got "):
        pipeline.process(np.zeros((120, 160, 3), np.uint8), time_s)
    assert pipeline.process(np.zeros((120, 160, 3), np.uint8), 0.5).time_s == 0.5


def test_sigterm_during_transcribe_leaves_no_hidden_part_files(tmp_path):
    """SIGINT cleaned up the temporary .NAME.*.part.* outputs; SIGTERM left them behind."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(sample_clip().read_bytes())
    returncode, err = terminated_when(
        ["transcribe", str(clip), "-o", "vtt", "-o", "jsonl", "--annotate"],
        lambda process: bool(list(tmp_path.glob(".*.part*"))), what="the opening of the outputs",
    )
    assert returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1] == "emocap transcribe: terminated" and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.slow  # starts the command in processes of its own
def test_a_closed_stdout_ends_the_command_quietly_without_a_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # `emocap ... | head` after head has gone: every write meets a broken pipe
    result = subprocess.run(
        [sys.executable, "-m", "emocap", "train", "--preset", "fer-best", "--print-config"],
        stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
    )
    os.close(write_end)
    assert result.returncode == 128 + signal.SIGPIPE
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


@pytest.mark.parametrize("option", ["--annotate", "--report", "--summary-plot"])
def test_an_optional_value_that_swallows_the_video_says_what_happened(tmp_path, capsys, option):
    from emocap.cli import main

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    with pytest.raises(SystemExit) as exited:
        main(["transcribe", option, str(video)])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 or error.splitlines()[-1].startswith("emocap transcribe: error:"), error
    assert f"{option} took {str(video)!r} as its" in error and f"write {option}=" in error, error
