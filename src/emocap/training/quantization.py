"""int8 models that compute the same on every x86 CPU, and the check that they do.

Why 7-bit weights: without AVX-512 VNNI (or AVX-VNNI), ONNX Runtime's x86 int8
kernels multiply uint8 activations by int8 weights with `vpmaddubsw`, which
adds each pair of products into a *saturating* int16. Two products of 255 x 127
overflow it and are clamped, so the same model scored 9 points less on such
CPUs. Weights limited to [-64, 64] keep every pair within 2 x 255 x 64 = 32,640
<= 32,767: the integer arithmetic is exact on every CPU, by construction.
`saturation_risks` checks that property in a graph, whatever CPU runs the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from emocap.atomic import atomic_path
from emocap.datasets import FerData
from emocap.preprocessing import Preprocess
from emocap.training.defaults import DEFAULT_CALIBRATION_FACES

INPUT_NAME = "faces"

INT16_MAX = 32767
ACTIVATION_MAX = 255
"""The largest activation an x86 kernel multiplies: uint8, or int8 shifted by 128 (S8S8 runs as U8S8)."""
SAFE_WEIGHT_MAGNITUDE = INT16_MAX // (2 * ACTIVATION_MAX)
"""64: the largest |int8 weight| whose products with uint8 activations add in pairs within int16."""

QUANTIZATION_NOTE = "int8 static QDQ, per-channel 7-bit weights (exact without VNNI), calibrated on training faces"

# Integer ops and the index of their weight input, in both ONNX quantisation formats.
_WEIGHT_INPUT = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1,
                 "QLinearConv": 3, "QLinearMatMul": 3, "QGemm": 3, "ConvInteger": 1, "MatMulInteger": 1}


@dataclass(frozen=True)
class SaturationRisk:
    """A layer whose int8 weights can overflow int16 pair sums on a CPU without VNNI."""

    node: str
    weight: str
    max_magnitude: int

    def __str__(self) -> str:
        return (f"{self.node}: int8 weight {self.weight!r} reaches {self.max_magnitude} "
                f"(exact only up to {SAFE_WEIGHT_MAGNITUDE})")


def saturation_risks(model: onnx.ModelProto) -> list[SaturationRisk]:
    """Every Conv / Gemm / MatMul whose int8 weights exceed +-64, in QDQ or QOperator form.

    uint8 weights (U8U8) are widened to 16 bits before multiplying and cannot
    saturate; fp32 weights are not integer arithmetic at all.
    """
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    dequantized_from = {
        node.output[0]: node.input[0]
        for node in model.graph.node
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers
    }
    risks = []
    for node in model.graph.node:
        index = _WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= index:
            continue
        weight = node.input[index]
        stored = initializers.get(dequantized_from.get(weight, weight))
        if stored is None or stored.data_type != onnx.TensorProto.INT8:
            continue
        magnitude = int(np.abs(numpy_helper.to_array(stored).astype(np.int32)).max(initial=0))
        if magnitude > SAFE_WEIGHT_MAGNITUDE:
            risks.append(SaturationRisk(node.name or node.output[0], stored.name, magnitude))
    return risks


MAX_CALIBRATION_BATCH = 32


class _CalibrationReader:
    """Feeds training faces to the int8 calibrator, a batch at a time.

    All batches have one size: ONNX Runtime's histogram calibrators stack each tensor's batches
    into one array and fail on a shorter last batch (any count but a multiple of 32, before)."""

    def __init__(self, faces: np.ndarray, preprocess: Preprocess) -> None:
        size = max(d for d in range(1, MAX_CALIBRATION_BATCH + 1) if len(faces) % d == 0)
        self.batches = iter([preprocess(faces[i : i + size]) for i in range(0, len(faces), size)])

    def get_next(self):
        batch = next(self.batches, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:  # required by some onnxruntime versions
        pass


def calibration_faces(train: FerData, count: int = DEFAULT_CALIBRATION_FACES, seed: int = 0) -> np.ndarray:
    """`count` random training faces (all of them when there are fewer) that calibrate the int8 ranges."""
    chosen = np.random.default_rng(seed).choice(len(train), min(count, len(train)), replace=False)
    return train.images[chosen]


def set_metadata(model: onnx.ModelProto, metadata: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    *,
    calibration_faces: np.ndarray,
    preprocess: Preprocess,
) -> Path:
    """Static int8 quantisation (QDQ, uint8 activations, per-channel 7-bit weights) calibrated on
    training faces. Refuses to write a model that `saturation_risks` finds anything in."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_model = onnx.load(str(fp32_path))
    metadata = {p.key: p.value for p in fp32_model.metadata_props}
    with atomic_path(Path(out_path).with_suffix(".pre.onnx")) as prepared, atomic_path(out_path) as temporary:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(temporary), _CalibrationReader(calibration_faces, preprocess),
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": 99.99},
        )
        model = onnx.load(str(temporary))
        risks = saturation_risks(model)
        if risks:  # a change in ONNX Runtime's reduce_range would land here, not on users' CPUs
            raise AssertionError(f"quantised model can saturate without VNNI: {risks[0]}")
        set_metadata(model, {**metadata, "emocap.quantization": QUANTIZATION_NOTE})
        onnx.save(model, str(temporary))
    Path(out_path).with_suffix(".pre.onnx").unlink(missing_ok=True)
    return Path(out_path)


