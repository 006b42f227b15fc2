"""A shipped ONNX model back into a trainable `EmotionNet`, so a new model can start from the built-in one;
and `emotion_net_from_file`, the one reader of a network given as either a checkpoint or such a model.

The built-in model is an int8 graph whose PyTorch checkpoint was never kept.
`dequantize_qdq` gives its fp32 graph, in which ONNX export folded every batch
norm into the convolution before it (weights W, bias b). A trainable network
needs its batch norms back: for each, the running statistics are set to the
mean mu and variance var of W*x on training faces, and the affine part to
gamma = sqrt(var + eps), beta = b + mu. In eval mode that is exactly W*x + b
whatever the statistics; with the real ones the first training batches
normalise as the network expects instead of by an arbitrary scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from emocap.classifier import read_model_metadata
from emocap.errors import first_line
from emocap.labels import LABEL_SETS
from emocap.preprocessing import Preprocess
from emocap.training.config import NewerConfigError, TrainConfig
from emocap.training.export import load_checkpoint
from emocap.training.model import EmotionNet
from emocap.training.quantization import dequantize_qdq


def _conv_pairs(net: EmotionNet) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Every convolution of the backbone with the batch norm after it, in module order."""
    modules = dict(net.backbone.named_modules())
    pairs = [(modules["conv1"], modules["bn1"])]
    for name, module in net.backbone.named_modules():
        if name.startswith("layer") and name.count(".") == 1:  # a BasicBlock: layerN.i
            pairs += [(module.conv1, module.bn1), (module.conv2, module.bn2)]
            if module.downsample is not None:
                pairs.append((module.downsample[0], module.downsample[1]))
    return pairs


def _graph_convs(graph: onnx.GraphProto) -> tuple[list, list, tuple[np.ndarray, np.ndarray]]:
    """(3x3-or-larger convolutions, 1x1 convolutions) as (weight, bias) in graph order, and the Gemm head."""
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    spatial, pointwise, head = [], [], None
    for node in graph.node:
        if node.op_type == "Conv":
            weight, bias = weights[node.input[1]], weights[node.input[2]]
            (pointwise if weight.shape[2:] == (1, 1) else spatial).append((weight, bias))
        elif node.op_type == "Gemm":
            head = (weights[node.input[1]], weights[node.input[2]])
    if head is None:
        raise ValueError("the graph has no Gemm head: not an emocap emotion model")
    return spatial, pointwise, head


def emotion_net_from_onnx(path: str | Path, calibration_faces: np.ndarray) -> tuple[EmotionNet, TrainConfig, Preprocess, tuple[str, ...]]:
    """The network of an emocap ONNX model (int8 QDQ or fp32), with batch norms rebuilt on
    `calibration_faces` (uint8 (N, 48, 48) training faces). ValueError quoting the path for other graphs."""
    try:
        model = onnx.load(str(path))
    except Exception as error:  # protobuf's DecodeError and others, for a file that is not an ONNX model
        raise ValueError(f"{str(path)!r} is not a readable ONNX model ({type(error).__name__})") from None
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    labels, preprocess, _ = read_model_metadata(Path(path), metadata)
    if "emocap.train_config" not in metadata:
        raise ValueError(f"{str(path)!r} carries no emocap training configuration: not an emocap emotion model")
    try:
        config = TrainConfig.from_json(metadata["emocap.train_config"])
    except NewerConfigError as error:
        raise ValueError(f"{str(path)!r}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not an emocap model: its metadata emocap.train_config is invalid: "
                         f"{first_line(error)}") from None
    if any(node.op_type == "DequantizeLinear" for node in model.graph.node):
        model = dequantize_qdq(model)
    spatial, pointwise, (head_weight, head_bias) = _graph_convs(model.graph)

    net = EmotionNet(config, num_classes=len(labels), in_channels=preprocess.channels)
    pairs = _conv_pairs(net)
    downsample_convs = {id(pair[0]) for pair in pairs if pair[0].kernel_size == (1, 1)}
    spatial_iter, pointwise_iter = iter(spatial), iter(pointwise)
    folded_bias: dict[int, torch.Tensor] = {}
    try:
        for conv, bn in pairs:
            weight, bias = next(pointwise_iter if id(conv) in downsample_convs else spatial_iter)
            if tuple(weight.shape) != tuple(conv.weight.shape):
                raise ValueError(f"a convolution of shape {weight.shape} where the network has {tuple(conv.weight.shape)}")
            conv.weight.data = torch.from_numpy(weight.copy())
            folded_bias[id(bn)] = torch.from_numpy(bias.copy())
    except (StopIteration, ValueError) as error:
        raise ValueError(f"{str(path)!r} is not the network its configuration names ({error or 'too few convolutions'})") from None
    net.head.weight.data = torch.from_numpy(head_weight.copy())
    net.head.bias.data = torch.from_numpy(head_bias.copy())

    # Identity statistics first (exact in eval mode), then the real ones measured through them.
    for _, bn in pairs:
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.data.fill_(float(np.sqrt(1.0 + bn.eps)))
        bn.bias.data = folded_bias[id(bn)].clone()
    statistics = _conv_output_statistics(net, pairs, torch.from_numpy(preprocess(calibration_faces)))
    for conv, bn in pairs:
        mean, var = statistics[id(conv)]
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.data = torch.sqrt(var + bn.eps)
        bn.bias.data = folded_bias[id(bn)] + mean
    net.eval()
    return net, config, preprocess, labels


@torch.no_grad()
def _conv_output_statistics(net: EmotionNet, pairs, inputs: torch.Tensor) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    sums: dict[int, list] = {}

    def record(conv):
        def hook(_module, _inputs, output):
            values = output.transpose(0, 1).reshape(output.shape[1], -1).double()
            total = sums.setdefault(id(conv), [0, 0.0, 0.0])
            total[0] += values.shape[1]
            total[1] = total[1] + values.sum(1)
            total[2] = total[2] + (values * values).sum(1)
        return hook

    handles = [conv.register_forward_hook(record(conv)) for conv, _ in pairs]
    net.eval()
    try:
        for start in range(0, len(inputs), 256):
            net(inputs[start : start + 256])
    finally:
        for handle in handles:
            handle.remove()
    statistics = {}
    for key, (count, total, squares) in sums.items():
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0)
        statistics[key] = (mean.float(), var.float())
    return statistics


def emotion_net_from_file(path: str | Path, calibration_faces: np.ndarray, *, name: str = "",
                          ) -> tuple[EmotionNet, TrainConfig, Preprocess, tuple[str, ...]]:
    """(network, its training configuration, its input, its classes) of a training checkpoint (its float
    weights, the better start) or of an emocap ONNX model rebuilt from its graph (int8 weights rounded, batch
    norms measured on `calibration_faces`), told apart by the file's suffix. ValueError quoting the path,
    after `name` (the option that gave it) where one is given."""
    try:
        if Path(path).suffix.lower() == ".onnx":
            return emotion_net_from_onnx(path, calibration_faces)
        net, config, preprocess, _ = load_checkpoint(path)
    except ValueError as error:
        raise ValueError(f"{name} {error}" if name else str(error)) from None
    return net, config, preprocess, LABEL_SETS[config.labels]
