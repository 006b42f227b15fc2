"""ONNX models made by the tests with the onnx package, and the faces one of them is scored on.

`write_brightness_model` writes a model that reads a face's mean brightness and picks the class
whose brightness is nearest; `write_fake_fer` a FER2013 folder in which each class has its own
brightness, so which faces that model gets wrong is decided by how the data is made.
`edited_model` copies the built-in model with some metadata replaced, or one initializer made NaN.
Plain functions (imported like `frame_fixtures`: pytest puts tests/ on sys.path); a test that
imports them is skipped where onnx is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from emocap.classifier import BUILTIN_MODEL
from emocap.labels import FER2013_LABELS
from emocap.preprocessing import Preprocess

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

# Another order than FER2013_LABELS, so the evaluation must map dataset labels onto the model's classes.
MODEL_LABELS = ("happy", "sad", "angry", "surprise", "neutral", "fear", "disgust")
BRIGHTNESS = {name: 20 + 30 * index for index, name in enumerate(FER2013_LABELS)}
EMBEDDING_SIZE = 6
SHARPNESS = 500.0  # logits far apart: probabilities are nearly one-hot


def write_brightness_model(path):
    """ONNX: faces (n,1,48,48) -> embedding (n,6) whose first value is the mean input -> logits (n,7)."""
    preprocess = Preprocess()
    centres = np.array([(BRIGHTNESS[name] / 255 - preprocess.mean) / preprocess.std for name in MODEL_LABELS])
    rng = np.random.default_rng(0)
    to_embedding = rng.normal(0, 1e-3, (48 * 48, EMBEDDING_SIZE)).astype(np.float32)
    to_embedding[:, 0] = 1 / (48 * 48)
    # -(m - c)^2 = 2mc - c^2 - m^2, and m^2 is the same for every class.
    to_logits = np.zeros((EMBEDDING_SIZE, len(MODEL_LABELS)), np.float32)
    to_logits[0] = SHARPNESS * 2 * centres
    bias = (-SHARPNESS * centres**2).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["faces"], ["flat"]),
            helper.make_node("MatMul", ["flat", "to_embedding"], ["embedding"]),
            helper.make_node("Gemm", ["embedding", "to_logits", "bias"], ["logits"]),
        ],
        "brightness",
        [helper.make_tensor_value_info("faces", TensorProto.FLOAT, ["n", 1, 48, 48])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", len(MODEL_LABELS)]),
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", EMBEDDING_SIZE]),
        ],
        [
            numpy_helper.from_array(to_embedding, "to_embedding"),
            numpy_helper.from_array(to_logits, "to_logits"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {"emocap.labels": json.dumps(MODEL_LABELS), "emocap.preprocess": preprocess.to_json()}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def write_face(path, brightness, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    face = np.clip(brightness + rng.integers(-3, 4, (48, 48)), 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(path), face)


def write_fake_fer(root):
    """Per class: 2 PublicTest faces and 1 PrivateTest face of its own brightness (classified right),
    1 PrivateTest face of the next class's brightness (classified as that class), 3 train faces."""
    rng = np.random.default_rng(1)
    for index, name in enumerate(FER2013_LABELS):
        next_name = FER2013_LABELS[(index + 1) % len(FER2013_LABELS)]
        write_face(root / "test" / name / "PublicTest_a.png", BRIGHTNESS[name], rng)
        write_face(root / "test" / name / "PublicTest_b.png", BRIGHTNESS[name], rng)
        write_face(root / "test" / name / "PrivateTest_a.png", BRIGHTNESS[name], rng)
        write_face(root / "test" / name / "PrivateTest_b.png", BRIGHTNESS[next_name], rng)
        for copy in range(3):
            write_face(root / "train" / name / f"Training_{copy}.png", BRIGHTNESS[name], rng)
    return root


def edited_model(path: Path, *, metadata: dict[str, str] | None = None, nan_initializer: str | None = None) -> Path:
    """A copy of the built-in model with some metadata replaced, or one initializer made NaN."""
    model = onnx.load(str(BUILTIN_MODEL))
    for entry in model.metadata_props:
        if metadata and entry.key in metadata:
            entry.value = metadata[entry.key]
    for initializer in model.graph.initializer:
        if initializer.name == nan_initializer:
            initializer.CopyFrom(numpy_helper.from_array(
                np.full(numpy_helper.to_array(initializer).shape, np.nan, np.float32), initializer.name))
    onnx.save(model, str(path))
    return path
