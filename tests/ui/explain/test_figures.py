"""ui.explain.figures (over ui.common.plot_parts): trace layout, initial state and slider composition, emulated as
plotly.js restyles them."""
from __future__ import annotations

import base64
import copy
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from camcore.explain import Prediction
from camcore.maps import heatmap
from camcore.maps.display import SliderLayers, slider_layers
from tests.camcore.maps.test_display import PHOTO_SIZE, synthetic_explanation
from tests.conftest import make_photo
from ui.common.plot_parts import DECIMALS
from ui.explain.figures import explanation_figure, signed_figure, top_k_bar

K = 3
HEAT, BOXES = [1, 2, 3], [4, 5, 6]
FINAL = {"class": 2, "threshold": 4, "colormap": "jet", "opacity": 0.3}
"""Where the composition tests move the sliders: third class, threshold 0.4, jet, opacity 0.3."""
ROUNDING = 10.0 ** -DECIMALS / 2 + 1e-6
"""How far a value sent to the browser may be from camcore's."""


@pytest.fixture(scope="module")
def layers() -> SliderLayers:
    return slider_layers(synthetic_explanation())


@pytest.fixture(scope="module")
def figure(layers: SliderLayers) -> dict:
    """The figure as the browser receives it (JSON), with non-default initial settings."""
    fig = explanation_figure(make_photo(*PHOTO_SIZE), layers, colormap="viridis", opacity=0.7, threshold_frac=0.28)
    return json.loads(fig.to_json())


def restyle(traces: list[dict], step: dict) -> None:
    """Plotly.restyle(gd, update, indices) on trace dicts: a list is dealt out per trace, None resets (deletes)."""
    update, indices = step["args"]
    for position, index in enumerate(indices):
        for attribute, value in update.items():
            value = value[position % len(value)] if isinstance(value, list) else value
            if value is None:
                traces[index].pop(attribute, None)
            else:
                traces[index][attribute] = copy.deepcopy(value)


def slider(figure: dict, prefix: str) -> dict:
    (found,) = [s for s in figure["layout"]["sliders"] if s["currentvalue"]["prefix"] == prefix]
    return found


def step_of(figure: dict, prefix: str, label: str) -> dict:
    (found,) = [s for s in slider(figure, prefix)["steps"] if s["label"] == label]
    return found


def nan_of(z: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in z], dtype=float)


def test_one_photo_then_k_heatmaps_then_k_boxes(figure: dict) -> None:
    assert [t["type"] for t in figure["data"]] == ["image"] + ["heatmap"] * K + ["scatter"] * K
    assert [t["visible"] for t in figure["data"][1:]] == [True, False, False] * 2


def test_four_sliders_each_restyle_their_own_attributes(figure: dict) -> None:
    sliders = figure["layout"]["sliders"]
    assert [s["currentvalue"]["prefix"] for s in sliders] == ["Opacity: ", "Colormap: ", "Threshold: ", "Class: "]
    attributes = [{name for step in s["steps"] for name in step["args"][0]} for s in sliders]
    assert attributes == [{"opacity"}, {"colorscale"}, {"z", "x", "y"}, {"visible"}]
    assert all(step["method"] == "restyle" for s in sliders for step in s["steps"])
    assert [len(s["steps"]) for s in sliders] == [11, len(heatmap.SEQUENTIAL_COLORMAPS), 10, K]


def test_active_steps_are_the_initial_state(figure: dict, layers: SliderLayers) -> None:
    """Re-applying every slider's active step changes nothing: the sliders show what the figure shows."""
    sliders = figure["layout"]["sliders"]
    assert [s["active"] for s in sliders] == [7, heatmap.SEQUENTIAL_COLORMAPS.index("viridis"), 3, 0]
    traces = copy.deepcopy(figure["data"])
    for s in sliders:
        restyle(traces, s["steps"][s["active"]])
    assert traces == figure["data"]
    np.testing.assert_allclose(nan_of(figure["data"][1]["z"]), layers.maps[3, 0], atol=ROUNDING)


def test_colorscales_are_camcore_colormaps(figure: dict) -> None:
    for index in HEAT:
        assert figure["data"][index]["colorscale"] == heatmap.colorscale("viridis")
    for name in heatmap.SEQUENTIAL_COLORMAPS:
        assert step_of(figure, "Colormap: ", name)["args"][0]["colorscale"] == [heatmap.colorscale(name)] * K


