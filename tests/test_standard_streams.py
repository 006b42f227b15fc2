"""Standard output full or closed, standard error closed: one line and a non-zero exit, never a
traceback (issue 43, point 5). A reader that goes away (`| head`) stays a quiet stop."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from processes import emocap_process

from emocap.images import write_image
from emocap.sources import sample_clip
from emocap_testkit.faces import grace_hopper_bgr

FULL_DEVICE = Path("/dev/full")


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return write_image(tmp_path_factory.mktemp("photo") / "face.png", grace_hopper_bgr())


def close_descriptor(descriptor: int):
    return lambda: os.close(descriptor)


COMMANDS = {
    "image": lambda photo: ["image", photo, "--json"],
    "live": lambda photo: ["live", "--source", sample_clip(), "--no-window", "--max-frames", "3"],
}


@pytest.mark.skipif(not FULL_DEVICE.exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_standard_output_is_one_line(photo, command):
    with FULL_DEVICE.open("w") as full:
        done = emocap_process(*COMMANDS[command](photo), stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"emocap {command}: error: cannot write to standard output: No space left on device"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_standard_output_is_one_line(photo, command):
    done = emocap_process(*COMMANDS[command](photo), stdout=None, stderr=subprocess.PIPE, preexec_fn=close_descriptor(1))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"emocap {command}: error: cannot write to standard output: it is closed"]


def test_a_closed_standard_error_still_gives_the_subtitles(tmp_path):
    """The progress bar went to a None stderr: exit 1 and no subtitles, with nothing said anywhere."""
    target = tmp_path / "clip.vtt"
    done = emocap_process("transcribe", sample_clip(), "--end", "1", "-o", target, stdout=subprocess.PIPE, stderr=None,
                          preexec_fn=close_descriptor(2))
    assert done.returncode == 0 and target.read_text().startswith("WEBVTT")
    assert done.stdout.splitlines()[-1] == f"wrote {target}"


def test_a_reader_that_goes_away_stops_the_run_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = emocap_process("live", "--source", sample_clip(), "--no-window", "--max-frames", "3",
                              stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
