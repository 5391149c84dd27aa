"""The pages run in Streamlit's AppTest: no exception, the main widgets, and real interactions on sample photos.

AppTest cannot upload files, so photos come from a generated Oxford-IIIT Pet folder through the sample picker;
tests/browser/test_explain.py uploads through a real browser.
"""
from __future__ import annotations

import json
import re
import urllib.error
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torchvision.models import mobilenet_v3_small

from camcore.cams import METHODS
from camcore.data.images import load_image
from camcore.data.samples import sample_photos
from camcore.explain import explain
from camcore.models.device import choose_device, describe
from camcore.models.loading import LoadedModel, imagenet_categories
from camcore.options import MapOptions
from camcore.scores.labels import IMAGENET_CATS
from camcore.settings import DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from tests.conftest import make_photo
from ui.common import explanations
from ui.common.text import read_back
from ui.explain import view as explain_view

ROOT = Path(__file__).resolve().parents[2]
APP, EXPLAIN = str(ROOT / "app.py"), str(ROOT / "app_pages" / "1_Explain.py")
TIMEOUT_S = 60
"""Generous: a first CPU model load on a busy 2-core machine takes several seconds."""
GOOD, BROKEN = "beagle_1.jpg", "broken_1.jpg"


@pytest.fixture
def pets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A generated data folder in torchvision's layout: one good photo and one file that is not an image."""
    images = tmp_path / "oxford-iiit-pet" / "images"
    images.mkdir(parents=True)
    make_photo(seed=1).save(images / GOOD)
    (images / BROKEN).write_bytes(b"not a jpeg")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    return images


@pytest.fixture
def random_resnet(monkeypatch: pytest.MonkeyPatch, resnet18_weights: Path) -> None:
    """Preselects resnet18 with random local weights, as .ci/run preselects the real Lite0 file."""
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(resnet18_weights))


def explain_page() -> AppTest:
    """The Explain page on the CPU, where the expected numbers come from the `resnet18` fixture (a GPU's bf16
    autocast would change their last digits)."""
    at = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    at.session_state["explain.device"] = "cpu"
    return at.run()


def pick_samples(at: AppTest, *names: str) -> AppTest:
    return at.multiselect(key="explain.samples").set_value(list(names)).run()


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def explanation_figures(at: AppTest) -> list[dict]:
    """The figures with the four in-figure sliders (opacity, colormap, threshold, class)."""
    return [figure for figure in figures(at) if len(figure["layout"].get("sliders", ())) == 4]


def page_text(at: AppTest) -> str:
    return "\n".join(read_back(element.value) for kind in ("markdown", "caption") for element in at.get(kind))


def test_no_pages_folder_beside_the_app() -> None:
    """Streamlit treats a pages/ folder beside the main script as its old multipage app until some script calls
    st.navigation: on a fresh server, sessions arriving first would run a page file directly, skipping app.py's
    warm-up (tests/browser/test_first_visit.py saw them fail in one round of three)."""
    assert not (ROOT / "pages").exists()
    assert {Path(page).name for page in re.findall(r'st\.Page\("([^"]+)"', Path(APP).read_text())} == {
        path.name for path in (ROOT / "app_pages").glob("*.py")}


def test_home_page_says_what_and_where() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert not at.exception
    text = page_text(at)
    assert describe(choose_device("auto")) in text
    assert "hub/checkpoints" in text and "oxford-iiit-pet" in text
    assert all(method.label in text for method in METHODS.values())  # every method the pages offer


def test_explain_without_input_asks_for_a_photo(random_resnet: None, pets: Path, resnet18: LoadedModel) -> None:
    at = explain_page()
    assert not at.exception
    assert [read_back(info.value) for info in at.info] == ["Upload a photo, or press Try a sample."]
    assert at.selectbox(key="explain.model").value == "resnet18"
    assert at.selectbox(key="explain.method").options == ["CAM", "Grad-CAM", "Grad-CAM++", "LayerCAM", "Score-CAM",
                                                          "XGrad-CAM", "HiResCAM", "Finer-CAM", "EigenCAM"]
    assert at.slider(key="explain.top_k").value == 5
    assert at.radio(key="explain.size_px").value == resnet18.preprocessing.resize_px
    assert at.multiselect(key="explain.samples").options == sorted([BROKEN, GOOD])