_MAY_BE_NEGATIVE = frozenset({"Conv", "Gemm", "MatMul", "Add"})


def dequantize_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """The fp32 graph a static QDQ model was quantised from, as far as the QDQ graph keeps it.

    Weights become their dequantised fp32 values; each activation's Quantize/
    Dequantize pair goes. ONNX Runtime's quantiser drops a ReLU when the uint8
    range after it starts at zero (zero point 0 does the clamping), so such a
    pair after an op whose output can be negative becomes a ReLU again.
    """
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    renamed: dict[str, str] = {}
    new_initializers: list[onnx.TensorProto] = []
    kept: list[onnx.NodeProto] = []
    relus: dict[str, onnx.NodeProto] = {}

    def value(name: str) -> np.ndarray:
        return numpy_helper.to_array(initializers[name])

    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            weight = _dequantized_weight(node, value)
            new_initializers.append(weight)
            renamed[node.output[0]] = weight.name
        elif node.op_type == "DequantizeLinear":
            renamed[node.output[0]] = _activation_before_quantization(node, producers, value, relus)
        elif node.op_type != "QuantizeLinear":
            kept.append(node)
    return _graph_without_qdq(model, kept, renamed, relus, new_initializers)


def _dequantized_weight(node: onnx.NodeProto, value) -> onnx.TensorProto:
    """The fp32 weight a DequantizeLinear of an initializer gives, per tensor or per channel."""
    quantized = value(node.input[0]).astype(np.float32)
    scale = value(node.input[1]).astype(np.float32)
    zero_point = value(node.input[2]).astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
    if scale.ndim == 1 and quantized.ndim > 1:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * quantized.ndim
        shape[axis] = -1
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    # The quantiser named the weight NAME_quantized; the fp32 weight gets NAME back.
    return numpy_helper.from_array((quantized - zero_point) * scale, node.input[0].removesuffix("_quantized"))


def _activation_before_quantization(node: onnx.NodeProto, producers: dict, value, relus: dict) -> str:
    """The name of the fp32 activation a Quantize/Dequantize pair stood for: its source, or a ReLU of
    it (added to `relus`) where the quantiser let zero point 0 do the ReLU's clamping."""
    quantize = producers[node.input[0]]
    if quantize.op_type != "QuantizeLinear":
        raise ValueError(f"{node.name!r} dequantises {node.input[0]!r}, which no QuantizeLinear makes")
    source = quantize.input[0]
    zero_point = value(quantize.input[2]) if len(quantize.input) > 2 else np.zeros(1, np.uint8)
    producer = producers.get(source)
    if zero_point.dtype == np.uint8 and not zero_point.any() and producer is not None \
            and producer.op_type in _MAY_BE_NEGATIVE:
        return relus.setdefault(source, helper.make_node("Relu", [source], [f"{source}_relu"])).output[0]
    return source


def _graph_without_qdq(model: onnx.ModelProto, kept: list, renamed: dict, relus: dict,
                       new_initializers: list) -> onnx.ModelProto:
    """`model` with only the `kept` nodes, their inputs renamed, the ReLUs put back after their sources
    and the fp32 weights; checked."""
    rebuilt = onnx.ModelProto()
    rebuilt.CopyFrom(model)
    del rebuilt.graph.node[:]
    order = []
    for node in kept:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        order.append(node)
        order.extend(relus.pop(output) for output in node.output if output in relus)
    # A graph output that was a DequantizeLinear's gets its name back through Identity.
    for output in rebuilt.graph.output:
        if output.name in renamed:
            order.append(helper.make_node("Identity", [renamed[output.name]], [output.name]))
    rebuilt.graph.node.extend(order)
    used = {name for node in order for name in node.input}
    del rebuilt.graph.initializer[:]
    rebuilt.graph.initializer.extend(
        [t for t in model.graph.initializer if t.name in used] + [t for t in new_initializers if t.name in used]
    )
    del rebuilt.graph.value_info[:]
    metadata = {p.key: p.value for p in model.metadata_props if p.key != "emocap.quantization"}
    set_metadata(rebuilt, metadata)
    onnx.checker.check_model(rebuilt)
    return rebuilt