def test_heatmap_cells_and_photo_pixels_tile_the_photo(figure: dict, layers: SliderLayers) -> None:
    width, height = PHOTO_SIZE
    grid_h, grid_w = layers.maps.shape[-2:]
    photo = figure["data"][0]
    small = Image.open(io.BytesIO(base64.b64decode(photo["source"].split(",", 1)[1])))
    for trace, (columns, rows) in [(photo, small.size)] + [(figure["data"][i], (grid_w, grid_h)) for i in HEAT]:
        assert trace["x0"] - trace["dx"] / 2 == pytest.approx(0) and trace["dx"] * columns == pytest.approx(width)
        assert trace["y0"] - trace["dy"] / 2 == pytest.approx(0) and trace["dy"] * rows == pytest.approx(height)
        assert "x" not in trace and "y" not in trace
    assert max(small.size) <= 640


@pytest.mark.parametrize("order", [["class", "threshold", "colormap", "opacity"],
                                   ["opacity", "colormap", "threshold", "class"]])
def test_sliders_compose_in_any_order(figure: dict, layers: SliderLayers, order: list[str]) -> None:
    labels = {"class": ("Class: ", layers.labels[FINAL["class"]]), "threshold": ("Threshold: ", "0.4"),
              "colormap": ("Colormap: ", "jet"), "opacity": ("Opacity: ", "0.3")}
    traces = copy.deepcopy(figure["data"])
    for name in order:
        restyle(traces, step_of(figure, *labels[name]))
    chosen = FINAL["class"]
    assert [t["visible"] for t in traces[1:]] == [rank == chosen for rank in range(K)] * 2
    for rank, index in enumerate(HEAT):
        z = nan_of(traces[index]["z"])
        np.testing.assert_array_equal(np.isnan(z), np.isnan(layers.maps[4, rank]))
        np.testing.assert_allclose(z, layers.maps[4, rank], atol=ROUNDING)
        assert traces[index]["colorscale"] == heatmap.colorscale("jet")
        assert traces[index]["opacity"] == 0.3
        assert "x" not in traces[index] and traces[index]["x0"] == figure["data"][index]["x0"]
    x0, y0, x1, y1 = layers.boxes[4, chosen]
    assert traces[BOXES[chosen]]["x"] == pytest.approx([x0, x1, x1, x0, x0], abs=ROUNDING)
    assert traces[BOXES[chosen]]["y"] == pytest.approx([y0, y0, y1, y1, y0], abs=ROUNDING)
    assert all("z" not in traces[index] for index in BOXES)


def test_unknown_colormap_names_the_valid_ones(layers: SliderLayers) -> None:
    with pytest.raises(ValueError, match="magma, viridis"):
        explanation_figure(make_photo(*PHOTO_SIZE), layers, colormap="gray")


def test_signed_figure_has_a_diverging_map_centred_on_zero(layers: SliderLayers) -> None:
    figure = json.loads(signed_figure(make_photo(*PHOTO_SIZE), layers).to_json())
    assert [t["type"] for t in figure["data"]] == ["image"] + ["heatmap"] * K
    assert [s["currentvalue"]["prefix"] for s in figure["layout"]["sliders"]] == ["Opacity: ", "Colormap: ", "Class: "]
    assert [s["label"] for s in slider(figure, "Colormap: ")["steps"]] == list(heatmap.DIVERGING_COLORMAPS)
    for rank, index in enumerate(HEAT):
        trace = figure["data"][index]
        assert (trace["zmin"], trace["zmid"], trace["zmax"]) == (-1, 0, 1)
        assert trace["colorscale"] == heatmap.colorscale("bwr")
        np.testing.assert_allclose(nan_of(trace["z"]), layers.signed[rank], atol=ROUNDING)
    traces = copy.deepcopy(figure["data"])
    restyle(traces, slider(figure, "Class: ")["steps"][1])
    assert [t["visible"] for t in traces[1:]] == [False, True, False]


def test_top_k_bar_puts_the_best_on_top_with_percentages() -> None:
    predictions = [Prediction(3, "tabby", 2.0, 0.54), Prediction(7, "tiger cat", 1.0, 0.213)]
    (bar,) = top_k_bar(predictions).data
    assert list(bar.y) == ["tabby", "tiger cat"] and list(bar.x) == [0.54, 0.213]
    assert list(bar.text) == ["54.0%", "21.3%"]
    assert bar.orientation == "h"
    assert top_k_bar(predictions).layout.yaxis.autorange == "reversed"


def test_plain_figures_are_what_plotly_validation_makes_of_them(layers: SliderLayers) -> None:
    """The figures skip plotly's validation (ui.common.plot_parts.PlainFigure): validating them must change nothing."""
    for built in (explanation_figure(make_photo(*PHOTO_SIZE), layers, title="CAM · layer4"),
                  signed_figure(make_photo(*PHOTO_SIZE), layers)):
        plain = built.to_dict()
        assert go.Figure(plain).to_dict() == plain
