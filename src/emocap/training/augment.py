"""Augmentation of whole batches on the training device (GPU when there is one).

One affine warp per sample does resize-and-crop, flip, rotation and shift in
a single `grid_sample`; brightness, contrast and erasing are per-sample
scalars and masks. No per-image Python work, so a GPU epoch takes seconds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from emocap.preprocessing import Preprocess
from emocap.training.config import TrainConfig


def to_model_input(images: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """uint8 (B, H, W) faces -> normalised float (B, C, H, W): the torch twin of `Preprocess.__call__`."""
    scaled = images.unsqueeze(1).float() * (1.0 / 255.0)
    normalised = (scaled - preprocess.mean) / preprocess.std
    return normalised.expand(-1, preprocess.channels, -1, -1)


def _uniform(n: int, low: float, high: float, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, device=like.device, generator=generator) * (high - low) + low


class BatchAugment:
    """uint8 faces (B, H, W) on any device -> augmented, normalised float (B, C, H, W)."""

    def __init__(self, config: TrainConfig, preprocess: Preprocess) -> None:
        self.config = config
        self.preprocess = preprocess

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        n, height, width = images.shape
        x = images.unsqueeze(1).float() * (1.0 / 255.0)

        zoom = torch.sqrt(_uniform(n, c.crop_scale[0], c.crop_scale[1], x, generator))
        angle = _uniform(n, -c.rotate_degrees, c.rotate_degrees, x, generator) * (math.pi / 180)
        flip = torch.ones(n, device=x.device)
        if c.hflip:
            flip = torch.where(torch.rand(n, device=x.device, generator=generator) < 0.5, -flip, flip)
        # The crop may sit anywhere the zoom leaves room for, plus the configured shift.
        slack = (1 - zoom) + c.translate
        shift_x = _uniform(n, -1, 1, x, generator) * slack
        shift_y = _uniform(n, -1, 1, x, generator) * slack
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift_x], 1), torch.stack([sin * flip, cos, shift_y], 1)], 1
        )
        grid = F.affine_grid(theta, [n, 1, height, width], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

        if c.brightness > 0:
            x = x * _uniform(n, 1 - c.brightness, 1 + c.brightness, x, generator).view(n, 1, 1, 1)
        if c.contrast > 0:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * _uniform(n, 1 - c.contrast, 1 + c.contrast, x, generator).view(n, 1, 1, 1) + mean
        x = x.clamp(0, 1)
        if c.random_erasing > 0:
            x = self._erase(x, generator)
        normalised = (x - self.preprocess.mean) / self.preprocess.std
        return normalised.expand(-1, self.preprocess.channels, -1, -1).contiguous(
            memory_format=torch.channels_last
        )

    def _erase(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random erasing: a rectangle of 2-20% of the face filled with noise, per sample with probability p."""
        n, _, height, width = x.shape
        area = _uniform(n, 0.02, 0.2, x, generator)
        aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), x, generator))
        h = (torch.sqrt(area * aspect) * height).clamp(1, height)
        w = (torch.sqrt(area / aspect) * width).clamp(1, width)
        top = torch.rand(n, device=x.device, generator=generator) * (height - h)
        left = torch.rand(n, device=x.device, generator=generator) * (width - w)
        rows = torch.arange(height, device=x.device).view(1, height, 1)
        cols = torch.arange(width, device=x.device).view(1, 1, width)
        inside = (
            (rows >= top.view(n, 1, 1)) & (rows < (top + h).view(n, 1, 1))
            & (cols >= left.view(n, 1, 1)) & (cols < (left + w).view(n, 1, 1))
        )
        chosen = torch.rand(n, device=x.device, generator=generator) < self.config.random_erasing
        mask = (inside & chosen.view(n, 1, 1)).unsqueeze(1)
        noise = torch.rand(x.shape, device=x.device, generator=generator)
        return torch.where(mask, noise, x)
