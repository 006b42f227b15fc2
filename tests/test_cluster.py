"""`emocap transcribe` on Ray: chunks planned and stitched, and whole runs on a real two-node cluster.

The first tests need no Ray: the planning and stitching are plain functions,
and a video cut in chunks and transcribed chunk by chunk in this process (as
workers would) gives the transcript of one pass. The stated tolerance is
none: the same frames and times, face numbers, cues and records, byte for
byte (each frame is in exactly one chunk, by its own time; the detection
schedule is found again from the frame times; the memory runs once over the
stitched faces). The Ray tests then start a cluster of two nodes on this
machine (`ray start --head` and `ray start --address`, one CPU each, in a
folder of their own, on loopback addresses), transcribe a folder on it, kill a
worker mid-run, and stop the cluster; and run the local Ray, with no cluster named.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from processes import ancestors

from emocap.chunking import (
    ChunkResult,
    WarmUp,
    chunk_jobs,
    complete_chunks,
    plan_chunks,
    probe_video,
    stitched_results,
    transcribe_chunk,
)
from emocap.commands import transcribe
from emocap.errors import EmocapError
from emocap.pipeline_config import PipelineConfig
from emocap.record import FaceRecord, RecordColumns
from emocap.types import Faces

pytestmark = pytest.mark.slow  # Ray clusters

CHUNK_S = 3.0
"""Chunks of the 9 s sample clip: three, with boundaries where one face has just left (3 s) and
where the second is coming into view (6 s)."""
PIPELINE = PipelineConfig(detect_every=2)
"""Faster, and the detection schedule (every 2nd frame, the whole frame every 4th time) must be
found again at each chunk's start."""


def run_command(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="emocap")
    transcribe.add_parser(parser.add_subparsers())
    args = parser.parse_args(["transcribe", *map(str, argv)])
    return args.run(args)


def cut_clip(source: Path, target: Path, seconds: float) -> Path:
    """The first `seconds` of a video, as H.264 (our own annotated-copy writer, without drawings)."""
    from emocap.outputs.video import AnnotatedVideoWriter
    from emocap.sources import open_path

    with open_path(source, end_s=seconds) as frames, AnnotatedVideoWriter(
        target, fps=frames.fps, frame_size=frames.size,
    ) as video:
        for frame in frames:
            video.write(frame.image_bgr, frame.time_s)
    return target


def outputs_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# --- planning and stitching, without Ray ------------------------------------------------------------

def test_a_part_cut_at_all_is_cut_into_a_multiple_of_the_workers():
    """5 minutes in minute-long chunks on 2 workers left one idle for the last round (1.60x one worker)."""
    assert [c.keep_from_s for c in plan_chunks(0.0, None, 300.0, chunk_s=60.0, workers=2)] == [0, 50, 100, 150, 200, 250]
    assert len(plan_chunks(0.0, None, 300.0, chunk_s=60.0, workers=1)) == 5
    assert len(plan_chunks(0.0, None, 600.0, chunk_s=60.0, workers=4)) == 12
    assert len(plan_chunks(0.0, None, 50.0, chunk_s=60.0, workers=8)) == 1  # one chunk stays one: no Ray for it


def test_chunks_share_out_the_part_with_a_warm_up_before_each():
    chunks = plan_chunks(0.0, None, 150.0, chunk_s=60.0, overlap_s=2.0)
    assert [(c.decode_from_s, c.keep_from_s, c.end_s) for c in chunks] == [(0.0, 0.0, 75.0), (73.0, 75.0, None)]
    part = plan_chunks(10.0, 100.0, 600.0, chunk_s=30.0, overlap_s=2.0)
    assert [(c.keep_from_s, c.end_s) for c in part] == [(10.0, 40.0), (40.0, 70.0), (70.0, 100.0)]
    assert part[0].decode_from_s == 10.0 and part[1].decode_from_s == 38.0
    assert plan_chunks(0.0, None, 20.0, chunk_s=60.0) == plan_chunks(0.0, None, None, chunk_s=60.0)  # one chunk
    warm_up = WarmUp.of(PipelineConfig())  # a whole scan every 4th frame: 5 frames of warm-up
    assert warm_up.seconds_at(10.0) == 0.5 and warm_up.seconds_at(None) == 2.0  # (no frame rate: no frames to count)


def columns(frames: list[list[tuple[tuple, np.ndarray]]], start_s: float = 0.0) -> RecordColumns:
    """Frames 0.1 s apart, each a list of (box, 8-d embedding) of faces found in it."""
    return RecordColumns.pack([
        FaceRecord(start_s + 0.1 * i, (640, 360), Faces(
            boxes=np.array([box for box, _ in faces], np.float32).reshape(-1, 4), scores=np.ones(len(faces)),
            probs=np.full((len(faces), 7), 1 / 7, np.float32),
            embeddings=np.array([look for _, look in faces], np.float32).reshape(len(faces), 8),
        ))
        for i, faces in enumerate(frames)
    ])


