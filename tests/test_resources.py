"""The app's caches (ui/resources.py): one shared model per resolved device, whatever the sidebar said."""
from __future__ import annotations

from pathlib import Path

from camcore.device import choose_device
from ui import resources


def test_auto_and_the_device_it_resolves_to_share_one_model(resnet18_weights: Path) -> None:
    resolved = str(choose_device("auto"))  # "cpu" here, "cuda" on a GPU machine
    by_auto = resources.shared_model("resnet18", str(resnet18_weights), "auto")
    assert resources.shared_model("resnet18", str(resnet18_weights), resolved) is by_auto
    assert resources.random_model("resnet18", str(resnet18_weights), "auto") is resources.random_model(
        "resnet18", str(resnet18_weights), resolved)
    assert str(by_auto.device) == resolved
