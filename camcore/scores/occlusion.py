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


def hide_box(model: LoadedModel, photo: Image.Image, explanation: Explanation, box: Box, *,
             rank: int = 0) -> Occlusion:
    """The class of explanation.predictions[rank] with the photo's `box` blurred out, on the input the
    explanation was made from."""
    x = _network_input(model, photo, explanation)
    height, width = x.shape[-2:]
    scale_x, scale_y = width / photo.width, height / photo.height
    x0, y0, x1, y1 = box
    top, left = round(y0 * scale_y), round(x0 * scale_x)
    mask = torch.zeros(1, height, width, dtype=torch.bool)
    mask[:, top:max(round(y1 * scale_y), top + 1), left:max(round(x1 * scale_x), left + 1)] = True
    (hidden,) = _occlusions(model, x, explanation, rank, {"your box": mask})
    return hidden


def hide_top(model: LoadedModel, photo: Image.Image, explanation: Explanation, fraction: float, *, rank: int = 0,
             seed: int = 0) -> tuple[Occlusion, Occlusion]:
    """The map's top `fraction` of pixels hidden, and as many pixels in random blobs (faithfulness.random_map,
    at the map's resolution): the deletion curves' point at `fraction` for the map and its random baseline."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"The hidden fraction must be in (0, 1], not {fraction}.")
    x = _network_input(model, photo, explanation)
    shape = (x.shape[-2], x.shape[-1])
    ranked = {f"the map's top {fraction:.0%}": _input_map(explanation.maps[rank], shape),
              f"a random {fraction:.0%}": _input_map(random_map(explanation.maps[rank].shape, seed=seed), shape)}
    masks = {what: deletion_masks(grid, np.array([fraction]), seed)[0] for what, grid in ranked.items()}
    top, random = _occlusions(model, x, explanation, rank, masks)
    return top, random


def _network_input(model: LoadedModel, photo: Image.Image, explanation: Explanation) -> torch.Tensor:
    """(3, H, W) the photo preprocessed as it was for `explanation` (its options' size)."""
    return model.preprocessing.with_size(explanation.options.size_px).transform()(photo).float()


def _input_map(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (h, w) map upsampled to the network input, as the deletion curves rank it."""
    return heatmap.upsample(np.asarray(grid, dtype=np.float32), shape)


def _occlusions(model: LoadedModel, x: torch.Tensor, explanation: Explanation, rank: int,
                masks: dict[str, torch.Tensor]) -> list[Occlusion]:
    """One forward pass of the photo and one blurred-out copy per (1, H, W) mask; each mask's share of the
    explained map's positive mass, at the input's resolution."""
    substrate = blur_substrate(x)
    copies = torch.stack([x, *(torch.where(mask, substrate, x) for mask in masks.values())])
    class_index = explanation.predictions[rank].class_index
    probabilities = class_probabilities(model, copies)[:, class_index].cpu().numpy()
    positive = np.clip(_input_map(explanation.maps[rank], (x.shape[-2], x.shape[-1])), 0, None)
    total = float(positive.sum())
    return [Occlusion(what, float(probabilities[0]), float(hidden), float(mask.float().mean()),
                      float(positive[mask[0].numpy()].sum()) / total if total > 0 else 0.0)
            for (what, mask), hidden in zip(masks.items(), probabilities[1:])]
