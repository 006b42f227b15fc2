"""Training checkpoints made by the tests without training: best.pt as the trainer writes it.

`write_spread_checkpoint` writes an untrained network prepared so that its predictions spread over
all seven classes (its BatchNorm statistics measured on the faces given, its head reading their main
directions of variation), for the export and quantisation tests. Plain functions (imported like
`frame_fixtures`: pytest puts tests/ on sys.path); a test that imports them is skipped where torch
is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from emocap.labels import FER2013_LABELS
from emocap.preprocessing import Preprocess

torch = pytest.importorskip("torch")

from emocap.training.config import TrainConfig  # noqa: E402
from emocap.training.model import EmotionNet  # noqa: E402


def write_spread_checkpoint(path, config: TrainConfig, preprocess: Preprocess, faces: np.ndarray) -> None:
    """best.pt as the trainer writes it, for a network whose top class varies from face to face.

    A freshly initialised ResNet gives nearly the same logits for every face (its BatchNorm layers
    assume unit-variance activations), and a model that always says one class agrees with any other
    such model trivially. So: BatchNorm statistics are measured on `faces`, and the head reads the
    faces' seven main directions of variation in their embedding, centred and whitened.
    """
    torch.manual_seed(config.seed)
    net = EmotionNet(config, num_classes=len(FER2013_LABELS), in_channels=preprocess.channels)
    batch = torch.from_numpy(preprocess(faces))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batch
    net.train()
    with torch.no_grad():
        net(batch)
        net.eval()
        embedding = net.embed(batch)
        centred = embedding - embedding.mean(0)
        _, singular_values, directions = torch.linalg.svd(centred, full_matrices=False)
        weight = directions[: len(FER2013_LABELS)] / singular_values[: len(FER2013_LABELS), None] * 10
        net.head.weight.copy_(weight)
        net.head.bias.copy_(-embedding.mean(0) @ weight.T)
    # The keys the trainer's best.pt has (trainer.py); export reads config, model and preprocess.
    best = {"config": config.to_json(), "model": net.state_dict(), "epoch": 1, "metrics": {}}
    torch.save({**best, "preprocess": preprocess.to_json()}, path)
