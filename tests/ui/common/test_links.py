"""Shareable links (ui/common/links.py) under AppTest, on the packaged Lite0 and the shipped samples: a link opens its
view, a change rewrites the link, and a new session opened with that link shows the same view; a bad value falls
back to the default, and no value in a link makes the app read a file outside its allowed folders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.cams import stage_layers
from camcore.data.samples import sample_photos
from camcore.models.loading import load_model
from camcore.serving.paths import allowed_roots
from camcore.settings import DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from ui.common import links
from ui.common.text import read_back

PAGES = Path(__file__).resolve().parents[3] / "app_pages"
TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


def opened(page: str, params: dict[str, str | list[str]]) -> AppTest:
    """A new session opened with a link to `page` (the device is the test's, not the link's)."""
    at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT_S)
    prefix = "lesson" if "Lesson" in page else "explain"
    at.session_state[f"{prefix}.device"] = "cpu"
    at.query_params.update(params)
    at.run()
    assert not at.exception and not at.error
    return at


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"].get("title", {}).get("text", "") for chart in at.get("plotly_chart")]


def lesson_view(at: AppTest) -> tuple:
    return (at.radio(key="lesson.step").value, at.selectbox(key="lesson.sample").value,
            at.slider(key="lesson.top_k").value, at.slider(key="lesson.threshold").value,
            at.toggle(key="lesson.presenter").value, chart_titles(at))


def test_a_lesson_link_round_trips() -> None:
    at = opened("4_Lesson.py", {"step": "2", "sample": "samoyed_163.jpg", "top_k": "2", "threshold": "0.4"})
    assert lesson_view(at)[:5] == (2, "samoyed_163.jpg", 2, 0.4, False)
    assert len(chart_titles(at)) >= 2 and chart_titles(at)[0].startswith("Samoyed")
    at.slider(key="lesson.threshold").set_value(0.6).run()
    at.selectbox(key="lesson.sample").set_value("saint_bernard_87.jpg").run()
    at.toggle(key="lesson.presenter").set_value(True).run()
    assert not at.exception
    link = dict(at.query_params)
    assert (link["threshold"], link["sample"], link["presenter"], link["step"]) == ("0.6", "saint_bernard_87.jpg",
                                                                                    "1", "2")
    again = opened("4_Lesson.py", link)
    assert lesson_view(again) == lesson_view(at)
    assert [h.value for h in again.header if h.value.startswith("Step")] == ["Step 3. Top-k and threshold"]
    again.button(key="lesson.next").click().run()
    assert again.radio(key="lesson.step").value == 3 and again.query_params["step"] == "3"


def test_bad_values_in_a_lesson_link_fall_back_and_open_no_outside_file(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[Path] = []
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda path: (read.append(path.resolve()), read_bytes(path))[1])
    at = opened("4_Lesson.py", {"step": "9", "sample": "../../../../etc/passwd", "pet": "/etc/passwd",
                                "top_k": "many", "threshold": "5", "channel": "-4", "layer": "/etc",
                                "model": "other", "presenter": "maybe"})
    first = sample_photos()[0].name
    stages = stage_layers(load_model("lite0", device="cpu"))
    assert (at.radio(key="lesson.step").value, at.selectbox(key="lesson.sample").value) == (0, first)
    assert at.selectbox(key="lesson.layer").value == stages[-1] and at.slider(key="lesson.channel").value == 0
    assert at.toggle(key="lesson.presenter").value is False and at.selectbox(key="lesson.model").value == "lite0"
    assert at.query_params["step"] == "0" and at.query_params["sample"] == first  # the link is corrected
    assert read and all(any(path.is_relative_to(root) for root in allowed_roots()) for path in read)


def test_an_explain_link_round_trips_and_ignores_bad_values() -> None:
    at = opened("1_Explain.py", {"shipped": ["samoyed_163.jpg", "../../etc/passwd"], "method": "gradcam",
                                 "top_k": "3", "size_px": "7", "layer": "nope", "threshold.0": "3",
                                 "class.0": "99"})
    assert at.multiselect(key="explain.shipped").value == ["samoyed_163.jpg"]
    assert (at.selectbox(key="explain.method").value, at.slider(key="explain.top_k").value) == ("gradcam", 3)
    model = load_model("lite0", device="cpu")
    assert at.selectbox(key="explain.layer").value == model.default_layer
    assert f"Layer 'nope' is not one of this model's layers with a map over the photo: showing " \
        f"{model.default_layer}." in [read_back(caption.value) for caption in at.caption]
    assert at.radio(key="explain.size_px").value == model.preprocessing.resize_px
    assert at.selectbox(key="explain.class.0").value == 0 and at.select_slider(key="explain.threshold.0").value == 0.2
    at.selectbox(key="explain.class.0").set_value(2).run()
    at.slider(key="explain.top_k").set_value(4).run()
    link = dict(at.query_params)
    assert (link["top_k"], link["class.0"], link["shipped"], link["method"]) == ("4", "2", "samoyed_163.jpg",
                                                                                "gradcam")
    again = opened("1_Explain.py", link)
    for key in ("explain.method", "explain.layer", "explain.class.0"):
        assert again.selectbox(key=key).value == at.selectbox(key=key).value
    assert again.slider(key="explain.top_k").value == 4
    assert again.markdown.values == at.markdown.values  # the same photo, class and identity numbers


@pytest.mark.parametrize(("parse", "values", "expected"), [
    (links.flag, ["1"], True), (links.flag, ["FALSE"], False), (links.integer, ["-3"], -3),
    (links.number(0.05, 0.95), ["0.350000001"], 0.35), (links.texts, ["a", "b", "a"], ["a", "b"])])
def test_parsers_read_what_the_widgets_hold(parse, values: list[str], expected: object) -> None:
    assert parse(values) == expected


@pytest.mark.parametrize(("parse", "value"), [(links.flag, "yes"), (links.integer, "2.5"),
                                              (links.number(0.05, 0.95), "0.99"), (links.number(0, 1), "nan"),
                                              (links.model, "other")])
def test_parsers_refuse_what_no_widget_could_hold(parse, value: str) -> None:
    with pytest.raises(ValueError):
        parse([value])
