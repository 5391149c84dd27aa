"""THE place for heatmap post-processing: upsample, normalise, threshold, box, colour and overlay.

Thresholds and boxes follow the CAM paper (normalise, threshold_mask, threshold_box); every caller that
thresholds or boxes a map goes through them. A threshold is a fraction of the map's maximum, or of a percentile
of it (ThresholdStandard: Bae et al., 2020's PaS); either way, callers turn it into a level with
ThresholdStandard.levels before they threshold.

Colormaps come from matplotlib's registry, for the PNG overlays here and, as colour stops, for Plotly's
figures, so a map looks the same in the browser and in a downloaded file.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image
from scipy import ndimage

SEQUENTIAL_COLORMAPS = ("magma", "viridis", "inferno", "jet", "turbo")
DIVERGING_COLORMAPS = ("bwr", "RdBu_r", "coolwarm")
DEFAULT_THRESHOLD = 0.2
"""The CAM paper's localisation threshold: 20% of the map's maximum."""
PAS_PERCENTILE = 90.0
PAS_THRESHOLD = 0.35
"""Bae et al.'s PaS setting: keep what is above 0.35 of the map's 90th percentile."""
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
"""scipy.ndimage.label's structure joining diagonal neighbours too (its default joins only 4)."""


@dataclass(frozen=True)
class ThresholdStandard:
    """What a threshold's fraction is a fraction of: the normalised map's maximum (percentile None: the CAM
    paper), or its p-th percentile (PaS, Bae et al., 2020, "Rethinking Class Activation Mapping for Weakly
    Supervised Object Localization"): the level follows the map's bulk, not its peak, so a map that peaks sharply
    on one discriminative spot no longer shrinks every other part of the object below the threshold."""

    percentile: float | None = None

    def levels(self, normalised: np.ndarray, threshold_frac: float | np.ndarray) -> np.ndarray:
        """(..., H, W) maps normalised by self.normalise, threshold_frac (a float, or (T,) fractions) -> the levels
        threshold_mask compares with: (..., 1, 1) per map, or (T, ..., 1, 1) for T fractions."""
        normalised = np.asarray(normalised, dtype=np.float32)
        fractions = np.asarray(threshold_frac, dtype=np.float32)
        scale = np.ones((*normalised.shape[:-2], 1, 1), dtype=np.float32) if self.percentile is None else \
            np.percentile(normalised, self.percentile, axis=(-2, -1), keepdims=True).astype(np.float32)
        return fractions.reshape(fractions.shape + (1,) * scale.ndim) * scale

    def normalise(self, maps: np.ndarray) -> np.ndarray:
        """(..., H, W) raw maps scaled as this standard's authors scale them before a threshold: the CAM paper's
        positive part over its maximum (normalise), or min-max for a percentile, as Bae et al.'s code does, so a
        PaS box here is theirs."""
        return normalise(maps) if self.percentile is None else min_max(maps)

    def level(self, normalised: np.ndarray, threshold_frac: float) -> float:
        """One (H, W) map's level for one fraction."""
        return float(self.levels(normalised, threshold_frac).reshape(-1)[0])

    def __str__(self) -> str:
        """The CLI's and links' spelling: "max" or "percentile:P"."""
        return "max" if self.percentile is None else f"percentile:{self.percentile:g}"

    def describe(self) -> str:
        """What the fraction is of, in words: "of the maximum", "of the 90th percentile"."""
        return "of the maximum" if self.percentile is None else f"of the {self.percentile:g}th percentile"

    @property
    def default_threshold(self) -> float:
        """The standard's own default fraction: the CAM paper's 0.2 of the maximum, PaS's 0.35 of the percentile."""
        return DEFAULT_THRESHOLD if self.percentile is None else PAS_THRESHOLD


MAXIMUM = ThresholdStandard()
PERCENTILE = ThresholdStandard(PAS_PERCENTILE)


def threshold_standard(text: str) -> ThresholdStandard:
    """"max", "percentile" (PAS_PERCENTILE) or "percentile:P" with 0 < P <= 100 -> the standard; ValueError else."""
    name, _, value = text.strip().partition(":")
    if name == "max" and not value:
        return MAXIMUM
    if name == "percentile":
        try:
            percentile = float(value) if value else PAS_PERCENTILE
        except ValueError:
            percentile = math.nan
        if 0 < percentile <= 100:
            return ThresholdStandard(percentile)
    raise ValueError(f"Unknown threshold standard {text!r}. Valid: max, percentile, percentile:P (0 < P <= 100).")


