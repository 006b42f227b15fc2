"""What a run writes never touches what the user gave, is all there or not there at all, and
its errors are one line: issue 30's points 1, 5 and 6 (argparse, --report, a full disk)."""

from __future__ import annotations

import re
import resource
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_transcribe_command import HAPPY_THEN_ANGRY, files_in, pipeline, write_clip  # noqa: F401 (a fixture)
from test_transcribe_command import run as run_transcribe

from emocap.cli import main
from emocap.errors import OutputError


@pytest.mark.parametrize("argv, begins", [
    (["transcribe", "talk.mp4", "--min-duration", "soon"],
     "emocap transcribe: error: argument --min-duration: expected a number of seconds, got 'soon'"),
    (["image"], "emocap image: error: the following arguments are required: PATH"),
    (["dance"], "emocap: error: argument COMMAND: invalid choice: 'dance'"),  # the choices' quoting is Python's
])
def test_a_usage_error_is_one_line_that_points_at_help(argv, begins, capsys):
    """Every argparse error printed the whole usage block before its one line."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    command = begins.split(": error:")[0]
    assert captured.err.startswith(begins) and captured.err.endswith(f" (see {command} --help)\n")


def test_help_still_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["transcribe", "--help"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("usage: emocap transcribe [-h]")


@pytest.mark.parametrize("name", ["r.txt", "r", "r.html.bak"])
def test_a_report_not_named_html_is_refused_before_any_work(tmp_path, pipeline, name):
    """--report r.txt wrote HTML under any extension, where --summary-plot p.txt is refused."""
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(OutputError, match=rf"cannot write report {re.escape(repr(str(tmp_path / name)))}: .* "
                       r"is not a web page; use \.html or \.htm"):
        run_transcribe([clip, "--report", tmp_path / name])
    assert pipeline.frames == 0 and files_in(tmp_path) == ["talk.avi"]


def test_a_report_named_htm_is_written(tmp_path, pipeline):
    clip = write_clip(tmp_path / "talk.avi", HAPPY_THEN_ANGRY)
    assert run_transcribe([clip, "--report", tmp_path / "r.HTM"]) == 0
    assert (tmp_path / "r.HTM").read_text().lower().startswith("<!doctype html>")


def limit_file_size(size: int):
    """For a subprocess: files it writes cannot grow past `size` bytes (EFBIG, as a full disk gives
    ENOSPC; Python ignores the SIGXFSZ that comes with it)."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def test_an_annotated_photo_that_cannot_be_written_is_one_line_with_the_reason(tmp_path):
    """libpng printed its own "libpng error: Write Error" line, then ours had no reason."""
    photo = tmp_path / "noise.png"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    target = tmp_path / "out.png"
    done = subprocess.run([sys.executable, "-m", "emocap", "image", str(photo), "--annotate", str(target)],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size(4096))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"emocap image: error: cannot write {str(target)!r}: File too large"]
    assert files_in(tmp_path) == ["noise.png"]
