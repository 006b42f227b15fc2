"""--max-image-side reaches every decoded picture: video files, cameras and streams, the images of an
`evaluate` folder, each refused from its header before its pixels take memory.

The hostile files are small (a 16000x16000 video frame is 250 KB, a 30000x30000 PNG 0.9 MB) but
decoded they took 7.8 GB and more; the subprocesses run under an address-space limit, so an
implementation that decodes them fails here instead of taking the machine's memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from emocap.cli import main
from emocap.errors import SourceError
from emocap.sources import _open_capture, sample_clip
from fer_fixtures import write_fer_folder
from hostile_media import write_black_png, write_huge_frame_video

ADDRESS_SPACE_LIMIT = 6 * 2**30
"""Enough for a run on small frames (models, thread stacks); far below a 16000x16000 frame decoded twice."""


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def emocap_within_memory(*argv, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emocap", *map(str, argv)], capture_output=True, text=True, timeout=120, cwd=cwd,
        preexec_fn=_limit_address_space,
    )


@pytest.fixture(scope="module")
def huge_frame_video(tmp_path_factory) -> Path:
    return write_huge_frame_video(tmp_path_factory.mktemp("hostile") / "huge.avi", side=16000, frames=2)


@pytest.mark.parametrize("command", ["transcribe", "live"])
def test_a_video_with_huge_frames_is_refused_from_its_header(huge_frame_video, tmp_path, command):
    """A 0.5 MB AVI of two 16000x16000 PNG frames drove transcribe and live to 11 GB."""
    argv = [huge_frame_video, "-o", "vtt"] if command == "transcribe" else ["--source", huge_frame_video, "--no-window"]
    done = emocap_within_memory(command, *argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"emocap {command}: error: cannot read video {str(huge_frame_video)!r}: video frame of 16000x16000 "
        "pixels is larger than 4096 per side (--max-image-side raises the limit)"
    ]
    assert list(tmp_path.iterdir()) == [] and [path.name for path in huge_frame_video.parent.iterdir()] == ["huge.avi"]


def test_transcribe_takes_the_limit_from_max_image_side(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(sample_clip().read_bytes())  # 640x360
    assert main(["transcribe", str(clip), "-o", "vtt", "--max-image-side", "639"]) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mp4"]
    assert main(["transcribe", str(clip), "-o", "vtt", "--max-image-side", "640"]) == 0
    assert (tmp_path / "clip.emotions.vtt").is_file()


def test_a_stream_is_refused_from_the_size_it_announces():
    with pytest.raises(SourceError, match=r"640x360 pixels is larger than 320 per side \(--max-image-side"):
        _open_capture("clip", str(sample_clip()), what="stream", max_side=320)
    with _open_capture("clip", str(sample_clip()), what="stream", max_side=640) as source:
        assert source.size == (640, 360)


@pytest.mark.slow  # evaluate's whole run
def test_evaluate_refuses_a_huge_image_in_the_dataset_folder(tmp_path):
    """An 875 KB 30000x30000 PNG among the faces cost 1.9 GB."""
    data = tmp_path / "fer"
    write_fer_folder(data)
    bomb = write_black_png(data / "test" / "happy" / "PublicTest_bomb.png", 30000, 30000)
    done = emocap_within_memory("evaluate", "--data", data, "--no-tsne", "--no-plots", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"emocap evaluate: error: cannot read face {str(bomb)!r}: image of 30000x30000 pixels is larger than "
        "4096 per side (--max-image-side raises the limit)"
    ]
