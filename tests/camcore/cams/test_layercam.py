"""LayerCAM against its per-pixel formula written out, and its closed form on a linear head."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.test_cam import features_by_hand, head_rows, photo_batch
from tests.camcore.cams.test_gradcam import LAYERS, assert_maps_close, reference_gradients


@pytest.mark.parametrize("layer", LAYERS)
def test_layercam_equals_per_class_reference(model: LoadedModel, layer: str | None) -> None:
    """Jiang et al. eq. 5-6: map(i, j) = ReLU(sum_c relu(g_c(i, j)) A_c(i, j))."""
    x = photo_batch(model)
    batch = compute_maps(model, x, method="layercam", top_k=3, layer=layer)
    acts, grads = reference_gradients(model, x, layer, batch.class_indices)
    expected = torch.stack([torch.stack([(g.clamp_min(0) * acts[n]).sum(dim=0) for g in grads[n]])
                            for n in range(grads.shape[0])])
    assert_maps_close(batch.signed_maps, expected)
    assert_maps_close(batch.maps, expected.relu())


def test_layercam_on_a_gap_linear_head_is_positive_head_weights_over_map_area(model: LoadedModel) -> None:
    x = photo_batch(model)
    batch = compute_maps(model, x, method="layercam", top_k=3)
    features = features_by_hand(model.module, x)
    area = features.shape[-2] * features.shape[-1]
    rows = head_rows(model)[0][batch.class_indices].clamp_min(0)
    assert_maps_close(batch.maps, torch.einsum("nkc,nchw->nkhw", rows, features).relu() / area)
