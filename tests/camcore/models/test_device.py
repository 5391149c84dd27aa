"""Device choice and the autocast policy: bf16 on CUDA must not change what the maps show."""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch

from camcore.cams import METHODS, base, compute_maps
from camcore.maps import heatmap
from camcore.models.device import autocast, autocast_dtype, choose_device, describe, memory_format
from camcore.models.loading import LoadedModel, load_model
from tests.conftest import make_photo

HAS_CUDA = torch.cuda.is_available()


def test_cpu_is_cpu_and_auto_follows_cuda() -> None:
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto").type == ("cuda" if HAS_CUDA else "cpu")


def test_an_unknown_preference_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        choose_device("gpu")


def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    if HAS_CUDA:
        assert choose_device("cuda") == torch.device("cuda")
        return
    with pytest.raises(ValueError, match="CUDA was asked for but torch sees no GPU") as info:
        choose_device("cuda")
    assert "--device cpu" in str(info.value)


def test_cpu_runs_in_float32_and_the_default_layout() -> None:
    cpu = torch.device("cpu")
    with autocast(cpu):
        assert not torch.is_autocast_enabled("cpu")
    assert memory_format(cpu) == torch.contiguous_format and describe(cpu).startswith("cpu (")


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_cuda_autocasts_to_bf16_only_where_the_gpu_runs_it(monkeypatch: pytest.MonkeyPatch, bf16: bool,
                                                           expected: torch.dtype) -> None:
    """Asked without emulation: torch's default answer is True on pre-Ampere GPUs, where bf16 is emulated."""
    asked: list[dict] = []

    def supported(**kwargs: object) -> bool:
        asked.append(kwargs)
        return bf16

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert autocast_dtype(torch.device("cuda")) == expected
    assert asked == [{"including_emulation": False}]
    assert autocast_dtype(torch.device("cpu")) is None


@pytest.fixture(scope="module")
def cuda_resnet18(resnet18_weights: Path) -> LoadedModel:
    if not HAS_CUDA:
        pytest.skip("no CUDA GPU here")
    return load_model("resnet18", weights_path=resnet18_weights, device="cuda")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.cuda
@pytest.mark.parametrize("method", METHODS)
def test_bf16_autocast_maps_match_float32(cuda_resnet18: LoadedModel, monkeypatch: pytest.MonkeyPatch,
                                          method: str) -> None:
    transform = cuda_resnet18.preprocessing.with_size(224).transform()
    x = torch.stack([transform(make_photo(200, 150, seed)) for seed in (0, 1)])
    low = compute_maps(cuda_resnet18, x, method=method, top_k=3)
    with monkeypatch.context() as patch:
        patch.setattr(base, "autocast", lambda _device: contextlib.nullcontext())
        full = compute_maps(cuda_resnet18, x, method=method, class_indices=low.class_indices)
        top1 = compute_maps(cuda_resnet18, x, method=method, top_k=1).class_indices[:, 0]
    assert torch.equal(low.class_indices[:, 0], top1)
    low_maps, full_maps = (heatmap.normalise(maps.cpu().numpy()) for maps in (low.maps, full.maps))
    for n in range(x.shape[0]):
        for k in range(3):
            assert _correlation(low_maps[n, k], full_maps[n, k]) > 0.99, (n, k)


def _cuda_photos(model: LoadedModel) -> torch.Tensor:
    transform = model.preprocessing.with_size(128).transform()
    return torch.stack([transform(make_photo(160, 120, seed)) for seed in (0, 1)])


@pytest.mark.cuda
def test_every_method_reports_the_same_probabilities_on_cuda(cuda_resnet18: LoadedModel) -> None:
    x = _cuda_photos(cuda_resnet18)
    cam = compute_maps(cuda_resnet18, x, method="cam", top_k=3)
    for method in METHODS:
        batch = compute_maps(cuda_resnet18, x, method=method, top_k=3)
        torch.testing.assert_close(batch.probabilities, cam.probabilities, rtol=1e-4, atol=1e-5, msg=method)
        assert torch.equal(batch.class_indices, cam.class_indices), method


@pytest.mark.cuda
@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_a_bad_class_index_on_cuda_is_a_value_error_and_cuda_keeps_working(cuda_resnet18: LoadedModel,
                                                                          method: str) -> None:
    x = _cuda_photos(cuda_resnet18)
    with pytest.raises(ValueError, match="Class index 1000 is out of range"):
        compute_maps(cuda_resnet18, x, method=method, class_indices=torch.tensor([[1000], [3]], device="cuda"))
    torch.cuda.synchronize()  # a device-side assert would surface here, and in every later CUDA call
    assert compute_maps(cuda_resnet18, x, method=method, top_k=1).maps.isfinite().all()
