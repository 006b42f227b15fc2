"""Transcription on Ray: a folder, or a long video, as tasks on the cores of this machine or a cluster.

Each video is probed once and cut into chunks (`emocap.chunking`); each chunk is
one Ray task, run by a worker process that builds perception (the detector and
the classifier) from the command line's settings. Workers send back the frames'
records as arrays; this process, the driver, builds no network: it stitches each
video's chunks, runs captioning (tracking, the per-face memory) over them and writes
every output itself, whole or not at all, as soon as the video's last chunk is in. So:

- a worker that dies (its process killed, its node lost) loses nothing that
  was written: Ray runs its task again (up to MAX_RETRIES times);
- an interrupted run leaves the videos it finished complete, and
  `--resume` skips them;
- a video that fails is reported at the end and the others go on.

On a cluster (--ray-address), the code reaches the workers through Ray's runtime
environment (the driver's own emocap package, models included), and so does a
model file given with --model (in the environment's working folder); nothing
needs a shared disk but the videos, which every worker reads at the driver's
absolute path. A Ray started here sends nothing: its workers run on this machine,
import the driver's own emocap (its folder put first on their PYTHONPATH) and read
the model at the driver's absolute path (a runtime environment there would cost
each worker seconds of start-up for nothing: the 26 MB package zipped and
unpacked, and no worker started ahead of the first task).

With no cluster named, Ray is started here, in this process, with one worker
per core, listening on 127.0.0.1 only (Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER
once, on import: 0 keeps a single-machine Ray on the loopback interface), with
a token of this run's own, sending no usage statistics, and keeping its files
in a temporary folder removed at the end: nothing leaves the machine or stays.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from emocap.chunking import (
    DEFAULT_CHUNK_S,
    DEFAULT_OVERLAP_S,
    Chunk,
    ChunkFailure,
    ChunkJob,
    ChunkResult,
    ModelOnWorkers,
    VideoFacts,
    WarmUp,
    chunk_jobs,
    complete_chunks,
    first_failure,
    plan_chunks,
    probe_video,
    seconds_of,
    stitched_results,
    transcribe_chunk,
)
from emocap.errors import EmocapError, first_line
from emocap.pipeline_config import PipelineConfig
from emocap.signals import held
from emocap.transcription import OutputPlan, TranscriptionResult, TranscriptionSettings, check_complete, write_transcript

if TYPE_CHECKING:
    from emocap.captioning import Captioning

MAX_RETRIES = 3
"""Times Ray runs a chunk again after its worker died (a killed process, a lost node); errors in the
video itself are not retried."""
CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a cluster's address to answer before saying it does not: Ray itself retries
for minutes, printing as it goes."""
LOOPBACK_ONLY = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
CARRIED_MODEL = "emocap-model.onnx"
"""A --model file's name in the runtime environment's working folder."""
PACKAGE = Path(__file__).resolve().parent
SIGNAL_WAIT_S = 0.5
"""The longest wait on Ray between two looks at whether Ctrl+C or SIGTERM came (they are held while Ray runs)."""


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


@dataclass(frozen=True)
class ClusterSettings:
    """Where the tasks run. `address`: a running cluster ("HOST:PORT", "ray://HOST:PORT" or "auto"),
    or None for a Ray started here with `workers` worker processes. With an address, `workers`
    caps the tasks running at once (None: one per CPU of the cluster)."""

    address: str | None = None
    workers: int | None = None
    chunk_s: float = DEFAULT_CHUNK_S
    overlap_s: float = DEFAULT_OVERLAP_S

    def __post_init__(self) -> None:
        if self.address is None and not (self.workers or 0) >= 1:
            raise ValueError(f"a local Ray needs workers >= 1, got {self.workers!r}")


@dataclass
class VideoWork:
    """One video on its way: its plan, what the probe found, its chunks and their results so far."""

    plan: OutputPlan
    facts: VideoFacts
    chunks: tuple[Chunk, ...]
    results: list = field(init=False)
    waiting: int = field(init=False)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.chunks)
        self.waiting = len(self.chunks)

    def take(self, index: int, outcome: ChunkResult | ChunkFailure) -> bool:
        """Keep a chunk's outcome; whether it was the last one the video waited for."""
        self.results[index] = outcome
        self.waiting -= 1
        return self.waiting == 0


