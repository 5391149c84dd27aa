"""Grad-CAM against a plain reference: a forward hook and one torch.autograd.grad call per image and class."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor

from camcore.cams import compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.test_cam import model_logits, photo_batch

LAYERS = (None, "layer3", "layer4.1.relu")
"""The default layer4, an earlier one, and a module that each ResNet block calls twice (its last call counts)."""


def reference_gradients(model: LoadedModel, x: Tensor, layer: str | None, classes: Tensor) -> tuple[Tensor, Tensor]:
    """(N, C, h, w) activations of `layer` and (N, K, C, h, w) d logit[n, classes[n, k]] / d activations[n].

    The input requires grad so that every activation is in the graph; the loop over images and classes is
    what the batched (vmapped) path in cams.base must reproduce.
    """
    captured: list[Tensor] = []
    handle = model.layer(layer).register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        with torch.enable_grad():
            out = model.module(x.clone().requires_grad_(True))
    finally:
        handle.remove()
    acts = captured[-1]
    logits = torch.cat([-out, out], dim=1) if model.binary else out
    grads = [[torch.autograd.grad(logits[n, c], acts, retain_graph=True)[0][n] for c in row]
             for n, row in enumerate(classes.tolist())]
    return acts.detach(), torch.stack([torch.stack(row) for row in grads]).detach()


def channel_sum(weights: Tensor, acts: Tensor) -> Tensor:
    """sum_c w_c A_c: (N, K, C, 1|h, 1|w) weights, (N, C, h, w) activations -> (N, K, h, w)."""
    return (weights * acts[:, None]).sum(dim=2)


def assert_maps_close(actual: Tensor, expected: Tensor) -> None:
    """float32 agreement, relative to the largest value of the maps."""
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max().clamp_min(1e-12)))


@pytest.mark.parametrize("layer", LAYERS)
def test_gradcam_equals_per_class_reference(model: LoadedModel, layer: str | None) -> None:
    x = photo_batch(model)
    batch = compute_maps(model, x, method="gradcam", top_k=3, layer=layer)
    assert torch.equal(batch.class_indices, model_logits(model, x).topk(min(3, len(model.class_names))).indices)
    acts, grads = reference_gradients(model, x, layer, batch.class_indices)
    signed = channel_sum(grads.mean(dim=(-2, -1), keepdim=True), acts)
    assert_maps_close(batch.signed_maps, signed)
    assert_maps_close(batch.maps, signed.relu())
    assert batch.layer == (layer or model.default_layer) and batch.bias is None


def test_gradcam_on_a_gap_linear_head_is_relu_of_cam_over_map_area(model: LoadedModel) -> None:
    """d logit / d A_c(i, j) = w_c / (h w) for every pixel, so Grad-CAM = ReLU(CAM without bias) / (h w)."""
    x = photo_batch(model)
    cam = compute_maps(model, x, method="cam", top_k=3)
    grad = compute_maps(model, x, method="gradcam", class_indices=cam.class_indices)
    area = cam.signed_maps.shape[-2] * cam.signed_maps.shape[-1]
    assert_maps_close(grad.signed_maps, cam.signed_maps / area)
    assert_maps_close(grad.maps, cam.signed_maps.relu() / area)
    own = model_logits(model, x)  # the model's own forward, not the logits CAM computed
    torch.testing.assert_close(grad.logits, own, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cam.logits, own, rtol=1e-5, atol=1e-5)
