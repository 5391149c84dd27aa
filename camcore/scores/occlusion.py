"""Hide one region of the photo and read the class's probability: the deletion curve one point at a time, in the
student's hands. The hidden pixels become RISE's blurred copy of the photo, as in camcore.scores.faithfulness, so
the model sees the region gone, not a sharp patch it could read as evidence.

Beside each probability: the share of the map's positive mass inside the hidden region, so a student can see
whether hiding what the map points at costs the class more than hiding as much of the photo elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from camcore.cams import class_probabilities
from camcore.explain import Explanation
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.scores.faithfulness import blur_substrate, deletion_masks, random_map

Box = tuple[int, int, int, int]
"""[x0, y0, x1, y1] in the photo's pixels, x1 and y1 exclusive (heatmap.threshold_box's convention)."""


@dataclass(frozen=True)
class Occlusion:
    """The explained class's probability on the photo and with a region hidden; the region's share of the photo's
    pixels and of the map's positive mass (both measured at the network input's resolution)."""

    what: str  # "your box", "the map's top 10%", "a random 10%"
    probability: float
    hidden_probability: float
    area_share: float
    map_share: float

    @property
    def change(self) -> float:
        """hidden - original: negative when hiding the region costs the class."""
        return self.hidden_probability - self.probability


def hide_box(model: LoadedModel, photo: Image.Image, explanation: Explanation, box: Box, *, rank: int = 0,
             size_px: int | None = None) -> Occlusion:
    """The class of explanation.predictions[rank] with the photo's `box` blurred out."""
    x, grid = _input(model, photo, size_px), _map(explanation, rank, model, photo, size_px)
    height, width = x.shape[-2:]
    scale_x, scale_y = width / photo.width, height / photo.height
    x0, y0, x1, y1 = box
    mask = torch.zeros(1, 1, height, width, dtype=torch.bool)
    mask[..., round(y0 * scale_y):max(round(y1 * scale_y), round(y0 * scale_y) + 1),
         round(x0 * scale_x):max(round(x1 * scale_x), round(x0 * scale_x) + 1)] = True
    return _occlusion("your box", model, x, mask, grid, explanation.predictions[rank].class_index)


def hide_top(model: LoadedModel, photo: Image.Image, explanation: Explanation, fraction: float, *, rank: int = 0,
             size_px: int | None = None, seed: int = 0) -> tuple[Occlusion, Occlusion]:
    """The map's top `fraction` of pixels hidden, and as many pixels in random blobs (faithfulness.random_map,
    at the map's resolution): the deletion curves' point at `fraction` for the map and its random baseline."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"The hidden fraction must be in (0, 1], not {fraction}.")
    x, grid = _input(model, photo, size_px), _map(explanation, rank, model, photo, size_px)
    class_index = explanation.predictions[rank].class_index
    shape = x.shape[-2:]
    noise = heatmap.upsample(random_map(explanation.maps[rank].shape, seed=seed), (shape[0], shape[1]))
    def hidden(what: str, ranked: np.ndarray) -> Occlusion:
        mask = deletion_masks(ranked, np.array([fraction]), seed)[0][None]
        return _occlusion(what, model, x, mask, grid, class_index)
    return hidden(f"the map's top {fraction:.0%}", grid), hidden(f"a random {fraction:.0%}", noise)


def _input(model: LoadedModel, photo: Image.Image, size_px: int | None) -> torch.Tensor:
    return model.preprocessing.with_size(size_px).transform()(photo).float()


def _map(explanation: Explanation, rank: int, model: LoadedModel, photo: Image.Image,
         size_px: int | None) -> np.ndarray:
    """The explained class's map upsampled to the network input, as the deletion curves rank it."""
    height, width = model.preprocessing.with_size(size_px).input_size(photo.size)
    return heatmap.upsample(np.asarray(explanation.maps[rank], dtype=np.float32), (height, width))


def _occlusion(what: str, model: LoadedModel, x: torch.Tensor, mask: torch.Tensor, grid: np.ndarray,
               class_index: int) -> Occlusion:
    """One forward pass of the photo and its copy with `mask` (1, 1, H, W) blurred out."""
    hidden = torch.where(mask[0], blur_substrate(x), x)
    probabilities = class_probabilities(model, torch.stack([x, hidden]))[:, class_index].cpu().numpy()
    positive = np.clip(grid, 0, None)
    inside = mask[0, 0].numpy()
    total = float(positive.sum())
    return Occlusion(what, float(probabilities[0]), float(probabilities[1]), float(inside.mean()),
                     float(positive[inside].sum()) / total if total > 0 else 0.0)
