"""The Lesson page in AppTest on the packaged Lite0 and a shipped sample: every step runs, its main widgets are
there, one interaction per step, and the numbers it prints agree with computations that bypass camcore.cams.lesson."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from PIL import Image
from scipy import ndimage
from streamlit.testing.v1 import AppTest

from camcore.cams import stage_layers
from camcore.data.images import load_image
from camcore.data.samples import sample_photos
from camcore.models.loading import LoadedModel, imagenet_categories, load_model
from camcore.settings import DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from tests.conftest import PETS_ROOT
from tests.ui.lesson.test_quiz import chart_keys, selection
from ui.common import explanations, models
from ui.common.text import read_back
from ui.lesson.inputs import STEPS
from ui.lesson.quiz import GUESS_FIRST

LESSON = str(Path(__file__).resolve().parents[2] / "app_pages" / "4_Lesson.py")
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def lite0() -> LoadedModel:
    return load_model("lite0", device="cpu")


@pytest.fixture
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def lesson_page(step: int) -> AppTest:
    at = AppTest.from_file(LESSON, default_timeout=TIMEOUT_S)
    at.session_state["lesson.device"] = "cpu"
    at.session_state["lesson.step"] = step
    at.run()
    assert not at.exception and not at.error
    return at


def text(at: AppTest) -> str:
    return "\n".join(read_back(m.value) for m in at.markdown) + "\n".join(c.value for c in at.caption)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(encoded: object) -> np.ndarray:
    """A figure's array as plotly writes it: a list, or {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(encoded, dict):
        flat = np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
        shape = encoded.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")] if shape else -1).astype(float)
    return np.asarray(encoded, dtype=float)


def top_left(grid: dict) -> tuple[str, np.ndarray]:
    """(label, map) of the grid's top-left cell, found from the axes' domains and the labels' positions."""
    def corner(trace: dict) -> tuple[float, float]:
        suffix = trace.get("xaxis", "x")[1:]
        return grid["layout"][f"yaxis{suffix}"]["domain"][1], -grid["layout"][f"xaxis{suffix}"]["domain"][0]

    label = max(grid["layout"]["annotations"], key=lambda a: (round(a["y"], 3), -a["x"]))
    return label["text"], values(max(grid["data"], key=corner)["z"])


def sample_input(model: LoadedModel) -> torch.Tensor:
    photo = sample_photos()[0]
    return model.preprocessing.transform()(load_image(photo.read_bytes(), name=photo.name)).unsqueeze(0)


def test_feature_maps_step_shows_a_stage_its_size_and_pages_channels(no_data: None, lite0: LoadedModel) -> None:
    at = lesson_page(0)
    layer = at.selectbox(key="lesson.layer")
    assert layer.options == list(stage_layers(lite0)) and len(layer.options) < 20
    assert at.selectbox(key="lesson.sample").value == sample_photos()[0].name
    with torch.inference_mode():  # an independent forward: the stem's conv and BN+act by hand
        expected = lite0.module.bn1(lite0.module.conv_stem(sample_input(lite0)))[0]
    layer.set_value("bn1").run()
    assert f"**bn1**: {expected.shape[0]} channels of {expected.shape[1]} x {expected.shape[2]}" in text(at)
    top_channel = int(expected.mean(dim=(1, 2)).argmax())
    label, first_map = top_left(figures(at)[0])
    assert label == f"#1 (ch {top_channel})"
    assert np.allclose(first_map.reshape(expected.shape[1:]), expected[top_channel].numpy(), atol=1e-4)
    at.slider(key="lesson.channel").set_value(4).run()
    assert not at.exception
    assert top_left(figures(at)[0])[0].startswith("#5 ")
    assert len(figures(at)) == 3  # the grid, then an early and a late layer side by side


