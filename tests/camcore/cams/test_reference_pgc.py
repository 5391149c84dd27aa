"""Our Grad-CAM, Grad-CAM++ and LayerCAM against pytorch-grad-cam 1.5 (test-only dependency `grad-cam`).

How the maps are compared fairly: pgc computes each map at the layer's own grid, takes its ReLU, min-max scales
it and only then resizes it with cv2 to `get_target_width_height(input)`. We set that target to the layer's grid
on pgc's extractor, so no interpolation enters either side: what is compared is pgc's map at the feature grid
after ReLU and min-max (affine, so Pearson's r is unchanged) against our `maps`. One test also runs pgc's
documented defaults (maps at input size) against ours put through the same cv2 resize.

pgc calls model.eval() in its constructor and registers hooks that it never removes on an exception: it gets
its own deep copy of the module, with parameters requiring grad as its hooks need, never the shared model.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
from torch import Tensor, nn

from camcore.cams import MapBatch, compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import photos

pgc = pytest.importorskip("pytorch_grad_cam", reason="grad-cam is a test-only dependency: requirements-dev.txt")
cv2 = pytest.importorskip("cv2")



class ScaleFreeGradCAMPlusPlus(pgc.GradCAMPlusPlus):
    """pgc's own Grad-CAM++ code, handed (A / t, g t) per image instead of (A, g).

    Eq. 19's alpha = g^2 / (2 g^2 + sum(A) g^3) and the map sum_c w_c A_c are unchanged by t, but pgc adds
    eps = 1e-6 to alpha's denominator, which then shrinks to eps / t^2. That eps is not scale-free: where
    gradients are about 1e-4 or less (random-weight EfficientNets and MobileNet; the real Lite0 at blocks.4),
    g^2 is far below 1e-6 and pgc's alpha becomes g^2 / 1e-6, another method. With t = 1e4 / max|g| the eps
    is negligible and the rest of the computation is pgc's, unchanged.
    """

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth=False):
        t = 1e4 / np.abs(grads).max(axis=(1, 2, 3), keepdims=True).clip(min=1e-30)
        return super().get_cam_image(input_tensor, target_layer, targets, activations / t, grads * t, eigen_smooth)


PGC_METHODS = {"gradcam": pgc.GradCAM, "gradcam++": ScaleFreeGradCAMPlusPlus, "layercam": pgc.LayerCAM}
CASES = [  # (model, an earlier layer at stride 16); densenet's layer is checked in test_identity.py
    ("resnet18", "layer3"), ("binary_resnet", "layer3"), ("efficientnet_b0", "features.5"),
    ("mobilenet_v3_large", "features.10"),  # no CAM head: the model's own forward gives the scores
    ("lite0", "blocks.4"),  # the real ImageNet weights (conftest's `lite0`, skipped where absent)
]
TOP_K = 2
MIN_R = 0.99


def _model(zoo, name: str, request: pytest.FixtureRequest) -> LoadedModel:
    return request.getfixturevalue("lite0") if name == "lite0" else zoo(name)


def _target(model: LoadedModel, class_index: int) -> Callable[[Tensor], Tensor]:
    """pgc's target for one image: the logit of our class index; a one-logit head's class 0 is -z."""
    if model.binary:
        return (lambda out: out[0]) if class_index == 1 else (lambda out: -out[0])
    return lambda out: out[class_index]


_COPIES: dict[int, nn.Module] = {}


def pgc_copy(model: LoadedModel) -> nn.Module:
    """pgc's own deep copy of a model (one per model, kept: pgc's hooks are released after every call),
    with parameters requiring grad as its hooks need."""
    if id(model.module) not in _COPIES:
        _COPIES[id(model.module)] = copy.deepcopy(model.module).requires_grad_(True)
    return _COPIES[id(model.module)]


def pgc_maps(model: LoadedModel, method: type, layer: str, x: Tensor, classes: Tensor,
             grid: tuple[int, int] | None) -> np.ndarray:
    """(N, K, h, w) maps of pgc's `method` for `classes` (N, K), one pgc call per rank as its API has it; at
    `grid` (h, w) when given, else at the input size (pgc's default)."""
    module = pgc_copy(model)
    extractor = method(model=module, target_layers=[module.get_submodule(layer)])
    if grid is not None:
        extractor.get_target_width_height = lambda _input: (grid[1], grid[0])  # cv2 takes (width, height)
    try:
        ranks = [extractor(input_tensor=x, targets=[_target(model, int(c)) for c in classes[:, k]])
                 for k in range(classes.shape[1])]
    finally:
        extractor.activations_and_grads.release()  # not `with`: its __exit__ swallows IndexError
    return np.stack(ranks, axis=1)


def ours_and_pgcs(model: LoadedModel, x: Tensor, method: str, pgc_method: type, *, top_k: int = TOP_K,
                  layer: str | None = None) -> tuple[MapBatch, np.ndarray]:
    """Our `method`'s maps of the top_k classes at `layer`, and pgc's `pgc_method` maps of the same classes at
    the same grid (pgc_maps)."""
    ours = compute_maps(model, x, method=method, top_k=top_k, layer=layer)
    return ours, pgc_maps(model, pgc_method, ours.layer, x, ours.class_indices, ours.maps.shape[-2:])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def assert_maps_agree(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Per image and class: Pearson r > MIN_R, or both maps empty (a class whose evidence is all negative)."""
    for n in range(ours.shape[0]):
        for k in range(ours.shape[1]):
            if ours[n, k].max() <= 0:
                assert theirs[n, k].max() < 1e-4, (n, k)
                continue
            assert pearson(ours[n, k], theirs[n, k]) > MIN_R, (n, k, pearson(ours[n, k], theirs[n, k]))


def assert_scaled_close(ours: np.ndarray, theirs: np.ndarray, atol: float = 1e-3) -> None:
    """Where the two compute the same thing: our maps min-max scaled (after the ReLU) equal pgc's (N, K, h, w)
    maps, not merely correlated. Scaled without pgc's 1e-7: random-weight MobileNet's maps are tiny, and pgc's
    eps would make ours all but 0 where its own still reach 1 (atol covers what the eps moves)."""
    shifted = ours - ours.min(axis=(-2, -1), keepdims=True)
    top = shifted.max(axis=(-2, -1), keepdims=True)
    np.testing.assert_allclose(shifted / np.where(top > 0, top, 1.0), theirs, atol=atol)


@pytest.mark.parametrize("method", PGC_METHODS)
@pytest.mark.parametrize("at", ["default", "earlier"])
@pytest.mark.parametrize(("name", "earlier"), CASES)
def test_maps_match_pytorch_grad_cam(zoo, request: pytest.FixtureRequest, name: str, earlier: str, at: str,
                                     method: str) -> None:
    model = _model(zoo, name, request)
    layer = model.default_layer if at == "default" else earlier
    x = photos(model, 96 if name == "lite0" else 64)
    ours, theirs = ours_and_pgcs(model, x, method, PGC_METHODS[method], layer=layer)
    assert_maps_agree(ours.maps.numpy(), theirs)


@pytest.mark.parametrize("layer", [None, "layer3"])
def test_plain_pgc_gradcampp_agrees_where_its_eps_is_negligible(zoo, layer: str | None) -> None:
    """On resnet18 the gradients are large enough (g^2 >> 1e-6) for pgc's unmodified Grad-CAM++."""
    model = zoo("resnet18")
    x = photos(model)
    ours = compute_maps(model, x, method="gradcam++", top_k=TOP_K, layer=layer)
    maps = ours.maps.numpy()
    theirs = pgc_maps(model, pgc.GradCAMPlusPlus, layer or model.default_layer, x, ours.class_indices,
                      maps.shape[-2:])
    assert_maps_agree(maps, theirs)


def test_pgc_documented_output_matches_ours_resized_the_same_way(zoo) -> None:
    """pgc's own defaults (maps at input size) against ours min-max scaled and cv2-resized as pgc does."""
    model = zoo("resnet18")
    x = photos(model)
    ours = compute_maps(model, x, method="gradcam", top_k=1)
    theirs = pgc_maps(model, pgc.GradCAM, model.default_layer, x, ours.class_indices, None)
    size = (x.shape[-1], x.shape[-2])
    resized = np.stack([[cv2.resize(m / max(m.max(), 1e-12), size) for m in image] for image in ours.maps.numpy()])
    assert theirs.shape == resized.shape == (2, 1, *x.shape[-2:])
    assert_maps_agree(resized, theirs)