def plan_video(plan: OutputPlan, settings: TranscriptionSettings, cluster: ClusterSettings,
               config: PipelineConfig) -> VideoWork:
    """A video read (SourceError when it cannot be) and cut into its chunks, each warming up as
    `config`'s detection schedule needs (`WarmUp`)."""
    facts = probe_video(plan.video, start_s=settings.start_s, end_s=settings.end_s, max_side=settings.max_side)
    overlap_s = WarmUp.of(config, cluster.overlap_s).seconds_at(facts.fps)
    chunks = plan_chunks(settings.start_s, settings.end_s, facts.duration_s, chunk_s=cluster.chunk_s,
                         overlap_s=overlap_s, what=f"video {str(plan.video)!r}", workers=cluster.workers or 1)
    return VideoWork(plan, facts, chunks)


def plan_videos(
    plans: Sequence[OutputPlan], settings: TranscriptionSettings, cluster: ClusterSettings, config: PipelineConfig,
) -> list[tuple[OutputPlan, VideoWork | EmocapError]]:
    """Each video probed (once: the run uses what is found here) and cut into chunks, or the error that stops it."""
    planned = []
    for plan in plans:
        try:
            planned.append((plan, plan_video(plan, settings, cluster, config)))
        except EmocapError as error:
            planned.append((plan, error))
    return planned


def shares_work(planned: Sequence[tuple[OutputPlan, VideoWork | EmocapError]]) -> bool:
    """More than one task: several videos, or one in several chunks (else Ray's start-up is all it adds)."""
    return len(planned) > 1 or any(isinstance(work, VideoWork) and len(work.chunks) > 1 for _, work in planned)


def transcribe_on_ray(
    planned: Sequence[tuple[OutputPlan, VideoWork | EmocapError]], captioning: Captioning,
    settings: TranscriptionSettings, cluster: ClusterSettings,
) -> Iterator[tuple[OutputPlan, TranscriptionResult | EmocapError]]:
    """Each video's outcome, as its outputs are written (in the order the videos finish): the
    result, or the error that stopped it. The workers run perception, each building its networks
    from `captioning.config`; this process, the driver, runs `captioning` over each video's stitched
    chunks, and builds no network."""
    works = []
    for plan, work in planned:
        if isinstance(work, EmocapError):
            yield plan, work
        else:
            works.append(work)
    if not works:
        return
    config = captioning.config
    worker_config = config.with_settings(model=None)  # the model travels on its own (ModelOnWorkers)
    with ray_session(cluster, config.model) as (ray, model):
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(transcribe_chunk)
        # Made as they are sent, in order, so that videos finish in order and an archive's million
        # chunks are never all in memory.
        jobs = (((work, index), job) for work in works for index, job in
                enumerate(chunk_jobs(work.plan.video, work.facts, work.chunks, worker_config, model, settings.max_side)))
        finished = 0
        with progress_bar(works, enabled=settings.progress) as progress:
            for (work, index), outcome in run_tasks(ray, task, jobs, in_flight_limit(ray, cluster)):
                progress.update(seconds_of(work.chunks[index], work.facts.duration_s))
                if work.take(index, outcome):
                    with progress.external_write_mode():
                        yield work.plan, finish_video(work, captioning, settings)
                    work.results, finished = [], finished + 1  # its frames are written: let them go
                    progress.set_postfix_str(f"{finished}/{len(works)} videos", refresh=True)


def run_tasks(
    ray, task, jobs: Iterator[tuple[object, ChunkJob]], limit: int,
) -> Iterator[tuple[object, ChunkResult | ChunkFailure]]:
    """(key, outcome) of each (key, job) as its task finishes, with at most `limit` tasks given to Ray at once.
    Ray is called with the stop signals held (see emocap.signals), in waits of at most SIGNAL_WAIT_S, so
    that Ctrl+C or SIGTERM is acted on within that time, as itself."""
    running: dict = {}
    while True:
        with held():
            while len(running) < limit and (item := next(jobs, None)) is not None:
                key, job = item
                running[task.remote(job)] = key
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1, timeout=SIGNAL_WAIT_S)
            outcome = chunk_outcome(ray, ready[0]) if ready else None
        if ready:
            yield running.pop(ready[0]), outcome


