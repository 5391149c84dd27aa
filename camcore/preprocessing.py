"""Photo -> normalised tensor, as the model's weights expect, but without the centre crop.

Explanations cover the whole photo: the shorter side is resized to `resize_px`, the aspect ratio kept and
nothing cropped, so a map maps back onto every pixel of the photo (the networks are fully convolutional up
to global pooling). For ImageNet weights `resize_px` is their evaluation crop size (224), not the resize
before the crop (256): on 160 Oxford pet photos with EfficientNet-Lite0, 224 gave the top-1 a pet class
for 91.2% (256: 88.7%) and a mean top-1 probability of 0.27 (256: 0.16; the 256-then-crop-224 preset: 0.49,
but it hides the photo's borders).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

LONG_SIDE_FACTOR = 4
"""The longer side is capped at this many times resize_px, so that a panorama cannot exhaust memory."""


@dataclass(frozen=True)
class Preprocessing:
    """What a model's weights expect of an input; travels with the model and in our checkpoints."""

    resize_px: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"

    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """PIL RGB image -> (3, H, W) float32 tensor, shorter side resize_px."""
        return v2.Compose([
            v2.ToImage(),
            v2.Resize(self.resize_px, interpolation=InterpolationMode(self.interpolation),
                      max_size=LONG_SIDE_FACTOR * self.resize_px, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(self.mean, self.std),
        ])

    def with_size(self, resize_px: int | None) -> Preprocessing:
        """The same preprocessing at another input size (None keeps the weights' own)."""
        return self if resize_px is None else dataclasses.replace(self, resize_px=int(resize_px))

    def to_dict(self) -> dict[str, Any]:
        return {"resize_px": self.resize_px, "mean": list(self.mean), "std": list(self.std),
                "interpolation": self.interpolation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(resize_px=int(data["resize_px"]), mean=tuple(float(v) for v in data["mean"]),
                   std=tuple(float(v) for v in data["std"]), interpolation=str(data["interpolation"]))


def from_torchvision(weights: Any) -> Preprocessing:
    """Reads the crop size, mean, std and interpolation from `weights.transforms()`, torchvision's own preset."""
    preset = weights.transforms()
    return Preprocessing(resize_px=int(preset.crop_size[0]), mean=tuple(preset.mean), std=tuple(preset.std),
                         interpolation=preset.interpolation.value)


def from_timm(model: torch.nn.Module) -> Preprocessing:
    """Reads timm's data config: input size, mean, std and interpolation."""
    import timm.data

    config = timm.data.resolve_data_config({}, model=model)
    return Preprocessing(resize_px=int(config["input_size"][-1]), mean=tuple(config["mean"]),
                         std=tuple(config["std"]), interpolation=config["interpolation"])
