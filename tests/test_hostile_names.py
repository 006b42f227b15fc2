"""File names that are not UTF-8 (bytes Python keeps as surrogates) reach every writer and OpenCV
safely: OpenCV's bindings crashed the process on them (exit 139), matplotlib and the HTML report
raised a traceback after the whole run (issue 43, point 4)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from fer_fixtures import smooth_faces, write_fer_pack
from processes import emocap_process

from emocap.images import write_image
from emocap.sources import sample_clip
from emocap_testkit.faces import grace_hopper_bgr


def test_an_annotated_copy_named_in_bytes_that_are_not_utf8_is_written(tmp_path):
    photo = write_image(tmp_path / "face.png", grace_hopper_bgr())
    target = os.path.join(os.fsencode(tmp_path), b"out\xff.png")
    done = emocap_process("image", photo, "--annotate", target)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"emocap image: wrote {tmp_path}/out\\udcff.png\n"
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"face.png", b"out\xff.png"]


def test_an_evaluation_pack_in_a_folder_named_in_bytes_that_are_not_utf8_is_read(tmp_path):
    pack = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"pack\xffname")))
    write_fer_pack(pack, "test", smooth_faces(3), np.array([0, 1, 2]), ["PublicTest_0", "PublicTest_1", "PrivateTest_2"])
    done = emocap_process("evaluate", "--data", pack, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].split()[:2] == ["test", "3"]  # the three faces, read and classified


def test_a_stream_address_that_is_not_utf8_is_refused_in_one_line():
    done = emocap_process("live", "--source", b"http://127.0.0.1:9/\xff", "--no-window", timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "emocap live: error: cannot open stream 'http://127.0.0.1:9/\\udcff': it is not UTF-8 text, which OpenCV needs"
    ]


def test_a_timeline_and_report_of_a_video_named_in_bytes_that_are_not_utf8_are_written(tmp_path):
    """The video's name is the plot's title and the page's: matplotlib's text layout and the page's
    UTF-8 encoder refused the byte, after the whole video was read."""
    video = os.path.join(os.fsencode(tmp_path), b"\xff.mp4")
    shutil.copyfile(sample_clip(), video)
    done = emocap_process("transcribe", video, "--end", "1", "--summary-plot", "--report")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"\xff.mp4", b"\xff.report.html", b"\xff.timeline.png"]
    page = (tmp_path / os.fsdecode(b"\xff.report.html")).read_text(encoding="utf-8")
    assert "<title>Emotions in \ufffd.mp4</title>" in page and 'src="%FF.mp4"' in page


def test_only_the_suffix_of_a_name_is_asked_of_opencv():
    from emocap.images import can_write_image, opencv_text

    assert can_write_image(os.fsdecode(b"out\xff.png")) and can_write_image("a.JPG")
    assert not can_write_image("a.txt") and not can_write_image(os.fsdecode(b"a.p\xffng")) and not can_write_image("a")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        opencv_text(os.fsdecode(b"\xff"))
