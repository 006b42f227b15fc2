"""Bounds on sharing a transcription out, checked before Ray starts: how many chunks a video is cut
into (a header may claim decades), and how many local workers run (at most one per core).

Ray is never started here but in the last test (slow): `ray_installed` is made to say yes, and
`ray_session` to fail the test if it is reached.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostile_media import write_h264_video

import emocap.cluster
import emocap.onnx_session
from emocap.chunking import plan_chunks
from emocap.cli import main
from emocap.commands import transcribe
from emocap.errors import DataError
from emocap.transcription import TranscriptionSettings

TWENTY_DAYS_S = 20 * 86400


def video_claiming(path: Path, seconds: float) -> Path:
    """A 1 s Matroska video (30 tiny frames) whose header says it lasts `seconds`."""
    images = [np.random.default_rng(i).integers(0, 256, (48, 64, 3), np.uint8) for i in range(30)]
    write_h264_video(path, images, nominal_fps=30)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Matroska's Duration element: an 8-byte float, in milliseconds
    assert at > 0
    data[at + 3: at + 11] = struct.pack(">d", seconds * 1000.0)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def ray_never_starts(monkeypatch):
    def started(*args, **kwargs):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(emocap.cluster, "ray_installed", lambda: True)
    monkeypatch.setattr(emocap.cluster, "ray_session", started)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_a_plan_of_more_chunks_than_a_week_of_video_is_refused():
    """31 years in a 46 KB file was 16 million chunks: 4 GB and minutes to plan, then exit 1, no message."""
    assert len(plan_chunks(0.0, None, 6 * 86400.0, chunk_s=60.0)) == 8640
    with pytest.raises(DataError) as error:
        plan_chunks(0.0, None, float(TWENTY_DAYS_S), chunk_s=60.0, what="video 'x.mkv'")
    assert str(error.value) == (
        "video 'x.mkv' says it lasts 1728000 s (20.0 days), 28800 chunks of 60 s: more than 10000, so its header "
        "looks damaged (--workers 1 reads it in one pass)"
    )


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["default", "workers-2"])
def test_a_video_claiming_weeks_is_refused_in_one_line_before_ray_starts(tmp_path, ray_never_starts, pipeline,
                                                                          two_cores, capsys, workers):
    video = video_claiming(tmp_path / "long.mkv", TWENTY_DAYS_S)
    assert main(["transcribe", str(video), "-o", "vtt", *workers]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap transcribe: error: video {str(video)!r} says it lasts 1728000 s (20.0 days), 28800 chunks of 60 s: "
        "more than 10000, so its header looks damaged (--workers 1 reads it in one pass)"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long.mkv"]


def test_in_one_process_a_video_claiming_decades_ends_where_its_frames_end(tmp_path, pipeline, capsys):
    video = video_claiming(tmp_path / "long.mkv", 31 * 365.25 * 86400)
    assert main(["transcribe", str(video), "-o", "vtt", "--workers", "1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emocap transcribe: error: {str(video)!r} ended at 0.967 s, not at 978285600 s as its container says: "
        "the file looks truncated; nothing was written (--keep-partial keeps what could be read)"
    ]


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emocap")
    transcribe.add_parser(parser.add_subparsers())
    return parser.parse_args(["transcribe", "x.mp4", *argv])


def test_more_local_workers_than_cores_are_the_cores_with_a_note(two_cores, monkeypatch, capsys):
    """--workers 1000 on 2 cores started 32 Ray workers and took 8 GB."""
    monkeypatch.setattr(emocap.cluster, "ray_installed", lambda: True)
    assert transcribe.cluster_settings(parsed("--workers", "1000")).workers == 2
    assert capsys.readouterr().err == "emocap transcribe: note: --workers 1000 is more than the 2 cores here; using 2\n"
    assert transcribe.cluster_settings(parsed("--workers", "2")).workers == 2
    assert capsys.readouterr().err == ""
    # A cluster's CPUs are its own; one core here is one process, without Ray.
    cluster = transcribe.cluster_settings(parsed("--workers", "1000", "--ray-address", "10.0.0.5:6379"))
    assert cluster.workers == 1000
    monkeypatch.setattr(emocap.onnx_session, "usable_cores", lambda: 1)
    assert transcribe.cluster_settings(parsed("--workers", "8")) is None


@pytest.mark.slow  # a local Ray, its workers and the real pipeline
def test_a_local_ray_asked_for_1000_workers_runs_on_the_cores(tmp_path):
    pytest.importorskip("ray")
    from emocap.sources import sample_clip

    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-m", "emocap", "transcribe", str(sample_clip()), "-o", str(tmp_path / "s.vtt"),
         "--workers", "1000", "--chunk-seconds", "3", "--detect-every", "2"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    cores = emocap.onnx_session.usable_cores()
    assert done.returncode == 0, done.stderr
    assert f"emocap transcribe: note: --workers 1000 is more than the {cores} cores here; using {cores}" in done.stderr
    assert (tmp_path / "s.vtt").is_file()