def test_pooling_step_gives_the_models_own_logit_both_ways(no_data: None, lite0: LoadedModel) -> None:
    at = lesson_page(1)
    with torch.inference_mode():
        logits = lite0.module(sample_input(lite0))[0]
    picker = at.selectbox(key="lesson.pool_class")
    assert picker.value == int(logits.argmax())
    second = picker.options[1]
    picker.set_value(int(second) if isinstance(second, int) else second).run()
    index = at.selectbox(key="lesson.pool_class").value
    shown = [float(v) for v in re.findall(r"= \*\*(-?\d+\.\d+)\*\*", text(at))]
    assert len(shown) == 2 and index != int(logits.argmax())
    assert shown == pytest.approx([float(logits[index])] * 2, abs=2e-3)
    assert "1280 x 7 x 8" in text(at)  # Bengal_3.jpg at 224 px: the features' shape
    class_map = values(figures(at)[0]["data"][0]["z"])
    bias = float(lite0.module.classifier.bias[index])
    assert class_map.mean() + bias == pytest.approx(float(logits[index]), abs=1e-3)


def test_topk_step_shows_k_maps_and_says_when_there_are_no_trimaps(no_data: None) -> None:
    at = lesson_page(2)
    assert len(figures(at)) == 3
    assert "when the data set" in text(at)
    at.slider(key="lesson.top_k").set_value(2).run()
    assert not at.exception and len(figures(at)) == 2
    shapes = figures(at)[0]["layout"]["shapes"]
    assert len(shapes) == 1 and shapes[0]["type"] == "rect"  # the CAM paper's box


def test_gradcam_step_weights_are_proportional_to_the_linear_layer(no_data: None, lite0: LoadedModel) -> None:
    at = lesson_page(3)
    index = at.selectbox(key="lesson.grad_class").value
    x = sample_input(lite0)
    features = lite0.module.forward_features(x).detach().requires_grad_(True)
    score = lite0.module.forward_head(features)[0, index]  # the model's own head, autograd by hand
    (grads,) = torch.autograd.grad(score, features)
    scatter = figures(at)[0]["data"][0]
    linear = lite0.module.classifier.weight[index].detach().numpy()
    assert np.allclose(values(scatter["x"]), linear, atol=1e-5)
    assert np.allclose(values(scatter["y"]), grads.mean(dim=(2, 3))[0].numpy(), atol=1e-6)
    assert np.allclose(values(scatter["y"]) * features.shape[2] * features.shape[3], linear, atol=1e-4)
    correlation = float(re.search(r"maps: \*\*(-?\d\.\d+)\*\*", text(at)).group(1))  # type: ignore[union-attr]
    assert 0.5 < correlation <= 1.0
    at.selectbox(key="lesson.grad_layer").set_value("blocks.4").run()
    assert not at.exception and figures(at)[-1]["layout"]["title"]["text"] == "Grad-CAM at blocks.4"


@pytest.mark.parametrize("presenter", [False, True])
def test_quiz_shows_no_map_before_the_click_then_asks_which_class(no_data: None, presenter: bool) -> None:
    """Before the click the photo is step 5's only figure (any map of the top class would answer the guess), on a
    projector too; a click reveals the map, its score and the class quiz."""
    at = AppTest.from_file(LESSON, default_timeout=TIMEOUT_S)
    at.session_state["lesson.device"] = "cpu"
    at.query_params.update({"step": "4", **({"presenter": "1"} if presenter else {})})
    at.run()
    assert not at.exception and not at.error and at.toggle(key="lesson.presenter").value == presenter
    assert "No guess yet" in text(at) and GUESS_FIRST in text(at)
    assert chart_keys(at) == ["click"] and at.radio(key="lesson.step").value == 4
    assert figures(at)[0]["data"][1]["mode"] == "markers"  # the invisible grid a click selects
    assert "lesson.which_class" not in [radio.key for radio in at.radio]
    at.session_state["lesson.click"] = selection((100.0, 100.0))
    at.run()
    assert not at.exception and chart_keys(at) == ["click", "reveal", "which_map"]
    assert "Your click is hotter than" in text(at) and GUESS_FIRST not in text(at)
    quiz = at.radio(key="lesson.which_class")
    assert quiz.value is None and len(quiz.options) == 3
    quiz.set_value(0).run()
    assert not at.exception
    assert "**Right!**" in text(at) or "Not quite: it is the map of" in text(at)


