"""Sizing a video archive on Ray: Ray's fixed start-up, a worker's rate and the driver's stitching, measured apart.

One video of the bundled sample clip on a loop (640x360, 15 fps, two faces; --minutes long, built
once into out/cluster-speed/long.mp4 as cluster_speed.py builds it) is transcribed by the command a
user types, `emocap transcribe VIDEO -o VTT --workers N`, on a local Ray of N one-thread workers
(Ray forced for one worker too), for each N of --workers. The command runs with its parts timed from inside it:

  (a) the fixed start-up, paid once a command whatever the video's length: Python, the imports and
      the driver's pipeline; ray.init; the first task reaching each worker (its process, its imports);
      each worker building its pipeline; Ray's shutdown and the exit;
  (b) a worker's rate: seconds of video kept per second of task time (wall and CPU), its chunks'
      warm-up included, with one thread (ONNX Runtime, FFmpeg, OpenCV);
  (c) the driver's stitching: tracking the chunks' faces and writing the WebVTT once the video's last
      chunk is in (it overlaps no worker), per hour of video;
  (d) with N > 1 in --workers: N workers' speed-up over one, start-up included (the whole command)
      and excluded (and excluding the stitching too), beside what the parts of the one-worker run
      predict; the rest is the workers slowing each other (cores, caches, the driver, Ray's services).

Then the sizing: machine-hours for --hours of such video on M machines of --cores cores, from (a)-(c).

Run:  python benchmarks/archive_sizing.py [--workers 1 2] [--minutes 10] [--cores 8] [--json FILE]
Needs the cluster extra (pip install '.[cluster]'). Wall-clock rates need idle cores: on a loaded
machine read the CPU figures. For the 2-worker figure give the command both cores, with nothing else
running:  taskset -c 0,1 python benchmarks/archive_sizing.py --workers 1 2 --json out/archive_sizing.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from common import build_clip, process_tree, save_report

OUT = Path(__file__).resolve().parent.parent / "out" / "cluster-speed"
HOUR_S = 3600.0


# --- the command, timed from inside -----------------------------------------------------------------

def timed_task(log_dir: str):
    """`transcribe_chunk` that also appends its timings to LOG_DIR/PID.jsonl (pickled by value to the
    workers): when it started, when the worker's pipeline was there (built by the first task of a
    process, cached after), when it ended, its CPU seconds, and the frames it kept and warmed up on."""

    def run(job):
        from emocap import chunking

        started = time.time()
        chunking.worker_perception(job.pipeline, job.model)
        built, cpu = time.time(), time.process_time()
        outcome = chunking.transcribe_chunk(job)
        record = {"pid": os.getpid(), "started": started, "built": built, "ended": time.time(),
                  "cpu_s": time.process_time() - cpu, "fps": job.fps, "kept_frames": len(getattr(outcome, "kept", ())),
                  "warmup_frames": getattr(outcome, "warmup_frames", 0)}
        with open(Path(log_dir) / f"{os.getpid()}.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        return outcome

    return run


def run_as_driver(workers: int, log_dir: str, argv: list[str]) -> int:
    """`emocap transcribe ARGV` on a local Ray of `workers` workers, its parts timed into LOG_DIR/driver.json."""
    import contextlib

    import emocap.cluster as cluster
    import emocap.commands.transcribe as transcribe
    from emocap.cli import main

    marks: dict = {"started": time.time(), "stitching": []}
    session, finish = cluster.ray_session, cluster.finish_video

    @contextlib.contextmanager
    def timed_session(*args, **kwargs):
        marks["session_entered"] = time.time()
        try:
            with session(*args, **kwargs) as opened:
                marks["session_ready"] = time.time()
                yield opened
                marks["session_leaving"] = time.time()
        finally:
            marks["session_closed"] = time.time()

    def timed_finish(*args, **kwargs):
        wall, cpu = time.time(), time.thread_time()
        try:
            return finish(*args, **kwargs)
        finally:
            marks["stitching"].append({"wall_s": time.time() - wall, "cpu_s": time.thread_time() - cpu})

    transcribe.cluster_settings = lambda args: cluster.ClusterSettings(workers=workers)
    cluster.ray_session, cluster.finish_video = timed_session, timed_finish
    cluster.transcribe_chunk = timed_task(log_dir)
    code = main(argv)
    marks["returned"] = time.time()
    (Path(log_dir) / "driver.json").write_text(json.dumps(marks))
    return code


@dataclass(frozen=True)
class Run:
    """One command's parts, in seconds (wall unless named cpu)."""

    workers: int
    total_s: float
    driver_start_s: float
    ray_init_s: float
    first_task_s: float
    pipeline_build_s: float
    shutdown_s: float
    exit_s: float
    work_s: float
    work_cpu_s: float
    work_phase_s: float
    """From the moment the last worker is at work to the stitching: the part N workers share."""
    stitch_s: float
    stitch_cpu_s: float
    kept_video_s: float
    warmup_video_s: float
    chunks: int
    driver_cpu_s: float
    """The driver's process, start to exit (imports and its pipeline included)."""
    services_cpu_s: float
    """Ray's own processes (GCS, raylet, agents), start to exit."""

    @property
    def startup_s(self) -> float:
        """(a): what the command pays whatever the video's length."""
        return (self.driver_start_s + self.ray_init_s + self.first_task_s + self.pipeline_build_s
                + self.shutdown_s + self.exit_s)

    @property
    def rate(self) -> float:
        """(b): seconds of video kept per second of a worker's task time (warm-up included)."""
        return self.kept_video_s / self.work_s

    @property
    def cpu_rate(self) -> float:
        return self.kept_video_s / self.work_cpu_s

    @property
    def stitch_s_per_hour(self) -> float:
        """(c): the driver's stitching and writing, seconds per hour of video."""
        return self.stitch_s * HOUR_S / self.kept_video_s


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of process `pid` so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample_cpu(root: int, seen: dict[int, float], stop: threading.Event) -> None:
    """The last CPU seconds seen of every process under `root`, twice a second until `stop`."""
    while not stop.wait(0.5):
        for pid in process_tree(root):
            if (cpu := cpu_seconds(pid)) is not None:
                seen[pid] = cpu


