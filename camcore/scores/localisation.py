"""Localisation scores of maps against pet masks and head boxes, and the centred Gaussian baseline map.

Plain functions on (N, H, W) arrays or CPU tensors, maps and masks of one size; boxes are [x0, y0, x1, y1]
with x1/y1 exclusive (heatmap.bounding_box's), None where absent. Oxford photos are centred on the pet, so
a score means something only beside the same score of a baseline map (see camcore.scores.evaluate).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from camcore.maps import heatmap

Box = tuple[int, int, int, int]
LOCALISED_IOU = 0.5
"""The CAM paper's (and ILSVRC's) localisation criterion: the box's IoU with the true box is at least this."""


def _maps_and_masks(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 (N, H, W) maps and bool masks; refuses mismatched shapes, which broadcasting would hide."""
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must both be (N, H, W): upsample first.")
    return maps, masks


def pointing_game(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N,) bool: the map's peak pixel lies on the mask (Zhang et al., 2016). On ties the first maximum in
    row-major order counts (numpy's argmax), so a constant map points at the top-left pixel."""
    maps, masks = _maps_and_masks(maps, masks)
    flat_peak = maps.reshape(len(maps), -1).argmax(axis=1)
    return masks.reshape(len(masks), -1)[np.arange(len(masks)), flat_peak]


def pointing_game_in_boxes(maps: np.ndarray, boxes: Sequence[Box | None]) -> np.ndarray:
    """(N,) float: 1.0 where the map's peak (as pointing_game finds it) lies in the box, 0.0 where it does not,
    NaN where there is no box (e.g. a photo without a head box): float, so that means skip the NaN."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or len(boxes) != len(maps):
        raise ValueError(f"need (N, H, W) maps and N boxes, not {maps.shape} and {len(boxes)} boxes.")
    masks = np.stack([_box_mask(box, maps.shape[1:]) for box in boxes])
    hits = pointing_game(maps, masks).astype(np.float64)
    return np.where([box is None for box in boxes], np.nan, hits)


def _box_mask(box: Box | None, shape_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) bool, True inside the box (empty for None)."""
    mask = np.zeros(shape_hw, dtype=bool)
    if box is not None:
        x0, y0, x1, y1 = box
        mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return mask


def box_iou(box_a: Box | None, box_b: Box | None) -> float:
    """Intersection over union of two boxes in pixels; 0.0 where either is None (no box overlaps nothing)."""
    if box_a is None or box_b is None:
        return 0.0
    return float(box_ious(np.array([box_a]), np.array([box_b]))[0, 0])


def box_ious(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(R, 4) and (G, 4) boxes, ints or floats (a true box scaled to another size) -> (R, G) IoUs; 0.0 where a
    union is empty."""
    a = np.asarray(boxes, dtype=np.float64)[:, None, :]
    b = np.asarray(others, dtype=np.float64)[None, :, :]
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    intersection = np.maximum(width, 0) * np.maximum(height, 0)
    union = _areas(a) + _areas(b) - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[..., 2] - boxes[..., 0], 0) * np.maximum(boxes[..., 3] - boxes[..., 1], 0)


def box_localised(normalised_maps: np.ndarray, masks: np.ndarray, threshold_frac: float) -> np.ndarray:
    """(N,) bool: the CAM paper's localisation. heatmap.threshold_box's box overlaps the mask's bounding box
    (the pet's box, from its trimap) with IoU >= LOCALISED_IOU; no box at all is a miss."""
    maps, masks = _maps_and_masks(normalised_maps, masks)
    return np.array([box_iou(heatmap.threshold_box(grid, threshold_frac), heatmap.bounding_box(mask))
                     >= LOCALISED_IOU for grid, mask in zip(maps, masks)], dtype=bool)


def mask_iou(normalised_maps: np.ndarray, masks: np.ndarray, threshold_frac: float) -> np.ndarray:
    """(N,) IoU of every pixel heatmap.threshold_mask keeps (not only the largest region) with the mask;
    NaN where both are empty (undefined)."""
    maps, masks = _maps_and_masks(normalised_maps, masks)
    kept = heatmap.threshold_mask(maps, threshold_frac)
    intersection = (kept & masks).sum(axis=(1, 2))
    union = (kept | masks).sum(axis=(1, 2))
    return np.where(union > 0, intersection / np.maximum(union, 1), np.nan)


def energy_inside(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N,) share of the map's positive mass on the mask: sum(relu(map) * mask) / sum(relu(map)); 0 where the
    map has no positive value (it points nowhere)."""
    maps, masks = _maps_and_masks(maps, masks)
    positive = np.maximum(maps, 0)
    total = positive.sum(axis=(1, 2))
    inside = (positive * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


def relative_energy(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N,) energy_inside divided by the mask's share of the image: 1.0 is no better than a uniform map, which
    makes photos with big and small pets comparable. NaN where the mask is empty."""
    share = np.asarray(masks, dtype=bool).mean(axis=(-2, -1))
    energy = energy_inside(maps, masks)
    return np.where(share > 0, energy / np.where(share > 0, share, 1), np.nan)


def centred_gaussian(height: int, width: int, *, sigma_frac: float = 0.25) -> np.ndarray:
    """(H, W) float32 Gaussian around the photo's centre, peak 1 at the centre pixel(s); its standard deviation
    is sigma_frac of each side. The "pet is in the middle" guess every map must beat."""
    if height < 1 or width < 1 or sigma_frac <= 0:
        raise ValueError(f"need a positive size and sigma_frac, not {height}x{width}, sigma_frac={sigma_frac}")
    ys = (np.arange(height) - (height - 1) / 2) / (sigma_frac * height)
    xs = (np.arange(width) - (width - 1) / 2) / (sigma_frac * width)
    return np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)).astype(np.float32)