LEFT, RIGHT, MIDDLE = (10, 10, 60, 60), (300, 10, 350, 60), (150, 10, 200, 60)


def test_a_face_that_comes_back_chunks_later_takes_its_number_back_on_the_driver():
    """The driver tracks the chunks' faces in one run, so a face that left two chunks before is known by
    her look when she comes back elsewhere, as one pass knows her; another look is a new person."""
    from emocap.captioning import Captioning, ModelFacts

    her, other = np.eye(2, 8, dtype=np.float32)
    chunks = [
        ChunkResult(columns([[(LEFT, her)]] * 10)),
        ChunkResult(columns([[]] * 20, 1.0)),  # gone longer than the tracker's patience (15 frames)
        ChunkResult(columns([[(RIGHT, her), (MIDDLE, other)]] * 10, 3.0)),
    ]
    facts = ModelFacts(("a", "b", "c", "d", "e", "f", "g"))
    numbers = [result.faces.track_ids.tolist() for result in stitched_results(chunks, Captioning(PipelineConfig(), facts))]
    # Shown once detected in 3 frames, right to left: she is known at once when she comes back.
    assert numbers == [[]] * 2 + [[0]] * 8 + [[]] * 20 + [[0]] * 2 + [[0, 1]] * 8
    one_pass = Captioning(PipelineConfig(), facts)
    alone = [one_pass.follow(record.faces, shot=record.shot, fresh=record.fresh).track_ids.tolist()
             for chunk in chunks for record in chunk.kept.records()]
    assert numbers == alone


def test_a_video_that_ends_early_ends_at_its_first_short_chunk():
    whole, short = (ChunkResult(columns([])) for _ in range(2))
    cut = ChunkResult(columns([]), truncated=True, end_reason="it looks truncated")
    assert complete_chunks([whole, cut, short]) == ([whole, cut], "it looks truncated")
    assert complete_chunks([whole, short]) == ([whole, short], None)


def test_a_video_transcribed_in_chunks_is_the_single_pass_byte_for_byte(tmp_path):
    """The chunks of the bundled clip, each through a fresh pipeline as a worker runs it, stitched and
    written by the driver's code: the same JSON Lines (boxes, face numbers, captions, probabilities,
    times), WebVTT and annotated copy (drawn from the video decoded once more) as one pass."""
    from emocap.pipeline import Pipeline
    from emocap.sources import sample_clip
    from emocap.transcription import OutputPlan, TranscriptionSettings, transcribe_video, write_transcript

    settings = TranscriptionSettings(progress=False)
    pipeline = Pipeline(config=PIPELINE)
    single = transcribe_video(OutputPlan(sample_clip(), (tmp_path / "one.jsonl", tmp_path / "one.vtt"), tmp_path / "one.mp4"),
                              pipeline, settings)

    facts = probe_video(sample_clip())
    chunks = plan_chunks(0.0, None, facts.duration_s, chunk_s=CHUNK_S, overlap_s=WarmUp.of(PIPELINE).seconds_at(facts.fps))
    assert [c.keep_from_s for c in chunks] == [0.0, 3.0, 6.0] and chunks[1].decode_from_s == pytest.approx(3.0 - 9 / 15)
    results = [transcribe_chunk(job) for job in chunk_jobs(sample_clip(), facts, chunks, PIPELINE)]
    # 9 frames decoded before each later chunk (a whole scan every 8th frame, and one), perceived from its
    # first whole scan on: frames 40-44 before frame 45, and 88-89 before frame 90.
    assert [len(r.kept) for r in results] == [45, 45, 45] and [r.warmup_frames for r in results] == [0, 5, 2]
    frames = stitched_results(results, pipeline.fresh().captioning)
    plan = OutputPlan(sample_clip(), (tmp_path / "chunks.jsonl", tmp_path / "chunks.vtt"), tmp_path / "chunks.mp4")
    stitched = write_transcript(plan, frames, settings, fps=facts.fps, frame_size=facts.size)

    assert stitched.frames == single.frames == 135
    assert (tmp_path / "chunks.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert (tmp_path / "chunks.mp4").read_bytes() == (tmp_path / "one.mp4").read_bytes()
    vtt = (tmp_path / "chunks.vtt").read_text()
    assert vtt == (tmp_path / "one.vtt").read_text()
    lines = vtt.splitlines()
    cues = [(float(timing[6:12]), text.split(" (")[0]) for timing, text in zip(lines, lines[1:]) if " --> " in timing]
    # Collins leaves in the first chunk (2.8 s) and comes back in the third (7 s): the same Face 1.
    assert {face for _, face in cues} == {"Face 1", "Face 2"}
    assert {face for start, face in cues if start < 3} == {"Face 1"} and (7.0, "Face 1") in cues


def test_a_truncated_video_in_chunks_ends_where_one_pass_ends(tmp_path):
    """A file cut short: the chunk where it ends and those after it, found by seeking past its end, say
    so; the video keeps the chunks up to that one, which hold the frames one pass reads."""
    from dataclasses import replace

    from transcribe_fixtures import BLUE, write_clip

    from emocap.errors import DataError
    from emocap.sources import open_path
    from emocap.transcription import TranscriptionSettings, check_complete

    clip = write_clip(tmp_path / "long.avi", [BLUE] * 120)  # 12 s at 10 fps
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])  # MJPG AVI: still opens, ends after about 5 s
    facts = replace(probe_video(clip), duration_s=12.0)  # what the file promised
    chunks = plan_chunks(0.0, None, facts.duration_s, chunk_s=3.0, overlap_s=WarmUp.of(PIPELINE).seconds_at(facts.fps))
    results = [transcribe_chunk(job) for job in chunk_jobs(clip, facts, chunks, PIPELINE)]
    assert [r.truncated for r in results] == [False, True, True, True]
    assert "has no frames after 8.1 s" in results[3].end_reason  # its seek (9 frames before 9 s) found nothing
    kept, ended_early = complete_chunks(results)
    assert kept == results[:2] and "the file looks truncated" in ended_early
    with pytest.raises(DataError, match="looks truncated; nothing was written"):
        check_complete(True, ended_early, TranscriptionSettings())
    with open_path(clip) as source:
        assert [t for r in kept for t in r.kept.times.tolist()] == [frame.time_s for frame in source]


