"""The emotion network (ResNet18, or the lighter ResNet10), built from a `TrainConfig`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from emocap.training.config import ARCHITECTURES, TrainConfig


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


def read_checkpoint(path, *, device: str | torch.device = "cpu", name: str = "") -> dict:
    """A best.pt / last.pt as `train` writes it (a dict with "model" weights and "config");
    ValueError quoting the path, prefixed by `name` (an option's name), for anything else."""
    label = f"{name} {str(path)!r}" if name else repr(str(path))
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch.load raises pickle, zip and runtime errors for files that are not checkpoints
        raise ValueError(f"{label} is not an emocap training checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict) or "config" not in state:
        raise ValueError(f"{label} is not an emocap training checkpoint: it holds no model weights and config")
    return state