def upsample(maps: np.ndarray, size_hw: tuple[int, int], *, mode: str = "bilinear") -> np.ndarray:
    """(..., h, w) -> (..., H, W) float32, bilinear (or bicubic, as the WSOL scores' authors upsample) with
    align_corners=False: each map cell covers an equal share of the photo, as the network's receptive grid does."""
    tensor = torch.as_tensor(np.ascontiguousarray(maps), dtype=torch.float32)
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, *tensor.shape[-2:])
    up = F.interpolate(flat, size=size_hw, mode=mode, align_corners=False)
    return up.reshape(*lead, *size_hw).numpy()


def normalise(maps: np.ndarray) -> np.ndarray:
    """Each (h, w) map as relu(map) / max(relu(map)) in [0, 1]; all zeros where nothing is positive.

    The CAM paper's thresholds are fractions of the map's maximum, and a signed CAM's negative part argues
    against the class, so it maps to 0 (never kept, see threshold_mask) instead of stretching the scale as
    min-max would (the authors' code min-max scales; their paper, whose rule this follows, does not).
    """
    positive = np.maximum(np.asarray(maps, dtype=np.float32), 0)
    peak = positive.max(axis=(-2, -1), keepdims=True)
    return (positive / np.where(peak > 0, peak, 1)).astype(np.float32)


def min_max(maps: np.ndarray) -> np.ndarray:
    """Each (h, w) map scaled to [0, 1] by its own minimum and maximum, all zeros where it is constant (it points
    nowhere): the WSOL papers' normalisation (Choe et al., 2020), which camcore.scores.wsol follows to be
    comparable with their numbers; the app's figures use normalise, the CAM paper's rule."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(-2, -1), keepdims=True)
    spread = maps.max(axis=(-2, -1), keepdims=True) - low
    return np.where(spread > 0, (maps - low) / np.where(spread > 0, spread, 1), 0).astype(np.float32)


def symmetric(maps: np.ndarray) -> np.ndarray:
    """Signed maps scaled by their largest magnitude to [-1, 1], zero staying zero (for diverging colours)."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    return (maps / np.where(peak > 0, peak, 1)).astype(np.float32)


