"""MTCNN's three networks as ONNX Runtime sessions, from the graphs shipped in `emocap/models/`.

Run time needs only `onnxruntime` and those files; `emocap.training.mtcnn_onnx`
(development time, needs `onnx` and the `mtcnn` package's weights) builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocap.labels import MODELS_DIR
from emocap.onnx_session import open_session

NETWORK_NAMES = ("pnet", "rnet", "onet")


def model_path(name: str, models_dir: Path = MODELS_DIR) -> Path:
    return Path(models_dir) / f"mtcnn_{name}.onnx"


class OnnxNetwork:
    """One network: float32 NCHW batch in, its single "output" array out."""

    def __init__(self, model: str | Path | bytes, threads: int | None = None) -> None:
        self._session = open_session(model, threads)
        self._input_name = self._session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: batch})[0]


@dataclass(frozen=True)
class MtcnnNetworks:
    pnet: OnnxNetwork
    rnet: OnnxNetwork
    onet: OnnxNetwork

    @classmethod
    def from_files(cls, threads: int | None = None, models_dir: str | Path = MODELS_DIR) -> "MtcnnNetworks":
        paths = {name: model_path(name, Path(models_dir)) for name in NETWORK_NAMES}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"MTCNN model files missing: {missing}; "
                "rebuild them with `python -m emocap.training.mtcnn_onnx`"
            )
        return cls(**{name: OnnxNetwork(path, threads) for name, path in paths.items()})
