"""Explain's "Compare models" (AppTest): the same photo in one row per model, each row's top classes and map
those of that model's own explain(), a line per model on whether CAM is exact, and a shared link that restores the
comparison; a link naming more models than Explain compares is cut to the limit with a line saying so, and the
compared models stay loaded across reruns without pushing out the class's default; the sidebar's settings as they
apply to a model without exact CAM."""
from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.data.images import load_image
from camcore.explain import decode_side_px, explain
from camcore.jobs.runs import RunFolder
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.settings import RUNS_ENV
from tests.app_pages.test_pages import EXPLAIN, GOOD, TIMEOUT_S, pets, random_resnet  # noqa: F401  (fixtures)  # noqa: F401  (fixtures)
from ui.common import models
from ui.common.models import ModelChoice
from ui.common.text import read_back
from ui.explain.compare_models import MAX_OTHERS, row_settings
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
    lines = [read_back(m.value) for m in at.markdown if "· CAM is exact here" in read_back(m.value)]
    assert lines == ["**resnet18** · CAM is exact here.", "**EfficientNet-Lite0** · CAM is exact here."]
    bars = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")
            if json.loads(chart.proto.spec)["data"][0]["type"] == "bar"]
    for model, figure in zip((resnet18, lite0), bars):
        decoded = load_image(pets / GOOD, min_side_px=decode_side_px(model))
        (expected,) = explain([decoded], model, MapOptions(top_k=5))
        assert figure["data"][0]["y"] == [p.class_name for p in expected.predictions]
    assert len(bars) == 2


def test_a_model_without_exact_cam_gets_grad_cam_and_the_reason(resnet18: LoadedModel) -> None:
    settings = Settings(ModelChoice("resnet18", "w.pth", "cpu"),
                        MapOptions(method="cam", top_k=3, size_px=512, clamp_negative_weights=True), compare=True)
    no_cam = dataclasses.replace(resnet18, spec="other", cam=None, cam_refusal="its head runs Linear → Linear")
    mine, note = row_settings(settings, "other", no_cam)
    assert (mine.options.method, mine.options.layer, mine.model.weights_path, mine.compare,
            mine.options.clamp_negative_weights) == ("gradcam", None, None, False, False)
    assert note == " Shown with Grad-CAM: its head runs Linear → Linear." and mine.options.size_px == 512
    assert mine.options.top_k == 3 and mine.model.device == "cpu"
    assert row_settings(settings, "resnet18", resnet18) == (settings, "")


@pytest.fixture
def checkpoints(tmp_path: Path, binary_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Six more model choices: two training runs' start, last and best checkpoints (copies of one file)."""
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    paths = []
    for name in ("run-a", "run-b"):
        run = RunFolder.create(tmp_path / "runs" / name, {"device": "cpu"})
        for which in ("best", "last", "start"):
            shutil.copy(binary_checkpoint, run.checkpoint(which))
            paths.append(str(run.checkpoint(which)))
    return paths


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Model loads by spec, from empty model caches."""
    counted: Counter = Counter()
    real = models.load_model

    def load(spec: str, **kwargs):
        counted[spec] += 1
        return real(spec, **kwargs)

    monkeypatch.setattr(models, "load_model", load)
    models._model_on.clear()
    models._default_model_on.clear()
    return counted


def test_a_link_naming_too_many_models_compares_the_first_three_and_keeps_them_loaded(
        random_resnet: None, pets: Path, checkpoints: list[str], loads: Counter) -> None:  # noqa: F811
    asked = ["lite0", *checkpoints[:4]]
    at = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    at.session_state["explain.device"] = "cpu"
    at.query_params["samples"] = GOOD
    at.query_params["compare_models"] = asked
    at.run()
    assert not at.exception and not at.error
    assert at.multiselect(key="explain.compare_models").value == asked[:MAX_OTHERS]
    assert [c.value for c in at.caption if c.value.startswith("The link names")] == [
        f"The link names 5 models to compare with: Explain compares up to {MAX_OTHERS} beside the sidebar's, so the "
        f"first {MAX_OTHERS} are shown."]
    assert loads == Counter({"resnet18": 1, "lite0": 1, checkpoints[0]: 1, checkpoints[1]: 1})
    at.run()
    assert not at.exception and sum(loads.values()) == 4  # a rerun loads nothing again

    other = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)  # another student compares four other models
    other.session_state["explain.device"] = "cpu"
    other.query_params.update({"samples": GOOD, "model": checkpoints[2]})
    other.query_params["compare_models"] = checkpoints[3:6]
    other.run()
    assert not other.exception and sum(loads.values()) == 8
    plain_page = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)  # the class's default is still loaded
    plain_page.session_state["explain.device"] = "cpu"
    plain_page.query_params["samples"] = GOOD
    plain_page.run()
    assert not plain_page.exception and loads["resnet18"] == 1
