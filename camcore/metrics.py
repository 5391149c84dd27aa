"""Localisation scores of maps against pet masks, and the centred Gaussian baseline map.

Plain functions on (N, H, W) arrays or CPU tensors, maps and masks of one size. Oxford photos are centred on
the pet, so a score means something only beside the same score of a baseline map (see camcore.evaluate).
"""
from __future__ import annotations

import numpy as np

from camcore import heatmap


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


def mask_iou(normalised_maps: np.ndarray, masks: np.ndarray, threshold_frac: float) -> np.ndarray:
    """(N,) IoU of the kept pixels (normalised map >= threshold_frac, heatmap.threshold_mask) with the mask;
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
