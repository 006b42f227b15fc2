"""int8 models whose integer arithmetic is exact on every x86 CPU (emocap.training.quantization).

The property is checked in the graph itself (weights within +-64), so these tests fail for a model
that can saturate on any CPU they run on; one test also runs the real AVX2 kernels of ONNX Runtime
under `qemu-x86_64 -cpu Haswell` (an emulated CPU without AVX-512 or VNNI) and compares.
"""

import json
import platform
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fer_fixtures import smooth_faces

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")
torch = pytest.importorskip("torch")

from onnx import numpy_helper  # noqa: E402

from emocap.classifier import BUILTIN_MODEL  # noqa: E402
from emocap.onnx_session import open_session  # noqa: E402
from emocap.preprocessing import Preprocess  # noqa: E402
from emocap.training import export  # noqa: E402
from emocap.training.config import resolve_preset  # noqa: E402
from emocap.training.quantization import (  # noqa: E402
    SAFE_WEIGHT_MAGNITUDE,
    dequantize_qdq,
    quantize_int8,
    saturation_risks,
)

PREPROCESS = Preprocess(channels=1, mean=0.5, std=0.5)
CALIBRATION_FACES = smooth_faces(48, seed=21)
HELD_OUT_FACES = smooth_faces(120, seed=22)


@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory):
    from checkpoint_fixtures import write_spread_checkpoint  # the same spread network the export tests use

    folder = tmp_path_factory.mktemp("quantization")
    write_spread_checkpoint(folder / "best.pt", resolve_preset("paper-no-mix", upsample=1, seed=5), PREPROCESS,
                            CALIBRATION_FACES)
    path = folder / "spread.onnx"
    export.export_onnx(folder / "best.pt", path, sample_faces=CALIBRATION_FACES[:8], mirror=True)
    return path


@pytest.fixture(scope="module")
def int8_model(fp32_model):
    path = fp32_model.with_suffix(".int8.onnx")
    return quantize_int8(fp32_model, path, calibration_faces=CALIBRATION_FACES, preprocess=PREPROCESS)