def timed_command(video: Path, vtt: Path, workers: int) -> Run:
    """`emocap transcribe VIDEO -o VTT` on a local Ray of `workers` workers, and its parts."""
    with tempfile.TemporaryDirectory(prefix="archive-sizing-") as log_dir:
        command = [sys.executable, __file__, "--as-driver", str(workers), log_dir, "--",
                   "transcribe", str(video), "-o", str(vtt), "--workers", str(workers)]
        started, seen, stop = time.time(), {}, threading.Event()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sampler = threading.Thread(target=sample_cpu, args=(process.pid, seen, stop), daemon=True)
        sampler.start()
        _, errors = process.communicate()
        ended = time.time()
        stop.set()
        sampler.join()
        if process.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
        marks = json.loads((Path(log_dir) / "driver.json").read_text())
        tasks = [json.loads(line) for log in Path(log_dir).glob("*.jsonl") for line in log.read_text().splitlines()]
    run = parts(workers, started, ended, marks, tasks)
    workers_seen = {task["pid"] for task in tasks}
    services = sum(cpu for pid, cpu in seen.items() if pid != process.pid and pid not in workers_seen)
    return replace(run, driver_cpu_s=seen.get(process.pid, float("nan")), services_cpu_s=services)


def parts(workers: int, started: float, ended: float, marks: dict, tasks: list[dict]) -> Run:
    """The command's parts from its marks: the start-up up to the moment the last worker has its
    pipeline and is at work (a worker that gets no task adds nothing), the work, the stitching."""
    first_by_worker = {}
    for task in sorted(tasks, key=lambda task: task["started"]):
        first_by_worker.setdefault(task["pid"], task)
    last_first = max(first_by_worker.values(), key=lambda task: task["built"])
    fps = tasks[0]["fps"] or 1.0
    stitch_s = sum(mark["wall_s"] for mark in marks["stitching"])
    return Run(
        workers=workers, total_s=ended - started,
        driver_start_s=marks["session_entered"] - started,
        ray_init_s=marks["session_ready"] - marks["session_entered"],
        first_task_s=last_first["started"] - marks["session_ready"],
        pipeline_build_s=last_first["built"] - last_first["started"],
        shutdown_s=marks["session_closed"] - marks["session_leaving"],
        exit_s=ended - marks["returned"],
        work_s=sum(task["ended"] - task["built"] for task in tasks),
        work_cpu_s=sum(task["cpu_s"] for task in tasks),
        work_phase_s=marks["session_leaving"] - last_first["built"] - stitch_s,
        stitch_s=stitch_s,
        stitch_cpu_s=sum(mark["cpu_s"] for mark in marks["stitching"]),
        kept_video_s=sum(task["kept_frames"] for task in tasks) / fps,
        warmup_video_s=sum(task["warmup_frames"] for task in tasks) / fps,
        chunks=len(tasks),
        driver_cpu_s=float("nan"), services_cpu_s=float("nan"),
    )


# --- what the parts say ------------------------------------------------------------------------------

