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
import onnxruntime as ort

from emocap.detection.build_mtcnn_onnx import MODELS_DIR, NETWORK_NAMES, build_model_bytes, model_path


def session_options(threads: int | None) -> ort.SessionOptions:
    """CPU session options shared by the three networks.

    Spinning is off: the detector runs in bursts between other stages of the
    pipeline, and a worker thread spinning for work takes the core the Python
    thread needs (measured on 2 cores, two threads: P-Net over a 640x480
    pyramid took 25 ms spinning, 16 ms not).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = 0 if threads is None else threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxNetwork:
    """One network: float32 NCHW batch in, its single "output" array out."""

    def __init__(self, model: str | Path | bytes, options: ort.SessionOptions) -> None:
        source = model if isinstance(model, bytes) else str(model)
        self._session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
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
        options = session_options(threads)
        paths = {name: model_path(name, Path(models_dir)) for name in NETWORK_NAMES}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"MTCNN model files missing: {missing}; "
                "rebuild them with `python -m emocap.detection.build_mtcnn_onnx`"
            )
        return cls(**{name: OnnxNetwork(path, options) for name, path in paths.items()})

    @classmethod
    def from_keras_weights(cls, threads: int | None = None) -> "MtcnnNetworks":
        options = session_options(threads)
        return cls(**{name: OnnxNetwork(build_model_bytes(name), options) for name in NETWORK_NAMES})
