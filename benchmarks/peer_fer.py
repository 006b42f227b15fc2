"""emocap beside the public `fer` package (PyPI fer 25.10.3): FER2013 test accuracy, ms a frame and a face, features.

fer (https://github.com/justinshenk/fer) lives in its own virtual environment, because it brings
TensorFlow and PyTorch: build it once with

    python -m venv out/peer-fer-venv && out/peer-fer-venv/bin/pip install fer==25.10.3

This script runs under emocap's environment and starts itself a second time under that venv's python
(`--fer-worker`) for everything fer does; the two talk JSON lines over the worker's stdin/stdout and pass
faces and probabilities as .npy files in a temporary folder. Nothing is downloaded: fer's classifier
(fer/data/emotion_model_quantized.tflite and emotion_model.hdf5) and Haar cascade ship in its wheel,
facenet-pytorch's MTCNN weights (facenet_pytorch/data/*net.pt) in its own; the worker refuses any
internet connection, and says where each model file lies. Run from the repository root:

    python benchmarks/peer_fer.py --data fer2013/ [--json FILE]
    python benchmarks/peer_fer.py --data fer2013/ --limit 200 --frames 10 --rounds 1   # a quick try

Prints:
  1. accuracy and macro-F1 on FER2013 PublicTest and PrivateTest (3,589 faces each) of each classifier
     given the 48x48 gray faces directly, no detection:
       emocap    its built-in model through `EmotionClassifier.predict`, what `emocap evaluate` runs;
       fer       what `FER.detect_emotions` does to a face after cropping it, read in fer/fer.py: the gray
                 crop resized to the model's 64x64 (cv2.resize, bilinear), scaled to [-1, 1]
                 ((x / 255 - 0.5) * 2), through `FER._classify_emotions` with fer's default model (the
                 int8 TFLite one, use_tflite=True); also its Keras model (use_tflite=False, the hdf5 the
                 TFLite one was made from, called on the same input), and `detect_emotions` itself told
                 that the box is the whole 48x48 face (it then adds its 10 px offsets, which fall on its
                 40 px border of the bottom rows' mean grey, and rounds scores to 2 decimals: ties go to
                 the first class in fer's order).
     fer's outputs are in FER2013's CSV order (angry, disgust, fear, happy, sad, surprise, neutral; fer's
     `_get_labels`); they are mapped by name onto emocap's order before scoring.
  2. ms a frame of each tool's whole path (detect + classify, and for emocap track + smooth) on the first
     --frames frames of the bundled clip (640x360, two faces, decoded beforehand): emocap's `Pipeline`
     (default settings, and every frame scanned whole), fer's `detect_emotions` with its default Haar
     detector and with mtcnn=True; the tools take turns, --rounds rounds, and the median round is shown
     with the range, so a load on the CPU falls on both. Then ms a face of each classifier alone (one face a
     call, its own preprocessing included). Every library runs with --threads threads (ONNX Runtime,
     OpenCV, TFLite, PyTorch; default 1). On 2 cores that a training job keeps busy, PyTorch's threads
     spin against it: facenet-pytorch's MTCNN ran some 20 times slower at 2 threads than at 1, so the
     default is one thread, which times the tools rather than the scheduler; --threads 2 on an idle machine.
  3. what each tool offers, each entry checked in the installed code at run time (signatures, modules,
     the text of fer's sources).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FER_PYTHON = ROOT / "out" / "peer-fer-venv" / "bin" / "python"
BUILD_FER_VENV = "python -m venv out/peer-fer-venv && out/peer-fer-venv/bin/pip install fer==25.10.3"
CLIP = ROOT / "src" / "emocap" / "samples" / "faces.mp4"
VIDEO_OPTIONS = {"frequency": "every Nth frame", "save_video": "annotated video", "save_frames": "frames as JPEG",
                 "zip_images": "zipped", "output": "CSV or pandas table", "include_audio": "sound kept"}
"""The options of fer's `Video.analyze` that the features table names, with what each does."""