def print_run(run: Run) -> None:
    print(f"\n--workers {run.workers}: {run.total_s:.1f} s from start to exit, {run.chunks} chunks")
    print(f"  (a) fixed start-up {run.startup_s:.1f} s: Python, imports and the driver's pipeline "
          f"{run.driver_start_s:.1f}, ray.init {run.ray_init_s:.1f}, the first task reaching the last worker "
          f"{run.first_task_s:.1f}, its pipeline {run.pipeline_build_s:.1f}, Ray's shutdown {run.shutdown_s:.1f}, "
          f"the exit {run.exit_s:.1f}")
    print(f"  (b) per worker: {run.kept_video_s:.0f} s of video kept ({run.warmup_video_s:.0f} s of warm-up decoded "
          f"besides, {run.warmup_video_s / run.kept_video_s:.1%}) in {run.work_s:.1f} s of task time, "
          f"{run.work_cpu_s:.1f} s of CPU: {run.rate:.2f} s of video a wall second, {run.cpu_rate:.2f} a CPU second")
    print(f"  (c) the driver's stitching and writing, after the last chunk: {run.stitch_s:.2f} s "
          f"({run.stitch_cpu_s:.2f} s of CPU), {run.stitch_s_per_hour:.1f} s per hour of video")
    print(f"      the shared part (last worker at work to the stitching): {run.work_phase_s:.1f} s")
    print(f"  beside the workers, over the run: the driver {run.driver_cpu_s:.1f} s of CPU (its start-up and "
          f"stitching included), Ray's services {run.services_cpu_s:.1f} s; together "
          f"{(run.driver_cpu_s + run.services_cpu_s) / run.total_s:.0%} of a core")


def speed_ups(one: Run, many: Run) -> dict:
    """(d): `many`'s speed-up over `one`, start-up included and excluded, against the parts' prediction."""
    n = many.workers
    predicted = one.startup_s + one.work_phase_s / n + one.stitch_s
    return {
        "workers": n,
        "included": one.total_s / many.total_s,
        "startup_excluded": (one.total_s - one.startup_s) / (many.total_s - many.startup_s),
        "startup_and_stitching_excluded": one.work_phase_s / many.work_phase_s,
        "predicted_included": one.total_s / predicted,
        "task_time_growth": (many.work_s / many.kept_video_s) / (one.work_s / one.kept_video_s),
    }


def print_speed_ups(ups: dict) -> None:
    n = ups["workers"]
    print(f"\n  (d) {n} workers over one: {ups['included']:.2f}x start-up included, {ups['startup_excluded']:.2f}x "
          f"excluded, {ups['startup_and_stitching_excluded']:.2f}x excluding the stitching too")
    print(f"      one worker's parts predict {ups['predicted_included']:.2f}x start-up included (its start-up and "
          f"stitching, the shared part / {n}); a second of video took {ups['task_time_growth']:.2f}x the task time "
          f"of one worker's (the workers slowing each other)")


