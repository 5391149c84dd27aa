"""An explained photo -> the precomputed arrays an in-browser figure needs, so its sliders work without Python.

Each class's map travels once, on a small display grid, with its level at every threshold: the browser
interpolates the map at screen resolution and cuts it there, so the kept region's edge is as smooth as the photo.
Every threshold's boxes are computed here once, on a larger box grid, then scaled to the photo's pixels, so a
4000x3000 upload costs no more than a thumbnail.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camcore.maps import heatmap
from camcore.maps.explained import ExplainedPhoto

THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.1), 2)
"""The threshold slider's steps, as fractions of each map's maximum."""
PERCENTILE_THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.1), 2)
"""The steps as fractions of a percentile: offset by 0.05, so that PaS's 0.35 is one of them."""


def slider_thresholds(standard: heatmap.ThresholdStandard) -> np.ndarray:
    """The threshold slider's steps for a standard (ten either way: each step is a layer the figure carries)."""
    return THRESHOLDS if standard.percentile is None else PERCENTILE_THRESHOLDS


@dataclass(frozen=True, eq=False)
class SliderLayers:
    """What a figure's sliders switch between, for K explained classes and T thresholds.

    photo_size (width, height): the photo the box coordinates refer to. thresholds (T,): fractions of what
    `standard` says (the maximum, or a percentile). maps (K, h, w): maps normalised by `standard` on the display
    grid (long side grid_px). levels (T, K): each class's level at each threshold (standard.levels): a threshold
    keeps what heatmap.threshold_mask keeps, a map's values >= its level and > 0. boxes (T, K, 4):
    heatmap.threshold_box's [x0, y0, x1, y1] (the largest kept region) in photo pixels (x1/y1 exclusive), NaN
    where nothing is kept. signed (K, h, w): signed maps scaled to [-1, 1] on the same grid.
    labels: one per class, e.g. "1. tabby (54.0%)".
    """

    photo_size: tuple[int, int]
    thresholds: np.ndarray
    maps: np.ndarray
    levels: np.ndarray
    boxes: np.ndarray
    signed: np.ndarray
    labels: tuple[str, ...]
    standard: heatmap.ThresholdStandard = heatmap.MAXIMUM


def slider_layers(explanation: ExplainedPhoto, *, thresholds: np.ndarray | None = None,
                  standard: heatmap.ThresholdStandard = heatmap.MAXIMUM, grid_px: int = 56,
                  box_px: int = 320) -> SliderLayers:
    """Maps, signed maps, and levels and boxes at every threshold (default: slider_thresholds) of every explained
    class, each threshold a fraction of what `standard` says: with a percentile, each map's own level on each grid.

    Maps are upsampled before they are normalised, as camcore.maps.exports does at full size, so the figure's
    box and the downloaded box differ only by the box grid's resolution (one box-grid cell in photo px).
    Boxes label connected regions once per threshold and class, the costly part: 10 x 5 on the 320 px
    grid take 10-16 ms on one CPU core, so box_px stays far below a photo's size.
    """
    thresholds = np.asarray(slider_thresholds(standard) if thresholds is None else thresholds, dtype=np.float32)
    grid_hw = _grid_size(explanation.image_size, grid_px)
    box_hw = _grid_size(explanation.image_size, box_px)
    normalised = standard.normalise(heatmap.upsample(explanation.maps, grid_hw))
    box_grid = standard.normalise(heatmap.upsample(explanation.maps, box_hw))
    return SliderLayers(
        photo_size=explanation.image_size,
        thresholds=thresholds,
        maps=normalised,
        levels=standard.levels(normalised, thresholds)[..., 0, 0],
        boxes=_to_photo_px(heatmap.boxes_per_threshold(box_grid, standard.levels(box_grid, thresholds)[..., 0, 0]),
                           box_hw, explanation.image_size),
        signed=heatmap.symmetric(heatmap.upsample(explanation.signed_maps, grid_hw)),
        labels=tuple(f"{rank}. {p.class_name} ({p.probability:.1%})"
                     for rank, p in enumerate(explanation.predictions, start=1)),
        standard=standard,
    )


def display_grids(maps: np.ndarray, image_size: tuple[int, int], *, grid_px: int = 56) -> np.ndarray:
    """(..., h, w) raw maps of one photo -> (..., gh, gw) on the display grid, normalised as the threshold reads
    them (positive part over its maximum): what a figure without sliders shows, e.g. training's probe CAMs."""
    return heatmap.normalise(heatmap.upsample(maps, _grid_size(image_size, grid_px)))


def _grid_size(image_size: tuple[int, int], long_px: int) -> tuple[int, int]:
    """(width, height) of a photo -> (h, w) of a grid with the same aspect whose long side is long_px."""
    width, height = image_size
    scale = long_px / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _to_photo_px(boxes: np.ndarray, grid_hw: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """(..., 4) boxes in grid cells -> photo pixels; each cell edge lands on its share of the photo."""
    (grid_h, grid_w), (width, height) = grid_hw, image_size
    scale = np.array([width / grid_w, height / grid_h, width / grid_w, height / grid_h], dtype=np.float32)
    return (boxes * scale).astype(np.float32)
