"""`EmotionClassifier`: face crops -> class probabilities, on ONNX Runtime (no PyTorch).

The model file carries what the classifier needs besides its weights: the
class names in output order (`emocap.labels`) and the input definition
(`emocap.preprocess`, a `Preprocess`), both written by `emocap export`, and
optionally its calibration (`emocap.calibration`: the temperature of its
probabilities and the threshold under which its captions say "unsure", see
`emocap.calibration`). So a model always gets the input it was trained on, whoever made it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from emocap.calibration import CALIBRATION_KEY, Calibration, softmax
from emocap.checks import read_json
from emocap.errors import ModelError, first_line
from emocap.labels import BUILTIN_MODEL_FILES, BUILTIN_MODEL_NAMES, MODELS_DIR, UNSURE_WORD
from emocap.onnx_session import open_session, quiet_run, with_nodes_edited
from emocap.preprocessing import DEFAULT_FACE_MARGIN, FER2013_FACE_LIGHT, Preprocess, bgr_crops_to_gray, crop_faces

BUILTIN_MODELS = {labels: MODELS_DIR / name for labels, name in BUILTIN_MODEL_FILES.items()}
"""The models that ship inside the package, by label set (see docs/BENCHMARKS.md for their accuracy)."""
BUILTIN_MODEL = BUILTIN_MODELS["fer2013"]
NAMED_MODELS = {name: MODELS_DIR / file for name, (file, _) in BUILTIN_MODEL_NAMES.items()}
"""Every built-in model by the name `--model` takes."""

LOGITS, EMBEDDING = "logits", "embedding"
LABELS_KEY, PREPROCESS_KEY = "emocap.labels", "emocap.preprocess"
MIRROR_KEY = "emocap.mirror_averaged"
MAX_BATCH = 256
"""Faces per ONNX Runtime call: bounds memory when a whole dataset is passed at once."""


def parse_labels(text: str) -> tuple[str, ...]:
    """The class names of a model's `emocap.labels` metadata: a JSON list of distinct, non-empty names."""
    try:
        labels = read_json(text)
    except ValueError as error:
        raise ValueError(f"labels must be a JSON list of class names, got {str(text)[:200]!r} ({error})") from None
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(name, str) and name for name in labels)
            and len(set(labels)) == len(labels)):
        raise ValueError(f"labels must be a list of distinct class names, got {text[:200]!r}")
    if UNSURE_WORD in labels:
        raise ValueError(f"no class may be named {UNSURE_WORD!r} (captions say it of faces the model is not sure of)")
    for name in labels:  # names go into captions, subtitles and pages: a line break there starts a cue of its own
        if not name.isprintable() or name != name.strip() or "-->" in name:
            raise ValueError(f"class names must be one line of printable characters, without '-->' or spaces "
                             f"around them, got {name[:100]!r}")
    return tuple(labels)


def model_file(path: str | Path | None) -> Path:
    """The emotion model file `path` names (None: the built-in one); ModelError when there is no such file."""
    model = Path(path) if path is not None else BUILTIN_MODEL
    if not model.is_file():
        named = "" if path is None else f" (or name a built-in model: {', '.join(NAMED_MODELS)})"
        raise ModelError(f"{'the built-in model' if path is None else 'model'} not found: {str(model)!r}{named}")
    return model


def unreadable_model(path: Path, error: Exception) -> ModelError:
    """The error for a model file that could not be read as ONNX, in the words of `error`'s first line."""
    return ModelError(f"{str(path)!r} is not a readable ONNX model: {first_line(error)}")


def read_model_metadata(path: Path, metadata: dict[str, str]) -> tuple[tuple[str, ...], Preprocess, Calibration]:
    """The labels, preprocessing and calibration an emocap model's metadata describes: the one reader of
    them, for the run time and for training from a model. ModelError quoting `path`, naming the key and
    what is wrong with it, for a key missing or invalid (JSON that is not JSON, nested past reading,
    of the wrong shape or type)."""
    if LABELS_KEY not in metadata or PREPROCESS_KEY not in metadata:
        raise ModelError(
            f"{str(path)!r} is not an emocap model: its metadata lacks labels or preprocessing "
            "(make models with `emocap export`)"
        )
    readers = {LABELS_KEY: parse_labels, PREPROCESS_KEY: Preprocess.from_json, CALIBRATION_KEY: Calibration.from_json}
    values = {}
    for key, reader in readers.items():
        try:  # only the calibration may be absent: T = 1 and no unsure threshold
            values[key] = reader(metadata[key]) if key in metadata else Calibration()
        except (TypeError, ValueError) as error:
            raise ModelError(f"{str(path)!r} is not an emocap model: its metadata {key} is invalid: {error}") from None
    return values[LABELS_KEY], values[PREPROCESS_KEY], values[CALIBRATION_KEY]


