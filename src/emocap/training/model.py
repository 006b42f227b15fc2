"""The emotion network (ResNet18, or the lighter ResNet10), built from a `TrainConfig`."""

from __future__ import annotations

import pickle
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from emocap.errors import first_line
from emocap.preprocessing import Preprocess
from emocap.training.config import ARCHITECTURES, NewerConfigError, TrainConfig


class EmotionNet(nn.Module):
    """A ResNet (18 or 10 layers) over grayscale faces; `forward` gives logits, `embed` the 512-d penultimate features."""

    def __init__(self, config: TrainConfig, num_classes: int = 7, in_channels: int = 1) -> None:
        super().__init__()
        self.upsample = config.upsample
        backbone = ResNet(BasicBlock, list(ARCHITECTURES[config.arch]), num_classes=num_classes)
        if config.stem == "fer":
            backbone.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            backbone.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        backbone.fc = nn.Identity()
        self.backbone = backbone
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(512, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


class LogitsAndEmbedding(nn.Module):
    """What the exported ONNX model computes: (logits, embedding).

    With `mirror=True` each face is also seen mirrored and the two embeddings
    are averaged (so are the logits: the head is linear). Built into the graph,
    the evaluation and the run time cannot disagree about it, and its cost shows
    up wherever the model runs.
    """

    def __init__(self, net: EmotionNet, mirror: bool = False) -> None:
        super().__init__()
        self.net = net
        self.mirror = mirror

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mirror:
            both = self.net.embed(torch.cat([x, torch.flip(x, dims=[3])]))
            embedding = (both[: x.shape[0]] + both[x.shape[0] :]) / 2
        else:
            embedding = self.net.embed(x)
        return self.net.head(embedding), embedding


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct

_NUMPY_ARRAY_GLOBALS = [np.ndarray, np.dtype, type(np.dtype(np.uint32)),
                        *((_reconstruct, f"{module}.multiarray._reconstruct") for module in ("numpy._core", "numpy.core"))]
"""What unpickling a uint32 NumPy array calls: each builds the array or its dtype and nothing else. A
last.pt written before the NumPy random state was kept as plain values holds one (its Mersenne Twister keys)."""


def read_checkpoint(path, *, device: str | torch.device = "cpu", name: str = "") -> dict:
    """A best.pt / last.pt as `train` writes it (a dict with "model" weights and "config"), read as data:
    tensors and plain values only (torch.load's weights_only), so a crafted file cannot run the code a
    pickle may carry. ValueError quoting the path, prefixed by `name` (an option's name), for anything
    else: a file that is not a checkpoint, or one that holds other Python objects, refused unrun."""
    label = f"{name} {str(path)!r}" if name else repr(str(path))
    try:
        with torch.serialization.safe_globals(_NUMPY_ARRAY_GLOBALS):
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        if str(error).startswith("Weights only load failed"):  # torch's refusal of what is not plain data
            named = re.search(r"GLOBAL ([\w.]+)", str(error))
            raise ValueError(f"{label} is not an emocap training checkpoint: it holds a Python object"
                             f"{f' ({named[1]})' if named else ''} besides tensors and plain values, which may "
                             "run code: refused before any of it runs") from None
        raise ValueError(f"{label} is not an emocap training checkpoint ({type(error).__name__})") from None
    except Exception as error:  # torch.load raises zip, runtime and other errors for files that are not checkpoints
        raise ValueError(f"{label} is not an emocap training checkpoint ({type(error).__name__})") from None
    return _checked_state(state, label)


def _checked_state(state, label: str) -> dict:
    """`state` if it holds what every reader of a checkpoint takes for granted: named weight tensors, a
    training configuration, and a preprocessing (the default one where a checkpoint predates it)."""
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict) or "config" not in state:
        raise ValueError(f"{label} is not an emocap training checkpoint: it holds no model weights and config")
    weights = state["model"]
    if not weights or not all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in weights.items()):
        raise ValueError(f"{label} is not an emocap training checkpoint: its model is not a set of named weights")
    try:
        TrainConfig.from_json(state["config"])
        if state.get("preprocess") is None:
            state["preprocess"] = Preprocess().to_json()
        Preprocess.from_json(state["preprocess"])
    except NewerConfigError as error:  # an emocap checkpoint all the same, of a later emocap
        raise ValueError(f"{label}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"{label} is not an emocap training checkpoint: {first_line(error)}") from None
    return state


def scored_weights(state: dict) -> dict:
    """The weights a run scored and would ship: its weight EMA where it kept one. A best.pt holds them as its
    model; a last.pt holds the raw weights there (what --resume goes on from) and the EMA beside them, which
    at a schedule's end still differ (batch-norm statistics by up to a third), so reading a last.pt's
    "model" as the run's network would export, teach or start from weights no figure of the run describes."""
    ema = state.get("ema")
    if not isinstance(ema, dict) or not ema:
        return state["model"]
    # timm's ModelEmaV3 keeps the averaged network as its `module`.
    return {key.removeprefix("module."): tensor for key, tensor in ema.items() if key.startswith("module.")}


def check_same_network(model: nn.Module, weights: dict, label: str, *, than: str = "",
                       extra_allowed: bool = False) -> None:
    """ValueError quoting `label` unless `weights` has every weight of `model`, each of its shape (and,
    unless `extra_allowed`, nothing else): the check before any `load_state_dict`, whose own errors are
    a page of names. `than` names where `model` came from."""
    own = model.state_dict()
    other = f"another network than {than}" if than else "another network"
    missing = sorted(key for key in own if key not in weights or tuple(weights[key].shape) != tuple(own[key].shape))
    if missing:
        raise ValueError(f"{label} holds {other}: it has no {missing[0]!r} of shape {tuple(own[missing[0]].shape)}")
    extra = sorted(set(weights) - set(own))
    if extra and not extra_allowed:
        raise ValueError(f"{label} holds {other}: it has {extra[0]!r}, which that one has not")
