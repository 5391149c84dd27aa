"""Finer-CAM against pytorch-grad-cam's FinerCAM (which picks the look-alike classes itself), on random weights
and the real Lite0, and its closed form on a one-logit head."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from camcore.cams import compute_maps
from camcore.cams.finercam import close_call, compared_classes
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import assert_close_to, own_logits, photos

CASES = [("resnet18", None), ("resnet18", "layer3"), ("mobilenet_v3_large", None), ("lite0", None),
         ("lite0", "blocks.4")]


def pgc_finercam(ref, model: LoadedModel, layer: str, x: torch.Tensor, classes: torch.Tensor,
                 grid: tuple[int, int]) -> np.ndarray:
    """(N, K, h, w) maps of pgc's FinerCAM at its defaults, one image and class a call (its target_idx is one
    class for the whole batch), at the layer's grid."""
    module = ref.pgc_copy(model)
    extractor = ref.pgc.FinerCAM(module, [module.get_submodule(layer)])
    extractor.base_cam.get_target_width_height = lambda _input: (grid[1], grid[0])
    try:
        return np.stack([np.concatenate([extractor(x[n:n + 1], target_idx=int(c)) for c in row])
                         for n, row in enumerate(classes)])
    finally:
        extractor.base_cam.activations_and_grads.release()


@pytest.mark.parametrize(("name", "layer"), CASES)
def test_finercam_matches_pytorch_grad_cam(zoo, request: pytest.FixtureRequest, name: str, layer: str | None) -> None:
    ref = pytest.importorskip("tests.camcore.cams.test_reference_pgc")
    model = request.getfixturevalue("lite0") if name == "lite0" else zoo(name)
    x = photos(model, 96)
    ours = compute_maps(model, x, method="finercam", top_k=2, layer=layer)
    maps = ours.maps.numpy()
    theirs = pgc_finercam(ref, model, ours.layer, x, ours.class_indices, maps.shape[-2:])
    ref.assert_maps_agree(maps, theirs)
    ref.assert_scaled_close(maps, theirs)


def test_the_compared_classes_are_the_nearest_scores() -> None:
    """By hand: the three other classes whose logits are nearest, nearest first, whatever their side."""
    logits = torch.tensor([[5.0, 4.0, 4.5, 0.0, 5.2, 9.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    chosen = torch.tensor([[0, 5], [3, 0]])
    assert compared_classes(logits, chosen).tolist() == [[[4, 2, 1], [4, 0, 2]], [[2, 4, 1], [1, 2, 3]]]
    assert compared_classes(logits[:, :2], chosen % 2).tolist() == [[[1], [0]], [[0], [1]]]  # two classes: the other


def test_on_a_one_logit_head_finercam_is_gradcam_of_twice_the_score(binary_resnet: LoadedModel) -> None:
    """Classes (-z, z): the only look-alike is the other class, so the score is y_c - y_other = 2 y_c."""
    x = photos(binary_resnet)
    finer = compute_maps(binary_resnet, x, method="finercam", top_k=2, layer="layer3")
    grad = compute_maps(binary_resnet, x, method="gradcam", top_k=2, layer="layer3")
    assert_close_to(finer.signed_maps, 2 * grad.signed_maps)
    assert_close_to(finer.logits, own_logits(binary_resnet, x))


@pytest.mark.parametrize(("probabilities", "close"), [((0.4, 0.3, 0.1), True), ((0.4, 0.2), True),
                                                     ((0.6, 0.29), False), ((0.9,), False), ((), False)])
def test_a_close_call_is_a_runner_up_at_half_the_top_or_more(probabilities: tuple[float, ...], close: bool) -> None:
    assert close_call(probabilities) is close
