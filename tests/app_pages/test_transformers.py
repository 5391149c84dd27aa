"""Transformers on the pages (random weights, chosen as an operator presets a model): Swin-T gets exact CAM, its
identity with the photo's numbers and a note that the photo was squashed to 224x224; DeiT-tiny gets the gradient
methods only, with the class token given as the reason."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import timm
import torch
from streamlit.testing.v1 import AppTest
from torchvision.transforms import InterpolationMode, v2

from camcore.data.images import load_image
from camcore.data.samples import sample_photos
from camcore.settings import CACHE_ENV, DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from ui.common.text import read_back

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
TIMEOUT_S = 120
SWIN, DEIT = "timm:swin_tiny_patch4_window7_224", "timm:deit_tiny_patch16_224"
PHOTO = sample_photos()[0]  # Bengal_3.jpg, 500x412: squashed to 224x224


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("transformers")
    paths = {}
    for arch in (SWIN, DEIT):
        torch.manual_seed(0)
        paths[arch] = folder / f"{arch.removeprefix('timm:')}.pth"
        torch.save(timm.create_model(arch.removeprefix("timm:"), pretrained=False).state_dict(), paths[arch])
    return paths


@pytest.fixture
def preset(weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Presets one of the transformers as the server's model, with no data set."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))

    def choose(arch: str) -> None:
        monkeypatch.setenv(MODEL_ENV, arch)
        monkeypatch.setenv(WEIGHTS_ENV, str(weights[arch]))
    return choose


def run_page(name: str, prefix: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT_S)
    at.session_state[f"{prefix}.device"] = "cpu"
    for key, value in state.items():
        at.session_state[f"{prefix}.{key}"] = value
    at.query_params["shipped"] = PHOTO.name
    at.run()
    assert not at.exception and not at.error
    return at


def text(at: AppTest) -> str:
    return "\n".join(read_back(element.value) for kind in ("markdown", "caption", "info") for element in at.get(kind))


def test_swin_on_explain_is_exact_and_says_the_photo_was_squashed(preset) -> None:
    preset(SWIN)
    at = run_page("1_Explain.py", "explain")
    page = text(at)
    assert "CAM is exact here" in page and "takes 224x224 inputs only" in page
    assert "This 500x412 photo was squashed to 224x224" in page
    assert at.selectbox(key="explain.method").value == "cam"
    size = at.radio(key="explain.size_px")
    assert size.options == ["model's 224 px"] and size.disabled
    assert at.get("plotly_chart")


def test_swin_in_the_lesson_adds_up_to_its_own_logit(preset, weights: dict[str, Path]) -> None:
    """Step 2: GAP then Linear and Linear then GAP both give the logit of the model's own forward pass."""
    preset(SWIN)
    at = run_page("4_Lesson.py", "lesson", step=1)
    module = timm.create_model(SWIN.removeprefix("timm:"), pretrained=False)
    module.load_state_dict(torch.load(weights[SWIN], weights_only=True))
    config = timm.data.resolve_data_config({}, model=module)
    resize = v2.Resize((224, 224), interpolation=InterpolationMode(config["interpolation"]), antialias=True)
    squash = v2.Compose([v2.PILToTensor(), resize, v2.ToDtype(torch.float32, scale=True),
                         v2.Normalize(config["mean"], config["std"])])  # the whole photo, squashed to 224x224
    x = squash(load_image(PHOTO.read_bytes(), name=PHOTO.name))
    with torch.inference_mode():
        logits = module.eval()(x.unsqueeze(0))[0]
    index = at.selectbox(key="lesson.pool_class").value
    shown = [float(v) for v in re.findall(r"= \*\*(-?\d+\.\d+)\*\*", text(at))]
    assert index == int(logits.argmax()) and len(shown) == 2
    assert shown == pytest.approx([float(logits[index])] * 2, abs=2e-3)
    assert "768 x 7 x 7" in text(at)


def test_deit_offers_gradient_methods_and_says_why_not_cam(preset) -> None:
    preset(DEIT)
    at = run_page("1_Explain.py", "explain")
    page = text(at)
    assert "Approximate (gradient methods only)" in page and "class token" in page
    methods = at.selectbox(key="explain.method").options
    assert "CAM" not in methods and "Grad-CAM" in methods
    assert at.selectbox(key="explain.layer").value == "blocks.11.norm1"
    assert "Grad-CAM at layer blocks.11.norm1" in page and at.get("plotly_chart")
    lesson = run_page("4_Lesson.py", "lesson", step=1)
    assert "class token" in text(lesson)


def test_swin_on_the_dataset_page_predicts_and_maps_at_norm(preset, tiny_pets: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    preset(SWIN)
    monkeypatch.setenv(DATA_ENV, str(tiny_pets))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    at = AppTest.from_file(str(PAGES / "2_Dataset.py"), default_timeout=TIMEOUT_S)
    at.session_state["dataset.device"] = "cpu"
    at.run()
    at.checkbox(key="dataset.predict").check().run()
    at.selectbox(key="dataset.detail").set_value("beagle_6").run()
    assert not at.exception and not at.error
    assert "takes 224x224 inputs only" in text(at)
    titles = [json.loads(chart.proto.spec)["layout"].get("title", {}).get("text") for chart in at.get("plotly_chart")]
    assert "CAM · norm" in titles
