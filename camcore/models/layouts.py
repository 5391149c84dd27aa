"""How a layer lays out its output, and the (N, C, h, w) maps that every method weighs, made from it.

CNN layers output (N, C, h, w). timm's Swin keeps its features channels-last, (N, h, w, C); a ViT's blocks output
tokens, (N, prefix + h*w, C), the class (and distillation) tokens first. Each layer's layout is read once at load,
from its output's shape on the square probe image and the model's module tree (`num_prefix_tokens` and
`patch_embed.grid_size`, timm's names), so that hooks, activations and gradients all turn into maps the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Layout:
    """`kind`: "nchw" (a CNN's), "nhwc" (channels last) or "tokens" (`prefix` tokens, then a `grid` of patches)."""

    kind: Literal["nchw", "nhwc", "tokens"]
    prefix: int = 0
    grid: tuple[int, int] = (0, 0)

    def to_maps(self, output: Tensor) -> Tensor:
        """(..., C, h, w), (..., h, w, C) or (..., prefix + h*w, C) -> (..., C, h, w), a view where it can be:
        leading dimensions (a batch, or a batch of classes' gradients) are kept, prefix tokens dropped."""
        if self.kind == "nchw":
            return output
        if self.kind == "tokens":
            output = output[..., self.prefix:, :].unflatten(-2, self.grid)
        return output.movedim(-1, -3)


NCHW = Layout("nchw")


def token_grid(model: nn.Module) -> Layout | None:
    """The token layout of a timm ViT/DeiT (its prefix tokens and patch grid), from its module tree; None for
    models without both (CNNs, and Swin, whose windows' tokens are no image-wide grid)."""
    prefix = getattr(model, "num_prefix_tokens", None)
    grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    if not isinstance(prefix, int) or grid is None:
        return None
    height, width = (int(side) for side in grid)
    return Layout("tokens", prefix, (height, width))


def patch_grid(model: nn.Module) -> tuple[int, int] | None:
    """(h, w) of a timm transformer's patch grid (Swin's and a ViT's `patch_embed.grid_size`), None for CNNs."""
    grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    return None if grid is None else (int(grid[0]), int(grid[1]))


def layout_of(shape: torch.Size, tokens: Layout | None, grid: tuple[int, int] | None = None) -> Layout | None:
    """The layout of an output of `shape` on the (1, 3, S, S) probe, or None when it is no map over the photo (a
    vector, one position, a window's tokens, attention weights). On a square input every CNN map is square,
    (1, C, h, h): an output (1, h, h, C) with C != h is channels-last. An output whose first dimension is not the
    probe's batch of 1 is batched over windows (Swin's attention), not laid out over the photo. `tokens`: the
    model's token_grid, which a (1, T, C) output must fill exactly; `grid`: the model's patch_grid, which a
    transformer's map must tile (Swin's stages: 56, 28, 14, 7; its (1, heads, 49, 49) attention matrices do not)."""
    if len(shape) == 4:
        batch, first, second, third = shape
        layout = Layout("nhwc") if first == second > 1 and second != third else NCHW
        height, width = (first, second) if layout.kind == "nhwc" else (second, third)
        tiles = grid is None or (grid[0] % height == 0 and grid[1] % width == 0)
        return layout if batch == 1 and height * width > 1 and tiles else None
    if len(shape) == 3 and tokens is not None and shape[0] == 1:
        height, width = tokens.grid
        if shape[1] == tokens.prefix + height * width and height * width > 1:
            return tokens
    return None
