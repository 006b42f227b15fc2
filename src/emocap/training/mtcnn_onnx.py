"""Build MTCNN's P-Net, R-Net and O-Net as ONNX graphs from the `mtcnn` package's weights.

The `mtcnn` wheel (MIT, Iván de Paz Centeno) ships the original MTCNN weights
as Keras arrays and a TensorFlow model to run them. emocap runs them on ONNX
Runtime instead, so this module rewrites each network as an ONNX graph from
those arrays. It runs once, at development time:

    python -m emocap.training.mtcnn_onnx   # writes src/emocap/models/mtcnn_*.onnx

and needs `onnx` (the `train` extra); the run-time detector needs only
`onnxruntime` and the shipped files.

The graphs keep the Keras networks' conventions, read from
`mtcnn/network/*.py` and `mtcnn/stages/*.py`:
  * input: RGB, (pixel - 127.5) / 128, here laid out NCHW;
  * no transposition of the image (the Caffe-era transpose is baked into the
    weights); max-pooling with TensorFlow "same" padding (extra cell at the end);
  * before the dense layers Keras permutes NHWC to NWHC and flattens; the dense
    weights are reordered here so that a plain NCHW flatten feeds them.
Two rewrites make the graphs run faster on ONNX Runtime's CPU kernels; both
compute the same function (up to float rounding), which the tests check
against an independent PyTorch port of the Keras networks:
  * PReLU(x) = x + (alpha - 1) * min(x, 0): ONNX Runtime 1.2x's PRelu kernel,
    with per-channel slopes, took 3x longer than these three element-wise ops
    on P-Net's largest layer (measured with one thread on P-Net over a 640x480
    pyramid at min_face_size 20: 23 ms before both rewrites, 14 ms after);
  * the (not face, face) softmax becomes one face logit, l_face - l_not_face,
    since softmax(l)[face] = sigmoid(l_face - l_not_face); it joins the box
    regression in one convolution / dense layer, so each network has a single
    output "output" with channels
        P-Net (N, 5, h, w): dx1, dy1, dx2, dy2, face logit   (one row per 12x12 window, stride 2)
        R-Net (N, 5):       dx1, dy1, dx2, dy2, face logit
        O-Net (N, 15):      dx1, dy1, dx2, dy2, x1..x5, y1..y5, face logit
    Offsets are fractions of the window's side, landmarks fractions of the window.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from emocap.atomic import atomic_path
from emocap.detection.networks import MODELS_DIR, NETWORK_NAMES, MtcnnNetworks, OnnxNetwork, model_path

OPSET = 17
WEIGHTS_SOURCE = "mtcnn==1.0.0 (PyPI, MIT) mtcnn/assets/weights/{name}.lz4"


def load_keras_weights(name: str) -> list[np.ndarray]:
    """The Keras weight arrays of one network, read without importing `mtcnn` (which needs TensorFlow)."""
    if name not in NETWORK_NAMES:
        raise ValueError(f"MTCNN network must be one of {NETWORK_NAMES}, got {name!r}")
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'mtcnn' package is not installed; its weight files are needed")
    path = Path(spec.submodule_search_locations[0]) / "assets" / "weights" / f"{name}.lz4"
    import joblib  # with lz4, reads the arrays; only needed to rebuild the shipped graphs

    return [np.asarray(array, dtype=np.float32) for array in joblib.load(path)]


class _GraphWriter:
    """Accumulates ONNX nodes and initialisers for one small network."""

    def __init__(self) -> None:
        import onnx  # a development-time dependency only
        import onnx.numpy_helper

        self._onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0
        self._zero = self.constant(np.zeros((), np.float32), "zero")

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, array: np.ndarray, stem: str) -> str:
        name = self._name(stem)
        self.initializers.append(
            self._onnx.numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name)
        )
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attributes) -> str:
        output = output or self._name(op_type.lower())
        self.nodes.append(self._onnx.helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def prelu(self, x: str, alpha: np.ndarray) -> str:
        """x + (alpha - 1) * min(x, 0), one slope per channel (see the module docstring for why not PRelu)."""
        per_channel = alpha.reshape(-1, 1, 1) if alpha.ndim == 3 else alpha
        slope = self.constant(per_channel - 1, "prelu_slope_minus_1")
        negative_part = self.op("Min", [x, self._zero])
        return self.op("Add", [x, self.op("Mul", [negative_part, slope])])

    def conv(self, x: str, kernel: np.ndarray, bias: np.ndarray, output: str | None = None) -> str:
        """Keras Conv2D: kernel (kh, kw, cin, cout), stride 1, 'valid' padding."""
        weight = self.constant(kernel.transpose(3, 2, 0, 1), "conv_w")
        return self.op("Conv", [x, weight, self.constant(bias, "conv_b")], output, kernel_shape=list(kernel.shape[:2]))

    def conv_prelu(self, x: str, kernel: np.ndarray, bias: np.ndarray, alpha: np.ndarray) -> str:
        return self.prelu(self.conv(x, kernel, bias), alpha)

    def max_pool(self, x: str, size: int, same: bool) -> str:
        """Keras MaxPooling2D, stride 2; TensorFlow's 'same' puts the extra padding at the end, like SAME_UPPER."""
        return self.op(
            "MaxPool", [x], kernel_shape=[size, size], strides=[2, 2],
            auto_pad="SAME_UPPER" if same else "VALID",
        )

    def flatten_dense_prelu(self, x: str, weight: np.ndarray, bias: np.ndarray, alpha: np.ndarray, spatial: int) -> str:
        """Keras Permute((2, 1, 3)) + Flatten + Dense + PReLU, on an NCHW tensor.

        Keras flattens in (w, h, c) order after its permute; reordering the
        dense weights' rows to (c, h, w) lets a plain NCHW Flatten feed them.
        """
        channels = weight.shape[0] // (spatial * spatial)
        reordered = weight.reshape(spatial, spatial, channels, -1).transpose(2, 1, 0, 3).reshape(weight.shape)
        flat = self.op("Flatten", [x], axis=1)
        dense = self.op("Gemm", [flat, self.constant(reordered, "dense_w"), self.constant(bias, "dense_b")])
        return self.prelu(dense, alpha)

    def model(self, name: str, input_shape: list, output_shape: list):
        onnx = self._onnx
        helper = onnx.helper
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, output_shape)],
            self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_operatorsetid("", OPSET)],
            producer_name="emocap.training.mtcnn_onnx",
        )
        model.ir_version = 8
        helper.set_model_props(model, {
            "weights": WEIGHTS_SOURCE.format(name=name),
            "input": "RGB, (pixel - 127.5) / 128, NCHW float32",
            "output": "box regression (4), [landmarks x1..x5, y1..y5 (10)], face logit (1)",
        })
        onnx.checker.check_model(model)
        return model


