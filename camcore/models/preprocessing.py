"""Photo -> normalised tensor, as the model's weights expect, but without the centre crop.

Explanations cover the whole photo: the shorter side is resized to `resize_px`, the aspect ratio kept and
nothing cropped, so a map maps back onto every pixel of the photo (the networks are fully convolutional up
to global pooling). For ImageNet weights `resize_px` is their evaluation crop size (224), not the resize
before the crop (256): on 160 Oxford pet photos with EfficientNet-Lite0, 224 gave the top-1 a pet class
for 91.2% (256: 88.7%) and a mean top-1 probability of 0.27 (256: 0.16; the 256-then-crop-224 preset: 0.49,
but it hides the photo's borders).

Both input sides are then rounded to multiples of STRIDE_PX, so that the feature grid covers exactly the photo:
a 500x375 photo resized to 299x224 gives a 10x7 grid at stride 32 whose 10 cells span 320 input pixels, and
stretching them over the photo's width shifted a map by up to 6% of it. Rounding costs an aspect change of at
most half a stride per side (299x224 -> 288x224, 4%). Padding the input up to the stride instead would keep the
aspect but show the network borders that are not in the photo, and leave maps to be cropped in every caller.
Bonus: far more photos share an input shape, so explain() batches them together.

A model built for one input size (timm's ViT, DeiT and Swin: their patch grid and position embeddings are fixed)
gets that size whatever the photo: the photo is squashed to it, nothing cropped, and its map stretched back over
the photo lines up with it again; the pages say so when the photo's aspect changed (`squashes`).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from camcore.errors import ModelUnsupported

LONG_SIDE_FACTOR = 4
"""The longer side is capped at this many times resize_px, so that a panorama cannot exhaust memory."""
SQUASH_TOLERANCE = 0.02
"""A fixed-size model's change of a photo's aspect above this is worth a line on the page."""
STRIDE_PX = 32
"""Every input side is a multiple of this: the total stride of every CNN classifier offered (resnets,
efficientnets, densenet, mobilenet, timm CNNs), and a multiple of the 16 and 8 of shallower layers."""


@dataclass(frozen=True)
class Preprocessing:
    """What a model's weights expect of an input; travels with the model and in our checkpoints."""

    resize_px: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"
    fixed_size: tuple[int, int] | None = None
    """(H, W) of every input, for a model that takes no other (set at load from the module: fixed_input_size)."""

    @property
    def short_side_px(self) -> int:
        """The input's shorter side (unless LONG_SIDE_FACTOR caps a panorama): resize_px to the stride."""
        return min(self.fixed_size) if self.fixed_size else _to_stride(self.resize_px)

    def input_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of a photo -> (H, W) of the network input: the shorter side about resize_px, the
        longer at most LONG_SIDE_FACTOR * resize_px, each rounded to the nearest multiple of STRIDE_PX
        (a fixed-size model: its size)."""
        if self.fixed_size:
            return self.fixed_size
        width, height = image_size
        cap_px = max(STRIDE_PX, LONG_SIDE_FACTOR * self.resize_px // STRIDE_PX * STRIDE_PX)
        scale = min(self.resize_px / min(width, height), LONG_SIDE_FACTOR * self.resize_px / max(width, height))
        return min(cap_px, _to_stride(height * scale)), min(cap_px, _to_stride(width * scale))

    def transform(self) -> Callable[[Image.Image], torch.Tensor]:
        """PIL RGB image -> (3, H, W) float32 tensor of input_size(image.size)."""
        to_float = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean, self.std)])
        interpolation = InterpolationMode(self.interpolation)

        def apply(image: Image.Image) -> torch.Tensor:
            resize = v2.Resize(self.input_size(image.size), interpolation=interpolation, antialias=True)
            return to_float(resize(v2.functional.to_image(image)))
        return apply

    def squashes(self, image_size: tuple[int, int]) -> bool:
        """Whether a fixed-size model's input changes a (width, height) photo's aspect by more than
        SQUASH_TOLERANCE (the other models' rounding to the stride, at most half a stride per side, is not this)."""
        if not self.fixed_size:
            return False
        width, height = image_size
        input_height, input_width = self.input_size(image_size)
        return abs((input_width / input_height) / (width / height) - 1) > SQUASH_TOLERANCE

    def with_size(self, resize_px: int | None) -> Preprocessing:
        """The same preprocessing at another input size (None keeps the weights' own); ModelUnsupported (a
        ValueError) for a fixed-size model asked for another size."""
        if resize_px is None or (self.fixed_size and int(resize_px) == min(self.fixed_size)):
            return self
        if self.fixed_size:
            height, width = self.fixed_size
            raise ModelUnsupported(f"This model takes {height}x{width} inputs only, the size it was built for; "
                             f"{resize_px} px cannot be used. Use {min(self.fixed_size)}.")
        return dataclasses.replace(self, resize_px=int(resize_px))

    def to_dict(self) -> dict[str, Any]:
        return {"resize_px": self.resize_px, "mean": list(self.mean), "std": list(self.std),
                "interpolation": self.interpolation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(resize_px=int(data["resize_px"]), mean=_three(data["mean"]), std=_three(data["std"]),
                   interpolation=str(data["interpolation"]))


def _three(values: Any) -> tuple[float, float, float]:
    """Three floats (one per RGB channel) from a list; anything else is a ValueError."""
    red, green, blue = (float(value) for value in values)
    return red, green, blue


def _to_stride(side_px: float) -> int:
    """The nearest multiple of STRIDE_PX (halves up), at least one stride."""
    return max(STRIDE_PX, STRIDE_PX * math.floor(side_px / STRIDE_PX + 0.5))


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


def fixed_input_size(module: torch.nn.Module) -> tuple[int, int] | None:
    """(H, W) that a model accepts and no other, read from its module tree: a timm PatchEmbed with
    `strict_img_size` (ViT, DeiT, Swin, MLP-Mixer), whose position embeddings and windows are built for that grid;
    else None."""
    embed = next((m for m in module.modules() if getattr(m, "strict_img_size", False)), None)
    if embed is None:
        return None
    height, width = (int(side) for side in embed.img_size)  # type: ignore[union-attr]  # timm: a (H, W) tuple
    return height, width
