"""ui.dataset.detail: the photo with its trimap (on request) and head box; with a prediction, its CAM of the top
classes or of the true class, the score tables and the faithfulness expander."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.data.pets import pet_index
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.record import ImageResult
from camcore.settings import CACHE_ENV
from ui.common.models import ModelChoice
from ui.common.text import read_back
from ui.dataset.inputs import Predictor

TIMEOUT_S = 60
"""A first explanation on a busy 2-core machine takes several seconds."""


def detail_script(root: str, name: str, result: object, predictor: object) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    from pathlib import Path

    from camcore.data.pets import pet_index
    from ui.dataset.detail import detail_ui

    record = next(r for r in pet_index(Path(root)) if r.name == name)
    detail_ui(Path(root), record, result, predictor)


def detail_app(root: Path, name: str, result: ImageResult | None = None, predictor: Predictor | None = None
               ) -> AppTest:
    return AppTest.from_function(detail_script, args=(str(root), name, result, predictor),
                                 default_timeout=TIMEOUT_S).run()


def traces(at: AppTest, key: str) -> list[str | None]:
    (chart,) = [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)]
    return [trace.get("name") for trace in json.loads(chart.proto.spec)["data"]]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def test_the_photo_alone_shows_its_trimap_on_request_and_its_head_box(tiny_pets: Path, cache: None) -> None:
    at = detail_app(tiny_pets, "Abyssinian_1")
    assert not at.exception and not at.error
    assert traces(at, "dataset.trimap_figure") == ["photo", "trimap", "1 pet", "2 background", "3 border", "head box"]
    assert [read_back(c.value) for c in at.caption] == [
        "Abyssinian_1: Abyssinian (cat), trainval split; head box from annotations/xmls."]
    assert not at.radio and not at.table  # no prediction, no map
    at.toggle(key="dataset.trimap").set_value(False).run()
    assert traces(at, "dataset.trimap_figure") == ["photo", "head box"]
    at = detail_app(tiny_pets, "beagle_7")
    assert [read_back(c.value) for c in at.caption] == [
        "beagle_7: beagle (dog), test split; no head box in annotations/xmls."]


def test_a_prediction_adds_the_map_of_the_top_or_the_true_class_and_its_scores(
        tiny_pets: Path, cache: None, binary_checkpoint: Path, binary_resnet: LoadedModel) -> None:
    """A cat/dog model has a class for the beagle's label: the map of the true class is one click away."""
    [record] = [r for r in pet_index(tiny_pets) if r.name == "beagle_6"]
    [result] = predict_records(tiny_pets, [record], binary_resnet, random_model=randomised(binary_resnet))
    predictor = Predictor(binary_resnet, ModelChoice.of(str(binary_checkpoint), None, "cpu"),
                          MapOptions(method="cam", top_k=1), None, predict_all=False, mistakes_only=False)
    at = detail_app(tiny_pets, "beagle_6", result, predictor)
    assert not at.exception and not at.error
    assert len(class_labels(at)) == 2  # the top 5 of a one-logit model: cat and dog
    assert "True: beagle (dog). The class slider switches between the classes shown." in [
        read_back(c.value) for c in at.caption]
    [scores] = at.table
    assert list(scores.value.columns) == ["score", "this model", "centred Gaussian", "random weights"]
    assert any(expander.label.startswith("Faithfulness") for expander in at.expander)
    at.radio(key="dataset.map_true").set_value(True).run()
    assert not at.exception and not at.error
    [label] = class_labels(at)
    assert label.startswith("1. dog (")


def class_labels(at: AppTest) -> list[str]:
    """The CAM figure's class slider: one step per class mapped."""
    (cam,) = [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith("dataset.cam")]
    return [step["label"] for step in json.loads(cam.proto.spec)["layout"]["sliders"][3]["steps"]]
