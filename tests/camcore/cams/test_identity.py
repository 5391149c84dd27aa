"""The exact identities of a GAP+Linear head, on every architecture offered, checked against the model's own
forward pass: mean(CAM) + bias = logit, and Grad-CAM at the last block = ReLU(CAM without bias) / (h w)."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import METHODS, base, compute_maps
from camcore.errors import UnsupportedMethod
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import NOT_GAP_LINEAR, assert_close_to, own_logits, photos
from tests.conftest import cheap_layer

TOP_K = 3


def test_cam_mean_plus_bias_is_the_models_own_logit(gap_model: LoadedModel) -> None:
    x = photos(gap_model)
    cam = compute_maps(gap_model, x, method="cam", top_k=TOP_K)
    own = own_logits(gap_model, x)
    k = min(TOP_K, own.shape[1])
    assert_close_to(cam.logits, own)
    assert_close_to(cam.signed_maps.mean(dim=(2, 3)) + cam.bias, own.gather(1, cam.class_indices))
    assert_close_to(own.gather(1, cam.class_indices), own.topk(k, dim=1).values)  # the model's own top k
    if not gap_model.binary:
        torch.testing.assert_close(cam.probabilities, torch.softmax(own, dim=1))


def test_gradcam_at_the_last_block_is_relu_of_cam_over_its_cells(gap_model: LoadedModel) -> None:
    """d logit / d A_c(i, j) = w_c / (h w) at the features that the head pools: one layer serves both methods
    (densenet included: its functional ReLU is a module, heads.FinalReLU)."""
    x = photos(gap_model)
    cam = compute_maps(gap_model, x, method="cam", top_k=TOP_K)
    grad = compute_maps(gap_model, x, method="gradcam", class_indices=cam.class_indices)
    assert grad.layer == cam.layer == gap_model.default_layer
    cells = cam.signed_maps.shape[-2] * cam.signed_maps.shape[-1]
    assert_close_to(grad.signed_maps, cam.signed_maps / cells)
    assert_close_to(grad.maps, cam.signed_maps.relu() / cells)
    assert_close_to(grad.logits, own_logits(gap_model, x))


@pytest.mark.parametrize("arch", NOT_GAP_LINEAR)
def test_cam_is_refused_cleanly_where_the_head_is_not_gap_linear(zoo, arch: str) -> None:
    model = zoo(arch)
    assert model.cam is None
    x = photos(model)
    with pytest.raises(UnsupportedMethod, match="gradcam") as info:
        compute_maps(model, x, method="cam")
    assert "\n" not in str(info.value) and NOT_GAP_LINEAR[arch] in str(info.value)
    grad = compute_maps(model, x, method="gradcam", top_k=TOP_K)
    assert_close_to(grad.logits, own_logits(model, x))
    assert torch.isfinite(grad.maps).all() and grad.maps.shape[:2] == (2, TOP_K)


def _cpu_bf16(_device: torch.device) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("arch", ["resnet18", "binary_resnet"])
def test_every_method_reports_the_same_probabilities_under_autocast(zoo, arch: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 autocast on the CPU stands in for a GPU's: the model's own head under autocast would give
    Grad-CAM other probabilities than CAM's float32 head (about 1e-2 apart), so both use the float32 head."""
    model = zoo(arch)
    x = photos(model)
    full = compute_maps(model, x, method="cam", top_k=TOP_K)
    monkeypatch.setattr(base, "autocast", _cpu_bf16)
    batches = {method: compute_maps(model, x, method=method, top_k=TOP_K, layer=cheap_layer(method))
               for method in METHODS}
    cam = batches["cam"]
    assert not torch.equal(cam.logits, full.logits)  # autocast really ran in bf16
    assert_close_to(cam.logits, full.logits, rtol=0.1)
    for method, batch in batches.items():
        torch.testing.assert_close(batch.probabilities, cam.probabilities, rtol=1e-6, atol=1e-7, msg=method)
        assert torch.equal(batch.class_indices, cam.class_indices), method
