"""Shared fixtures: random-weight models saved as local weights files, generated photos, and the real
data and weights of ../shared/data when present (tests using them skip cleanly otherwise)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from camcore.checkpoints import Checkpoint, save_checkpoint
from camcore.models import LoadedModel, load_model
from camcore.preprocessing import Preprocessing

SHARED_DATA = Path(os.environ.get("CAM_EXPLORER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LITE0_WEIGHTS = SHARED_DATA / "imagenet_cnn" / "tf_efficientnet_lite0_in1k.pth"
PETS_ROOT = SHARED_DATA / "oxford-iiit-pet"
SMALL = Preprocessing(resize_px=96, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
"""Tests' input size: small photos keep CPU forwards in milliseconds."""


@pytest.fixture(scope="session")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight resnet18 state dict on disk: the --weights path that real users take offline."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18_random.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def resnet18(resnet18_weights: Path) -> LoadedModel:
    """A shared 1000-class model, as the app caches one for every session."""
    return load_model("resnet18", weights_path=resnet18_weights, device="cpu")


@pytest.fixture(scope="session")
def binary_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-logit cat-vs-dog checkpoint in our format (dog = 1, as the lesson)."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("ckpt") / "cats_dogs.pt"
    module = torchvision.models.resnet18(num_classes=1)
    save_checkpoint(Checkpoint(arch="resnet18", head="binary", class_names=("cat", "dog"), preprocessing=SMALL,
                               state_dict=module.state_dict(), training={"epochs": 0}), path)
    return path


@pytest.fixture(scope="session")
def binary_resnet(binary_checkpoint: Path) -> LoadedModel:
    return load_model(str(binary_checkpoint), device="cpu")


def make_photo(width: int = 120, height: int = 90, seed: int = 0) -> Image.Image:
    """A generated RGB photo: a bright disc on a noisy background."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - height * 0.4) ** 2 + (xx - width * 0.6) ** 2 < (min(width, height) * 0.25) ** 2
    pixels[disc] = (230, 180, 60)
    return Image.fromarray(pixels)


@pytest.fixture
def photo() -> Image.Image:
    return make_photo()


@pytest.fixture(scope="session")
def lite0() -> LoadedModel:
    """The real ImageNet EfficientNet-Lite0 of ../shared/data; skipped where that folder is absent."""
    if not LITE0_WEIGHTS.is_file():
        pytest.skip(f"real weights not present at {LITE0_WEIGHTS}")
    return load_model("timm:tf_efficientnet_lite0", weights_path=LITE0_WEIGHTS, device="cpu")


@pytest.fixture(scope="session")
def pets_root() -> Path:
    """The mini Oxford-IIIT Pet of ../shared/data; skipped where absent."""
    if not (PETS_ROOT / "annotations" / "list.txt").is_file():
        pytest.skip(f"Oxford-IIIT Pet subset not present at {PETS_ROOT}")
    return PETS_ROOT


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never `playwright install`). CI installs it, so there a missing
    browser fails; on a developer's machine without it the browser tests skip."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
