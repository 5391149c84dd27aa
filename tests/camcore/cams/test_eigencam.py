"""EigenCAM against pytorch-grad-cam (its EigenCAM, and the sign-corrected projection it ships), on models with
and without a GAP+Linear head: one map for every class, computed without gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from camcore.cams import METHODS, compute_maps, layer_activations
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import own_logits, photos
from tests.camcore.models.test_hooks import assert_untouched, model_state

CASES = [("resnet18", None), ("resnet18", "layer3"), ("binary_resnet", "layer2"), ("mobilenet_v3_large", None),
         ("mobilenet_v3_large", "features.10")]


@pytest.mark.parametrize(("name", "layer"), CASES)
def test_eigencam_is_pgcs_sign_corrected_projection(zoo, name: str, layer: str | None) -> None:
    """pgc's get_2d_projection_with_sign_correction (numpy's SVD of the centred (h*w, C) activations, flipped
    when |min| > |max|) on the layer's own output, before any ReLU: equal, not merely correlated."""
    svd = pytest.importorskip("pytorch_grad_cam.utils.svd_on_activations")
    model = zoo(name)
    x = photos(model, 96)
    batch = compute_maps(model, x, method="eigencam", top_k=3, layer=layer)
    acts = layer_activations(model, x, batch.layer).numpy()
    expected = torch.from_numpy(svd.get_2d_projection_with_sign_correction(acts))
    scale = float(expected.abs().max())
    for k in range(batch.signed_maps.shape[1]):
        torch.testing.assert_close(batch.signed_maps[:, k], expected, rtol=1e-3, atol=1e-4 * scale)
    assert torch.equal(batch.maps, batch.signed_maps.relu())


@pytest.mark.parametrize(("name", "layer"), CASES)
def test_eigencam_matches_pgcs_eigencam_up_to_the_svds_sign(zoo, name: str, layer: str | None) -> None:
    """pgc's EigenCAM keeps whichever sign LAPACK returns; its map is ours, or ours of the opposite sign."""
    ref = pytest.importorskip("tests.camcore.cams.test_reference_pgc")
    model = zoo(name)
    ours, theirs = ref.ours_and_pgcs(model, photos(model, 96), "eigencam", ref.pgc.EigenCAM, top_k=1, layer=layer)
    for n in range(ours.maps.shape[0]):
        same, flipped = (ours.signed_maps[n:n + 1] * sign for sign in (1, -1))
        r = max(ref.pearson(side.relu().numpy(), theirs[n:n + 1]) for side in (same, flipped))
        assert r > ref.MIN_R, (n, r)


def test_eigencam_is_the_same_for_every_class_and_needs_no_head(zoo) -> None:
    model = zoo("mobilenet_v3_large")
    assert model.cam is None and METHODS["eigencam"].class_agnostic and not METHODS["eigencam"].needs_gradients
    x, state = photos(model), model_state(model.module)
    top = compute_maps(model, x, method="eigencam", top_k=3)
    given = compute_maps(model, x, method="eigencam", class_indices=torch.tensor([[7, 0], [999, 5]]))
    assert torch.equal(top.maps[:, 1], top.maps[:, 0]) and torch.equal(top.maps[:, 2], top.maps[:, 0])
    torch.testing.assert_close(given.maps, top.maps[:, :2])
    torch.testing.assert_close(top.logits, own_logits(model, x), rtol=1e-5, atol=1e-6)
    assert_untouched(model.module, state)


def test_eigencam_of_a_planted_pattern_is_that_pattern(resnet18: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """Activations that are one spatial pattern p times a channel profile plus noise-free offsets: the first
    principal component is p itself (centred), whichever channels carry it, and its sign puts the peak up."""
    pattern = torch.zeros(6, 9)
    pattern[2:4, 5:8] = 1.0
    profile = torch.linspace(0.5, 2.0, 512)
    planted = profile[:, None, None] * pattern + torch.rand(512)[:, None, None]

    def fixed_features(x: torch.Tensor) -> torch.Tensor:
        return planted.expand(x.shape[0], -1, -1, -1).clone()

    monkeypatch.setitem(vars(resnet18.module.layer4), "forward", fixed_features)  # undo deletes it again
    batch = compute_maps(resnet18, photos(resnet18, 96), method="eigencam", top_k=1)
    expected = (pattern - pattern.mean()) * profile.norm()
    torch.testing.assert_close(batch.signed_maps[:, 0], expected.expand(2, -1, -1), rtol=1e-4, atol=1e-4)
    assert np.isclose(float(batch.maps.amax()), float(expected.max()), rtol=1e-4)