def threshold_mask(normalised: np.ndarray, threshold_frac: float | np.ndarray) -> np.ndarray:
    """Pixels kept at a threshold: value >= threshold_frac and > 0 of the normalised map (see normalise).

    `> 0` as well: nothing at or below zero is ever kept, so threshold 0 keeps the map's positive part, not
    the whole photo. threshold_frac broadcasts, e.g. (T, 1, 1, 1) against (K, H, W) maps.
    """
    normalised = np.asarray(normalised)
    return (normalised >= threshold_frac) & (normalised > 0)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(H, W) bool -> [x0, y0, x1, y1] around all its pixels, x1/y1 exclusive (PIL's box); None if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def threshold_box(normalised: np.ndarray, threshold_frac: float) -> tuple[int, int, int, int] | None:
    """THE CAM paper's box (Zhou et al., 2016: "segment the regions of which the value is above 20% of the max
    value of the CAM ... take the bounding box that covers the largest connected component"): of an (H, W)
    normalised map, the box of the largest region of region_boxes; None if nothing is kept. Equal sizes: the
    region met first in row-major order."""
    boxes, sizes = region_boxes(normalised, threshold_frac)
    if not len(sizes):
        return None
    x0, y0, x1, y1 = (int(v) for v in boxes[sizes.argmax()])
    return x0, y0, x1, y1


def region_boxes(normalised: np.ndarray, threshold_frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) normalised map -> (R, 4) int boxes [x0, y0, x1, y1] (x1/y1 exclusive) of every 8-connected region
    of threshold_mask's pixels, in row-major order of their first pixel, and (R,) their sizes in pixels.

    8-connectivity, as MATLAB's bwlabel and OpenCV's contours (which WSOL evaluations box) join pixels: a
    region touching itself only diagonally stays one.
    """
    kept = threshold_mask(normalised, threshold_frac)
    around_all = bounding_box(kept)
    if around_all is None:
        return np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64)
    x0, y0, x1, y1 = around_all  # label only inside the box of every kept pixel: most thresholds keep little
    labels, count = ndimage.label(kept[y0:y1, x0:x1], structure=EIGHT_NEIGHBOURS)
    if count == 1:
        return np.array([around_all], dtype=np.int64), np.array([int(kept.sum())], dtype=np.int64)
    slices = ndimage.find_objects(labels)
    boxes = np.array([(x0 + cols.start, y0 + rows.start, x0 + cols.stop, y0 + rows.stop) for rows, cols in slices],
                     dtype=np.int64)
    return boxes, np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.int64)


def boxes_per_threshold(normalised: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(K, H, W) maps, (T,) or (T, K) levels (ThresholdStandard.levels, squeezed) -> (T, K, 4) float32 boxes as
    threshold_box gives them, NaN where empty."""
    levels = np.broadcast_to(np.asarray(levels, dtype=np.float32).reshape(len(levels), -1),
                             (len(levels), len(normalised)))
    boxes = np.full((len(levels), len(normalised), 4), np.nan, dtype=np.float32)
    for t, row in enumerate(levels):
        for k, grid in enumerate(normalised):
            box = threshold_box(grid, float(row[k]))
            if box is not None:
                boxes[t, k] = box
    return boxes


@functools.cache
def _colour_table(colormap: str) -> np.ndarray:
    """(N,) uint32: a named matplotlib colormap's N entries as packed RGBA bytes, read once: gathering one 4-byte
    word per pixel is ten times faster than matplotlib's own lookup or gathering rows of 3 bytes."""
    table = colormaps[colormap]
    return np.ascontiguousarray(table(np.arange(table.N), bytes=True)).view(np.uint32).ravel()


def colorize(values: np.ndarray, colormap: str, *, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours of a named matplotlib colormap: the entry matplotlib picks for
    each value (floor(N x), the top value in the last of its N entries), looked up in its table."""
    table = _colour_table(colormap)
    scaled = (np.asarray(values, dtype=np.float32) - vmin) / (vmax - vmin)
    entries = np.clip(scaled * len(table), 0, len(table) - 1).astype(np.intp)  # clipped first: truncation = floor
    return table[entries].view(np.uint8).reshape(*entries.shape, 4)[..., :3]


def overlay(image: Image.Image, normalised: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
            threshold_frac: float = 0.0) -> Image.Image:
    """Photo with the map blended over it; pixels threshold_mask drops (e.g. not positive) show the photo alone.

    `normalised` is (H, W) in [0, 1] at the photo's size (see upsample, normalise).
    """
    return Image.fromarray(blend(np.asarray(image.convert("RGB")), normalised, colormap=colormap, opacity=opacity,
                                 threshold_frac=threshold_frac))


def blend(photo: np.ndarray, normalised: np.ndarray, *, colormap: str, opacity: float,
          threshold_frac: float) -> np.ndarray:
    """(H, W, 3) uint8 photo, (H, W) normalised map -> the overlay as (H, W, 3) uint8, in 8-bit integers (the
    opacity in 256ths, rounded to nearest): no float copy of the photo, so a live video's frames stay cheap."""
    if normalised.shape != photo.shape[:2]:
        raise ValueError(f"map is {normalised.shape}, photo is {photo.shape[:2]}: upsample first.")
    weight = int(round(min(max(opacity, 0.0), 1.0) * 256))
    mixed = photo.astype(np.uint16) * (256 - weight)
    mixed += colorize(normalised, colormap).astype(np.uint16) * weight
    mixed += 128
    blended = (mixed >> 8).astype(np.uint8)
    return np.where(threshold_mask(normalised, threshold_frac)[..., None], blended, photo)


def map_overlay(image: Image.Image, raw_map: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
                threshold_frac: float = 0.0) -> Image.Image:
    """A raw (h, w) map upsampled to the photo, normalised and blended over it (e.g. on a thumbnail)."""
    normalised = normalise(upsample(raw_map, (image.height, image.width)))
    return overlay(image, normalised, colormap=colormap, opacity=opacity, threshold_frac=threshold_frac)


def colour_stops(colormap: str, *, stops: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A named colormap sampled at `stops` evenly spaced positions: (N,) positions in [0, 1], (N, 3) uint8 RGB."""
    positions = np.linspace(0, 1, stops)
    return positions, colormaps[colormap](positions, bytes=True)[:, :3]


def colorscale(colormap: str, *, stops: int = 11) -> list[list[float | str]]:
    """A named colormap as Plotly colour stops: [[0.0, 'rgb(r,g,b)'], ..., [1.0, ...]]."""
    positions, colours = colour_stops(colormap, stops=stops)
    return [[float(p), f"rgb({r},{g},{b})"] for p, (r, g, b) in zip(positions, colours)]
