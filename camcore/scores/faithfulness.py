"""Faithfulness of a map: does the model's confidence follow the pixels the map ranks first?

Deletion and insertion curves (Petsiuk et al., 2018, RISE) and the drop / increase in confidence of the photo
multiplied by its map (Chattopadhyay et al., 2018, Grad-CAM++), each also for two maps that know nothing of the
model, a seeded random map and localisation.centred_gaussian: a map is faithful only by its gap to them.

Everything happens on the model's normalised input tensor. Deleted pixels become a blurred copy of the photo
(RISE's insertion substrate, an 11 px Gaussian kernel of sigma 5): unlike black or the mean colour, it adds no
sharp edges that a CNN would read as evidence, so the curves measure the pixels removed, not the patch shape.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2.functional import gaussian_blur

from camcore.cams import class_probabilities
from camcore.explain import Explanation
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.scores import localisation

STEPS = 20
"""Curve points after the first: 5% of the pixels are deleted (or inserted) per step."""
DATASET_STEPS = 10
"""Steps when a whole data set is scored (evaluate and the Dataset page): 10% per step, half the passes."""
MAPS_SCORED = 3
"""explanation_faithfulness scores the explanation's map, a random map and the centred Gaussian."""
BLUR_KERNEL_PX, BLUR_SIGMA_PX = 11, 5.0
"""RISE's blur (Petsiuk et al.'s gkern(11, 5)) of the photo that replaces deleted pixels."""
FILLS = ("blur", "mean")
"""What a deleted pixel becomes: the blurred photo, or 0 of the normalised input, i.e. the data set's mean colour."""
BATCH_SIZE = 64
"""Perturbed copies per forward pass: at the default steps, one pass per map (43 copies)."""


@dataclass(frozen=True)
class FaithfulnessCurve:
    """The explained class's probability (S+1,) at each fraction (S+1,) of pixels deleted or inserted, most
    relevant first, and the area under it over [0, 1] (trapezoid rule). Deletion: lower is better; insertion:
    higher is better."""

    fractions: np.ndarray
    probabilities: np.ndarray
    auc: float


@dataclass(frozen=True)
class MapFaithfulness:
    """One map's scores on one photo. probability: the class's on the photo (Y); masked_probability: on the
    photo multiplied by the normalised map (O). drop = max(0, Y - O) / Y, averaged x 100 over photos it is
    Grad-CAM++'s "average drop %" (lower is better); increase = O > Y, its share the "increase in confidence"."""

    deletion: FaithfulnessCurve
    insertion: FaithfulnessCurve
    probability: float
    masked_probability: float

    @property
    def drop(self) -> float:
        lost = max(0.0, self.probability - self.masked_probability)
        return lost / self.probability if self.probability > 0 else 0.0

    @property
    def increase(self) -> bool:
        return self.masked_probability > self.probability


@dataclass(frozen=True)
class FaithfulnessReport:
    """One explained class on one photo: the method's map beside the random map and the centred Gaussian."""

    class_index: int
    method: MapFaithfulness
    random_map: MapFaithfulness
    gaussian_map: MapFaithfulness


def forward_passes(steps: int) -> int:
    """Model inputs one photo's scores take: for each map scored, steps + 1 deleted, steps + 1 inserted and one
    masked copy (_copies); what the options offering them say they cost."""
    return MAPS_SCORED * (2 * (steps + 1) + 1)


def random_map(map_hw: tuple[int, int], *, seed: int = 0) -> np.ndarray:
    """(h, w) uniform noise at the explained map's resolution: upsampled like it, it deletes blobs of the same
    size, so the baseline differs from the map only in where they are, not in how scattered."""
    return np.random.default_rng(seed).random(map_hw, dtype=np.float32)


def explanation_faithfulness(photo: Image.Image, model: LoadedModel, explanation: Explanation, *, rank: int = 0,
                             steps: int = STEPS, fill: str = "blur", seed: int = 0,
                             batch_size: int = BATCH_SIZE) -> FaithfulnessReport:
    """Scores explanation.maps[rank] of `photo` and both baseline maps for the same class, on the input the
    explanation was made from (its options' size: the maps are upsampled to that input)."""
    x = model.preprocessing.with_size(explanation.options.size_px).transform()(photo)
    own = explanation.maps[rank]
    gaussian = localisation.centred_gaussian(*x.shape[-2:])
    class_index = explanation.predictions[rank].class_index
    scored = map_faithfulness(model, x, [own, random_map(own.shape, seed=seed), gaussian], class_index,
                              steps=steps, fill=fill, seed=seed, batch_size=batch_size)
    return FaithfulnessReport(class_index, *scored)


