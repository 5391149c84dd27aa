"""THE place for heatmap post-processing: upsample, normalise, threshold, box, colour and overlay.

Colormaps come from matplotlib's registry, for the PNG overlays here and, as colour stops, for Plotly's
figures, so a map looks the same in the browser and in a downloaded file.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image

SEQUENTIAL_COLORMAPS = ("magma", "viridis", "inferno", "jet", "turbo")
DIVERGING_COLORMAPS = ("bwr", "RdBu_r", "coolwarm")
DEFAULT_THRESHOLD = 0.2
"""The CAM paper's localisation threshold: 20% of the map's maximum."""


def upsample(maps: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(..., h, w) -> (..., H, W) float32, bilinear with align_corners=False: each map cell covers an equal
    share of the photo, as the network's receptive grid does."""
    tensor = torch.as_tensor(np.ascontiguousarray(maps), dtype=torch.float32)
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, *tensor.shape[-2:])
    up = F.interpolate(flat, size=size_hw, mode="bilinear", align_corners=False)
    return up.reshape(*lead, *size_hw).numpy()


def normalise(maps: np.ndarray) -> np.ndarray:
    """Min-max scale each (h, w) map to [0, 1]; a constant map becomes all zeros."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)


def symmetric(maps: np.ndarray) -> np.ndarray:
    """Signed maps scaled by their largest magnitude to [-1, 1], zero staying zero (for diverging colours)."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    return (maps / np.where(peak > 0, peak, 1)).astype(np.float32)


def threshold_mask(normalised: np.ndarray, threshold_frac: float) -> np.ndarray:
    """Pixels kept at a threshold: value >= threshold_frac of the (normalised, max 1) map."""
    return np.asarray(normalised) >= threshold_frac


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(H, W) bool -> [x0, y0, x1, y1] around all kept pixels, x1/y1 exclusive (PIL's box); None if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def boxes_per_threshold(normalised: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(K, H, W) maps, (T,) thresholds -> (T, K, 4) boxes as bounding_box gives them, NaN where empty.

    A row (column) holds a kept pixel iff its maximum passes the threshold: no (T, K, H, W) mask is built.
    """
    maps = torch.as_tensor(normalised)
    levels = torch.as_tensor(thresholds, dtype=torch.float32)[:, None, None]
    rows, cols = maps.amax(dim=-1)[None] >= levels, maps.amax(dim=-2)[None] >= levels  # (T, K, H), (T, K, W)
    boxes = torch.stack([_first(cols), _first(rows), _last(cols) + 1, _last(rows) + 1], dim=-1).float()
    boxes[~rows.any(dim=-1)] = float("nan")
    return boxes.numpy()


def _first(flags: torch.Tensor) -> torch.Tensor:
    return flags.int().argmax(dim=-1)


def _last(flags: torch.Tensor) -> torch.Tensor:
    return flags.shape[-1] - 1 - flags.flip(-1).int().argmax(dim=-1)


def thresholded(normalised: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(K, h, w) maps, (T,) thresholds -> (T, K, h, w) with the values below each threshold set to NaN."""
    maps = np.asarray(normalised, dtype=np.float32)[None]
    return np.where(maps >= np.asarray(thresholds, dtype=np.float32)[:, None, None, None], maps, np.nan)


def colorize(values: np.ndarray, colormap: str, *, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours of a named matplotlib colormap."""
    scaled = (np.asarray(values, dtype=np.float32) - vmin) / (vmax - vmin)
    return colormaps[colormap](np.clip(scaled, 0, 1), bytes=True)[..., :3]


def overlay(image: Image.Image, normalised: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
            threshold_frac: float = 0.0) -> Image.Image:
    """Photo with the map blended over it; pixels below the threshold show the photo alone.

    `normalised` is (H, W) in [0, 1] at the photo's size (see upsample, normalise).
    """
    if normalised.shape != (image.height, image.width):
        raise ValueError(f"map is {normalised.shape}, photo is {(image.height, image.width)}: upsample first.")
    photo = np.asarray(image.convert("RGB"), dtype=np.float32)
    alpha = opacity * threshold_mask(normalised, threshold_frac)[..., None]
    blended = photo * (1 - alpha) + colorize(normalised, colormap).astype(np.float32) * alpha
    return Image.fromarray(blended.round().astype(np.uint8))


def map_overlay(image: Image.Image, raw_map: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
                threshold_frac: float = 0.0) -> Image.Image:
    """A raw (h, w) map upsampled to the photo, normalised and blended over it (e.g. on a thumbnail)."""
    normalised = normalise(upsample(raw_map, (image.height, image.width)))
    return overlay(image, normalised, colormap=colormap, opacity=opacity, threshold_frac=threshold_frac)


def colorscale(colormap: str, *, stops: int = 11) -> list[list[float | str]]:
    """A named colormap as Plotly colour stops: [[0.0, 'rgb(r,g,b)'], ..., [1.0, ...]]."""
    positions = np.linspace(0, 1, stops)
    colours = colormaps[colormap](positions, bytes=True)[:, :3]
    return [[float(p), f"rgb({r},{g},{b})"] for p, (r, g, b) in zip(positions, colours)]
