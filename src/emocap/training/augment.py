"""Augmentation of whole batches on the training device (GPU when there is one).

One affine warp per sample does resize-and-crop, flip, rotation and shift in
a single `grid_sample`; brightness, contrast and erasing are per-sample
scalars and masks; webcam corruptions (dim light, blur, small faces, JPEG,
noise, occlusion) are per-sample kernels and masks too. No per-image Python work, so a GPU epoch takes seconds.
The one exception, off unless asked for (`wild_prob`): issue 44's wild conditions, rendered per face by
NumPy and OpenCV on the CPU before the rest (`emocap.training.wild_faces`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from emocap.corruption_families import corruption_family
from emocap.preprocessing import MAX_CONTRAST_STRETCH, Preprocess
from emocap.training.config import CORRUPTION_FAMILIES, TrainConfig, corruption_draws


def to_model_input(images: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """uint8 (B, H, W) faces -> normalised float (B, C, H, W): the torch twin of `Preprocess.__call__`."""
    scaled = images.unsqueeze(1).float() * (1.0 / 255.0)
    return normalise(scaled, preprocess)


def normalise(x: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """[0, 1] faces (B, 1, H, W) -> model input (B, C, H, W), as `Preprocess.__call__` after its scaling."""
    if preprocess.lift_to is not None:
        x = lift_light(x, preprocess.lift_to)
    normalised = (x - preprocess.mean) / preprocess.std
    return normalised.expand(-1, preprocess.channels, -1, -1)


def lift_light(x: torch.Tensor, lift_to: tuple[float, float]) -> torch.Tensor:
    """The torch twin of `emocap.preprocessing.lift_light`, on (B, 1, H, W)."""
    target_mean, target_std = lift_to
    means = x.mean(dim=(1, 2, 3), keepdim=True)
    stds = x.std(dim=(1, 2, 3), keepdim=True, correction=0)
    stretch = (target_std / stds.clamp_min(1e-6)).clamp(1.0, MAX_CONTRAST_STRETCH)
    return (x - means) * stretch + means.clamp_min(target_mean)


def _uniform(n: int, low: float, high: float, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, device=like.device, generator=generator) * (high - low) + low


class BatchAugment:
    """uint8 faces (B, H, W) on any device -> augmented, normalised float (B, C, H, W)."""

    def __init__(self, config: TrainConfig, preprocess: Preprocess) -> None:
        self.config = config
        self.preprocess = preprocess
        self.corruptions = (
            WebcamCorruptions(config.corruption_prob, dict(config.corruption_weights))
            if config.corruption_prob > 0 else None
        )
        self.wild = None
        if config.wild_prob > 0:  # not imported otherwise: the rendering brings OpenCV
            from emocap.training.wild_faces import WildFaces

            self.wild = WildFaces(config.wild_prob)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        if self.wild is not None:  # first, on the uint8 faces, as the yardstick renders them
            images = self.wild(images, generator)
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
        if self.corruptions is not None:
            x = self.corruptions(x, generator)
        if c.random_erasing > 0:
            x = self._erase(x, generator)
        return normalise(x, self.preprocess).contiguous(memory_format=torch.channels_last)

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


class WebcamCorruptions:
    """What a webcam or a recorded video does to a face, on batches of [0, 1] faces (B, 1, H, W).

    Each face is corrupted with probability `probability` by one family drawn at random, at a
    strength drawn uniformly from the family's `training_range` in `emocap.corruption_families`,
    the table FER2013-C takes its severities from; each range spans FER2013-C's three severities.
    The families are the table's that training draws (`TRAINING_FAMILY_NAMES`): dim light, crushed
    shadows, low contrast, a light gradient, focus and motion blur, a small face enlarged, JPEG,
    sensor noise, and a patch over the mouth. FER2013-C's rotation and detector jitter are not
    drawn here: `BatchAugment`'s affine warp turns, shifts and scales every face. `weights` draws a
    family that many times as often as one left out of it (weight 1); 0 never draws it.
    """

    FAMILIES = CORRUPTION_FAMILIES

    def __init__(self, probability: float, weights: dict[str, int] | None = None) -> None:
        weights = weights or {}
        unknown = sorted(set(weights) - set(self.FAMILIES))
        if unknown:
            raise ValueError(f"unknown corruption families {unknown}; choose from {', '.join(self.FAMILIES)}")
        self.probability = probability
        # With every weight 1 the draws are range(10): the same random stream as before weights existed.
        self.draws = torch.tensor(corruption_draws(weights), dtype=torch.int64)
        if len(self.draws) == 0:
            raise ValueError(f"corruption weights {weights} leave no family to draw")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        chosen = torch.rand(n, device=x.device, generator=generator) < self.probability
        draw = torch.randint(len(self.draws), (n,), device=x.device, generator=generator)
        family = self.draws.to(x.device)[draw]
        out = x
        for index, name in enumerate(self.FAMILIES):
            members = torch.nonzero(chosen & (family == index)).flatten()
            if len(members):
                out = out.index_copy(0, members, getattr(self, f"_{name}")(x[members], generator).clamp(0, 1))
        return out

    @staticmethod
    def _strengths(name, x, generator):
        """One strength a face (n,), uniform over the family's training range."""
        low, high = corruption_family(name).training_range
        return _uniform(x.shape[0], low, high, x, generator)

    @staticmethod
    def _whole_strength(name, size, x, generator):
        """Whole-number strengths (`size` of them), both ends of the family's training range included."""
        low, high = corruption_family(name).training_range
        return torch.randint(low, high + 1, size, device=x.device, generator=generator)

    def _dark(self, x, generator):
        return x * self._strengths("dark", x, generator).view(-1, 1, 1, 1)

    def _gamma(self, x, generator):
        return x.clamp_min(1e-4) ** self._strengths("gamma", x, generator).view(-1, 1, 1, 1)

    def _low_contrast(self, x, generator):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * self._strengths("low_contrast", x, generator).view(-1, 1, 1, 1) + mean

    def _uneven_light(self, x, generator):
        n, _, height, width = x.shape
        angle = _uniform(n, 0, 2 * math.pi, x, generator).view(n, 1, 1, 1)
        rows = torch.linspace(-0.5, 0.5, height, device=x.device).view(1, 1, height, 1)
        cols = torch.linspace(-0.5, 0.5, width, device=x.device).view(1, 1, 1, width)
        along = torch.cos(angle) * cols + torch.sin(angle) * rows
        low, high = along.amin(dim=(2, 3), keepdim=True), along.amax(dim=(2, 3), keepdim=True)
        darkest = self._strengths("uneven_light", x, generator).view(-1, 1, 1, 1)
        return x * (1 - (1 - darkest) * (along - low) / (high - low))

    @staticmethod
    def _filter(x, kernels):
        """Each face (n, 1, H, W) filtered by its own kernel (n, k, k), borders reflected."""
        n, _, height, width = x.shape
        pad = kernels.shape[-1] // 2
        padded = F.pad(x.view(1, n, height, width), (pad, pad, pad, pad), mode="reflect")
        return F.conv2d(padded, kernels.unsqueeze(1), groups=n).view(n, 1, height, width)

    def _gaussian_blur(self, x, generator):
        sigma = self._strengths("gaussian_blur", x, generator).view(-1, 1, 1)
        offsets = torch.arange(-7, 8, device=x.device, dtype=x.dtype)
        squared = offsets.view(1, -1, 1) ** 2 + offsets.view(1, 1, -1) ** 2
        kernels = torch.exp(-squared / (2 * sigma**2))
        return self._filter(x, kernels / kernels.sum(dim=(1, 2), keepdim=True))

    def _motion_blur(self, x, generator):
        n = x.shape[0]
        length = self._strengths("motion_blur", x, generator).view(-1, 1, 1)
        angle = _uniform(n, 0, math.pi, x, generator).view(-1, 1, 1)
        offsets = torch.arange(-6, 7, device=x.device, dtype=x.dtype)
        u, v = offsets.view(1, -1, 1), offsets.view(1, 1, -1)
        along = u * torch.sin(angle) + v * torch.cos(angle)
        across = u * torch.cos(angle) - v * torch.sin(angle)
        kernels = ((across.abs() <= 0.5) & (along.abs() <= length / 2)).to(x.dtype)
        return self._filter(x, kernels / kernels.sum(dim=(1, 2), keepdim=True).clamp_min(1))

    def _downscale(self, x, generator):
        size = x.shape[-1]
        side = int(self._whole_strength("downscale", (1,), x, generator))  # one side for the whole batch
        small = F.interpolate(x, size=(side, side), mode="area")
        return F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)

    def _jpeg(self, x, generator):
        from torchvision.io import decode_jpeg, encode_jpeg

        qualities = self._whole_strength("jpeg", (x.shape[0],), x, generator).tolist()
        faces = (x * 255).round().to(torch.uint8).cpu()
        decoded = [decode_jpeg(encode_jpeg(face, quality=quality)) for face, quality in zip(faces, qualities)]
        return torch.stack(decoded).to(x.device, x.dtype) / 255

    def _noise(self, x, generator):
        sigma = self._strengths("noise", x, generator).view(-1, 1, 1, 1)  # a share of full scale
        return x + torch.randn(x.shape, device=x.device, generator=generator) * sigma

    def _occlusion(self, x, generator):
        n, _, height, width = x.shape
        half = self._strengths("occlusion", x, generator).view(n, 1, 1) * width / 2
        centre = width / 2 + torch.randn(n, device=x.device, generator=generator).view(n, 1, 1) * 0.05 * width
        cols = torch.arange(width, device=x.device).view(1, 1, width)
        rows = torch.arange(height, device=x.device).view(1, height, 1)
        top = _uniform(n, 0.6, 0.7, x, generator).view(n, 1, 1) * height
        patch = ((cols - centre).abs() <= half) & (rows >= top) & (rows < 0.9 * height)
        grey = _uniform(n, 0.3, 0.7, x, generator).view(n, 1, 1, 1)
        return torch.where(patch.unsqueeze(1), grey, x)