def map_faithfulness(model: LoadedModel, x: Tensor, maps: Sequence[np.ndarray], class_index: int, *,
                     steps: int = STEPS, fill: str = "blur", seed: int = 0,
                     batch_size: int = BATCH_SIZE) -> list[MapFaithfulness]:
    """(3, H, W) normalised input and (h, w) maps of any resolution -> each map's curves and confidence change.

    Each map's copies of the photo (steps + 1 deleted, steps + 1 inserted, 1 multiplied) go through the model
    in batches of batch_size under inference_mode, on its device; only one map's copies are in memory at a time
    (43 x 3 x 224 x 288 floats, 33 MB, at the default steps). seed breaks ties between equal map values (a ReLU'd
    map's zeros) at random, not top rows first.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, not {steps} and {batch_size}")
    if fill not in FILLS:
        raise ValueError(f"Unknown fill {fill!r}. Valid: {', '.join(FILLS)}.")
    x = x.float()
    substrate = blur_substrate(x) if fill == "blur" else torch.zeros_like(x)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    full = [heatmap.upsample(np.asarray(grid, dtype=np.float32), (x.shape[-2], x.shape[-1])) for grid in maps]
    return [_scores(_probabilities(model, _copies(x, substrate, grid, fractions, seed), class_index, batch_size),
                    fractions) for grid in full]


def _probabilities(model: LoadedModel, copies: Tensor, class_index: int, batch_size: int) -> np.ndarray:
    """(B, 3, H, W) copies -> (B,) the class's probabilities, batch_size copies per forward pass."""
    return np.concatenate([class_probabilities(model, chunk)[:, class_index].cpu().numpy()
                           for chunk in copies.split(batch_size)]).astype(np.float64)


def blur_substrate(x: Tensor) -> Tensor:
    """(3, H, W) normalised input -> RISE's blurred copy, what deleted (or hidden) pixels become."""
    return gaussian_blur(x, [BLUR_KERNEL_PX] * 2, [BLUR_SIGMA_PX] * 2)


def deletion_masks(full_map: np.ndarray, fractions: np.ndarray, seed: int) -> Tensor:
    """(H, W) map -> (F, 1, H, W) bool: the map's top `fraction` of pixels for each fraction, most relevant first,
    equal values in a seeded random order (a ReLU'd map's zeros are not deleted top rows first)."""
    height, width = full_map.shape
    ties = np.random.default_rng(seed).random(full_map.size)
    order = np.lexsort((ties, -full_map.ravel()))
    rank = np.empty(full_map.size, dtype=np.int64)
    rank[order] = np.arange(full_map.size)
    counts = np.rint(fractions * full_map.size).astype(np.int64)
    return torch.from_numpy(rank[None] < counts[:, None]).reshape(len(fractions), 1, height, width)


def _copies(x: Tensor, substrate: Tensor, full_map: np.ndarray, fractions: np.ndarray, seed: int) -> Tensor:
    """(2S+3, 3, H, W): deletion steps, insertion steps, then x times the normalised map."""
    chosen = deletion_masks(full_map, fractions, seed)
    deleted = torch.where(chosen, substrate, x)
    inserted = torch.where(chosen, x, substrate)
    multiplied = x * torch.from_numpy(heatmap.normalise(full_map))
    return torch.cat([deleted, inserted, multiplied[None]])


def _scores(probabilities: np.ndarray, fractions: np.ndarray) -> MapFaithfulness:
    steps = len(fractions)
    deletion, insertion = probabilities[:steps], probabilities[steps:2 * steps]
    return MapFaithfulness(deletion=_curve(fractions, deletion), insertion=_curve(fractions, insertion),
                           probability=float(deletion[0]), masked_probability=float(probabilities[-1]))


def _curve(fractions: np.ndarray, probabilities: np.ndarray) -> FaithfulnessCurve:
    return FaithfulnessCurve(fractions, probabilities, float(np.trapezoid(probabilities, fractions)))