def test_reruns_reuse_the_cached_model_passes(no_data: None) -> None:
    """A slider's rerun costs no model pass: the first conv of the shared model (the one the page's cache holds)
    counts every forward, and two reruns on step 3 and one on step 1 add none."""

    st.cache_data.clear()
    passes: list[int] = []
    handle = models.shared_model("lite0", None, "cpu").module.conv_stem.register_forward_pre_hook(
        lambda *_: passes.append(1))
    try:
        at = lesson_page(2)
        first = len(passes)
        at.slider(key="lesson.threshold").set_value(0.5).run()
        at.slider(key="lesson.top_k").set_value(2).run()
        after_sliders = len(passes)
        at.radio(key="lesson.step").set_value(0).run()
        grids = len(passes)
        at.slider(key="lesson.channel").set_value(8).run()
    finally:
        handle.remove()
    assert not at.exception and first >= 1
    assert after_sliders == first and len(passes) == grids


def test_topk_step_shows_the_true_class_of_a_sample(no_data: None, lite0: LoadedModel) -> None:
    """saint_bernard_87.jpg is a Saint Bernard, an ImageNet class: its map and probability from the model's own
    forward pass."""
    at = AppTest.from_file(LESSON, default_timeout=TIMEOUT_S)
    at.session_state["lesson.device"] = "cpu"
    at.query_params.update({"step": "2", "sample": "saint_bernard_87.jpg"})
    at.run()
    assert not at.exception
    photo = next(path for path in sample_photos() if path.name == "saint_bernard_87.jpg")
    x = lite0.preprocessing.transform()(load_image(photo.read_bytes(), name=photo.name)).unsqueeze(0)
    with torch.inference_mode():
        probability = float(lite0.module(x).softmax(dim=1)[0, imagenet_categories().index("Saint Bernard")])
    assert f"the model gives it {probability:.0%}" in text(at)
    assert figures(at)[-1]["layout"]["title"]["text"] == "True class: Saint Bernard"


