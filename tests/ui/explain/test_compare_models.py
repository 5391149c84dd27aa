"""Explain's "Compare models" (AppTest): the same photo in one row per model, each row's top classes and map
those of that model's own explain(), a line per model on whether CAM is exact, and a shared link that restores the
comparison; the sidebar's settings as they apply to a model without exact CAM."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from camcore.data.images import load_image
from camcore.explain import decode_side_px, explain
from camcore.models.loading import LoadedModel
from tests.app_pages.test_pages import EXPLAIN, GOOD, TIMEOUT_S, pets, random_resnet  # noqa: F401  (fixtures)
from ui.explain.compare_models import row_settings
from ui.explain.settings import Settings


def compared_page(**params: str) -> AppTest:
    at = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    at.session_state["explain.device"] = "cpu"
    at.query_params.update({"samples": GOOD, **params})
    return at.run()


def test_a_link_compares_the_sidebars_model_with_lite0(random_resnet: None, pets: Path,  # noqa: F811
                                                       resnet18: LoadedModel, lite0: LoadedModel) -> None:
    at = compared_page(compare_models="lite0")
    assert not at.exception and not at.error
    assert at.multiselect(key="explain.compare_models").value == ["lite0"]
    lines = [m.value for m in at.markdown if "· CAM is exact here" in m.value]
    assert lines == ["**resnet18** · CAM is exact here.",
                     "**EfficientNet-Lite0 (ships with the app)** · CAM is exact here."]
    bars = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")
            if json.loads(chart.proto.spec)["data"][0]["type"] == "bar"]
    for model, figure in zip((resnet18, lite0), bars):
        decoded = load_image(pets / GOOD, min_side_px=decode_side_px(model))
        (expected,) = explain([decoded], model, top_k=5)
        assert figure["data"][0]["y"] == [p.class_name for p in expected.predictions]
    assert len(bars) == 2


def test_a_model_without_exact_cam_gets_grad_cam_and_the_reason(resnet18: LoadedModel) -> None:
    settings = Settings(spec="resnet18", weights_path="w.pth", device="cpu", method="cam", layer=None, top_k=3,
                        size_px=512, compare=True, min_side_px=640, clamp_negative_weights=True)
    no_cam = dataclasses.replace(resnet18, spec="other", cam=None, cam_refusal="its head runs Linear → Linear")
    mine, note = row_settings(settings, "other", no_cam)
    assert (mine.method, mine.layer, mine.weights_path, mine.compare, mine.clamp_negative_weights) == \
        ("gradcam", None, None, False, False)
    assert note == " Shown with Grad-CAM: its head runs Linear → Linear." and mine.size_px == 512
    assert row_settings(settings, "resnet18", resnet18) == (settings, "")