def test_sample_photo_shows_predictions_maps_and_cam_identity(random_resnet: None, pets: Path,
                                                              resnet18: LoadedModel) -> None:
    at = pick_samples(explain_page(), GOOD)
    assert not at.exception and not at.error
    [figure] = explanation_figures(at)
    expected = explain([load_image(pets / GOOD)], resnet18, MapOptions(method="cam", top_k=5))[0]
    names = [p.class_name for p in expected.predictions]
    heatmaps = [trace for trace in figure["data"] if trace["type"] == "heatmap"]
    assert [trace["name"].split(". ", 1)[1].rsplit(" (", 1)[0] for trace in heatmaps] == names
    bar = next(f for f in figures(at) if f["data"][0]["type"] == "bar")
    assert bar["data"][0]["y"] == names
    text = page_text(at)
    assert "ms on cpu" in text and "CAM at layer layer4" in text
    top = expected.predictions[0]
    map_mean = float(expected.signed_maps[0].mean())
    assert f"mean of the map {map_mean:.2f} + bias {expected.bias[0]:.2f}" in text
    assert f"logit of '{top.class_name}' ({top.logit:.2f})" in text


def test_class_picker_reruns_without_recomputing(random_resnet: None, pets: Path, resnet18: LoadedModel,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(explanations, "explain_batched",
                        lambda *args, **kwargs: calls.append(1) or explain(*args, **kwargs))
    explanations._explained.clear()  # an earlier test may have explained this photo: start from no cached maps
    at = pick_samples(explain_page(), GOOD)
    computed = len(calls)
    assert computed == 1  # the spy sits where the page explains: a rerun that recomputed would count
    at.selectbox(key="explain.class.0").set_value(1).run()
    assert not at.exception
    assert len(calls) == computed
    second = explain([load_image(pets / GOOD)], resnet18, MapOptions(method="cam", top_k=5))[0].predictions[1]
    assert f"logit of '{second.class_name}' ({second.logit:.2f})" in page_text(at)


def test_finercam_names_what_it_subtracts_and_eigencam_says_it_ignores_the_class(random_resnet: None, pets: Path,
                                                                                   resnet18: LoadedModel) -> None:
    at = pick_samples(explain_page(), GOOD)
    at.selectbox(key="explain.method").set_value("finercam").run()
    assert not at.exception and not at.error
    expected = explain([load_image(pets / GOOD)], resnet18, MapOptions(method="finercam", top_k=5))[0]
    assert f"Finer-CAM: the map of '{expected.predictions[0].class_name}' minus those of the classes scored " \
           f"nearest to it: {', '.join(expected.compared[0])}." in page_text(at)
    at.selectbox(key="explain.method").set_value("eigencam").run()
    assert not at.exception and not at.error
    assert "EigenCAM shows the same map for every class" in page_text(at) and "Finer-CAM:" not in page_text(at)


def test_switching_to_gradcam_and_its_layer_rerenders(random_resnet: None, pets: Path) -> None:
    """At the last block Grad-CAM equals ReLU(CAM) up to scale on this head, so only another layer's z differs."""
    at = pick_samples(explain_page(), GOOD)
    at.selectbox(key="explain.method").set_value("gradcam").run()
    assert not at.exception and not at.error
    [figure] = explanation_figures(at)
    assert figure["layout"]["title"]["text"] == "Grad-CAM · layer4"
    assert "Grad-CAM at layer layer4" in page_text(at) and "CAM's identity" not in page_text(at)
    at.selectbox(key="explain.layer").set_value("layer3").run()
    [deeper] = explanation_figures(at)
    assert deeper["layout"]["title"]["text"] == "Grad-CAM · layer3"
    assert deeper["data"][1]["z"] != figure["data"][1]["z"]


def test_scorecam_reports_its_forward_passes_and_a_rerun_does_not_redo_them(
        random_resnet: None, pets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """layer1 (64 channels) keeps it to 64 passes; the bar is drawn inside the cached function, so a cache hit
    replays it (drawn, then emptied) without an error."""
    reports: list[list[tuple[int, int]]] = []

    def spy(*args: object, progress: Callable[[int, int], None] | None = None, **kwargs: object) -> object:
        reports.append([])
        assert progress is not None  # Score-CAM's bar reaches the engine
        return explain(*args, progress=lambda done, total: reports[-1].append((done, total)) or progress(done, total),
                       **kwargs)

    monkeypatch.setattr(explanations, "explain_batched", spy)
    at = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    at.session_state["explain.device"], at.session_state["explain.method"] = "cpu", "scorecam"
    at.session_state["explain.layer"] = "layer1"
    at = pick_samples(at.run(), GOOD)
    assert not at.exception and not at.error
    assert len(reports) == 1 and reports[0][-1] == (64, 64)
    assert "Score-CAM at layer layer1" in page_text(at) and not at.get("progress")
    at.selectbox(key="explain.class.0").set_value(1).run()
    assert not at.exception and len(reports) == 1


def test_compare_shows_cam_and_gradcam_side_by_side(random_resnet: None, pets: Path) -> None:
    at = pick_samples(explain_page(), GOOD)
    at.checkbox(key="explain.compare").check().run()
    assert not at.exception
    titles = [figure["layout"]["title"]["text"].split(" · ")[0] for figure in explanation_figures(at)]
    assert titles == ["CAM", "Grad-CAM"]


def test_broken_sample_is_reported_and_the_good_one_still_shown(random_resnet: None, pets: Path) -> None:
    at = pick_samples(explain_page(), BROKEN, GOOD)
    assert not at.exception
    assert [read_back(error.value).split(":")[0] for error in at.error] == [BROKEN]
    assert len(explanation_figures(at)) == 1


def test_missing_weights_file_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      pets: Path) -> None:
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    at = explain_page()
    assert not at.exception
    assert len(at.error) == 1 and "missing.pth" in read_back(at.error[0].value)
    assert not at.get("plotly_chart")


def test_offline_without_weights_says_how_to_pass_a_file(monkeypatch: pytest.MonkeyPatch, pets: Path) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    monkeypatch.setenv(MODEL_ENV, "resnet50")
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    at = explain_page()
    assert not at.exception
    assert "resnet50 weights are not in" in read_back(at.error[0].value)
    assert "EfficientNet-Lite0 works without internet" in read_back(at.info[0].value)



@pytest.fixture
def fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new user's machine: no cached torchvision weights, no model preselected, no data set."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def test_fresh_machine_explains_a_sample_with_real_imagenet_classes(fresh_machine: None) -> None:
    """No weights cached, no internet needed: the packaged Lite0 is the default and "Try a sample" shows a cat."""
    at = explain_page()
    assert not at.exception and not at.error
    assert at.selectbox(key="explain.model").value == "lite0"
    assert "resnet18's ImageNet weights are not in" in page_text(at)
    at.button(key="explain.try_sample").click().run()
    assert not at.exception and not at.error
    assert at.multiselect(key="explain.shipped").value == [sample_photos()[0].name]
    [figure] = explanation_figures(at)
    top_name = figure["data"][1]["name"].split(". ", 1)[1].rsplit(" (", 1)[0]
    assert imagenet_categories().index(top_name) in IMAGENET_CATS  # Bengal_3.jpg, a cat
    at.button(key="explain.try_sample").click().run()
    assert at.multiselect(key="explain.shipped").value == [path.name for path in sample_photos()[:2]]
    assert len(explanation_figures(at)) == 2


def test_downloads_name_the_class_and_settings_they_hold(fresh_machine: None) -> None:
    at = explain_page()
    at.button(key="explain.try_sample").click().run()
    at.selectbox(key="explain.class.0").set_value(1).run()
    at.select_slider(key="explain.threshold.0").set_value(0.5).run()
    at.selectbox(key="explain.colormap.0").set_value("viridis").run()
    assert not at.exception and not at.get("download_button")  # nothing built until asked for
    at.toggle(key="explain.files.0").set_value(True).run()
    second = at.selectbox(key="explain.class.0").options[1]  # "2. <class name>"
    png, npy = (button.proto for button in at.get("download_button"))
    assert read_back(png.label) == f"Overlay PNG ({second}, threshold 0.5, viridis)"
    assert read_back(npy.label) == f"Raw map .npy ({second})"



def test_a_close_call_suggests_finercam(random_resnet: None, pets: Path, resnet18: LoadedModel,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def suggested(at: AppTest) -> bool:
        return any("A close call" in box.value and "Finer-CAM" in box.value for box in at.info)

    at = pick_samples(explain_page(), GOOD)
    top = explain([load_image(pets / GOOD)], resnet18, MapOptions(top_k=5))[0].predictions
    close = top[1].probability >= 0.5 * top[0].probability  # the rule, worked out on the model's own numbers
    assert suggested(at) == close
    monkeypatch.setattr(explain_view, "close_call", lambda probabilities: not close)
    assert suggested(at.run()) == (not close)
    monkeypatch.setattr(explain_view, "close_call", lambda probabilities: True)
    at.selectbox(key="explain.method").set_value("finercam").run()
    assert not at.exception and not suggested(at)


def test_nwc_and_percentile_threshold_change_the_map_and_say_so(random_resnet: None, pets: Path,
                                                                 resnet18: LoadedModel) -> None:
    """NWC: the map is explain()'s with clamped weights, titled so, and the identity says it no longer holds with
    the clamped map's own numbers. PaS: the figure's threshold slider counts fractions of the 90th percentile and
    starts at the authors' 0.35."""
    at = pick_samples(explain_page(), GOOD)
    at.toggle(key="explain.nwc").set_value(True).run()
    at.radio(key="explain.standard").set_value("percentile").run()
    assert not at.exception and not at.error
    [figure] = explanation_figures(at)
    assert figure["layout"]["title"]["text"] == "CAM (NWC) · layer4"
    clamped = explain([load_image(pets / GOOD)], resnet18, MapOptions(top_k=5, clamp_negative_weights=True))[0]
    top = clamped.predictions[0]
    assert (f"mean of the clamped map {clamped.map_mean(0):.2f} + bias {clamped.bias[0]:.2f} = "
            f"{clamped.map_mean(0) + clamped.bias[0]:.2f}, not the logit of '{top.class_name}' ({top.logit:.2f})"
            in page_text(at))
    threshold = next(s for s in figure["layout"]["sliders"] if s["currentvalue"]["prefix"].startswith("Threshold"))
    assert threshold["currentvalue"]["prefix"] == "Threshold (90th percentile x): "
    assert [step["label"] for step in threshold["steps"]][threshold["active"]] == "0.35"
    assert at.select_slider(key="explain.threshold.0").label == "Threshold (of the 90th percentile)"
    assert at.select_slider(key="explain.threshold.0").value == 0.35
    at.toggle(key="explain.nwc").set_value(False).run()
    assert "mean of the map" in page_text(at) and "(NWC)" not in explanation_figures(at)[0]["layout"]["title"]["text"]


def test_a_tap_checkpoint_says_which_identity_holds(monkeypatch: pytest.MonkeyPatch, pets: Path,
                                                    tap_checkpoint: Path, tap_resnet: LoadedModel) -> None:
    """A model trained with TAP: the page does not claim mean + bias = logit; it gives the map's mean, the bias
    and the model's logit (its own forward) and says how the logit is pooled."""
    monkeypatch.setenv(MODEL_ENV, str(tap_checkpoint))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    at = pick_samples(explain_page(), GOOD)
    assert not at.exception and not at.error
    expected = explain([load_image(pets / GOOD)], tap_resnet, MapOptions(top_k=5))[0]
    top = expected.predictions[0]
    text = page_text(at)
    assert "CAM's identity with TAP" in text and f"its logit ({top.logit:.2f})" in text
    assert f"not the map's mean {expected.map_mean(0):.2f} + bias {expected.bias[0]:.2f}" in text
    assert "= logit of" not in text


def test_the_sidebar_badge_says_whether_cam_is_exact(random_resnet: None, pets: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """resnet18 (GAP + Linear): exact; mobilenet_v3_small (Linear, Hardswish, Linear after the pooling): only the
    gradient methods, approximately. Decided from the module tree, not a list of names."""
    at = explain_page()
    assert any("CAM is exact here" in read_back(markdown.value) for markdown in at.markdown)
    weights = tmp_path / "mobilenet.pth"
    torch.save(mobilenet_v3_small().state_dict(), weights)
    monkeypatch.setenv(MODEL_ENV, "mobilenet_v3_small")
    monkeypatch.setenv(WEIGHTS_ENV, str(weights))
    at = explain_page()
    assert not at.exception
    assert any("Approximate (gradient methods only)" in read_back(markdown.value) for markdown in at.markdown)
    methods = at.selectbox(key="explain.method").options
    assert "CAM" not in methods and "Grad-CAM" in methods
