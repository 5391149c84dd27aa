"""The cascading randomisation check (camcore.scores.sanity): the shared model untouched, stage 0 equal to the
model's own map, randomisation cumulative from the head, the scores against hand-worked cases, and the evaluate
number."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from camcore.data import pets
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, load_model, randomised
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.record import ImageResult
from camcore.scores.sanity import (
    ORIGINAL,
    cascading_randomisation,
    cumulative_randomisations,
    map_similarity,
    randomisation_stages,
    randomised_above_stem,
)

SIZE_PX = 64
RESNET_STAGES = ("fc", "layer4", "layer3", "layer2", "layer1", "conv1+bn1")
"""resnet18's cascade by hand: the head, its four stages from the last, then the stem (conv1 with its norm)."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """A resnet18 whose every tensor (norm scales and running statistics too) is off any fresh init, as a trained
    model's are: then every re-initialised parameter differs from the original."""
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    generator = torch.Generator().manual_seed(7)
    for key, tensor in state.items():
        if tensor.is_floating_point():
            tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
        if "running_var" in key:
            tensor.abs_()
    path = tmp_path_factory.mktemp("trained") / "resnet18_trained.pth"
    torch.save(state, path)
    return load_model("resnet18", weights_path=path, device="cpu")


def _snapshot(model: LoadedModel) -> dict[str, torch.Tensor]:
    return {key: tensor.clone() for key, tensor in model.module.state_dict().items()}


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_shared_model_is_left_as_it_was(trained: LoadedModel, photo: Image.Image, method: str) -> None:
    before = _snapshot(trained)
    cascading_randomisation(photo, trained, MapOptions(method=method, size_px=SIZE_PX))
    after = trained.module.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert not trained.module.training
    for module in trained.module.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
    assert all(not p.requires_grad and p.grad is None for p in trained.module.parameters())


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_stage_0_is_the_models_own_map(trained: LoadedModel, photo: Image.Image, method: str) -> None:
    check = cascading_randomisation(photo, trained, MapOptions(method=method, size_px=SIZE_PX))
    [own] = explain([photo], trained, MapOptions(method=method, top_k=1, size_px=SIZE_PX))
    assert check.class_index == own.predictions[0].class_index and check.class_name == own.predictions[0].class_name
    np.testing.assert_allclose(check.maps[0], heatmap.normalise(own.maps)[0], atol=1e-6)
    assert check.stages == (ORIGINAL, *RESNET_STAGES)
    assert check.maps.shape == (len(check.stages), *own.maps.shape[1:])
    assert check.spearman[0] == pytest.approx(1.0) and check.ssim[0] == pytest.approx(1.0)
    assert check.spearman[-1] < 0.99  # a fully random resnet18 maps something else


def test_with_nwc_stage_0_is_the_models_own_clamped_map(trained: LoadedModel, photo: Image.Image) -> None:
    check = cascading_randomisation(photo, trained,
                                    MapOptions(method="cam", size_px=SIZE_PX, clamp_negative_weights=True))
    [clamped] = explain([photo], trained, MapOptions(top_k=1, size_px=SIZE_PX, clamp_negative_weights=True))
    [plain] = explain([photo], trained, MapOptions(top_k=1, size_px=SIZE_PX))
    np.testing.assert_allclose(check.maps[0], heatmap.normalise(clamped.maps)[0], atol=1e-6)
    assert np.abs(check.maps[0] - heatmap.normalise(plain.maps)[0]).max() > 1e-3


def test_class_index_is_the_class_mapped_at_every_stage(trained: LoadedModel, photo: Image.Image) -> None:
    check = cascading_randomisation(photo, trained, MapOptions(method="gradcam", size_px=SIZE_PX), class_index=3)
    [own] = explain([photo], trained, MapOptions(method="gradcam", size_px=SIZE_PX), per_photo_classes=[[3]])
    assert check.class_index == 3
    np.testing.assert_allclose(check.maps[0], heatmap.normalise(own.maps)[0], atol=1e-6)