def clip_frames(count: int) -> tuple[list[np.ndarray], float]:
    """The first `count` BGR frames of the bundled clip (0: all) and its frame rate (both processes read it so)."""
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while not count or len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    capture.release()
    return frames, fps


def timed_round(step, items) -> float:
    """Mean ms of `step(item)` over `items`."""
    started = time.perf_counter()
    for item in items:
        step(item)
    return (time.perf_counter() - started) * 1000 / len(items)


def ms_a_face(classify_one, faces: np.ndarray, seconds: float) -> float:
    """Mean ms of `classify_one(face)`, one face a call, over `seconds` (after 5 calls of warm-up)."""
    for face in faces[:5]:
        classify_one(face)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classify_one(faces[done % len(faces)])
        done += 1
    return (time.perf_counter() - started) * 1000 / done


# --- the fer side: runs under out/peer-fer-venv/bin/python ----------------------------------------


def refuse_the_internet() -> None:
    """Make any internet connection from Python code fail, so that a download would show, not happen."""
    import socket

    connect = socket.socket.connect

    def refused(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"peer_fer: no network at run time (a connection to {address!r} was attempted)")
        return connect(self, address)

    socket.socket.connect = refused
    socket.socket.connect_ex = refused


class FerWorker:
    """fer's side of the benchmark; one method an op of the JSON-line protocol."""

    def __init__(self, threads: int) -> None:
        refuse_the_internet()
        # PyTorch and torchvision (facenet-pytorch's MTCNN) before TensorFlow: torchvision imported after
        # TensorFlow crashes the process (SIGSEGV) in this venv.
        import facenet_pytorch  # noqa: F401
        import torch

        torch.set_num_threads(threads)
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        cv2.setNumThreads(threads)
        import fer
        from fer.fer import FER  # fer 25.10.3's __init__ does not export FER, whatever its README says

        self.threads, self.FER = threads, FER
        self.package = Path(fer.__file__).parent
        # fer builds its TFLite interpreter without a thread count; one of ours goes in its cache, which it uses.
        interpreter = tf.lite.Interpreter(model_path=str(self.package / "data" / "emotion_model_quantized.tflite"),
                                          num_threads=threads)
        interpreter.allocate_tensors()
        FER._tflite_interpreter_cache = interpreter
        self.detectors = {"haar": FER(), "mtcnn": FER(mtcnn=True)}
        self.keras = None
        self.frames: list[np.ndarray] = []
        self.labels = [FER._get_labels()[index] for index in range(7)]
        self.versions = {"fer": fer.__version__, "tensorflow": tf.__version__, "torch": torch.__version__,
                         "opencv": cv2.__version__}

    def hello(self) -> dict:
        import facenet_pytorch

        models = sorted(str(path) for path in self.package.glob("data/*"))
        models += sorted(str(path) for path in Path(facenet_pytorch.__file__).parent.glob("data/*.pt"))
        record = next(self.package.parent.glob("fer-*.dist-info/RECORD")).read_text()
        in_wheel = all(f"fer/data/{Path(p).name}" in record for p in models if "/fer/data/" in p)
        return {"versions": self.versions, "labels": self.labels, "threads": self.threads,
                "model_files": models, "fer_models_in_wheel_record": in_wheel, "features": self.features()}

    def fer_input(self, faces: np.ndarray) -> np.ndarray:
        """What detect_emotions makes of gray crops: resized to 64x64, scaled to [-1, 1]."""
        size = tuple(self.FER._tflite_interpreter_cache.get_input_details()[0]["shape"][1:3])
        resized = np.array([cv2.resize(face, size) for face in faces], np.float32)
        return (resized / 255.0 - 0.5) * 2.0

    def classify(self, faces: str, out: str, variant: str) -> dict:
        images = np.load(faces)
        fer = self.detectors["haar"]  # the classifier is the same whichever detector
        if variant == "tflite":
            probs = fer._classify_emotions(self.fer_input(images))
        elif variant == "keras":
            if self.keras is None:
                self.FER(use_tflite=False)  # loads fer's hdf5 into FER._model_cache
                self.keras = self.FER._model_cache
            probs = self.keras.predict(self.fer_input(images)[..., None], batch_size=256, verbose=0)
        else:  # "detect_emotions": fer's own call, the box being the whole face
            probs = []
            for face in images:
                found = fer.detect_emotions(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), [(0, 0, *face.shape[::-1])])
                probs.append([found[0]["emotions"][name] for name in self.labels])
        np.save(out, np.asarray(probs, np.float32))
        return {"labels": self.labels}

    def frames_round(self, detector: str, frames: int) -> dict:
        if len(self.frames) != frames:
            self.frames = clip_frames(frames)[0]
            for fer in self.detectors.values():  # warm-up
                for frame in self.frames[:3]:
                    fer.detect_emotions(frame)
        fer, found = self.detectors[detector], []
        ms = timed_round(lambda frame: found.append(len(fer.detect_emotions(frame))), self.frames)
        return {"ms": ms, "faces": float(np.mean(found))}

    def face_ms(self, faces: str, seconds: float) -> dict:
        fer = self.detectors["haar"]
        return {"ms": ms_a_face(lambda face: fer._classify_emotions(self.fer_input(face[None])),
                                np.load(faces), seconds)}

    def features(self) -> dict[str, str]:
        from fer.classes import Video
        from fer.emotionsmultilanguage import emotions_dict
        from fer.utils import load_image

        source = "\n".join(path.read_text() for path in self.package.rglob("*.py")).lower()
        analyze = inspect.signature(Video.analyze).parameters
        init = inspect.signature(self.FER.__init__).parameters
        video = [what for name, what in VIDEO_OPTIONS.items() if name in analyze]
        loads = inspect.getsource(load_image)
        photos = [what for what, sign in (("a file", "imread"), ("an array", "np.__name__"), ("base64", "base64"),
                                          ("a URL", "requests.get")) if sign in loads]
        languages = sorted({language for names in emotions_dict.values() for language in names})

        def absent(*words: str) -> str:
            found = [word for word in words if word in source]
            return f"maybe (its source says {', '.join(found)})" if found else "no"

        return {
            "face detectors": "Haar (default), MTCNN (facenet-pytorch)" if "mtcnn" in init else "Haar",
            "photos": f"yes: {', '.join(photos)} (detect_emotions)",
            "video files": "yes: Video(file).analyze, " + ", ".join(video) if video else "no",
            "camera / stream / screen": "no (Video asserts the file exists)"
            if "os.path.exists(video_file)" in inspect.getsource(Video.__init__).lower() else "maybe",
            "faces a frame": "all (detect_emotions); Video's table and charts: the first only"
            if "only single-face charting" in source else "all",
            "identities across frames": absent("track", "identity"),
            "smoothing over frames": absent("smooth", "moving average"),
            "'unsure' for unsure faces": absent("unsure", "abstain"),
            "subtitles": absent(".srt", "webvtt", ".vtt"),
            "web page": absent("websocket", "http.server", "flask", "fastapi") + (
                "; sends faces to a TF Serving server if asked" if "tfserving" in init else ""),
            "label languages": ", ".join(["en", *languages]),
            "training, evaluation": absent("def train", "def evaluate", "fit("),
        }


