"""The Lesson's numbers for one photo, each step of a map on its own: every value comes from camcore.cams'
steps (the ones Explain runs), so what a student sees is exactly what Explain computes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from camcore import cams
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel


def model_input(model: LoadedModel, image: Image.Image) -> torch.Tensor:
    """(1, 3, H, W): the photo preprocessed as the model's weights expect."""
    return model.preprocessing.transform()(image).unsqueeze(0)


@dataclass(frozen=True, eq=False)
class FeatureMaps:
    """One layer's activations (C, h, w) and its channels ordered by mean activation, largest first."""

    layer: str
    activations: np.ndarray
    order: np.ndarray

    @property
    def means(self) -> np.ndarray:
        return self.activations.mean(axis=(1, 2))


def feature_maps(model: LoadedModel, image: Image.Image, layer: str) -> FeatureMaps:
    acts = cams.layer_activations(model, model_input(model, image), layer)[0].cpu().numpy()
    return FeatureMaps(layer, acts, np.argsort(-acts.mean(axis=(1, 2)), kind="stable"))


@dataclass(frozen=True, eq=False)
class Pooling:
    """GAP then Linear, and Linear then GAP, for one class. features (C, h, w); pooled (C,) = the head's pooling
    of them (GAP, or TAP for a TAP head); weight (C,) the class's row of the head; class_map (h, w) = sum_c w_c A_c.
    pooled @ weight + bias is the logit; with GAP so is class_map.mean() + bias (with TAP it is not)."""

    class_index: int
    features: np.ndarray
    pooled: np.ndarray
    weight: np.ndarray
    bias: float
    class_map: np.ndarray
    logit: float

    @property
    def gap_then_linear(self) -> float:
        return float(self.pooled.astype(np.float64) @ self.weight.astype(np.float64) + self.bias)

    @property
    def linear_then_gap(self) -> float:
        return float(self.class_map.astype(np.float64).mean() + self.bias)


def pooling(model: LoadedModel, image: Image.Image, class_index: int) -> Pooling:
    """The CAM steps for one class (needs a GAP+Linear head: cams.check_applicable says so otherwise)."""
    steps = cams.map_steps(model, model_input(model, image), method="cam", class_indices=torch.tensor([[class_index]]))
    class_map = cams.weighted_sum(steps.channel_weights, steps.activations)[0, 0].cpu().numpy()
    features = steps.activations[0].cpu().numpy()
    assert steps.bias is not None  # CAM's steps always carry the head's bias
    assert model.cam is not None  # map_steps refused CAM otherwise
    pooled = model.cam.pool(steps.activations[:1]).cpu().numpy()[0]  # the head's own pooling: the mean, or TAP
    return Pooling(class_index, features, pooled,
                   steps.channel_weights[0, 0, :, 0, 0].cpu().numpy(), float(steps.bias[0, 0]), class_map,
                   float(steps.logits[0, class_index]))


@dataclass(frozen=True, eq=False)
class WeightsComparison:
    """Grad-CAM's channel weights (pooled gradients) beside CAM's (the head's row), both (C,), and their
    maps (h, w). On a GAP+Linear head grad_weights == cam_weights / (h * w): proportional."""

    grad_weights: np.ndarray
    cam_weights: np.ndarray
    gradcam_map: np.ndarray
    cam_map: np.ndarray

    @property
    def map_correlation(self) -> float:
        return float(np.corrcoef(self.gradcam_map.ravel(), self.cam_map.ravel())[0, 1])


def compare_weights(model: LoadedModel, image: Image.Image, class_index: int) -> WeightsComparison:
    x, chosen = model_input(model, image), torch.tensor([[class_index]])
    grad = cams.map_steps(model, x, method="gradcam", class_indices=chosen)
    cam = cams.map_steps(model, x, method="cam", class_indices=chosen)
    gradcam_map = cams.weighted_sum(grad.channel_weights, grad.activations).relu()[0, 0]
    cam_map = cams.weighted_sum(cam.channel_weights, cam.activations)[0, 0]
    return WeightsComparison(grad.channel_weights[0, 0, :, 0, 0].cpu().numpy(),
                             cam.channel_weights[0, 0, :, 0, 0].cpu().numpy(),
                             gradcam_map.cpu().numpy(), cam_map.cpu().numpy())


@dataclass(frozen=True)
class ClickScore:
    """Where a guess lands on a map: its value's percentile among the map's pixels, and whether it is inside
    the CAM paper's thresholded region."""

    percentile: float
    inside: bool


def click_score(raw_map: np.ndarray, x_px: float, y_px: float, *, threshold_frac: float) -> ClickScore:
    """(H, W) map at the photo's pixels, a click at (x_px, y_px) -> its score (heatmap's normalise/threshold)."""
    normalised = heatmap.normalise(raw_map)
    row = int(np.clip(round(y_px), 0, raw_map.shape[0] - 1))
    col = int(np.clip(round(x_px), 0, raw_map.shape[1] - 1))
    value = raw_map[row, col]
    percentile = 100.0 * float((raw_map <= value).mean())
    inside = bool(heatmap.threshold_mask(normalised, threshold_frac)[row, col])
    return ClickScore(percentile, inside)