def test_randomisation_is_cumulative_from_the_head(trained: LoadedModel) -> None:
    """After step k exactly the first k stages of RESNET_STAGES hold new values; the last step leaves the copy
    equal to models.randomised under the same seed (the other scores' random baseline)."""
    original = dict(trained.module.named_parameters())
    states = [(name, _snapshot(copy)) for name, copy in cumulative_randomisations(trained, seed=1)]
    assert [name for name, _ in states] == [ORIGINAL, *RESNET_STAGES]
    for done, (_, state) in enumerate(states):
        for key in original:
            top = key.split(".")[0]
            stage = "conv1+bn1" if top in ("conv1", "bn1") else top
            assert torch.equal(state[key], original[key]) == (stage not in RESNET_STAGES[:done]), (done, key)
    fresh = randomised(trained, seed=1).module.state_dict()
    assert all(torch.equal(states[-1][1][key], fresh[key]) for key in fresh)


def test_stages_of_other_heads(lite0: LoadedModel) -> None:
    names = [stage.name for stage in randomisation_stages(lite0)]
    assert names == ["classifier", "conv_head+bn2", *[f"blocks.{i}" for i in range(6, -1, -1)], "conv_stem+bn1"]


def test_spearman_of_a_map_and_its_reverse_order_is_minus_one() -> None:
    ramp = np.arange(64, dtype=np.float32).reshape(8, 8) / 63
    rho, ssim = map_similarity(ramp, ramp[::-1, ::-1].copy())
    assert rho == pytest.approx(-1.0)
    assert map_similarity(ramp, ramp) == pytest.approx((1.0, 1.0))
    assert ssim < 0


def test_spearman_is_the_pearson_correlation_of_the_ranks() -> None:
    rng = np.random.default_rng(0)
    first, second = rng.random((7, 7)), rng.random((7, 7))
    ranks = [np.argsort(np.argsort(m.ravel())) for m in (first, second)]  # no ties among random floats
    assert map_similarity(first, second)[0] == pytest.approx(np.corrcoef(*ranks)[0, 1])


def test_ssim_of_one_window_is_the_papers_formula() -> None:
    """On a 7x7 pair skimage's 7x7 window covers the whole map once: SSIM is Wang et al.'s (2004) eq. 13 with the
    sample statistics of the two maps, C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = 1."""
    rng = np.random.default_rng(1)
    x, y = rng.random((7, 7)), rng.random((7, 7))
    mx, my = x.mean(), y.mean()
    vx, vy, cov = x.var(ddof=1), y.var(ddof=1), ((x - mx) * (y - my)).sum() / 48
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    expected = (2 * mx * my + c1) * (2 * cov + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    assert map_similarity(x, y)[1] == pytest.approx(expected, rel=1e-6)


def test_flat_map_has_no_spearman() -> None:
    rho, _ = map_similarity(np.zeros((8, 8)), np.eye(8))
    assert math.isnan(rho)


def test_randomised_above_stem_keeps_only_the_stem(trained: LoadedModel) -> None:
    kept = randomised_above_stem(trained, seed=1).module.state_dict()
    original, fresh = trained.module.state_dict(), randomised(trained, seed=1).module.state_dict()
    for key in original:
        expected = original if key.split(".")[0] in ("conv1", "bn1") else fresh
        assert torch.equal(kept[key], expected[key]), key


def test_evaluate_number_is_one_when_randomising_changes_nothing(tiny_pets: Path, resnet18: LoadedModel,
                                                                 trained: LoadedModel) -> None:
    """The resnet18 fixture is torchvision's init under seed 0, which randomised_above_stem rebuilds: its maps
    stay the same (Spearman 1, or NaN for a flat map), while the trained model's change."""
    records = pets.pet_index(tiny_pets)[:4]
    same = _results(tiny_pets, records, resnet18, batch_size=3)
    assert [r.name for r in same] == [r.name for r in records]
    assert all(math.isnan(r.randomised_spearman) or r.randomised_spearman == pytest.approx(1.0, abs=1e-3) for r in same)
    assert not all(math.isnan(r.randomised_spearman) for r in same)
    changed = _results(tiny_pets, records, trained)
    assert all(r.randomised_spearman < 0.99 for r in changed if not math.isnan(r.randomised_spearman))


def _results(root: Path, records: tuple[pets.PetRecord, ...], model: LoadedModel,
             batch_size: int = 16) -> list[ImageResult]:
    """predict_records with randomised_spearman, the model as its own random baseline (it plays no part here)."""
    return predict_records(root, records, model, MapOptions(size_px=SIZE_PX), random_model=model, batch_size=batch_size,
                           stem_model=randomised_above_stem(model))
