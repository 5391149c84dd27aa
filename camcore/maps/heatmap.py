"""THE place for heatmap post-processing: upsample, normalise, threshold, box, colour and overlay.

Thresholds and boxes follow the CAM paper (normalise, threshold_mask, threshold_box); every caller that
thresholds or boxes a map goes through them. A threshold is a fraction of the map's maximum, or of a percentile
of it (ThresholdStandard: Bae et al., 2020's PaS); either way, callers turn it into a level with
ThresholdStandard.levels before they threshold.

Colormaps come from matplotlib's registry, for the PNG overlays here and, as colour stops, for Plotly's
figures, so a map looks the same in the browser and in a downloaded file.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
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
_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
"""scipy.ndimage.label's structure joining diagonal neighbours too (its default joins only 4)."""


@dataclass(frozen=True)
class ThresholdStandard:
    """What a threshold's fraction is a fraction of: the normalised map's maximum (percentile None: the CAM
    paper), or its p-th percentile (PaS, Bae et al., 2020, "Rethinking Class Activation Mapping for Weakly
    Supervised Object Localization"): the level follows the map's bulk, not its peak, so a map that peaks sharply
    on one discriminative spot no longer shrinks every other part of the object below the threshold."""

    percentile: float | None = None

    def levels(self, normalised: np.ndarray, threshold_frac: float | np.ndarray) -> np.ndarray:
        """(..., H, W) normalised maps, threshold_frac (a float, or (T,) fractions) -> the levels threshold_mask
        compares with: (..., 1, 1) per map, or (T, ..., 1, 1) for T fractions."""
        normalised = np.asarray(normalised, dtype=np.float32)
        fractions = np.asarray(threshold_frac, dtype=np.float32)
        scale = np.ones((*normalised.shape[:-2], 1, 1), dtype=np.float32) if self.percentile is None else \
            np.percentile(normalised, self.percentile, axis=(-2, -1), keepdims=True).astype(np.float32)
        return fractions.reshape(fractions.shape + (1,) * scale.ndim) * scale

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


def upsample(maps: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(..., h, w) -> (..., H, W) float32, bilinear with align_corners=False: each map cell covers an equal
    share of the photo, as the network's receptive grid does."""
    tensor = torch.as_tensor(np.ascontiguousarray(maps), dtype=torch.float32)
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, *tensor.shape[-2:])
    up = F.interpolate(flat, size=size_hw, mode="bilinear", align_corners=False)
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
    labels, count = ndimage.label(kept[y0:y1, x0:x1], structure=_EIGHT_NEIGHBOURS)
    if count == 1:
        return np.array([around_all], dtype=np.int64), np.array([int(kept.sum())], dtype=np.int64)
    slices = ndimage.find_objects(labels)
    boxes = np.array([(x0 + cols.start, y0 + rows.start, x0 + cols.stop, y0 + rows.stop) for rows, cols in slices],
                     dtype=np.int64)
    return boxes, np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.int64)


@dataclass(frozen=True, eq=False)
class LevelRegions:
    """region_boxes at many levels at once. Row i is a region kept at levels[level_index[i]]: boxes (M, 4)
    [x0, y0, x1, y1] (x1/y1 exclusive), sizes (M,) in pixels. Rows come grouped by level_index, ascending, each
    level's largest region first (threshold_box's: of equal sizes, the first in row-major order); a level that
    keeps nothing has no row."""

    level_index: np.ndarray
    boxes: np.ndarray
    sizes: np.ndarray


def nested_region_boxes(normalised: np.ndarray, levels: np.ndarray) -> LevelRegions:
    """Every region of region_boxes(normalised, level) of an (H, W) map, for each of (T,) levels in any order.

    The kept sets nest: as the level falls, a region grows, appears (at a regional maximum) or merges with
    another, nothing else. So a stretch of levels without appearing or merging regions needs one labelling, at
    its lowest level: it names the region each pixel joins at its own level, and boxes and sizes accumulate down
    the stretch. A smooth map needs a few labellings where region_boxes level by level needs T.
    """
    normalised = np.asarray(normalised)
    compared_in = normalised.dtype if np.issubdtype(normalised.dtype, np.floating) else np.float64  # as numpy compares
    levels = np.asarray(levels).astype(compared_in, copy=False).reshape(-1)  # region_boxes' float(level) with the map
    order = np.argsort(levels, kind="stable")
    rank = np.searchsorted(levels[order], normalised, side="right").astype(np.min_scalar_type(len(levels)))
    rank[~(normalised > 0)] = 0  # how many levels keep the pixel: kept at the s-th lowest level iff rank > s
    if not rank.any():
        return LevelRegions(np.zeros(0, dtype=np.intp), np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64))
    labelling = _Labelling(rank)
    rows = _region_rows(labelling, _stretches(labelling, _appearances(rank)))
    rows = rows[np.lexsort((rows[:, 6], -rows[:, 5], order[rows[:, 0]]))]
    return LevelRegions(order[rows[:, 0]], rows[:, 1:5], rows[:, 5])