def chunk_outcome(ray, ref) -> ChunkResult | ChunkFailure:
    """A finished task's result. A worker that died more than MAX_RETRIES times fails its video; an
    exception in emocap's own code is a bug and stops the run, traceback and all, as it does in one
    process."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError:
        raise
    except ray.exceptions.RayError as error:
        return ChunkFailure(f"its Ray worker was lost {MAX_RETRIES + 1} times: {first_line(error)}")


def finish_video(work: VideoWork, captioning: Captioning, settings: TranscriptionSettings) -> TranscriptionResult | EmocapError:
    """Stitch a video's chunks and write its outputs; the error instead, if a chunk failed or the
    outputs could not be written."""
    failure = first_failure(work.results)
    if failure is not None:
        return failure
    try:
        chunks, ended_early = complete_chunks(work.results)
        check_complete(ended_early is not None, ended_early, settings)
        results = stitched_results(chunks, captioning)
        return write_transcript(work.plan, results, settings, fps=work.facts.fps, frame_size=work.facts.size)
    except EmocapError as error:
        return error


def in_flight_limit(ray, cluster: ClusterSettings) -> int:
    """Tasks handed to Ray at once: twice its CPUs, so none waits for the driver (Ray runs one per
    CPU); --workers N against a cluster: N. Bounded, so a huge archive is not all queued at once."""
    if cluster.address is not None and cluster.workers:
        return cluster.workers
    with held():
        return 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)


@contextlib.contextmanager
def progress_bar(works: Sequence[VideoWork], *, enabled: bool):
    """One bar over every video's chunks, in seconds of video (so its rate reads as times real time)."""
    from tqdm import tqdm

    chunks = sum(len(work.chunks) for work in works)
    total = sum(seconds_of(chunk, work.facts.duration_s) for work in works for chunk in work.chunks)
    with tqdm(
        total=total, desc=f"{len(works)} video{'s' * (len(works) != 1)} in {chunks} chunk{'s' * (chunks != 1)}",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of video [{elapsed}<{remaining}{postfix}]",
        disable=None if enabled else True,  # None: shown on a terminal only
    ) as progress:
        progress.set_postfix_str(f"0/{len(works)} videos")
        yield progress


# --- Ray itself -------------------------------------------------------------------------------------

@contextlib.contextmanager
def ray_session(cluster: ClusterSettings, model: str | None):
    """Ray connected (to the cluster, or started here) with its workers set up to run emocap's code on
    the model (`runtime_env`); (the ray module, where the workers find the model). Shut down on leaving, and a Ray
    started here leaves nothing behind: its logs and files live in a folder removed at the end."""
    ray = import_ray(local=cluster.address is None)
    with contextlib.ExitStack() as stack:
        local_folder = None if cluster.address else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="emocap-ray-", ignore_cleanup_errors=True)
        )
        stack.callback(shutdown_quietly, ray)  # before the folder goes; also when a signal ends the start
        with carried_model(model, local=cluster.address is None) as (on_workers, folder):
            connect(ray, cluster, runtime_env(cluster, folder), local_folder)
        yield ray, on_workers


def runtime_env(cluster: ClusterSettings, model_folder: Path | None) -> dict:
    """Ray's runtime environment for the workers. A cluster's get emocap's package (models included) and
    `model_folder` as their working folder. A Ray started here gets none at all: its workers are this
    machine's processes, started by ray.init before the first task (any runtime environment, even one of
    environment variables alone, makes each task wait seconds for a worker of its own), and they import
    the driver's emocap from the PYTHONPATH they inherit (`import_ray`)."""
    if cluster.address is None:
        return {}
    env = {"py_modules": [str(PACKAGE)], "excludes": ["__pycache__", "*.pyc"]}
    if model_folder is not None:
        env["working_dir"] = str(model_folder)
    return env


def shutdown_quietly(ray) -> None:
    """ray.shutdown, without the lines its C++ side prints to fd 2 when tasks are still running (an
    interrupted run: "task_manager.cc: Failed to push error to driver ..."), under the run's own line;
    a signal during it is acted on after it, under this program's handlers (put back by held())."""
    with held(), quiet_stderr():
        ray.shutdown()


