"""Export a checkpoint to ONNX (labels and preprocessing in the metadata), check parity, quantise to int8."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from emocap.atomic import atomic_path
from emocap.datasets import FerData
from emocap.errors import ModelError
from emocap.labels import LABEL_SETS
from emocap.onnx_session import open_session
from emocap.preprocessing import Preprocess
from emocap.training.config import TrainConfig
from emocap.training.defaults import INT8_SUFFIX
from emocap.training.model import EmotionNet, LogitsAndEmbedding, check_same_network, read_checkpoint, scored_weights
from emocap.training.quantization import (
    DEFAULT_CALIBRATION_FACES,
    INPUT_NAME,
    calibration_faces,
    quantize_int8,
    set_metadata,
)

OUTPUT_NAMES = ("logits", "embedding")
PARITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExportReport:
    path: Path
    parity_max_abs_diff: float


def load_checkpoint(path: str | Path) -> tuple[EmotionNet, TrainConfig, Preprocess, dict]:
    state = read_checkpoint(path)
    config = TrainConfig.from_json(state["config"])
    preprocess = Preprocess.from_json(state["preprocess"])
    net = EmotionNet(config, num_classes=len(LABEL_SETS[config.labels]), in_channels=preprocess.channels)
    weights = scored_weights(state)  # a last.pt's EMA, not its raw weights
    check_same_network(net, weights, repr(str(path)))
    net.load_state_dict(weights)
    net.eval()
    return net, config, preprocess, state


def model_metadata(config: TrainConfig, preprocess: Preprocess, extra: dict | None = None) -> dict[str, str]:
    metadata = {
        "emocap.labels": json.dumps(list(LABEL_SETS[config.labels])),
        "emocap.preprocess": preprocess.to_json(),
        "emocap.train_config": config.to_json(),
        "emocap.output_names": json.dumps(list(OUTPUT_NAMES)),
    }
    for key, value in (extra or {}).items():
        metadata[f"emocap.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return metadata


def export_onnx(
    checkpoint: str | Path,
    out_path: str | Path,
    *,
    sample_faces: np.ndarray,
    extra_metadata: dict | None = None,
    mirror: bool = False,
) -> ExportReport:
    """Write fp32 ONNX and check it against PyTorch on `sample_faces` (uint8 (N, 48, 48)).
    `mirror`: the model averages each face with its mirror image (see `LogitsAndEmbedding`).
    A failed parity check raises ModelError and leaves nothing at `out_path`."""
    net, config, preprocess, _ = load_checkpoint(checkpoint)
    wrapper = LogitsAndEmbedding(net, mirror=mirror).eval()
    extra_metadata = {**(extra_metadata or {}), "mirror_averaged": mirror}
    sample = torch.from_numpy(preprocess(sample_faces))
    with atomic_path(out_path) as temporary:
        torch.onnx.export(
            wrapper, (sample[:2],), str(temporary), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: {0: "n"}, OUTPUT_NAMES[0]: {0: "n"}, OUTPUT_NAMES[1]: {0: "n"}},
            opset_version=17, dynamo=False,
        )
        model = onnx.load(str(temporary))
        set_metadata(model, model_metadata(config, preprocess, extra_metadata))
        onnx.save(model, str(temporary))
        difference = parity_difference(wrapper, temporary, sample)
        # Raised inside atomic_path: the temporary file is removed and `out_path` never appears.
        if not math.isfinite(difference):  # NaN compares as "within tolerance", so it is caught here
            raise ModelError(
                f"{str(checkpoint)!r} gives non-finite logits (NaN or infinity); {str(out_path)!r} not written"
            )
        if difference > PARITY_TOLERANCE:
            raise ModelError(
                f"ONNX export of {str(checkpoint)!r} disagrees with PyTorch: max abs logit difference "
                f"{difference:.2e} > {PARITY_TOLERANCE:g}; {str(out_path)!r} not written"
            )
    return ExportReport(path=Path(out_path), parity_max_abs_diff=difference)


def parity_difference(wrapper: torch.nn.Module, onnx_path: str | Path, batch: torch.Tensor) -> float:
    """Max abs difference of the logits of PyTorch and ONNX Runtime on the same batch."""
    with torch.no_grad():
        expected = wrapper(batch)[0].numpy()
    session = open_session(onnx_path)
    got = session.run([OUTPUT_NAMES[0]], {INPUT_NAME: batch.numpy()})[0]
    return float(np.abs(expected - got).max())


def ms_per_face(onnx_path: str | Path, preprocess: Preprocess, repeats: int = 200, threads: int = 2) -> float:
    """Median latency of one face (batch 1) with ONNX Runtime on the CPU."""
    session = open_session(onnx_path, threads)
    face = preprocess(np.full((1, preprocess.size, preprocess.size), 128, np.uint8))
    for _ in range(10):
        session.run([OUTPUT_NAMES[0]], {INPUT_NAME: face})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run([OUTPUT_NAMES[0]], {INPUT_NAME: face})
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def agreement(fp32_path: str | Path, int8_path: str | Path, data: FerData, preprocess: Preprocess) -> dict[str, float]:
    """Accuracy of both models and how often their top classes agree, on `data`."""
    results = {}
    predictions = {}
    for name, path in (("fp32", fp32_path), ("int8", int8_path)):
        session = open_session(path)
        logits = np.concatenate([
            session.run([OUTPUT_NAMES[0]], {INPUT_NAME: preprocess(data.images[i : i + 256])})[0]
            for i in range(0, len(data), 256)
        ])
        predictions[name] = logits.argmax(1)
        results[f"{name}_accuracy"] = float((predictions[name] == data.labels).mean())
    results["top1_agreement"] = float((predictions["fp32"] == predictions["int8"]).mean())
    return results


def export_with_int8(
    checkpoint: str | Path,
    output: str | Path,
    *,
    train: FerData,
    check_splits: dict[str, FerData],
    mirror: bool = False,
    calibration_count: int = DEFAULT_CALIBRATION_FACES,
) -> dict:
    """The whole export, as `emocap export` runs it: fp32 ONNX with
    its parity check, then int8 beside it (`NAME.int8.onnx`), measured against fp32 on each of
    `check_splits` (the first one's faces check parity). Returns every figure."""
    output = Path(output)
    first_split = next(iter(check_splits.values()))
    report = export_onnx(checkpoint, output, sample_faces=first_split.images[:64], mirror=mirror)
    _, _, preprocess, _ = load_checkpoint(checkpoint)
    int8_path = output.with_suffix(INT8_SUFFIX)
    quantize_int8(output, int8_path, calibration_faces=calibration_faces(train, calibration_count), preprocess=preprocess)
    figures: dict = {
        "fp32_path": str(output), "int8_path": str(int8_path), "parity_max_abs_diff": report.parity_max_abs_diff,
        "fp32_mib": output.stat().st_size / 2**20, "int8_mib": int8_path.stat().st_size / 2**20,
        "fp32_ms_per_face": ms_per_face(output, preprocess), "int8_ms_per_face": ms_per_face(int8_path, preprocess),
    }
    for split, data in check_splits.items():
        figures.update({f"{split}_{k}": v for k, v in agreement(output, int8_path, data, preprocess).items()})
    return figures


def write_calibration(model_path: str | Path, calibration, out_path: str | Path) -> Path:
    """A copy of the ONNX model at `model_path` with `calibration` (an `emocap.calibration.Calibration`)
    in its metadata, written whole to `out_path` or not at all; the graph and weights are untouched."""
    from emocap.calibration import CALIBRATION_KEY

    model = onnx.load(str(model_path))
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    metadata[CALIBRATION_KEY] = calibration.to_json()
    set_metadata(model, metadata)
    with atomic_path(out_path) as temporary:
        onnx.save(model, str(temporary))
    return Path(out_path)
