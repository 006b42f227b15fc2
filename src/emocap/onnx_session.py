"""The one place that opens ONNX Runtime sessions, and what the CPU under them can do.

Every network (MTCNN's three, the emotion model, export's checks) runs on the
CPU with the same options. `cpu_features` names the instruction sets that
decide how fast, and for int8 how exactly, those sessions compute; every
benchmark prints it beside its figures.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort


def session_options(threads: int | None) -> ort.SessionOptions:
    """CPU session options shared by every network.

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


def open_session(model: str | Path | bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session of a model file (or its bytes) with `session_options(threads)`."""
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])


def quiet_run() -> ort.RunOptions:
    """Options for a run whose failure is itself the answer (a model's trial face at load): ONNX Runtime
    logs nothing of it to stderr, where the caller's one-line error says it."""
    options = ort.RunOptions()
    options.log_severity_level = 4  # fatal only
    return options


@dataclass(frozen=True)
class CpuFeatures:
    model: str
    avx2: bool
    avx512: bool
    vnni: bool
    """AVX-512 VNNI or AVX-VNNI: int8 dot products that accumulate in int32, never saturating."""
    bf16: bool = False
    """AVX-512 BF16 (every AMX CPU has it too): bf16 arithmetic in hardware rather than emulated."""

    def describe(self) -> str:
        flags = ", ".join([
            "AVX2" if self.avx2 else "no AVX2",
            "AVX-512" if self.avx512 else "no AVX-512",
            "VNNI" if self.vnni else "no VNNI",
            "BF16" if self.bf16 else "no BF16",
        ])
        return f"{self.model} ({flags})"


@functools.cache
def cpu_features() -> CpuFeatures:
    """The CPU's model name and the instruction sets that matter to ONNX Runtime's kernels.

    The sets come from CPUID as NumPy's dispatcher reads it, as ONNX Runtime's does, so under
    `qemu-x86_64 -cpu Haswell` they are the emulated CPU's; /proc/cpuinfo would name the host's.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return CpuFeatures(
        model=_model_name(),
        avx2=bool(features.get("AVX2")),
        avx512=bool(features.get("AVX512F")),
        vnni=bool(features.get("AVX512VNNI") or features.get("AVXVNNI")),
        bf16=bool(features.get("AVX512BF16")),
    )


def _model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine()