def without_mirror(path: Path) -> bytes:
    """The model at `path`, which averages each face with its mirror image, made to see the face alone.

    `LogitsAndEmbedding(mirror=True)` exports as Concat([faces, flipped faces]) -> backbone -> Add(first
    half, second half) -> / 2. The Concat keeps the faces alone and the Add adds their embedding to
    itself, so the nodes after it (and their int8 quantisation) are the model's own; the flip and the
    second half are left without consumers, and ONNX Runtime drops them. ModelError for a graph without
    that branch."""

    def cut(nodes: dict) -> None:
        concat, add = nodes.get("/Concat"), nodes.get("/Add")
        if not (concat and add and concat.op_type == "Concat" and add.op_type == "Add" and len(concat.input) == 2):
            raise ModelError(f"{str(path)!r} says it averages mirror images, but its graph has no mirror "
                             "branch as `emocap export --mirror` writes it: run it with mirror averaging")
        del concat.input[1:]
        add.input[1] = add.input[0]

    return with_nodes_edited(path.read_bytes(), cut)


class EmotionClassifier:
    """Classifies grayscale faces into the model's emotion classes.

    `EmotionClassifier()` loads the built-in model; `EmotionClassifier(path)`
    any model written by `emocap export`. `threads` caps ONNX Runtime's
    threads (None: one a core this process may use). `lift_light` brightens and stretches dim or
    flat faces to the average FER2013 face before the model (`Preprocess.lift_to`)
    when the model's own preprocessing does not already. `mirror=False` runs a model
    that averages each face with its mirror image (`emocap export --mirror`, the
    built-in ones) on the face alone, at half the cost (`without_mirror`).

    labels      the class names, in the order of `predict`'s columns
    preprocess  the model's input definition (size, channels, normalisation)
    calibration its temperature (applied by `probabilities`) and unsure threshold; T = 1 and none
                for a model without them
    mirrored    each face is averaged with its mirror image, as this classifier runs the model
    """

    def __init__(
        self, path: str | Path | None = None, *, threads: int | None = None, lift_light: bool = False,
        mirror: bool = True,
    ) -> None:
        self.path = model_file(path)
        try:
            self._session = open_session(self.path, threads)
        except Exception as error:  # ONNX Runtime raises its own exception types for unreadable graphs
            raise unreadable_model(self.path, error) from None
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.labels, self.preprocess, self.calibration = read_model_metadata(self.path, metadata)
        self.mirrored = metadata.get(MIRROR_KEY) == "true"
        if self.mirrored and not mirror:
            self._session = open_session(without_mirror(self.path), threads)
            self.mirrored = False
        if lift_light and self.preprocess.lift_to is None:
            self.preprocess = dataclasses.replace(self.preprocess, lift_to=FER2013_FACE_LIGHT)
        self._input = self._session.get_inputs()[0].name
        outputs = [output.name for output in self._session.get_outputs()]
        self._output_widths = {output.name: output.shape[-1] for output in self._session.get_outputs()}
        self._logits = LOGITS if LOGITS in outputs else outputs[0]
        self._embedding = EMBEDDING if EMBEDDING in outputs else (outputs[1] if len(outputs) > 1 else None)
        self._check_shapes_match_metadata()

    def _check_shapes_match_metadata(self) -> None:
        """Refuse, at load time, a model whose graph disagrees with its own metadata: from the graph's
        shapes where they are fixed, and by running one blank face where the graph leaves a size open
        (its channels, side or classes: an open input takes any face until the first real one fails)."""
        classes = self._output_widths[self._logits]
        if isinstance(classes, int) and classes != len(self.labels):
            raise ModelError(
                f"{str(self.path)!r} gives {classes} scores per face but its metadata names "
                f"{len(self.labels)} labels {list(self.labels)}"
            )
        expected = (self.preprocess.channels, self.preprocess.size, self.preprocess.size)
        actual = tuple(self._session.get_inputs()[0].shape[1:])
        if len(actual) != 3 or any(isinstance(a, int) and a != e for a, e in zip(actual, expected)):
            raise ModelError(
                f"{str(self.path)!r} takes input of shape {list(actual)} per face, but its metadata's "
                f"preprocessing makes {list(expected)}"
            )
        if all(isinstance(size, int) for size in (*actual, classes)):
            return
        blank = np.zeros((1, self.preprocess.size, self.preprocess.size), np.uint8)
        try:
            logits = self._session.run([self._logits], {self._input: self.preprocess(blank)}, quiet_run())[0]
        except Exception as error:  # ONNX Runtime's own exception types
            raise ModelError(
                f"{str(self.path)!r} does not run on the faces its metadata's preprocessing makes "
                f"({list(expected)}): {first_line(error)}"
            ) from None
        if logits.shape != (1, len(self.labels)):
            raise ModelError(
                f"{str(self.path)!r} gives scores of shape {list(logits.shape[1:])} per face but its metadata "
                f"names {len(self.labels)} labels {list(self.labels)}"
            )

    def __repr__(self) -> str:
        return f"EmotionClassifier({str(self.path)!r}, labels={self.labels})"

    def predict(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Probabilities float32 (N, len(labels)) for uint8 grayscale faces (N, H, W)
        or a list of BGR (or grayscale) uint8 face crops of any size."""
        return self.probabilities(self.logits(faces))

    def logits(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """The network's scores float32 (N, len(labels)) before softmax, of the same faces `predict` takes."""
        return self._run(self._logits, self._as_gray(faces))

    def logits_of_input(self, model_input: np.ndarray) -> np.ndarray:
        """The network's scores float32 (N, len(labels)) of faces already made its input (float32 (N, C, H, W),
        as `preprocess` makes them): for training, whose augmented batches are made in PyTorch."""
        return self._finite(self._session.run([self._logits], {self._input: model_input})[0].astype(np.float32))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The model's logits (N, k) as calibrated probabilities (softmax of logits / temperature): every
        path from the network to a caption comes through here."""
        return softmax(logits, self.calibration.temperature) if len(logits) else logits.reshape(0, len(self.labels))

    def embed(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Penultimate-layer features float32 (N, d) of the same faces `predict` takes."""
        if self._embedding is None:
            raise ModelError(f"{str(self.path)!r} has no embedding output")
        return self._run(self._embedding, self._as_gray(faces))

    def predict_and_embed(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (N, len(labels)) and embeddings (N, d) of the faces `predict` takes, from one run
        of the network; d = 0 for a model without an embedding output."""
        gray = self._as_gray(faces)
        if self._embedding is None:
            return self.predict(gray), np.zeros((len(gray), 0), np.float32)
        logits, embeddings = self._run_outputs([self._logits, self._embedding], gray)
        return self.probabilities(logits), embeddings

    def look_at_boxes(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, *, margin: float = DEFAULT_FACE_MARGIN,
        angles: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`classify_boxes`' probabilities (n, k) and the faces' embeddings (n, d), from one run of the network."""
        size = self.preprocess.size
        if not len(boxes):
            return self.predict_and_embed(np.zeros((0, size, size), np.uint8))
        return self.predict_and_embed(crop_faces(frame_bgr, boxes, size=size, margin=margin, angles=angles))

    def classify_boxes(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, *, margin: float = DEFAULT_FACE_MARGIN,
        angles: np.ndarray | None = None,
    ) -> np.ndarray:
        """Probabilities (n, k) of the faces in `boxes` (n, 4) xyxy of one frame, in one batch; each crop
        turned upright by its angle in `angles` (n,) radians when given (see `crop_faces`)."""
        if not len(boxes):
            return np.zeros((0, len(self.labels)), np.float32)
        return self.predict(crop_faces(frame_bgr, boxes, size=self.preprocess.size, margin=margin, angles=angles))

    def _as_gray(self, faces) -> np.ndarray:
        if isinstance(faces, (list, tuple)):
            if not faces:
                raise ValueError("expected at least one face crop, got an empty list")
            return bgr_crops_to_gray(list(faces), self.preprocess.size)
        if not isinstance(faces, np.ndarray):
            raise ValueError(f"expected a uint8 array (N, H, W) or a list of face crops, got {type(faces).__name__}")
        if faces.dtype != np.uint8:
            raise ValueError(f"expected uint8 grayscale faces, got dtype {faces.dtype}")
        if faces.ndim != 3 or min(faces.shape[1:], default=0) < 1:
            raise ValueError(f"expected grayscale faces of shape (N, H, W), got shape {faces.shape}")
        return faces

    def _run(self, output: str, gray: np.ndarray) -> np.ndarray:
        return self._run_outputs([output], gray)[0]

    def _run_outputs(self, outputs: list[str], gray: np.ndarray) -> list[np.ndarray]:
        """Each of the graph's `outputs` for all of `gray`, from one session run per MAX_BATCH faces."""
        chunks = [
            self._session.run(outputs, {self._input: self.preprocess(gray[start : start + MAX_BATCH])})
            for start in range(0, len(gray), MAX_BATCH)
        ]
        if chunks:
            return [self._finite(np.concatenate(parts).astype(np.float32, copy=False)) for parts in zip(*chunks)]
        widths = [self._output_widths.get(output) for output in outputs]
        return [np.zeros((0, width if isinstance(width, int) else 0), np.float32) for width in widths]

    def _finite(self, scores: np.ndarray) -> np.ndarray:
        """`scores`, unless some are NaN or infinite. The input is always finite (uint8 faces, checked
        normalisation), so those are the model's own fault: refused, rather than printed as "nan%",
        written as JSON that no parser reads, or passed off as an unsure face."""
        broken = ~np.isfinite(scores).all(axis=1)
        if broken.any():
            raise ModelError(
                f"{str(self.path)!r} gave non-finite scores (NaN or infinite) for {int(broken.sum())} of "
                f"{len(scores)} faces: the model is broken, and its probabilities would mean nothing"
            )
        return scores