class _Labelling:
    """The 8-connected regions of rank > s (kept at the s-th lowest level), labelled once per s inside the box of
    what is kept: (labels, count, the box's top row and left column)."""

    def __init__(self, rank: np.ndarray) -> None:
        self.rank, self._row_top, self._column_top = rank, rank.max(axis=1), rank.max(axis=0)
        self._done: dict[int, tuple[np.ndarray, int, int, int]] = {}

    def __call__(self, level: int) -> tuple[np.ndarray, int, int, int]:
        if level not in self._done:
            rows, columns = np.flatnonzero(self._row_top > level), np.flatnonzero(self._column_top > level)
            kept = self.rank[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1] > level
            labels, count = ndimage.label(kept, structure=_EIGHT_NEIGHBOURS)
            self._done[level] = labels, int(count), int(rows[0]), int(columns[0])
        return self._done[level]

    def count(self, level: int) -> int:
        return self(level)[1]

    def regions_at(self, level: int, pixels: np.ndarray) -> np.ndarray:
        """The 0-based region at `level` of each of (n,) row-major pixel indices, all of them kept there."""
        labels, _, row0, column0 = self(level)
        rows = pixels // self.rank.shape[1]
        return labels[rows - row0, pixels - rows * self.rank.shape[1] - column0].astype(np.intp) - 1


def _appearances(rank: np.ndarray) -> np.ndarray:
    """The levels s at which a region appears (kept at s, none of it at s + 1): regional maxima of rank s + 1,
    plateaus that no neighbour tops. Their pixels equal their neighbours' maximum, and no pixel of the same rank
    touching them fails to (the plateau would go on past it and up)."""
    peak = (rank == _neighbours_max(rank)) & (rank > 0)
    labels, count = ndimage.label(peak, structure=_EIGHT_NEIGHBOURS)
    spoilt = np.zeros(count + 1, dtype=bool)
    spoilt[labels[peak & (_neighbours_max(np.where(peak, 0, rank)) == rank)]] = True
    rank_of = np.zeros(count + 1, dtype=np.intp)
    rank_of[labels[peak]] = rank[peak]
    return np.unique(rank_of[1:][~spoilt[1:]]) - 1