def import_ray(*, local: bool):
    """The ray module; for a Ray started here, first made to listen on 127.0.0.1 only, to admit only
    this run's processes, by a token of its own (given to them in the environment, where Ray would
    otherwise save one in ~/.ray), to send no usage statistics (nothing leaves the machine), and to
    start workers that import this emocap."""
    if local:  # before the import: Ray reads these once, and passes them on to the processes it starts
        os.environ[LOOPBACK_ONLY[0]] = LOOPBACK_ONLY[1]
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # The workers Ray starts here inherit this environment: the folder this emocap came from, first
        # on their path, makes them run the driver's own code (not another emocap installed here).
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if paths[0] != str(PACKAGE.parent):  # once, however many runs this process makes
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE.parent), *paths]))
    # Ray's C++ crash handler takes SIGTERM too, and aborts the driver on it (exit -6) when a run is
    # terminated while Ray starts; this program's handler cleans up instead (workers inherit the setting).
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    try:
        import ray
    except ImportError:
        raise EmocapError("transcribing on Ray needs the ray package: pip install 'emocap[cluster]'") from None
    return ray


def connect(ray, cluster: ClusterSettings, runtime_env: dict, local_folder: str | None = None) -> None:
    """ray.init, with Ray's log lines kept to errors and this program's signal handling kept through it:
    the stop signals held (acted on when it returns) and Ray kept from putting in SIGTERM handlers of
    its own, which exit with no message. A Ray started here keeps its files in `local_folder`."""
    options = dict(runtime_env=runtime_env, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if cluster.address is None:
            options.update(num_cpus=cluster.workers, include_dashboard=False, _temp_dir=local_folder)
        else:
            check_reachable(cluster.address)
        with held(), quiet_stderr(), ray_sigterm_handlers_refused(ray):
            ray.init(address=cluster.address or "local", **options)
        if cluster.address is None:
            check_loopback(ray)
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as error:
        shutdown_quietly(ray)
        where = "start Ray here" if cluster.address is None else f"connect to the Ray cluster at {cluster.address!r}"
        raise EmocapError(f"cannot {where}: {first_line(error)}") from None


@contextlib.contextmanager
def ray_sigterm_handlers_refused(ray) -> Iterator[None]:
    """Ray's setter of SIGTERM handlers made to do nothing for the block: ray.init sets two (one calls
    sys.exit(15), one kills Ray's processes and calls sys.exit(1)), each in place until the next."""
    utils = getattr(getattr(ray, "_private", None), "utils", None)
    setter = getattr(utils, "set_sigterm_handler", None)
    if setter is None:  # another Ray: held() puts this program's handlers back after ray.init all the same
        yield
        return
    utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        utils.set_sigterm_handler = setter


@contextlib.contextmanager
def quiet_stderr():
    """File descriptor 2 sent to /dev/null: Ray's C++ side prints there, past Python's logging, a line a
    second while it retries an address that answers but is not Ray's (a dashboard's, say); the error
    that ends it is this program's, in one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_loopback(ray) -> None:
    """Refuse a local Ray that listens beyond this machine (possible only when ray was imported before
    emocap could set LOOPBACK_ONLY)."""
    address = ray.util.get_node_ip_address()
    if address != "127.0.0.1":
        ray.shutdown()
        raise EmocapError(f"the local Ray would listen on {address}, not only 127.0.0.1; set "
                          f"{LOOPBACK_ONLY[0]}={LOOPBACK_ONLY[1]} before Python imports ray")


def check_reachable(address: str) -> None:
    """A one-line error, in seconds, for an address where nothing answers (Ray would retry for minutes)."""
    if address == "auto":  # Ray finds a cluster started on this machine, or says at once that there is none
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdecimal():
        raise EmocapError(f"--ray-address {address!r} is not HOST:PORT (what `ray start --head` prints, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise EmocapError(f"no Ray cluster answers at --ray-address {address!r}: {reason}") from None


@contextlib.contextmanager
def carried_model(model: str | None, *, local: bool = False) -> Iterator[tuple[ModelOnWorkers, Path | None]]:
    """Where the workers find `model`, and the folder to send them with it (None when they have it):
    `local` workers (on this machine) read the file where it is; a cluster's find the built-in models
    inside the package, and another file in a folder of its own."""
    if model is None:
        yield ModelOnWorkers(), None
        return
    path = Path(model).resolve()
    if local:
        yield ModelOnWorkers(at=str(path)), None
        return
    if path.is_relative_to(PACKAGE):
        yield ModelOnWorkers(in_package=str(path.relative_to(PACKAGE))), None
        return
    folder = Path(tempfile.mkdtemp(prefix="emocap-model-"))
    try:
        shutil.copyfile(path, folder / CARRIED_MODEL)
        yield ModelOnWorkers(carried=CARRIED_MODEL), folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
