"""One explained class -> the files users download or the CLI writes: overlay PNG, raw map .npy, box.

Everything happens at the photo's original resolution: the map is upsampled once per class, and the
overlay, the box and the .npy all come from that one upsampled map (see heatmap for each step).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from camcore.maps import heatmap
from camcore.maps.explained import ExplainedPhoto

UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
BOX_COLOUR = (0, 255, 255)
"""Cyan: stands out on photos and on magma, the default colormap, which has no blue-green."""


@dataclass(frozen=True)
class ClassExport:
    """The files for one explained class. bbox: heatmap.threshold_box's [x0, y0, x1, y1] in photo pixels
    (x1/y1 exclusive), or None."""

    png: bytes
    npy: bytes
    bbox: tuple[int, int, int, int] | None


def file_stem(text: str) -> str:
    """`text` as a download's file name stem: letters, digits, ".", "_" and "-" kept, every other run "_" (a photo's
    or class's name may hold slashes, quotes or markup)."""
    return UNSAFE_IN_FILE_NAMES.sub("_", text).strip("._") or "map"


def export_class(image: Image.Image, explanation: ExplainedPhoto, rank: int, *, colormap: str = "magma",
                 opacity: float = 0.5, threshold_frac: float = heatmap.DEFAULT_THRESHOLD,
                 standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> ClassExport:
    """Overlay PNG, raw map .npy and box of the rank-th class from a single upsampling (what the CLI writes);
    threshold_frac is a fraction of what `standard` says (the maximum, or a percentile)."""
    raw = _full_size(explanation, rank)
    normalised = standard.normalise(raw)
    level = standard.level(normalised, threshold_frac)
    box = heatmap.threshold_box(normalised, level)
    png = _overlay_bytes(image, normalised, box, colormap=colormap, opacity=opacity, threshold_frac=level)
    return ClassExport(png=png, npy=_npy_bytes(raw), bbox=box)


def overlay_png(image: Image.Image, explanation: ExplainedPhoto, rank: int, *, colormap: str = "magma",
                opacity: float = 0.5, threshold_frac: float = heatmap.DEFAULT_THRESHOLD,
                standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> bytes:
    """PNG of the photo at its own size with the rank-th class's map blended over it and its box outlined."""
    normalised = standard.normalise(_full_size(explanation, rank))
    level = standard.level(normalised, threshold_frac)
    return _overlay_bytes(image, normalised, heatmap.threshold_box(normalised, level), colormap=colormap,
                          opacity=opacity, threshold_frac=level)


def map_npy(explanation: ExplainedPhoto, rank: int) -> bytes:
    """The rank-th raw map (the method's, not normalised) as (H, W) float32 .npy bytes at the photo's size."""
    return _npy_bytes(_full_size(explanation, rank))


def _full_size(explanation: ExplainedPhoto, rank: int) -> np.ndarray:
    """(H, W) raw map of one class: upsampling only that one, not all K as Explanation.at_image_size does."""
    width, height = explanation.image_size
    return heatmap.upsample(explanation.maps[rank], (height, width))


def boxed_overlay(image: Image.Image, normalised: np.ndarray, box: tuple[int, int, int, int] | None, *,
                  colormap: str, opacity: float, threshold_frac: float) -> Image.Image:
    """heatmap.overlay with the box outlined: the downloads' picture."""
    return Image.fromarray(boxed_frame(np.asarray(image.convert("RGB")), normalised, box, colormap=colormap,
                                       opacity=opacity, threshold_frac=threshold_frac))


def boxed_frame(photo: np.ndarray, normalised: np.ndarray, box: tuple[int, int, int, int] | None, *,
                colormap: str, opacity: float, threshold_frac: float) -> np.ndarray:
    """(H, W, 3) uint8 photo -> the overlay with the box outlined, as an array (each frame of the Live page: no
    round trip through PIL). The outline runs inside the box, _line_width_px thick, as PIL's rectangle draws it."""
    drawn = heatmap.blend(photo, normalised, colormap=colormap, opacity=opacity, threshold_frac=threshold_frac)
    if box is not None:
        x0, y0, x1, y1 = box
        width = min(_line_width_px((photo.shape[1], photo.shape[0])), x1 - x0, y1 - y0)
        for rows, cols in ((slice(y0, y0 + width), slice(x0, x1)), (slice(y1 - width, y1), slice(x0, x1)),
                           (slice(y0, y1), slice(x0, x0 + width)), (slice(y0, y1), slice(x1 - width, x1))):
            drawn[rows, cols] = BOX_COLOUR
    return drawn


def _overlay_bytes(image: Image.Image, normalised: np.ndarray, box: tuple[int, int, int, int] | None, *,
                   colormap: str, opacity: float, threshold_frac: float) -> bytes:
    blended = boxed_overlay(image, normalised, box, colormap=colormap, opacity=opacity, threshold_frac=threshold_frac)
    buffer = io.BytesIO()
    blended.save(buffer, format="PNG", compress_level=1)  # 2.5x faster than the default 6, 3% larger
    return buffer.getvalue()


def _line_width_px(size: tuple[int, int]) -> int:
    """A few pixels, thicker on large photos so the box stays visible once the browser scales them down."""
    return max(2, min(size) // 150)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32))
    return buffer.getvalue()