def _neighbours_max(grid: np.ndarray) -> np.ndarray:
    """Each pixel's maximum over itself and its 8 neighbours, 0 outside the grid."""
    padded = np.pad(grid, 1)
    rows = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return np.maximum(np.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _stretches(labelling: _Labelling, appearances: np.ndarray) -> list[tuple[int, int]]:
    """The levels cut into stretches (bottom, top), highest first, over which no region appears or merges. Below
    a stretch's top, down to the next appearance, the region count can only fall as the level does: the stretch
    ends at the last level with its top's count, found by galloping down from the top, then bisection."""
    stretches, top = [], int(labelling.rank.max()) - 1
    while top >= 0:
        count, below = labelling.count(top), appearances[appearances < top]
        floor = int(below[-1]) + 1 if len(below) else 0
        high, step = (floor, 0) if labelling.count(floor) == count else (top, 1)
        while high > floor:  # galloping down to the merge: levels near the top keep less, so label faster
            low = max(high - step, floor)
            if labelling.count(low) < count:
                break
            high, step = low, 2 * step
        else:
            low = high
        while high - low > 1:  # count(low) < count == count(high)
            middle = (low + high) // 2
            low, high = (low, middle) if labelling.count(middle) == count else (middle, high)
        stretches.append((high, top))
        top = high - 1
    return stretches


def _region_rows(labelling: _Labelling, stretches: list[tuple[int, int]]) -> np.ndarray:
    """(M, 7) int64 rows [level, x0, y0, x1, y1, size, first pixel's row-major index], one per region and level.
    A region of a stretch's lowest level holds, at each level of the stretch, its own pixels kept there (those
    joining in the stretch, _joining_keys) and the whole regions of the stretch above that lie in it."""
    width = labelling.rank.shape[1]
    pixels, keys, blocks = _joining_keys(labelling, stretches)
    columns = pixels % width
    last = blocks[-1]
    stats = _grouped(keys, last[0] + last[1] * last[2], (pixels, columns, pixels, columns, 1))
    grown_rows, levels, above = [], [], None
    for (bottom, top), (first, count, depth) in zip(stretches, blocks):
        # (5, count, depth), reversed so that column k is level top - k and accumulating adds the lower levels
        own = stats[:, first:first + count * depth].reshape(5, count, depth)[..., ::-1]
        grown = np.concatenate([np.minimum.accumulate(own[:2], axis=2), np.maximum.accumulate(own[2:4], axis=2),
                                own[4:].cumsum(axis=2)])
        if above is not None:  # each region above lies in the region of its first pixel
            home = labelling.regions_at(bottom, above[0])
            grown = _combined(grown, _grouped(home, count, above)[..., None])
        above = grown[..., -1]
        grown_rows.append(grown.reshape(5, -1))
        levels.append(np.tile(top - np.arange(depth), count))
    first_pixel, x0, last_pixel, x1, size = np.concatenate(grown_rows, axis=1)
    return np.column_stack([np.concatenate(levels), x0, first_pixel // width, x1 + 1, last_pixel // width + 1, size,
                            first_pixel])


def _joining_keys(labelling: _Labelling, stretches: list[tuple[int, int]]
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """The kept pixels' row-major indices, each one's key: (stretch, region of the stretch's lowest level, level
    it joins at) as one number, and per stretch (first key, regions, levels). A pixel joins at its rank - 1."""
    flat = labelling.rank.ravel()
    counts = np.bincount(flat)
    pixels = np.argsort(flat, kind="stable")[counts[0]:]  # by rank: the pixels joining in a stretch are one slice
    starts = np.concatenate([[0, 0], counts[1:].cumsum()])  # [r]: the first of rank >= r
    keys, blocks, total = np.empty(len(pixels), dtype=np.intp), [], 0
    for bottom, top in stretches:
        count = labelling.count(bottom)
        part, depth = slice(starts[bottom + 1], starts[top + 2]), top - bottom + 1
        region = labelling.regions_at(bottom, pixels[part])
        keys[part] = total + region * depth + np.repeat(np.arange(depth), counts[bottom + 1:top + 2])
        blocks.append((total, count, depth))
        total += count * depth
    return pixels, keys, blocks


def _grouped(keys: np.ndarray, count: int, values: np.ndarray | Sequence[np.ndarray | int]) -> np.ndarray:
    """(n,) keys in [0, count), five (n,) values [first pixel, x0, last pixel, x1, size] -> (5, count): minima of
    the first two, maxima of the next two, sums of sizes."""
    stats = np.zeros((5, count), dtype=np.intp)
    stats[:2], stats[2:4] = np.iinfo(np.intp).max, -1
    for row, reduce in enumerate((np.minimum, np.minimum, np.maximum, np.maximum, np.add)):
        reduce.at(stats[row], keys, values[row])  # one 1-D row at a time: numpy's fast path
    return stats


def _combined(stats: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Two (5, ...) stats of _grouped joined: the region holding both pixel sets."""
    return np.concatenate([np.minimum(stats[:2], more[:2]), np.maximum(stats[2:4], more[2:4]), stats[4:] + more[4:]])


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


def thresholded(normalised: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(K, h, w) maps, (T,) or (T, K) levels -> (T, K, h, w) with the pixels threshold_mask drops set to NaN."""
    maps = np.asarray(normalised, dtype=np.float32)[None]
    levels = np.asarray(levels, dtype=np.float32).reshape(len(levels), -1, 1, 1)
    return np.where(threshold_mask(maps, levels), maps, np.nan)


def colorize(values: np.ndarray, colormap: str, *, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours of a named matplotlib colormap."""
    scaled = (np.asarray(values, dtype=np.float32) - vmin) / (vmax - vmin)
    return colormaps[colormap](np.clip(scaled, 0, 1), bytes=True)[..., :3]


def overlay(image: Image.Image, normalised: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
            threshold_frac: float = 0.0) -> Image.Image:
    """Photo with the map blended over it; pixels threshold_mask drops (e.g. not positive) show the photo alone.

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
