"""MTCNN's three networks as ONNX Runtime sessions.

Run time needs only `onnxruntime` and the graphs shipped in `emocap/models/`;
`from_keras_weights` rebuilds them from the `mtcnn` package's arrays instead
(needs `onnx`), which the tests use to check that the shipped files are what
the builder makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emocap.detection.build_mtcnn_onnx import MODELS_DIR, NETWORK_NAMES, build_model_bytes, model_path
from emocap.onnx_session import open_session


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
                "rebuild them with `python -m emocap.detection.build_mtcnn_onnx`"
            )
        return cls(**{name: OnnxNetwork(path, threads) for name, path in paths.items()})

    @classmethod
    def from_keras_weights(cls, threads: int | None = None) -> "MtcnnNetworks":
        return cls(**{name: OnnxNetwork(build_model_bytes(name), threads) for name in NETWORK_NAMES})
