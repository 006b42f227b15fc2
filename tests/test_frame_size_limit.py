"""--max-image-side reaches every decoded picture: video files, cameras and streams, the images of an
`evaluate` folder, each refused from its header before its pixels take memory.

The hostile files are small (a 16000x16000 video frame is 250 KB, a 30000x30000 PNG 0.9 MB) but
decoded they took 7.8 GB and more; the subprocesses run under an address-space limit, so an
implementation that decodes them fails here instead of taking the machine's memory.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from emocap.cli import main
from emocap.errors import SourceError
from emocap.sources import _open_capture, sample_clip
from fer_fixtures import write_fer_folder
from hostile_media import write_black_png, write_growing_video, write_huge_frame_video

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


READ_EVERY_FRAME = """
import re, sys
from pathlib import Path
from emocap.errors import SourceError
from emocap.sources import open_path
try:
    print(len(list(open_path(sys.argv[1]))), "frames")
except SourceError as error:
    print(error)
# This process's own peak since exec (getrusage's ru_maxrss would count the memory of the process that forked it)
print(int(re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak memory is read from Linux's /proc")
def test_a_huge_frame_after_a_small_one_is_refused_before_it_is_decoded(tmp_path):
    """A video whose header and first frame are 64x64 and whose second frame is 16000x16000 (250 KB) was
    refused only once FFmpeg had decoded that frame: 250 MB more for a grey one, 750 MB for RGB."""
    video = write_growing_video(tmp_path / "growing.avi", first_side=64, then_side=16000)
    done = subprocess.run([sys.executable, "-c", READ_EVERY_FRAME, str(video)], capture_output=True, text=True,
                          timeout=60)
    *said, peak_mb = done.stdout.splitlines()
    assert int(peak_mb) < 200  # Python, NumPy, OpenCV and PyAV: 80 MB; the frame decoded alone is 256 MB
    # With one CPU FFmpeg decodes without frame threads and hands the small frame out first (then the message
    # says when the big one came); with several it fails on the big one before handing any out.
    assert len(said) == 1 and re.fullmatch(
        re.escape(f"cannot read video {str(video)!r}: a video frame") + r"( after 0 s)?"
        + re.escape(" has more than 4096x4096 pixels (--max-image-side raises the limit)"), said[0]
    ), said


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