def quantize_as_before(fp32_path, out_path, quant_format: str):
    """ONNX Runtime's static quantisation with full 8-bit weights, as emocap exported before."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from emocap.training.quantization import _CalibrationReader

    prepared = out_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(out_path), _CalibrationReader(CALIBRATION_FACES, PREPROCESS),
                    quant_format=getattr(QuantFormat, quant_format), per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return onnx.load(str(out_path))


def integer_weights(model) -> dict[str, np.ndarray]:
    """The int8 weight tensors of a QDQ model (not their zero points)."""
    dequantized = {node.input[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
            if t.data_type == onnx.TensorProto.INT8 and t.name in dequantized}


def test_the_built_in_model_cannot_saturate_on_any_x86_cpu():
    model = onnx.load(str(BUILTIN_MODEL))
    assert saturation_risks(model) == []
    weights = integer_weights(model)
    assert len(weights) == 21  # every convolution and the head are integer: nothing was left in fp32
    assert max(int(np.abs(w.astype(int)).max()) for w in weights.values()) == SAFE_WEIGHT_MAGNITUDE
    metadata = {p.key: p.value for p in model.metadata_props}
    assert "7-bit weights" in metadata["emocap.quantization"]


@pytest.mark.slow  # an int8 calibration of a ResNet18
def test_export_quantizes_to_weights_that_cannot_saturate_yet_use_their_whole_range(int8_model):
    model = onnx.load(str(int8_model))
    assert saturation_risks(model) == []
    weights = integer_weights(model)
    assert weights, "no integer weights: the model was not quantised"
    # Each output channel of a per-channel weight reaches +-64 somewhere: 7 bits, none wasted.
    for name, weight in weights.items():
        per_channel = np.abs(weight.astype(int)).reshape(len(weight), -1).max(axis=1)
        assert (per_channel == SAFE_WEIGHT_MAGNITUDE).all(), name


@pytest.mark.slow  # quantizes a ResNet18
@pytest.mark.parametrize("quant_format", ["QDQ", "QOperator"])
def test_saturation_check_finds_full_8_bit_weights(fp32_model, tmp_path, quant_format):
    model = quantize_as_before(fp32_model, tmp_path / "before.onnx", quant_format)
    risks = saturation_risks(model)
    layers = [n for n in model.graph.node if n.op_type in ("Conv", "QLinearConv", "Gemm", "QGemm", "QLinearMatMul", "MatMul")]
    assert len(risks) == len(layers) > 10  # every integer layer of a ResNet18 plus its head
    assert all(risk.max_magnitude == 127 for risk in risks)
    assert "127" in str(risks[0]) and "exact only up to 64" in str(risks[0])


@pytest.mark.slow  # an int8 calibration of a ResNet18
def test_dequantize_qdq_gives_back_an_fp32_graph_that_quantizes_to_the_same_weights(fp32_model, int8_model, tmp_path):
    rebuilt = dequantize_qdq(onnx.load(str(int8_model)))
    ops = [node.op_type for node in rebuilt.graph.node]
    assert "QuantizeLinear" not in ops and "DequantizeLinear" not in ops
    original_ops = [node.op_type for node in onnx.load(str(fp32_model)).graph.node]
    # The quantiser folded each ReLU into a uint8 range from zero; each is back (and one after the
    # mirror average of two ReLU outputs, where it changes nothing).
    assert ops.count("Relu") == original_ops.count("Relu") + 1
    rebuilt_path = tmp_path / "rebuilt.onnx"
    onnx.save(rebuilt, str(rebuilt_path))
    assert {p.key for p in rebuilt.metadata_props} == {p.key for p in onnx.load(str(fp32_model)).metadata_props}

    faces = PREPROCESS(HELD_OUT_FACES)
    original = open_session(fp32_model).run(["logits"], {"faces": faces})[0]
    again = open_session(rebuilt_path).run(["logits"], {"faces": faces})[0]
    assert (original.argmax(1) == again.argmax(1)).mean() >= 0.9  # only the weights' rounding differs
    assert np.abs(original - again).max() < 0.1 * np.ptp(original)

    requantized = quantize_int8(rebuilt_path, tmp_path / "again.int8.onnx", calibration_faces=CALIBRATION_FACES,
                                preprocess=PREPROCESS)
    first, second = integer_weights(onnx.load(str(int8_model))), integer_weights(onnx.load(str(requantized)))
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


QEMU_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from emocap.classifier import EmotionClassifier
    from emocap.onnx_session import cpu_features
    faces = np.load(sys.argv[1])
    features = cpu_features()
    print(json.dumps({"avx512": features.avx512, "vnni": features.vnni, "avx2": features.avx2,
                      "probs": EmotionClassifier(threads=1).predict(faces).tolist()}))
""")


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64", reason="emulates an x86-64 CPU")
@pytest.mark.skipif(shutil.which("qemu-x86_64") is None, reason="qemu-user is not installed (scripts/install-test-tools.sh)")
def test_built_in_model_computes_the_same_on_an_emulated_cpu_without_vnni(tmp_path):
    """The model shipped before, with 8-bit weights, failed this: probabilities up to 0.44 apart and
    another class on 7 of these 16 faces. Weights that cannot saturate make the integer sums exact."""
    from emocap.classifier import EmotionClassifier

    faces = np.concatenate([smooth_faces(8, seed=23), 255 - smooth_faces(8, seed=24)])
    np.save(tmp_path / "faces.npy", faces)
    (tmp_path / "run.py").write_text(QEMU_SCRIPT)
    completed = subprocess.run(
        ["qemu-x86_64", "-cpu", "Haswell", sys.executable, str(tmp_path / "run.py"), str(tmp_path / "faces.npy")],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    emulated = json.loads(completed.stdout.strip().splitlines()[-1])
    assert emulated["avx2"] and not emulated["avx512"] and not emulated["vnni"]  # the kernels without VNNI ran
    native = EmotionClassifier(threads=1).predict(faces)
    assert np.abs(np.array(emulated["probs"]) - native).max() < 1e-5
