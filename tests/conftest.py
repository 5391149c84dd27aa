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

from camcore.cams import METHODS
from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.models.loading import LoadedModel, load_model
from camcore.models.preprocessing import Preprocessing
from tests.browser.deadlines import PAGE_MS

SHARED_DATA = Path(os.environ.get("CAM_EXPLORER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LITE0_WEIGHTS = SHARED_DATA / "imagenet_cnn" / "tf_efficientnet_lite0_in1k.pth"
PETS_ROOT = SHARED_DATA / "oxford-iiit-pet"
SMALL = Preprocessing(resize_px=96, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
"""Tests' input size: small photos keep CPU forwards in milliseconds."""


def cheap_layer(method: str, default: str | None = None) -> str | None:
    """resnet's layer1 (64 channels) for a method that runs a forward per channel (Score-CAM: 512 at layer4),
    else `default`: the loops over every method check what holds at any layer, at an eighth of the forwards.
    cams/test_scorecam.py checks Score-CAM itself at layer4."""
    return "layer1" if METHODS[method].masked_scores else default


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


@pytest.fixture(scope="session")
def tap_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-class resnet18 checkpoint trained, as it were, with TAP (tau 0.1): pooling "tap:0.1" in the file."""
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("ckpt") / "tap.pt"
    module = torchvision.models.resnet18(num_classes=5)
    save_checkpoint(Checkpoint(arch="resnet18", head="multiclass", class_names=tuple("abcde"), preprocessing=SMALL,
                               state_dict=module.state_dict(), pooling="tap:0.1"), path)
    return path


@pytest.fixture(scope="session")
def tap_resnet(tap_checkpoint: Path) -> LoadedModel:
    return load_model(str(tap_checkpoint), device="cpu")


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The run_every of every fragment made while the test runs (st.fragment spied on, still doing its work): a
    followed job polls every ui.common.job_progress.REFRESH_S seconds, an ended one not at all (None)."""
    import streamlit as st

    seen: list[float | None] = []
    real = st.fragment

    def spy(func=None, *, run_every=None):
        seen.append(run_every)
        return real(func, run_every=run_every)

    monkeypatch.setattr(st, "fragment", spy)
    return seen


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
    """The real ImageNet EfficientNet-Lite0 whose weights ship in a pip package: no ../shared/data needed."""
    return load_model("lite0", device="cpu")


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
def playwright_driver():
    """One Playwright for the session (two sync Playwrights cannot share a thread). Debian's Chromium, never
    `playwright install`: CI installs it, so there a missing browser fails; on a developer's machine without it
    the browser tests skip."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


class PatientBrowser:
    """A launched Chromium whose pages and contexts wait up to tests.browser.deadlines.PAGE_MS for anything by
    default (Playwright's own default, 30 s, is too short for a first figure on a busy 2-core machine)."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.set_default_timeout(PAGE_MS)
        return page

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.set_default_timeout(PAGE_MS)
        return context

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


def launch_chromium(playwright_driver, *extra_flags: str) -> PatientBrowser:
    """Chromium with the flags every browser test uses, and `extra_flags` (e.g. a synthetic camera)."""
    return PatientBrowser(playwright_driver.chromium.launch(executable_path=str(CHROMIUM),
                                                            args=[*CHROMIUM_FLAGS, *extra_flags]))


@pytest.fixture(scope="session")
def browser(playwright_driver):
    launched = launch_chromium(playwright_driver)
    yield launched
    launched.close()


TINY_PETS = (  # name, official CLASS_ID, SPECIES (1 cat, 2 dog), BREED_ID (within species), split
    ("Abyssinian_1", 1, 1, 1, "trainval"),
    ("Abyssinian_10", 1, 1, 1, "trainval"),
    ("Abyssinian_2", 1, 1, 1, "test"),
    ("american_bulldog_3", 2, 2, 1, "trainval"),
    ("american_bulldog_4", 2, 2, 1, "test"),
    ("american_bulldog_5", 2, 2, 1, "test"),
    ("beagle_6", 5, 2, 4, "trainval"),
    ("beagle_7", 5, 2, 4, "test"),
    ("beagle_8", 5, 2, 4, "test"),
    ("Bengal_9", 6, 1, 2, "trainval"),
    ("Bengal_11", 6, 1, 2, "test"),
    ("Bengal_12", 6, 1, 2, "trainval"),
)
"""The tiny data set `tiny_pets` writes, in the official list order (by class id)."""
TINY_HEAD_BOXES = {  # name -> PASCAL VOC (xmin, ymin, xmax, ymax): 1-based, inclusive, as the real xmls
    "Abyssinian_1": (30, 14, 52, 30),
    "american_bulldog_4": (20, 10, 44, 28),
    "beagle_6": (34, 16, 58, 32),
    "Bengal_12": (1, 1, 80, 96),
}
_LIST_HEADER = ("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
                "#BREED ID: 1-25:Cat 1:12:Dog\n#All images with 1st letter as captial are cat images\n"
                "#images with small first letter are dog images\n")


def tiny_pet_size(index: int) -> tuple[int, int]:
    """(width, height) of TINY_PETS[index]: landscape and portrait photos alternate."""
    return (96, 72) if index % 2 == 0 else (80, 96)


def tiny_trimap(index: int) -> np.ndarray:
    """(H, W) uint8 trimap of TINY_PETS[index]: an ellipse of pet (1) in a 2-pixel border ring (3) on background (2)."""
    width, height = tiny_pet_size(index)
    yy, xx = np.mgrid[:height, :width]
    cx, cy = width * (0.4 + 0.02 * index), height * 0.5
    radius = ((xx - cx) / (width * 0.25)) ** 2 + ((yy - cy) / (height * 0.3)) ** 2
    trimap = np.full((height, width), 2, dtype=np.uint8)
    trimap[radius < 1.3] = 3
    trimap[radius < 1.0] = 1
    return trimap


def _voc_xml(name: str, size: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    cat = name[0].isupper()
    coords = "".join(f"<{key}>{value}</{key}>" for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return (f"<annotation><folder>OXIIIT</folder><filename>{name}.jpg</filename><size><width>{size[0]}</width>"
            f"<height>{size[1]}</height><depth>3</depth></size><segmented>0</segmented><object>"
            f"<name>{'cat' if cat else 'dog'}</name><pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded>"
            f"<bndbox>{coords}</bndbox><difficult>0</difficult></object></annotation>")


@pytest.fixture(scope="session")
def tiny_pets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROOT holding oxford-iiit-pet/ in torchvision's layout (what OxfordIIITPet's `root` and $CAM_EXPLORER_DATA
    mean): TINY_PETS' photos (a bright blob where the trimap says pet), trimaps, list files and TINY_HEAD_BOXES."""
    root = tmp_path_factory.mktemp("pets")
    base = root / "oxford-iiit-pet"
    for folder in ("images", "annotations/trimaps", "annotations/xmls"):
        (base / folder).mkdir(parents=True)
    lines = {split: [] for split in ("trainval", "test")}
    for index, (name, class_id, species, breed_id, split) in enumerate(TINY_PETS):
        trimap = tiny_trimap(index)
        pixels = np.random.default_rng(index).integers(0, 80, size=(*trimap.shape, 3), dtype=np.uint8)
        pixels[trimap != 2] = (230, 180, 60)
        Image.fromarray(pixels).save(base / "images" / f"{name}.jpg", quality=90)
        Image.fromarray(trimap, mode="L").save(base / "annotations" / "trimaps" / f"{name}.png")
        if name in TINY_HEAD_BOXES:
            xml = _voc_xml(name, tiny_pet_size(index), TINY_HEAD_BOXES[name])
            (base / "annotations" / "xmls" / f"{name}.xml").write_text(xml)
        lines[split].append(f"{name} {class_id} {species} {breed_id}\n")
    for split, split_lines in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("".join(split_lines))
    every_line = [f"{name} {class_id} {species} {breed_id}\n" for name, class_id, species, breed_id, _ in TINY_PETS]
    (base / "annotations" / "list.txt").write_text(_LIST_HEADER + "".join(every_line))
    return root