def serve_fer(threads: int) -> int:
    """The worker's loop: a JSON request a line on stdin, a JSON reply a line on the real stdout."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the libraries print goes to stderr, never into the replies
    sys.stdout = sys.stderr
    try:
        worker = FerWorker(threads)
    except Exception as error:
        replies.write(json.dumps({"error": f"fer could not start: {type(error).__name__}: {error}"}) + "\n")
        return 2
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            break
        try:
            reply = getattr(worker, op)(**request)
        except Exception as error:
            reply = {"error": f"{op}: {type(error).__name__}: {error}"}
        replies.write(json.dumps(reply) + "\n")
    return 0


# --- the emocap side ----------------------------------------------------------------------------


class FerClient:
    """The fer worker, started under the fer venv's python; `ask(op, **arguments)` -> its reply."""

    def __init__(self, python: Path, threads: int, log: Path) -> None:
        from emocap.errors import EmocapError

        self.error_type, self.log = EmocapError, log
        with open(log, "w") as stderr:
            self.process = subprocess.Popen(
                [str(python), __file__, "--fer-worker", "--threads", str(threads)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                     "OMP_NUM_THREADS": str(threads)})
        self.reply()

    def reply(self) -> dict:
        line = self.process.stdout.readline()
        answer = json.loads(line) if line else {"error": f"the fer worker stopped (exit code {self.process.wait()})"}
        if "error" in answer:
            tail = [row for row in self.log.read_text().splitlines() if row.strip()][-3:]
            raise self.error_type(answer["error"] + (f"; its last words: {' | '.join(tail)}" if tail else ""))
        return answer

    def ask(self, op: str, **arguments) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()
        return self.reply()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