def _face_logit_head(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softmax(l)[1] == sigmoid(l[1] - l[0]): one output column instead of a two-way softmax."""
    return weight[..., 1:] - weight[..., :1], bias[1:] - bias[:1]


def build_pnet(weights: list[np.ndarray]):
    """P-Net: fully convolutional, any image size; one output cell per 12x12 window at stride 2."""
    (k1, b1, a1, k2, b2, a2, k3, b3, a3, k_reg, b_reg, k_cls, b_cls) = weights
    g = _GraphWriter()
    x = g.max_pool(g.conv_prelu("image", k1, b1, a1), 2, same=True)
    x = g.conv_prelu(g.conv_prelu(x, k2, b2, a2), k3, b3, a3)
    k_logit, b_logit = _face_logit_head(k_cls, b_cls)
    g.conv(x, np.concatenate([k_reg, k_logit], -1), np.concatenate([b_reg, b_logit]), "output")
    return g.model("pnet", ["batch", 3, "height", "width"], ["batch", 5, "out_height", "out_width"])


def build_rnet(weights: list[np.ndarray]):
    """R-Net: 24x24 crops -> box regression and face logit."""
    (k1, b1, a1, k2, b2, a2, k3, b3, a3, w4, b4, a4, w_reg, b_reg, w_cls, b_cls) = weights
    g = _GraphWriter()
    x = g.max_pool(g.conv_prelu("image", k1, b1, a1), 3, same=True)
    x = g.max_pool(g.conv_prelu(x, k2, b2, a2), 3, same=False)
    x = g.flatten_dense_prelu(g.conv_prelu(x, k3, b3, a3), w4, b4, a4, spatial=3)
    w_logit, b_logit = _face_logit_head(w_cls, b_cls)
    head = g.constant(np.concatenate([w_reg, w_logit], 1), "head_w")
    g.op("Gemm", [x, head, g.constant(np.concatenate([b_reg, b_logit]), "head_b")], "output")
    return g.model("rnet", ["batch", 3, 24, 24], ["batch", 5])


def build_onet(weights: list[np.ndarray]):
    """O-Net: 48x48 crops -> box regression, five landmarks and face logit."""
    (k1, b1, a1, k2, b2, a2, k3, b3, a3, k4, b4, a4,
     w5, b5, a5, w_reg, b_reg, w_mark, b_mark, w_cls, b_cls) = weights
    g = _GraphWriter()
    x = g.max_pool(g.conv_prelu("image", k1, b1, a1), 3, same=True)
    x = g.max_pool(g.conv_prelu(x, k2, b2, a2), 3, same=False)
    x = g.max_pool(g.conv_prelu(x, k3, b3, a3), 2, same=True)
    x = g.flatten_dense_prelu(g.conv_prelu(x, k4, b4, a4), w5, b5, a5, spatial=3)
    w_logit, b_logit = _face_logit_head(w_cls, b_cls)
    head = g.constant(np.concatenate([w_reg, w_mark, w_logit], 1), "head_w")
    g.op("Gemm", [x, head, g.constant(np.concatenate([b_reg, b_mark, b_logit]), "head_b")], "output")
    return g.model("onet", ["batch", 3, 48, 48], ["batch", 15])


BUILDERS = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}


def build_model_bytes(name: str) -> bytes:
    """The serialised ONNX model of one network, built from the `mtcnn` package's arrays."""
    if name not in BUILDERS:
        raise ValueError(f"MTCNN network must be one of {NETWORK_NAMES}, got {name!r}")
    return BUILDERS[name](load_keras_weights(name)).SerializeToString()


def networks_from_keras_weights(threads: int | None = None) -> MtcnnNetworks:
    """The three networks built afresh from the `mtcnn` package's arrays, not read from the shipped
    files (the tests check that both compute the same)."""
    return MtcnnNetworks(**{name: OnnxNetwork(build_model_bytes(name), threads) for name in NETWORK_NAMES})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="folder for mtcnn_{pnet,rnet,onet}.onnx")
    args = parser.parse_args(argv)
    for name in NETWORK_NAMES:
        target = model_path(name, args.out)
        with atomic_path(target) as temporary:
            temporary.write_bytes(build_model_bytes(name))
        print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
