"""The one place that opens ONNX Runtime sessions, and what the CPU under them can do.

Every network (MTCNN's three, the emotion model, export's checks) runs on the
CPU with the same options. `cpu_features` names the instruction sets that
decide how fast, and for int8 how exactly, those sessions compute; every
benchmark prints it beside its figures.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort


def session_options(threads: int | None) -> ort.SessionOptions:
    """CPU session options shared by every network.

    Spinning is off: the detector runs in bursts between other stages of the
    pipeline, and a worker thread spinning for work takes the core the Python
    thread needs (measured on 2 cores, two threads: P-Net over a 640x480
    pyramid took 25 ms spinning, 16 ms not).

    `threads` None: one a core this process may run on (`usable_cores`). ONNX Runtime's own
    default counts the machine's cores, so a process pinned to fewer (taskset, a container's
    cpuset) ran two threads a network on one core: 1-6% slower on the classifier and MTCNN
    (benchmarks/session_options.py, docs/benchmarks/speed-levers-2026-12-07.md). The other options
    are the fastest measured there: each other choice was as fast or slower.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = usable_cores() if threads is None else threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's); where the
    system cannot say, the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def open_session(model: str | Path | bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session of a model file (or its bytes) with `session_options(threads)`."""
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])


@functools.cache
def _graph_nodes_message() -> type:
    """A protobuf class of the part of ONNX's ModelProto that holds the graph's nodes (their inputs, outputs,
    names and types). Protobuf, which ONNX Runtime itself requires, keeps every other field it does not
    know as it was, so a model read and written through it changes only where its nodes are edited."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="emocap_onnx_nodes.proto", package="emocap_onnx_nodes", syntax="proto2")
    node = file.message_type.add(name="NodeProto")
    for number, name, label in ((1, "input", proto.LABEL_REPEATED), (2, "output", proto.LABEL_REPEATED),
                                (3, "name", proto.LABEL_OPTIONAL), (4, "op_type", proto.LABEL_OPTIONAL)):
        node.field.add(name=name, number=number, type=proto.TYPE_STRING, label=label)
    graph = file.message_type.add(name="GraphProto")  # ONNX's field numbers: GraphProto.node 1, ModelProto.graph 7
    graph.field.add(name="node", number=1, type=proto.TYPE_MESSAGE, type_name=".emocap_onnx_nodes.NodeProto",
                    label=proto.LABEL_REPEATED)
    model = file.message_type.add(name="ModelProto")
    model.field.add(name="graph", number=7, type=proto.TYPE_MESSAGE, type_name=".emocap_onnx_nodes.GraphProto",
                    label=proto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("emocap_onnx_nodes.ModelProto"))


def with_nodes_edited(model: bytes, edit: Callable[[dict], None]) -> bytes:
    """The ONNX model `model` after `edit` has changed its graph's nodes, given as {name: node} (each with
    `input`, `output`, `name`, `op_type`), in place; weights, metadata and attributes are kept as they were.
    Nodes an edit leaves without a consumer are dropped by ONNX Runtime when it opens the model."""
    parsed = _graph_nodes_message()()
    parsed.ParseFromString(model)
    edit({node.name: node for node in parsed.graph.node})
    return parsed.SerializeToString()


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