def emocap_features() -> dict[str, str]:
    from emocap.cli import build_parser
    from emocap.defaults import DETECTOR_NAMES, SMOOTHER_NAMES
    from emocap.outputs import subtitles
    from emocap.pipeline_config import PipelineConfig
    from emocap.tracking import AppearanceTracker

    has = next(action.choices for action in build_parser()._actions
               if isinstance(action, argparse._SubParsersAction)).__contains__  # the emocap commands
    fields = set(PipelineConfig.__dataclass_fields__)
    writers = [name for name, writer in (("SRT", "SrtWriter"), ("WebVTT", "WebVTTWriter"))
               if hasattr(subtitles, writer)]
    return {
        "face detectors": ", ".join(DETECTOR_NAMES),
        "photos": "yes (emocap image)" if has("image") else "no",
        "video files": "yes (emocap live --source, emocap transcribe)" if has("transcribe") else "no",
        "camera / stream / screen": "yes (emocap live)" if has("live") else "no",
        "faces a frame": "all",
        "identities across frames": f"yes ({AppearanceTracker.__name__})",
        "smoothing over frames": ", ".join(SMOOTHER_NAMES) if "smoother" in fields else "no",
        "'unsure' for unsure faces": "yes (the model's threshold, or unsure_below)" if "unsure_below" in fields
        else "no",
        "subtitles": f"{', '.join(writers)} (emocap transcribe)" if writers else "no",
        "web page": "yes (emocap serve)" if has("serve") else "no",
        "label languages": "en",
        "training, evaluation": ", ".join(name for name in ("train", "evaluate", "calibrate", "export") if has(name)),
    }


def scores(labels: np.ndarray, probs: np.ndarray) -> dict:
    from emocap.evaluation.metrics import accuracy, macro_f1

    return {"faces": len(labels), "accuracy": accuracy(labels, probs), "macro_f1": macro_f1(labels, probs)}


def accuracy_rows(fer: FerClient, classifier, faces: dict, folder: Path) -> dict[str, dict]:
    """Accuracy and macro-F1 by split of emocap's classifier and of fer's ways of classifying a face."""
    emocap_row = "emocap built-in (ResNet18, int8 ONNX)"
    variants = {"fer default (mini-Xception, int8 TFLite)": "tflite", "fer Keras hdf5 (use_tflite=False)": "keras",
                "fer detect_emotions, box = the whole face": "detect_emotions"}
    rows: dict[str, dict] = {emocap_row: {}, **{row: {} for row in variants}}
    for split, data in faces.items():
        rows[emocap_row][split] = scores(data.labels, classifier.predict(data.images))
        np.save(folder / "faces.npy", data.images)
        for row, variant in variants.items():
            answer = fer.ask("classify", faces=str(folder / "faces.npy"), out=str(folder / "probs.npy"),
                             variant=variant)
            # fer's columns, by name, into the classifier's order (emocap's, which the labels index)
            order = [answer["labels"].index(name) for name in classifier.labels]
            rows[row][split] = scores(data.labels, np.load(folder / "probs.npy")[:, order])
    return rows


