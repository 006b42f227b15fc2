"""ONNX Runtime's session options, each against today's (`emocap.onnx_session.session_options`), on this CPU.

Every variant changes one thing in today's options and opens fresh sessions of the built-in emotion model
and of MTCNN's three networks with them. The variants take turns call by call, so a load on the CPU that comes
and goes falls on all of them alike; each figure is the median over --rounds rounds of a round's median. With
one thread a network, "spinning on" changes nothing (there is no pool to spin), so its ratio shows the noise
left. Measured:

  classifier ms a face at batch 1, 4 and 8 (`EmotionClassifier.predict`, preprocessing included)
  MTCNN ms a frame: a whole-frame scan of 640x480 with 1 and with 4 real faces (`FaceDetector.detect`)

The outputs are checked equal to today's (the emotion probabilities to 1e-4, the same boxes to 0.5 px), so a
faster variant that changes the answers is flagged. Run from the repository root, pinned to one core:

    taskset -c 1 python benchmarks/session_options.py [--threads 1] [--rounds 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from common import one_line_errors, save_report

import emocap.onnx_session as onnx_session
from emocap.classifier import EmotionClassifier
from emocap.detection import FaceDetector
from emocap.onnx_session import cpu_features
from emocap.sample_faces import face_scene

TODAY = onnx_session.session_options
ort.set_default_logger_severity(3)  # a variant that overwrites an entry of today's is said here, not logged


def _changed(change: Callable[[ort.SessionOptions], None]) -> Callable[[int | None], ort.SessionOptions]:
    def options(threads: int | None) -> ort.SessionOptions:
        made = TODAY(threads)
        change(made)
        return made
    return options


def _level(level) -> Callable[[ort.SessionOptions], None]:
    def change(options: ort.SessionOptions) -> None:
        options.graph_optimization_level = level
    return change


def _entry(key: str, value: str) -> Callable[[ort.SessionOptions], None]:
    return lambda options: options.add_session_config_entry(key, value)


def _attribute(name: str, value) -> Callable[[ort.SessionOptions], None]:
    return lambda options: setattr(options, name, value)


VARIANTS = {
    "today": TODAY,
    "optimisation basic": _changed(_level(ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)),
    "optimisation extended": _changed(_level(ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)),
    "spinning on": _changed(_entry("session.intra_op.allow_spinning", "1")),
    "no memory arena": _changed(_attribute("enable_cpu_mem_arena", False)),
    "no memory pattern": _changed(_attribute("enable_mem_pattern", False)),
    "denormals as zero": _changed(_entry("session.set_denormal_as_zero", "1")),
    "parallel execution": _changed(_attribute("execution_mode", ort.ExecutionMode.ORT_PARALLEL)),
    # ONNX Runtime's own count (what threads=None gave before it meant `usable_cores`): one a core of the
    # machine, whatever cores this process may run on (taskset, a container's cpuset)
    "threads: ORT's own count": _changed(_attribute("intra_op_num_threads", 0)),
}
BATCHES = (1, 4, 8)
SCENES = {"640x480, 1 face": (1, 150), "640x480, 4 faces": (4, 100)}


def interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, object]]:
    """{variant: (median ms of `repeats` calls, the last call's result)}, after one untimed call each. The
    variants take turns call by call, so a load that comes and goes falls on all of them alike."""
    results = {name: call() for name, call in calls.items()}
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            results[name] = call()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: (statistics.median(times[name]), results[name]) for name in calls}


def build(variant: str, threads: int | None) -> tuple[EmotionClassifier, FaceDetector]:
    onnx_session.session_options = VARIANTS[variant]
    try:
        return EmotionClassifier(threads=threads), FaceDetector(threads=threads)
    finally:
        onnx_session.session_options = TODAY


def one_round(tools: dict, faces: np.ndarray, scenes: dict, repeats: int) -> dict[str, dict[str, tuple]]:
    """{variant: {figure: (ms, output)}} of one round, the variants taking turns call by call."""
    figures: dict[str, dict[str, tuple]] = {variant: {} for variant in tools}
    for batch in BATCHES:
        calls = {variant: (lambda c=classifier: c.predict(faces[:batch])) for variant, (classifier, _) in tools.items()}
        for variant, (ms, probs) in interleaved(calls, repeats * 4).items():
            figures[variant][f"classifier ms a face, batch {batch}"] = (ms / batch, probs)
    for scene, frame in scenes.items():
        calls = {variant: (lambda d=detector: d.detect(frame)) for variant, (_, detector) in tools.items()}
        for variant, result in interleaved(calls, repeats).items():
            figures[variant][f"MTCNN ms a frame, {scene}"] = result
    return figures


def same_answers(ours: object, today: object) -> bool:
    if isinstance(ours, np.ndarray):
        return ours.shape == today.shape and bool(np.allclose(ours, today, atol=1e-4))
    return ours.boxes.shape == today.boxes.shape and bool(np.allclose(ours.boxes, today.boxes, atol=0.5))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads a network (default 1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls a figure a round (classifier: 4x)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_features().describe()}; ONNX Runtime {ort.__version__}; {args.threads} thread(s) a network")
    tools = {variant: build(variant, args.threads) for variant in VARIANTS}
    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    scenes = {name: face_scene(640, 480, count, side, seed=count)[0] for name, (count, side) in SCENES.items()}
    rounds = [one_round(tools, faces, scenes, args.repeats) for _ in range(args.rounds)]
    report = {"cpu": cpu_features().describe(), "threads": args.threads, "variants": {}}
    names = list(rounds[0]["today"])
    print(f"{'variant':22} | " + " | ".join(name.replace(" ms a ", "/").replace("classifier", "clf") for name in names))
    for variant in VARIANTS:
        medians = {name: statistics.median(r[variant][name][0] for r in rounds) for name in names}
        differs = [name for name in names if not same_answers(rounds[0][variant][name][1], rounds[0]["today"][name][1])]
        report["variants"][variant] = {"ms": medians, "answers_differ": differs}
        ratios = [medians[name] / statistics.median(r["today"][name][0] for r in rounds) for name in names]
        print(f"{variant:22} | " + " | ".join(f"{medians[n]:6.2f} ({ratio:4.2f}x)".rjust(len(n.replace(' ms a ', '/').replace('classifier', 'clf')))
                                            for n, ratio in zip(names, ratios))
              + (f"   answers differ: {differs}" if differs else ""))
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(one_line_errors(main))
