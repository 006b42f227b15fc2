"""Wall time and peak memory of `emocap transcribe` with 1 and 2 workers: a 10-minute video, 20 short ones.

The clips are built here from the bundled sample clip (640x360, 15 fps, two
public-domain portraits) played on a loop, as H.264 by emocap's own video
writer, into out/cluster-speed/ (kept for the next run):

    long.mp4       10 minutes (9,000 frames), one video: --workers 2 cuts it in 60 s chunks
    short/NN.mp4   20 clips of 15 s, each starting elsewhere in the loop

Each case runs the command a user types, in a process of its own, timed from
start to exit (Python, models, Ray's start-up and the writing included):

    emocap transcribe long.mp4 -o long.vtt --workers 1      one process, no Ray (as before Ray)
    emocap transcribe long.mp4 -o long.vtt --workers 2      a local Ray with two worker processes

and, on the long video, scale-out as it means on a cluster: the same command on a local Ray with
one worker (Ray forced where the command would run in one process), each worker one thread on one
core, Ray's start-up included. `--workers 2` over that is what a second core (or node) adds.

While it runs, every process of the command's tree is sampled five times a
second for its resident memory: the peak of the driver (the command's own
process), of each Ray worker (the processes that ran `transcribe_chunk`) and
of Ray's own services. The WebVTT of both runs are compared (they must be
the same). Then the ceiling: how many cores `--workers 1` kept busy (its CPU
time over its wall time) and a worker's CPU time a second of video (one chunk
run here as a worker runs it) give the most N workers could gain on this
machine with nothing lost to start-up, overlap or the driver. An archive's size in machine-hours, from
start-up, a worker's rate and the driver's stitching measured apart: benchmarks/archive_sizing.py.

Run:  python benchmarks/cluster_speed.py [--workers 1 2] [--minutes 10] [--clips 20] [--json out/cluster_speed.json]
Needs the cluster extra (pip install '.[cluster]').
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import build_clip, process_tree, save_report

OUT = Path(__file__).resolve().parent.parent / "out" / "cluster-speed"
SHORT_CLIP_S = 15.0
SAMPLE_PERIOD_S = 0.2


@dataclass
class ProcessPeaks:
    """The peak resident memory in MiB of each process of the tree under `root` (the command itself),
    and which of them were Ray workers running chunks."""

    root: int
    peaks: dict[int, float] = field(default_factory=dict)
    workers: set[int] = field(default_factory=set)

    def columns(self) -> tuple[float, float, float]:
        """(the driver's peak, the largest worker's peak, Ray's services together) in MiB."""
        workers = [self.peaks[pid] for pid in self.workers]
        services = sum(mib for pid, mib in self.peaks.items() if pid != self.root and pid not in self.workers)
        return self.peaks.get(self.root, float("nan")), max(workers, default=float("nan")), services


def sample(peaks: ProcessPeaks, stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_PERIOD_S):
        for pid in process_tree(peaks.root):
            try:
                title = (Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]).decode(errors="replace")
                rss = next(int(line.split()[1]) / 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                continue
            peaks.peaks[pid] = max(peaks.peaks.get(pid, 0.0), rss)
            if title.startswith("ray::transcribe_chunk"):
                peaks.workers.add(pid)


FORCED_RAY = """
import sys
import emocap.commands.transcribe as transcribe
from emocap.cluster import ClusterSettings
transcribe.cluster_settings = lambda args: ClusterSettings(workers=args.workers)
from emocap.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""`emocap` with every run on a local Ray of --workers workers, one as well (the command runs --workers 1
in its own process, with no Ray)."""


def run_case(inputs: Path, outputs: list[str], workers: int, *, on_ray: bool = False) -> tuple[float, float, ProcessPeaks]:
    """Seconds the command took, the CPU seconds of it and of the children it waited for (Ray's
    workers are not among them), and the memory peaks of its processes. `on_ray`: on Ray even for
    one worker."""
    program = ["-c", FORCED_RAY] if on_ray else ["-m", "emocap"]
    command = [sys.executable, *program, "transcribe", str(inputs), *outputs, "--workers", str(workers)]
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = ProcessPeaks(process.pid)
    sampler = threading.Thread(target=sample, args=(peaks, stop), daemon=True)
    sampler.start()
    _, errors = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, peaks


def outputs_for(case: str, workers: int) -> list[str]:
    if case.startswith("long"):
        return ["-o", str(OUT / f"{case}-w{workers}.vtt")]
    return ["-o", "vtt", "--out-dir", str(OUT / f"{case}-w{workers}")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long video (default: 10)")
    parser.add_argument("--clips", type=int, default=20, help="short clips in the folder (default: 20)")
    parser.add_argument("--cases", nargs="+", choices=("long", "folder"), default=["long", "folder"])
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args()

    from emocap.onnx_session import cpu_features

    long_clip = OUT / "long.mp4"
    cases = {"long": (long_clip, build_clip(long_clip, options.minutes * 60))}
    short = OUT / f"short-{options.clips}"
    seconds = sum(build_clip(short / f"{i:02d}.mp4", SHORT_CLIP_S, offset_frames=37 * i) for i in range(options.clips))
    cases["folder"] = (short, seconds)
    cases = {name: case for name, case in cases.items() if name in options.cases}
    print(f"cases: long = {options.minutes:g} min in one 640x360 15 fps video; folder = {options.clips} videos "
          f"of {SHORT_CLIP_S:g} s ({seconds / 60:.1f} min)")
    print(f"machine: {cpu_features().describe()}, {len(os.sched_getaffinity(0))} cores")
    print(f"{'case':>6}  {'workers':>7}  {'seconds':>8}  {'real-time factor':>16}  {'speed-up':>8}  "
          f"{'driver MiB':>10}  {'worker MiB':>10}  {'Ray services MiB':>16}")
    report: dict = {"cases": {}}
    for name, (inputs, video_s) in cases.items():
        baseline = None
        for workers in options.workers:
            elapsed, cpu, peaks = run_case(inputs, outputs_for(name, workers), workers)
            baseline = baseline or elapsed
            driver, worker, services = peaks.columns()
            row = {"workers": workers, "seconds": round(elapsed, 2), "video_seconds": round(video_s, 1),
                   "real_time_factor": round(elapsed / video_s, 3), "speed_up": round(baseline / elapsed, 2),
                   "driver_peak_mib": round(driver, 1), "worker_peak_mib": round(worker, 1),
                   "ray_services_mib": round(services, 1), "worker_processes": len(peaks.workers)}
            if workers == 1:
                row["cores_busy"] = round(cpu / elapsed, 2)
            report["cases"].setdefault(name, []).append(row)
            print(f"{name:>6}  {workers:>7}  {elapsed:>8.1f}  {elapsed / video_s:>16.3f}  {baseline / elapsed:>7.2f}x  "
                  f"{driver:>10.0f}  {worker:>10.0f}  {services:>16.0f}")
        if name == "long" and len(options.workers) > 1:
            texts = {(OUT / f"long-w{w}.vtt").read_text() for w in options.workers}
            print(f"        the WebVTT of every run is the same: {len(texts) == 1}")
            report["same_subtitles"] = len(texts) == 1
    if "long" in cases:
        print_scale_out(report, long_clip, cases["long"][1], options.workers)
    print_ceiling(report, long_clip)
    return save_report(options.json, report)


def print_scale_out(report: dict, long_clip: Path, video_s: float, workers: list[int]) -> None:
    """The long video on a local Ray of one worker (one thread, one core), against the command's
    runs on Ray with more: what each added worker gives, Ray's start-up in every figure."""
    many = [row for row in report["cases"]["long"] if row["workers"] > 1]
    if not many:
        return
    elapsed, _, peaks = run_case(long_clip, outputs_for("long-ray", 1), 1, on_ray=True)
    driver, worker, services = peaks.columns()
    same = (OUT / "long-ray-w1.vtt").read_text() == (OUT / f"long-w{many[0]['workers']}.vtt").read_text()
    report["scale_out"] = {"ray_1_worker_seconds": round(elapsed, 2), "driver_peak_mib": round(driver, 1),
                           "worker_peak_mib": round(worker, 1), "ray_services_mib": round(services, 1),
                           "same_subtitles": same}
    print(f"\nscale-out on Ray, each worker one thread on one core, Ray's start-up included (long video):")
    print(f"  1 worker: {elapsed:.1f} s (real-time factor {elapsed / video_s:.3f}; worker {worker:.0f} MiB, "
          f"Ray's services {services:.0f} MiB); the same WebVTT as --workers {many[0]['workers']}: {same}")
    for row in many:
        gain = elapsed / row["seconds"]
        report["scale_out"][f"{row['workers']}_workers_speed_up"] = round(gain, 2)
        print(f"  {row['workers']} workers: {row['seconds']:.1f} s, {gain:.2f}x one worker "
              f"({gain / row['workers']:.0%} of linear)")


def worker_seconds_per_video_second(video: Path) -> float:
    """CPU seconds a worker spends on a second of video: the first chunk (DEFAULT_CHUNK_S) of `video` through
    `transcribe_chunk` in this process, as a Ray worker runs it (one ONNX Runtime thread), after a
    first call that builds the pipeline."""
    from emocap.chunking import DEFAULT_CHUNK_S, WarmUp, chunk_jobs, plan_chunks, probe_video, transcribe_chunk
    from emocap.pipeline_config import PipelineConfig

    facts = probe_video(video)
    chunks = plan_chunks(0.0, None, facts.duration_s, chunk_s=DEFAULT_CHUNK_S,
                         overlap_s=WarmUp.of(PipelineConfig()).seconds_at(facts.fps))
    job = next(iter(chunk_jobs(video, facts, chunks[:1], PipelineConfig())))
    transcribe_chunk(job)
    started = time.process_time()
    transcribe_chunk(job)
    return (time.process_time() - started) / min(DEFAULT_CHUNK_S, facts.duration_s)


def print_ceiling(report: dict, long_clip: Path) -> None:
    """The most N workers could gain on the long video against --workers 1 here: N cores each doing a
    worker's CPU work a second of video, with no start-up, no overlap and no driver."""
    rows = {row["workers"]: row for row in report["cases"].get("long", [])}
    if 1 not in rows:
        return
    one = rows[1]
    per_second = worker_seconds_per_video_second(long_clip)
    cores = len(os.sched_getaffinity(0))
    report["ceiling"] = {"worker_cpu_s_per_video_s": round(per_second, 4), "cores_busy_with_1": one["cores_busy"]}
    print(f"\nceiling: --workers 1 kept {one['cores_busy']:.2f} cores busy; a worker needs {per_second:.3f} CPU s a "
          f"second of video; on the long video")
    for workers in range(2, cores + 1):
        best = one["real_time_factor"] / (per_second / workers)
        report["ceiling"][f"{workers}_workers"] = round(best, 2)
        print(f"  {workers} workers could at best be {best:.2f}x faster than --workers 1 (all {workers} cores busy, "
              "no start-up, no overlap, no driver)")


if __name__ == "__main__":
    sys.exit(main())