def speed_rows(fer: FerClient, args, faces: np.ndarray, folder: Path) -> tuple[dict, dict, int]:
    """ms a frame of each whole path, ms a face of each classifier alone (the tools taking turns), and the
    number of frames timed."""
    from emocap.pipeline import Pipeline

    frames, fps = clip_frames(args.frames)
    timed = list(enumerate(frames))
    pipelines = {"emocap Pipeline, default settings": Pipeline(threads=args.threads),
                 "emocap Pipeline, every frame scanned whole": Pipeline(threads=args.threads, full_scan_every=1),
                 "emocap Pipeline, --no-mirror": Pipeline(threads=args.threads, mirror=False)}
    fer_paths = {"fer detect_emotions, Haar (default)": "haar", "fer detect_emotions, mtcnn=True": "mtcnn"}
    np.save(folder / "some_faces.npy", faces)
    rounds: dict[str, list] = {name: [] for name in (*pipelines, *fer_paths)}
    face_rounds: dict[str, list] = {"emocap": [], "fer": []}
    for pipeline in pipelines.values():  # warm-up
        for frame in frames[:3]:
            pipeline.process(frame, None)
    for _ in range(args.rounds):
        for name, pipeline in pipelines.items():
            pipeline.reset()
            found = []
            ms = timed_round(lambda item: found.append(len(pipeline.process(item[1], item[0] / fps).faces)), timed)
            rounds[name].append({"ms": ms, "faces": float(np.mean(found))})
        for name, detector in fer_paths.items():
            rounds[name].append(fer.ask("frames_round", detector=detector, frames=len(frames)))
        classifier = pipelines["emocap Pipeline, default settings"].classifier
        face_rounds["emocap"].append(ms_a_face(lambda face: classifier.predict(face[None]), faces, args.face_seconds))
        face_rounds["fer"].append(fer.ask("face_ms", faces=str(folder / "some_faces.npy"),
                                          seconds=args.face_seconds)["ms"])
    frame_rows = {}
    for name, runs in rounds.items():
        ms = [run["ms"] for run in runs]
        frame_rows[name] = {"ms_median": statistics.median(ms), "ms_min": min(ms), "ms_max": max(ms),
                            "faces_a_frame": statistics.median(run["faces"] for run in runs),
                            "rounds_ms": [round(value, 2) for value in ms]}
    face_rows = {name: {"ms_median": statistics.median(runs), "rounds_ms": [round(ms, 3) for ms in runs]}
                 for name, runs in face_rounds.items()}
    return frame_rows, face_rows, len(frames)


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--fer-worker"]:  # the second process, under fer's venv (FerClient starts it)
        worker = argparse.ArgumentParser(prog="peer_fer.py --fer-worker")
        worker.add_argument("--threads", type=int, required=True)
        return serve_fer(worker.parse_args(argv[1:]).threads)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="FER2013: Kaggle folders, the original CSV or the pack")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--fer-python", type=Path, default=FER_PYTHON,
                        help=f"fer's venv python (default {FER_PYTHON.relative_to(ROOT)})")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every library, both tools (default 1: see the docstring)")
    parser.add_argument("--frames", type=int, default=0,
                        help="the clip's first N frames a round (default 0: all 135, 9 s, 0, 1 and 2 faces in view)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the two tools in turn (default 5)")
    parser.add_argument("--face-seconds", type=float, default=1.0,
                        help="seconds of each classifier-alone timing a round (default 1)")
    parser.add_argument("--limit", type=int, default=0,
                        help="only N faces of each split, a fixed random sample (0: all; to try it)")
    args = parser.parse_args(argv)
    for name in ("threads", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.frames < 0 or args.limit < 0:
        parser.error("--frames and --limit take 0 (all) or a positive number")
    if not args.fer_python.is_file():
        print(f"error: fer's venv not found ({args.fer_python}); build it with: {BUILD_FER_VENV}", file=sys.stderr)
        return 2

    from common import one_line_errors

    return one_line_errors(lambda _: run(args))


def run(args) -> int:
    import onnxruntime
    from common import classifier_and_test_faces, save_report

    import emocap

    cv2.setNumThreads(args.threads)
    cores = len(os.sched_getaffinity(0))
    load_before = load_line()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        fer = FerClient(args.fer_python, args.threads, folder / "fer-worker.log")
        try:
            hello = fer.ask("hello")
            classifier, faces = classifier_and_test_faces(None, args.data)
            if args.limit:  # a random sample: the faces come sorted by class
                rng = np.random.default_rng(0)
                faces = {split: data.subset(np.sort(rng.permutation(len(data))[: args.limit]))
                         for split, data in faces.items()}
            accuracy = accuracy_rows(fer, classifier, faces, folder)
            frames, face_ms, frame_count = speed_rows(fer, args, faces["PrivateTest"].images[:64], folder)
        finally:
            fer.close()
    versions = hello["versions"]
    print(f"emocap {emocap.__version__} (ONNX Runtime {onnxruntime.__version__}, OpenCV {cv2.__version__}) beside "
          f"fer {versions['fer']} (TensorFlow {versions['tensorflow']}, PyTorch {versions['torch']}, OpenCV "
          f"{versions['opencv']}); {args.threads} thread{'s' * (args.threads > 1)} each, {cores} cores; load average "
          f"{load_before} at the start")
    listed = " (listed in its RECORD)" if hello["fer_models_in_wheel_record"] else " (NOT all in its RECORD)"
    print(f"fer's model files, from its wheel{listed} "
          f"and facenet-pytorch's: {', '.join(Path(p).name for p in hello['model_files'])}")

    counts = "/".join(f"{len(data):,}" for data in faces.values())
    print(f"\n1. FER2013 test, the 48x48 faces given to the classifier (no detection), {counts} faces")
    print(f"   {'classifier':<44} {'PublicTest acc':>14} {'macro-F1':>9}   {'PrivateTest acc':>15} {'macro-F1':>9}")
    for row, by_split in accuracy.items():
        public, private = by_split["PublicTest"], by_split["PrivateTest"]
        print(f"   {row:<44} {public['accuracy']:>14.2%} {public['macro_f1']:>9.2%}   "
              f"{private['accuracy']:>15.2%} {private['macro_f1']:>9.2%}")

    clip = f"{'all' if not args.frames or args.frames > frame_count else 'the first'} {frame_count} frames"
    print(f"\n2. ms a frame, detect + classify (emocap: + track, smooth, confirm), {clip} of {CLIP.name} (640x360, "
          f"a face, none, then two); median of {args.rounds} rounds taken in turn (min-max); faces out: what each "
          f"returns (emocap's a face only once it has been found in a few frames)")
    for row, figures in frames.items():
        print(f"   {row:<44} {figures['ms_median']:7.1f} ms  ({figures['ms_min']:.1f}-{figures['ms_max']:.1f})"
              f"   {1000 / figures['ms_median']:6.1f} FPS   faces out a frame {figures['faces_a_frame']:.2f}")
    print(f"   the classifier alone, one 48x48 face a call: emocap {face_ms['emocap']['ms_median']:.2f} ms, "
          f"fer {face_ms['fer']['ms_median']:.2f} ms (medians of {args.rounds} rounds)")

    features = {"emocap": emocap_features(), "fer": hello["features"]}
    print("\n3. what each offers (checked in the installed code)")
    print(f"   {'':<27} {'emocap':<48} fer")
    for key, fer_has in features["fer"].items():
        print(f"   {key:<27} {features['emocap'][key]:<48} {fer_has}")

    load_after = load_line()
    print(f"\nload average {load_after} at the end, on {cores} cores")
    report = {"emocap": emocap.__version__, "fer": versions, "threads": args.threads, "cores": cores,
              "load_average_start": load_before, "load_average_end": load_after, "frames": frame_count,
              "rounds": args.rounds, "limit": args.limit, "accuracy": accuracy, "ms_a_frame": frames,
              "ms_a_face": face_ms, "features": features, "fer_model_files": hello["model_files"]}
    return save_report(args.json, report)


if __name__ == "__main__":
    sys.exit(main())