# --- the command, without Ray -------------------------------------------------------------------------

def test_resume_skips_the_videos_whose_outputs_are_there(tmp_path, pipeline, capsys):
    from transcribe_fixtures import HAPPY_THEN_ANGRY, write_clip

    for name in ("a", "b"):
        write_clip(tmp_path / f"{name}.avi", HAPPY_THEN_ANGRY)
    (tmp_path / "a.emotions.vtt").write_text("WEBVTT\n")  # an earlier run finished a.avi (and only a vtt)
    assert run_command([tmp_path, "-o", "vtt", "--resume", "--workers", "1"]) == 0
    assert pipeline.frames == 30  # b.avi only
    assert f"{tmp_path / 'a.avi'}: skipped, its outputs are there (--resume)" in capsys.readouterr().out
    assert run_command([tmp_path, "-o", "vtt", "-o", "srt", "--resume", "--workers", "1"]) == 0
    assert pipeline.frames == 90  # the .srt files were missing: both again


def test_ray_missing_is_one_line_when_asked_for_and_one_process_by_default(tmp_path, pipeline, two_cores,
                                                                           monkeypatch):
    from transcribe_fixtures import HAPPY_THEN_ANGRY, write_clip

    import emocap.cluster

    monkeypatch.setattr(emocap.cluster, "ray_installed", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    write_clip(tmp_path / "a.avi", HAPPY_THEN_ANGRY)
    write_clip(tmp_path / "b.avi", HAPPY_THEN_ANGRY)
    with pytest.raises(EmocapError, match=r"^--workers 2 runs on Ray, which is not installed: pip install 'emocap\[cluster\]'$"):
        run_command([tmp_path, "--workers", "2"])
    with pytest.raises(EmocapError, match=r"^--ray-address 10.0.0.5:6379 runs on Ray, which is not installed"):
        run_command([tmp_path, "--ray-address", "10.0.0.5:6379"])
    assert pipeline.frames == 0
    assert run_command([tmp_path]) == 0 and pipeline.frames == 60


# --- on Ray ------------------------------------------------------------------------------------------

def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def emocap(*argv, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emocap", "transcribe", *map(str, argv)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_an_address_where_no_cluster_answers_is_one_line(tmp_path):
    pytest.importorskip("ray")
    from emocap.sources import sample_clip

    done = emocap(sample_clip(), "-o", tmp_path / "x.vtt", "--ray-address", f"127.0.0.1:{free_port('127.0.0.1')}",
                  env=dict(os.environ), timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"emocap transcribe: error: no Ray cluster answers at --ray-address {done.args[-1]!r}: Connection refused"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


class TwoNodeCluster:
    """A head and a second node, each `ray start --block` (so each is one process, whose children are
    its Ray processes) with one CPU, on loopback addresses, in a folder of their own. Ray moves a
    node on 127.0.0.1 to the machine's network address, so the nodes take 127.0.0.2 and 127.0.0.3,
    also the loopback interface. A token of its own keeps other Ray clients out."""

    HEAD, NODE = "127.0.0.2", "127.0.0.3"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="emocap-ray-", dir="/tmp"))  # Ray's socket paths must be short
        self.address = f"{self.HEAD}:{free_port(self.HEAD)}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.env.pop("RAY_ADDRESS", None)
        ray = [str(Path(sys.executable).with_name("ray")), "start", "--block", "--num-cpus", "1",
               "--disable-usage-stats", "--temp-dir", str(self.folder)]
        self.processes = [
            self._start("head", [*ray, "--head", "--port", self.address.rpartition(":")[2],
                                 "--node-ip-address", self.HEAD, "--include-dashboard", "false"]),
        ]
        self._wait_for("head")
        self.processes.append(self._start("node", [*ray, "--address", self.address, "--node-ip-address", self.NODE]))
        self._wait_for("node")

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:
            return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_for(self, name: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while b"Ray runtime started." not in (self.folder / f"{name}.log").read_bytes():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"the {name} did not start:\n" + (self.folder / f"{name}.log").read_text()[-2000:])
            time.sleep(0.1)

    def task_processes(self, name: str) -> list[int]:
        """Pids of this cluster's workers running the task `name` (Ray titles them ray::NAME)."""
        ours = {p.pid for p in self.processes}
        found = []
        for entry in Path("/proc").iterdir():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                if title.startswith(f"ray::{name}") and ours & set(ancestors(int(entry.name))):
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
        return found

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()  # `ray start --block` stops its own Ray processes on SIGTERM
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    started = TwoNodeCluster()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two videos: the sample clip (three chunks) and its first 4 s (one)."""
    from emocap.sources import sample_clip

    videos = tmp_path_factory.mktemp("videos")
    shutil.copyfile(sample_clip(), videos / "a.mp4")
    cut_clip(sample_clip(), videos / "b.mp4", 4.0)
    return videos


@pytest.fixture(scope="module")
def single_process(folder, tmp_path_factory):
    """The folder's outputs from one process, without Ray."""
    out = tmp_path_factory.mktemp("single")
    assert run_command([folder, "-o", "vtt", "-o", "jsonl", "--out-dir", out, "--workers", "1", "--detect-every", "2"]) == 0
    return outputs_of(out)


def cluster_run(folder: Path, out: Path, cluster: TwoNodeCluster) -> list[str]:
    return [sys.executable, "-m", "emocap", "transcribe", str(folder), "-o", "vtt", "-o", "jsonl", "--out-dir", str(out),
            "--ray-address", cluster.address, "--chunk-seconds", str(CHUNK_S), "--detect-every", "2"]


def test_a_folder_on_a_two_node_cluster_gives_the_single_process_outputs(cluster, folder, single_process, tmp_path):
    done = subprocess.run(cluster_run(folder, tmp_path, cluster), capture_output=True, text=True, env=cluster.env,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert outputs_of(tmp_path) == single_process
    assert len(single_process) == 4 and all(single_process.values())


def test_a_killed_worker_is_replaced_and_the_outputs_are_whole(cluster, folder, single_process, tmp_path):
    run = subprocess.Popen(cluster_run(folder, tmp_path, cluster), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=cluster.env)
    try:
        deadline = time.monotonic() + 120
        while not (workers := cluster.task_processes("transcribe_chunk")):
            assert run.poll() is None and time.monotonic() < deadline, "no chunk was seen running"
            time.sleep(0.02)
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = run.communicate(timeout=180)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    assert outputs_of(tmp_path) == single_process  # every file whole, and nothing else (no .part files)


def test_the_local_ray_gives_the_single_process_outputs(folder, single_process, tmp_path):
    """No cluster named: a Ray started in the command's own process, two workers, on 127.0.0.1 (the
    command refuses to run one that listens further)."""
    pytest.importorskip("ray")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = emocap(folder, "-o", "vtt", "-o", "jsonl", "--out-dir", tmp_path, "--workers", "2",
                  "--chunk-seconds", CHUNK_S, "--detect-every", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert outputs_of(tmp_path) == single_process


def test_a_model_named_with_model_reaches_the_local_rays_workers(folder, single_process, tmp_path):
    """A Ray started here sends its workers no files: they read a --model file at the driver's own path
    (here, a copy of the built-in model, which gives the built-in model's outputs)."""
    pytest.importorskip("ray")
    from emocap.classifier import BUILTIN_MODEL

    model = shutil.copyfile(BUILTIN_MODEL, tmp_path / "mine.onnx")
    out = tmp_path / "out"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = emocap(folder, "-o", "vtt", "-o", "jsonl", "--out-dir", out, "--workers", "2", "--model", model,
                  "--chunk-seconds", CHUNK_S, "--detect-every", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert outputs_of(out) == single_process
