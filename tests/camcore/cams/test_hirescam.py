"""HiResCAM against its formula written out per image and class, pytorch-grad-cam's HiResCAM, and its identity on
a GAP+Linear head (the signed map is CAM without bias over the map's area, before any ReLU)."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import REFERENCE_CASES, photos
from tests.camcore.cams.test_cam import cam_per_cell_by_hand, model_logits, photo_batch
from tests.camcore.cams.test_gradcam import LAYERS, assert_maps_close, reference_gradients


@pytest.mark.parametrize("layer", LAYERS)
def test_hirescam_equals_per_class_reference(model: LoadedModel, layer: str | None) -> None:
    """Draelos & Carin eq. 5: map(i, j) = ReLU(sum_c g_c(i, j) A_c(i, j))."""
    x = photo_batch(model)
    batch = compute_maps(model, x, method="hirescam", top_k=3, layer=layer)
    acts, grads = reference_gradients(model, x, layer, batch.class_indices)
    expected = torch.stack([torch.stack([(g * acts[n]).sum(dim=0) for g in grads[n]]) for n in range(len(grads))])
    assert_maps_close(batch.signed_maps, expected)
    assert_maps_close(batch.maps, expected.relu())


def test_hirescam_on_a_gap_linear_head_is_cam_over_map_area_signed(model: LoadedModel) -> None:
    """The paper's own point: with GAP+Linear, HiResCAM is CAM (up to 1 / (h w)) even where it is negative;
    here checked against the head's rows applied to features computed by hand, not against our CAM. The best
    and the least likely class: the latter's map is negative in places."""
    x = photo_batch(model)
    logits = model_logits(model, x)
    chosen = torch.stack([logits.argmax(dim=1), logits.argmin(dim=1)], dim=1)
    batch = compute_maps(model, x, method="hirescam", class_indices=chosen)
    cam = cam_per_cell_by_hand(model, x, batch.class_indices)
    assert (cam < 0).any()  # the check covers the signed part too
    assert_maps_close(batch.signed_maps, cam)
    assert_maps_close(batch.maps, cam.relu())


@pytest.mark.parametrize(("name", "layer"), REFERENCE_CASES)
def test_hirescam_matches_pytorch_grad_cam(zoo, name: str, layer: str | None) -> None:
    ref = pytest.importorskip("tests.camcore.cams.test_reference_pgc")
    model = zoo(name)
    ours, theirs = ref.ours_and_pgcs(model, photos(model, 96), "hirescam", ref.pgc.HiResCAM, layer=layer)
    maps = ours.maps.numpy()
    ref.assert_maps_agree(maps, theirs)
    ref.assert_scaled_close(maps, theirs)
