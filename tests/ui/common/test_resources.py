"""The app's caches (ui/common/resources.py): one shared model per resolved device, whatever the sidebar said."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch
import torchvision

from camcore.data.images import load_image
from camcore.explain import explain
from camcore.maps import exports
from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.models.device import choose_device
from camcore.models.loading import load_model
from tests.conftest import SMALL, make_photo
from ui.common import resources


def test_auto_and_the_device_it_resolves_to_share_one_model(resnet18_weights: Path) -> None:
    resolved = str(choose_device("auto"))  # "cpu" here, "cuda" on a GPU machine
    by_auto = resources.shared_model("resnet18", str(resnet18_weights), "auto")
    assert resources.shared_model("resnet18", str(resnet18_weights), resolved) is by_auto
    assert resources.random_model("resnet18", str(resnet18_weights), "auto") is resources.random_model(
        "resnet18", str(resnet18_weights), resolved)
    assert str(by_auto.device) == resolved


def test_a_checkpoint_rewritten_at_the_same_path_is_loaded_again(tmp_path: Path) -> None:
    """A training run rewrites best.pt in place: the cache must notice, or users explain with stale weights."""
    path = tmp_path / "best.pt"
    first_weights = _save_binary_checkpoint(path, seed=1)
    first = resources.shared_model(str(path), None, "cpu")
    assert torch.equal(first.module.fc.weight, first_weights)
    assert resources.shared_model(str(path), None, "cpu") is first
    second_weights = _save_binary_checkpoint(path, seed=2)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = resources.shared_model(str(path), None, "cpu")
    assert second is not first and torch.equal(second.module.fc.weight, second_weights)


def test_results_made_with_a_rewritten_checkpoint_are_made_again(tmp_path: Path) -> None:
    """Every cache of results made with a model (here the explanation and the download's PNG) keys on the model
    files' modification times, as the model cache does: none hands out the old checkpoint's answers."""
    path, buffer = tmp_path / "best.pt", io.BytesIO()
    make_photo(96, 80).save(buffer, format="PNG")
    photo_args = (buffer.getvalue(), "pet.png", str(path), None, "cpu")
    settings = {"method": "cam", "layer": None, "top_k": 1, "size_px": None, "min_side_px": None}
    png_settings = {**settings, "rank": 0, "colormap": "magma", "threshold_frac": 0.2}
    for seed in (1, 2):
        _save_binary_checkpoint(path, seed=seed)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + seed * 1_000_000))
        photo = load_image(buffer.getvalue(), name="pet.png")
        expected = explain([photo], load_model(str(path), device="cpu"), method="cam", top_k=1)[0]
        cached = resources.explanation(*photo_args, **settings)
        assert cached.predictions[0].logit == pytest.approx(expected.predictions[0].logit, abs=1e-5)
        assert resources.overlay_png(*photo_args, **png_settings) == exports.overlay_png(photo, expected, 0)


def _save_binary_checkpoint(path: Path, *, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    module = torchvision.models.resnet18(num_classes=1)
    save_checkpoint(Checkpoint(arch="resnet18", head="binary", class_names=("cat", "dog"), preprocessing=SMALL,
                               state_dict=module.state_dict()), path)
    return module.fc.weight.detach().clone()
