"""XGrad-CAM against its formula written out per image and class, pytorch-grad-cam's XGradCAM, and its closed
form on a GAP+Linear head."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import REFERENCE_CASES, photos
from tests.camcore.cams.test_cam import cam_per_cell_by_hand, photo_batch
from tests.camcore.cams.test_gradcam import LAYERS, assert_maps_close, reference_gradients


@pytest.mark.parametrize("layer", LAYERS)
def test_xgradcam_equals_per_class_reference(model: LoadedModel, layer: str | None) -> None:
    """Fu et al. eq. 12: w_c = sum_ij (A_c(i, j) / sum_ab A_c(a, b)) g_c(i, j), map = ReLU(sum_c w_c A_c)."""
    x = photo_batch(model)
    batch = compute_maps(model, x, method="xgradcam", top_k=3, layer=layer)
    acts, grads = reference_gradients(model, x, layer, batch.class_indices)
    expected = torch.zeros_like(batch.signed_maps)
    for n in range(grads.shape[0]):
        totals = acts[n].sum(dim=(1, 2))
        for k in range(grads.shape[1]):
            means = (acts[n] * grads[n, k]).sum(dim=(1, 2)) / totals  # (C,) the activation-weighted mean of g
            expected[n, k] = (means.nan_to_num()[:, None, None] * acts[n]).sum(dim=0)  # 0 / 0: a silent channel
    assert_maps_close(batch.signed_maps, expected)
    assert_maps_close(batch.maps, expected.relu())


def test_xgradcam_on_a_gap_linear_head_is_relu_of_cam_over_map_area(model: LoadedModel) -> None:
    """g_c = w_c / (h w) at every pixel, so the activation-weighted mean of g is w_c / (h w) too."""
    x = photo_batch(model)
    batch = compute_maps(model, x, method="xgradcam", top_k=3)
    assert_maps_close(batch.maps, cam_per_cell_by_hand(model, x, batch.class_indices).relu())


@pytest.mark.parametrize(("name", "layer"), REFERENCE_CASES)
def test_xgradcam_matches_pytorch_grad_cam(zoo, name: str, layer: str | None) -> None:
    ref = pytest.importorskip("tests.camcore.cams.test_reference_pgc")
    model = zoo(name)
    ours, theirs = ref.ours_and_pgcs(model, photos(model, 96), "xgradcam", ref.pgc.XGradCAM, layer=layer)
    maps = ours.maps.numpy()
    ref.assert_maps_agree(maps, theirs)
    if name.endswith("resnet18"):  # post-ReLU layers: no channel sums near pgc's eps, so the maps are equal
        ref.assert_scaled_close(maps, theirs)
