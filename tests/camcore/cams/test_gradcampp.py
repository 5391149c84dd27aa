"""Grad-CAM++ against the paper's alphas written out per image and class, and its closed form on a linear head."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor

from camcore.cams import compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.test_cam import features_by_hand, head_rows, photo_batch
from tests.camcore.cams.test_gradcam import LAYERS, assert_maps_close, reference_gradients


def gradcampp_map(acts: Tensor, grads: Tensor) -> Tensor:
    """Chattopadhay et al. eq. 19 with exp(score) (so its 2nd and 3rd derivatives are powers of the gradient):
    alpha = g^2 / (2 g^2 + sum_ab A_ab g^3), w_c = sum_ij alpha relu(g), map = ReLU(sum_c w_c A_c).

    Per image and class in float64; alpha only matters where g > 0 (elsewhere relu(g) is 0).
    """
    maps = torch.empty(grads.shape[:2] + acts.shape[-2:], dtype=torch.float64)
    for n in range(grads.shape[0]):
        a = acts[n].double()
        a_sum = a.sum(dim=(1, 2), keepdim=True)
        for k in range(grads.shape[1]):
            g = grads[n, k].double()
            alpha = torch.where(g > 0, g**2 / (2 * g**2 + a_sum * g**3), torch.zeros_like(g))
            channel_weights = (alpha * g.clamp_min(0)).sum(dim=(1, 2))
            maps[n, k] = torch.einsum("c,chw->hw", channel_weights, a).relu()
    return maps.float()


@pytest.mark.parametrize("layer", LAYERS)
def test_gradcampp_equals_per_class_reference(model: LoadedModel, layer: str | None) -> None:
    x = photo_batch(model)
    batch = compute_maps(model, x, method="gradcam++", top_k=3, layer=layer)
    acts, grads = reference_gradients(model, x, layer, batch.class_indices)
    assert_maps_close(batch.maps, gradcampp_map(acts, grads))
    assert torch.equal(batch.maps, batch.signed_maps.relu())


def test_gradcampp_on_a_gap_linear_head_has_a_closed_form(model: LoadedModel) -> None:
    """There every pixel's gradient is g_c = w_c / (h w), so the channel weight is h w g_c / (2 + S_c g_c)
    for g_c > 0, with S_c the channel's sum: no autograd needed."""
    x = photo_batch(model)
    batch = compute_maps(model, x, method="gradcam++", top_k=3)
    features = features_by_hand(model.module, x).double()
    area = features.shape[-2] * features.shape[-1]
    g = head_rows(model)[0][batch.class_indices].double() / area  # (N, K, C)
    sums = features.sum(dim=(2, 3))[:, None]  # (N, 1, C)
    channel_weights = torch.where(g > 0, area * g / (2 + sums * g), torch.zeros_like(g))
    expected = torch.einsum("nkc,nchw->nkhw", channel_weights, features).relu().float()
    assert_maps_close(batch.maps, expected)
