"""ui/common/models.py: one shared model per resolved device, whatever the sidebar said, reloaded when its file is
rewritten."""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision

from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.models.device import choose_device
from tests.conftest import SMALL
from ui.common import models


def test_auto_and_the_device_it_resolves_to_share_one_model(resnet18_weights: Path) -> None:
    resolved = str(choose_device("auto"))  # "cpu" here, "cuda" on a GPU machine
    by_auto = models.shared_model("resnet18", str(resnet18_weights), "auto")
    assert models.shared_model("resnet18", str(resnet18_weights), resolved) is by_auto
    assert models.random_model("resnet18", str(resnet18_weights), "auto") is models.random_model(
        "resnet18", str(resnet18_weights), resolved)
    assert str(by_auto.device) == resolved


def test_a_checkpoint_rewritten_at_the_same_path_is_loaded_again(tmp_path: Path) -> None:
    """A training run rewrites best.pt in place: the cache must notice, or users explain with stale weights."""
    path = tmp_path / "best.pt"
    first_weights = _save_binary_checkpoint(path, seed=1)
    first = models.shared_model(str(path), None, "cpu")
    assert torch.equal(first.module.fc.weight, first_weights)
    assert models.shared_model(str(path), None, "cpu") is first
    second_weights = _save_binary_checkpoint(path, seed=2)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = models.shared_model(str(path), None, "cpu")
    assert second is not first and torch.equal(second.module.fc.weight, second_weights)


def _save_binary_checkpoint(path: Path, *, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    module = torchvision.models.resnet18(num_classes=1)
    save_checkpoint(Checkpoint(arch="resnet18", head="binary", class_names=("cat", "dog"), preprocessing=SMALL,
                               state_dict=module.state_dict()), path)
    return module.fc.weight.detach().clone()