@pytest.mark.skipif(not PETS_ROOT.is_dir(), reason="needs ../shared/data's Oxford-IIIT Pet")
def test_an_oxford_pet_by_name_gets_its_boxes_iou_with_the_trimap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(PETS_ROOT.parent))
    name = sorted(path.stem for path in (PETS_ROOT / "images").glob("*.jpg"))[0]
    at = AppTest.from_file(LESSON, default_timeout=TIMEOUT_S)
    at.session_state["lesson.device"] = "cpu"
    at.query_params.update({"step": "2", "pet": name, "top_k": "1"})
    at.run()
    assert not at.exception and at.selectbox(key="lesson.pet").value == name
    trimap = np.array(Image.open(PETS_ROOT / "annotations" / "trimaps" / f"{name}.png"))
    rows, cols = np.nonzero(np.isin(trimap, (1, 3)))  # Oxford's trimap: 1 pet, 2 background, 3 border
    pet = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    figure = figures(at)[0]
    shape = figure["layout"]["shapes"][0]
    box = (shape["x0"], shape["y0"], shape["x1"], shape["y1"])
    inter = max(0, min(box[2], pet[2]) - max(box[0], pet[0])) * max(0, min(box[3], pet[3]) - max(box[1], pet[1]))
    union = (box[2] - box[0]) * (box[3] - box[1]) + (pet[2] - pet[0]) * (pet[3] - pet[1]) - inter
    shown = float(re.search(r"IoU with the pet (\d\.\d\d)", figure["layout"]["title"]["text"]).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(inter / union, abs=0.006)


def test_steps_2_and_4_rerun_without_recomputing(no_data: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 2's pooling numbers and step 4's weight comparison come from ui.common.explanations' caches: picking another
    class computes once, coming back to the first class or changing step 4's earlier layer computes nothing."""
    from camcore.cams import lesson

    calls: list[str] = []

    def counted(name: str) -> object:
        real = getattr(lesson, name)
        return lambda *args, **kwargs: calls.append(name) or real(*args, **kwargs)

    for name in ("pooling", "compare_weights"):  # the spies sit where ui.common.explanations computes
        monkeypatch.setattr(lesson, name, counted(name))
    explanations.pooling.clear()
    explanations.weights_comparison.clear()
    at = lesson_page(1)
    first = at.selectbox(key="lesson.pool_class").value
    at.selectbox(key="lesson.pool_class").set_value(at.selectbox(key="lesson.pool_class").options[1]).run()
    at.selectbox(key="lesson.pool_class").set_value(first).run()
    assert not at.exception and at.selectbox(key="lesson.pool_class").value == first
    assert calls.count("pooling") == 2
    at.radio(key="lesson.step").set_value(3).run()
    at.selectbox(key="lesson.grad_layer").set_value("blocks.4").run()
    assert not at.exception and calls.count("compare_weights") == 1


def test_presenter_mode_runs_every_step_in_its_one_screen_layout(no_data: None) -> None:
    """Presenter mode's own layouts (columns, fewer channels) run on every step; the browser test measures them."""
    at = AppTest.from_file(LESSON, default_timeout=TIMEOUT_S)
    at.session_state["lesson.device"] = "cpu"
    at.query_params.update({"presenter": "1", "step": "0"})
    at.run()
    assert not at.exception and not at.error and at.toggle(key="lesson.presenter").value
    grids = [len(figure["layout"]["annotations"]) for figure in figures(at)]
    assert grids == [8, 4, 4]  # the chosen layer's two rows, then one row each for the early and late layers
    for step in range(1, len(STEPS)):
        at.radio(key="lesson.step").set_value(step).run()
        assert not at.exception and not at.error and figures(at), step


def test_fixes_step_shows_vanilla_cam_beside_nwc_pas_and_both(no_data: None, lite0: LoadedModel) -> None:
    """Four maps of the top class; each box is worked out here from the model's own features and head: CAM with
    the head's weights or their positive part, thresholded at 0.2 of the maximum (the positive part over its
    maximum) or 0.35 of the 90th percentile (np.percentile) of the map scaled min-max, as Bae et al.'s code
    scales it, the box around the largest kept region (scipy.ndimage.label)."""
    at = lesson_page(5)
    charts = {chart.proto.id.rsplit("fixes.", 1)[-1]: chart for chart in at.get("plotly_chart")}
    shown = [json.loads(charts[str(index)].proto.spec) for index in range(4)]  # by key: columns reorder them
    titles = [figure["layout"]["title"]["text"] for figure in shown]
    assert [title.split(",")[0] for title in titles] == ["Vanilla CAM", "NWC", "PaS", "NWC + PaS"]
    assert all("of the photo" in title for title in titles)  # no trimap here: the box's share of the photo
    photo = load_image(sample_photos()[0].read_bytes())
    x = sample_input(lite0)
    with torch.inference_mode():
        features = lite0.module.forward_features(x)[0]
        logits = lite0.module(x)[0]
    weight = lite0.module.classifier.weight[int(logits.argmax())]
    for figure, clamped, percentile in zip(shown, (False, True, False, True), (None, None, 90, 90)):
        cam = torch.einsum("c,chw->hw", weight.clamp(min=0) if clamped else weight, features).numpy()
        full = torch.nn.functional.interpolate(torch.from_numpy(cam)[None, None], size=(photo.height, photo.width),
                                               mode="bilinear", align_corners=False)[0, 0].numpy()
        normalised = np.maximum(full, 0) / np.maximum(full, 0).max() if percentile is None else \
            (full - full.min()) / (full.max() - full.min())
        level = 0.2 if percentile is None else 0.35 * np.percentile(normalised, percentile)
        labels, _ = ndimage.label((normalised >= level) & (normalised > 0), structure=np.ones((3, 3)))
        largest = np.bincount(labels.ravel())[1:].argmax() + 1
        rows, cols = np.nonzero(labels == largest)
        shape = figure["layout"]["shapes"][0]
        assert (shape["x0"], shape["y0"], shape["x1"], shape["y1"]) == \
            (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