@dataclass(frozen=True)
class Sizing:
    """Machine-hours for `video_hours` of video on machines of `cores` cores, one command (one driver,
    `cores` workers) each, from a worker's rate, the driver's stitching and the fixed start-up."""

    video_hours: float
    cores: int
    rate: float
    stitch_s_per_hour: float
    startup_s: float
    efficiency: float = 1.0

    @property
    def core_s_per_video_hour(self) -> float:
        """Core-seconds an hour of video costs: the workers' (at `efficiency` when they share a machine)
        and the driver's stitching (one thread, beside them: in an archive it overlaps the next videos' chunks)."""
        return HOUR_S / (self.rate * self.efficiency) + self.stitch_s_per_hour

    def machine_hours(self, machines: int) -> float:
        """All the machines' hours together: the work shared out, and each machine's command starting once."""
        work = self.video_hours * self.core_s_per_video_hour / (self.cores * HOUR_S)
        return work + machines * self.startup_s / HOUR_S

    def drivers_needed(self) -> int:
        """Commands a machine needs so that stitching keeps up: one driver stitches
        HOUR_S / stitch_s_per_hour hours of video an hour."""
        video_hours_an_hour = self.cores * HOUR_S / self.core_s_per_video_hour
        return max(1, -int(-video_hours_an_hour * self.stitch_s_per_hour // HOUR_S))


def print_sizing(sizings: dict[str, Sizing], machines: list[int]) -> dict:
    """The sizing's formula and its machine-hours for each machine count, from each kind of figure."""
    first = next(iter(sizings.values()))
    print(f"\nsizing {first.video_hours:,.0f} hours of video like this one on M machines of K = {first.cores} "
          f"cores, a command each (a driver and {first.cores} one-thread workers):")
    print("  machine-hours = H x (3600 / (r x e) + d) / (K x 3600) + M x S / 3600; "
          "hours on M machines = machine-hours / M")
    print("  (r: seconds of video a worker-second; e: a worker's efficiency beside the others; d: seconds of stitching "
          "an hour of video; S: the fixed start-up)")
    table: dict = {}
    for name, sizing in sizings.items():
        print(f"  from {name}: H = {sizing.video_hours:g}, r = {sizing.rate:.2f}, e = {sizing.efficiency:.2f}, "
              f"d = {sizing.stitch_s_per_hour:.1f}, S = {sizing.startup_s:.1f}")
        for count in machines:
            total = sizing.machine_hours(count)
            table.setdefault(name, {})[count] = round(total, 1)
            print(f"    {count:>4} machine(s): {total:>9,.0f} machine-hours, {total / count:>8,.1f} h "
                  f"({total / count / 24:,.1f} days)")
        if sizing.drivers_needed() > 1:
            print(f"    one driver cannot stitch as fast as {sizing.cores} workers transcribe: run "
                  f"{sizing.drivers_needed()} commands a machine, each on a share of the archive")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="worker counts to run, one command each; the first should be 1 (default: 1)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the video (default: 10)")
    parser.add_argument("--hours", type=float, default=10_000, help="the archive, hours of video (default: 10000)")
    parser.add_argument("--cores", type=int, default=8, help="cores a machine, for the sizing (default: 8)")
    parser.add_argument("--machines", type=int, nargs="+", default=[1, 10, 50],
                        help="machine counts (default: 1 10 50)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    options = parser.parse_args()
    if options.workers[0] != 1 or min(options.workers) < 1 or min(options.machines) < 1 or options.cores < 1:
        parser.error(f"--workers must start with 1 and counts must be positive, got --workers "
                     f"{' '.join(map(str, options.workers))} --machines {' '.join(map(str, options.machines))} "
                     f"--cores {options.cores}")
    if not options.hours > 0:
        parser.error(f"--hours must be positive, got {options.hours:g}")
    if not options.minutes >= 2:
        parser.error(f"--minutes must be 2 or more (start-up should not dominate), got {options.minutes:g}")

    from emocap.onnx_session import cpu_features

    video = OUT / "long.mp4"  # cluster_speed.py's long video, built the same way: one build serves both
    seconds = build_clip(video, options.minutes * 60)
    cores = sorted(os.sched_getaffinity(0))
    print(f"video: {seconds / 60:g} min, 640x360, 15 fps, two faces ({video}), chunks of 60 s")
    print(f"machine: {cpu_features().describe()}; this command may use cores {cores}; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    runs = [timed_command(video, OUT / f"loop-w{workers}.vtt", workers) for workers in options.workers]
    report: dict = {"video_minutes": seconds / 60, "cores_allowed": cores, "runs": []}
    for run in runs:
        print_run(run)
        report["runs"].append({**asdict(run), "startup_s": run.startup_s, "rate": run.rate,
                               "cpu_rate": run.cpu_rate, "stitch_s_per_hour": run.stitch_s_per_hour})
    texts = {(OUT / f"loop-w{workers}.vtt").read_text() for workers in options.workers}
    report["same_subtitles"] = len(texts) == 1
    print(f"\nthe WebVTT of every run is the same: {report['same_subtitles']}")
    report["speed_ups"] = [speed_ups(runs[0], run) for run in runs[1:]]
    for ups in report["speed_ups"]:
        print_speed_ups(ups)
    one, efficiency = runs[0], 1.0
    if len(runs) > 1:  # measured with the most workers run; assumed to hold for K a machine
        efficiency = report["speed_ups"][-1]["startup_and_stitching_excluded"] / runs[-1].workers
    sizings = {
        "wall time": Sizing(options.hours, options.cores, one.rate, one.stitch_s_per_hour, one.startup_s, efficiency),
        # What idle cores give a one-thread worker that never waits: read this one on a loaded machine.
        "CPU time": Sizing(options.hours, options.cores, one.cpu_rate, one.stitch_cpu_s * HOUR_S / one.kept_video_s,
                           one.startup_s, efficiency),
    }
    report["sizing"] = {name: asdict(sizing) for name, sizing in sizings.items()}
    report["sizing"]["machine_hours"] = print_sizing(sizings, options.machines)
    if len(runs) == 1:
        print("  e = 1 is assumed, not measured: run with --workers 1 2 on two idle cores to measure it")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return save_report(options.json, report)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--as-driver"]:  # the command itself, run by timed_command
        sys.exit(run_as_driver(int(sys.argv[2]), sys.argv[3], sys.argv[5:]))
    sys.exit(main())
