"""The map computation's public steps (activations at a layer, channel weights, weighted sum): they compose into
exactly what compute_maps returns. The activations themselves, and the stages offered, are
tests/camcore/cams/test_activations.py's."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import METHODS, compute_maps, layer_activations, map_steps, weighted_sum
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import photos
from tests.conftest import cheap_layer


@pytest.mark.parametrize("method", METHODS)
def test_steps_compose_into_compute_maps(model: LoadedModel, method: str) -> None:
    x = photos(model)
    layer = cheap_layer(method, None if method == "cam" else "layer3")
    steps = map_steps(model, x, method=method, top_k=2, layer=layer)
    batch = compute_maps(model, x, method=method, top_k=2, layer=layer)
    signed = weighted_sum(steps.channel_weights, steps.activations)
    assert torch.equal(signed, batch.signed_maps)
    assert torch.equal(steps.class_indices, batch.class_indices) and steps.layer == batch.layer
    assert steps.activations.shape[:2] == (x.shape[0], steps.channel_weights.shape[2])


def test_weighted_sum_is_the_sum_over_channels(model: LoadedModel) -> None:
    """Checked against a plain loop, for per-channel and per-pixel weights."""
    acts = torch.randn(2, 5, 3, 4)
    for weights in (torch.randn(2, 3, 5, 1, 1), torch.randn(2, 3, 5, 3, 4)):
        expected = torch.stack([torch.stack([sum(weights[n, k, c] * acts[n, c] for c in range(5))
                                             for k in range(3)]) for n in range(2)])
        assert torch.allclose(weighted_sum(weights, acts), expected, atol=1e-5)


def test_cam_activations_are_the_features_that_feed_the_head(resnet18: LoadedModel) -> None:
    x = photos(resnet18)
    steps = map_steps(resnet18, x, method="cam")
    assert torch.allclose(steps.activations, layer_activations(resnet18, x, "layer4"), atol=1e-5)
