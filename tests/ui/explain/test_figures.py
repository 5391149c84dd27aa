"""ui.explain.figures (over ui.common.plot_parts and threshold_scale): trace layout, initial state, slider
composition and what each threshold keeps, emulated as plotly.js restyles and colours them; the figure's size."""
from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from camcore.explain import Explanation, Prediction
from camcore.maps import heatmap
from camcore.maps.display import SliderLayers, slider_layers
from camcore.options import MapOptions
from tests.camcore.maps.test_display import PHOTO_SIZE, min_max_by_hand, synthetic_explanation
from tests.conftest import make_photo
from tests.ui.common.test_threshold_scale import shown_colours
from ui.common.plot_parts import DECIMALS
from ui.common.threshold_scale import MAP_DECIMALS, cut_colorscale, segment_range
from ui.explain.figures import explanation_figure, signed_figure, top_k_bar

K = 3
HEAT, BOXES, BAR = [1, 2, 3], [4, 5, 6], 7
FINAL = {"class": 2, "threshold": 4, "colormap": "jet", "opacity": 0.3}
"""Where the composition tests move the sliders: third class, threshold 0.4, jet, opacity 0.3."""
ROUNDING = 10.0 ** -DECIMALS / 2 + 1e-6
"""How far a value sent to the browser may be from camcore's."""
MAP_ROUNDING = 10.0 ** -MAP_DECIMALS / 2 + 1e-6
"""As ROUNDING, for the maps the threshold cuts."""
SAMPLE = Path(__file__).resolve().parents[3] / "assets" / "samples" / "Bengal_3.jpg"
MAX_FIGURE_BYTES = 300_000


@pytest.fixture(scope="module")
def layers() -> SliderLayers:
    return slider_layers(synthetic_explanation())


@pytest.fixture(scope="module")
def figure(layers: SliderLayers) -> dict:
    """The figure as the browser receives it (JSON), with non-default initial settings."""
    fig = explanation_figure(make_photo(*PHOTO_SIZE), layers, colormap="viridis", opacity=0.7, threshold_frac=0.28)
    return json.loads(fig.to_json())


def restyle(traces: list[dict], step: dict) -> None:
    """Plotly.restyle(gd, update, indices) on trace dicts: a list is dealt out per trace, None resets (deletes),
    "marker.colorscale" is colorscale inside marker."""
    update, indices = step["args"]
    for position, index in enumerate(indices):
        for attribute, value in update.items():
            value = value[position % len(value)] if isinstance(value, list) else value
            *parents, name = attribute.split(".")
            container = traces[index]
            for parent in parents:
                container = container.setdefault(parent, {}) if value is not None else container.get(parent, {})
            if value is None:
                container.pop(name, None)
            else:
                container[name] = copy.deepcopy(value)


def slider(figure: dict, prefix: str) -> dict:
    (found,) = [s for s in figure["layout"]["sliders"] if s["currentvalue"]["prefix"] == prefix]
    return found


def step_of(figure: dict, prefix: str, label: str) -> dict:
    (found,) = [s for s in slider(figure, prefix)["steps"] if s["label"] == label]
    return found


def nan_of(z: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in z], dtype=float)


def kept_cells(trace: dict) -> np.ndarray:
    """(h, w) bool: the cells a heatmap paints (alpha > 0) with its colour scale and zmin/zmax, as plotly.js."""
    return shown_colours(nan_of(trace["z"]), trace["colorscale"], trace["zmin"], trace["zmax"])[..., 3] > 0


def test_one_photo_then_k_heatmaps_then_k_boxes_then_the_colorbar(figure: dict) -> None:
    assert [t["type"] for t in figure["data"]] == ["image"] + ["heatmap"] * K + ["scatter"] * (K + 1)
    assert [t["visible"] for t in figure["data"][1:]] == [True, False, False] * 2 + [True]
    assert all(figure["data"][index]["showscale"] is False for index in HEAT)
    assert figure["data"][BAR]["marker"]["showscale"] is True


def test_four_sliders_each_restyle_their_own_attributes(figure: dict) -> None:
    sliders = figure["layout"]["sliders"]
    assert [s["currentvalue"]["prefix"] for s in sliders] == ["Opacity: ", "Colormap: ", "Threshold: ", "Class: "]
    attributes = [{name for step in s["steps"] for name in step["args"][0]} for s in sliders]
    assert attributes == [{"opacity"}, {"colorscale", "marker.colorscale"}, {"zmin", "zmax", "x", "y"}, {"visible"}]
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
    for rank, index in enumerate(HEAT):
        np.testing.assert_allclose(nan_of(figure["data"][index]["z"]), layers.maps[rank], atol=MAP_ROUNDING)
        assert (figure["data"][index]["zmin"], figure["data"][index]["zmax"]) == segment_range(3, 10)


def test_colorscales_are_camcore_colormaps_cut_at_each_classs_levels(figure: dict, layers: SliderLayers) -> None:
    for rank, index in enumerate(HEAT):
        assert figure["data"][index]["colorscale"] == cut_colorscale("viridis", layers.levels[:, rank])
    assert figure["data"][BAR]["marker"]["colorscale"] == heatmap.colorscale("viridis")
    for name in heatmap.SEQUENTIAL_COLORMAPS:
        update = step_of(figure, "Colormap: ", name)["args"][0]
        assert update["colorscale"] == [cut_colorscale(name, layers.levels[:, rank]) for rank in range(K)] + [None]
        assert update["marker.colorscale"] == [None] * K + [heatmap.colorscale(name)]


@pytest.mark.parametrize("standard", [heatmap.MAXIMUM, heatmap.PERCENTILE])
def test_each_threshold_step_paints_exactly_the_cells_at_or_above_its_level(standard) -> None:
    """The level by hand: the threshold (of the maximum: the grid's map over its maximum peaks at 1), or the
    threshold times np.percentile of the min-max scaled grid; a cell is painted where its value is >= that level
    and > 0, away from the level by more than a float32 hair."""
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, standard=standard)
    figure = json.loads(explanation_figure(make_photo(*PHOTO_SIZE), layers).to_json())
    up = heatmap.upsample(explanation.maps, layers.maps.shape[-2:])
    grids = up / up.max(axis=(1, 2), keepdims=True) if standard.percentile is None else min_max_by_hand(up)
    painted, cleared = 0, 0
    for threshold, step in zip(layers.thresholds, figure["layout"]["sliders"][2]["steps"]):
        traces = copy.deepcopy(figure["data"])
        restyle(traces, step)
        for rank, index in enumerate(HEAT):
            level = threshold if standard.percentile is None else threshold * np.percentile(grids[rank], 90)
            sent = nan_of(traces[index]["z"])
            np.testing.assert_allclose(sent, grids[rank], atol=MAP_ROUNDING)
            clear_of_level = np.abs(sent - level) > 1e-5
            expected = (sent >= level) & (sent > 0)
            kept = kept_cells(traces[index])
            np.testing.assert_array_equal(kept[clear_of_level], expected[clear_of_level],
                                          err_msg=f"{standard} t={threshold} class={rank}")
            painted, cleared = painted + kept.sum(), cleared + (~kept & (sent > 0)).sum()
    assert painted and cleared  # some positive cells on either side of some level


def test_figure_for_top_5_and_ten_steps_is_at_most_0_3_mb() -> None:
    """A shipped photo at its size and five maps positive everywhere (no short zeros): the JSON the browser gets,
    under either standard."""
    photo = Image.open(SAMPLE).convert("RGB")
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.1, 3.0, size=(5, 7, 7)).astype(np.float32)
    predictions = tuple(Prediction(index, f"class {index}", 1.0, 0.2) for index in range(5))
    explanation = Explanation(predictions=predictions, signed_maps=maps, maps=maps, bias=None,
                              image_size=photo.size, options=MapOptions(), layer="x", device="cpu", elapsed_s=0.0)
    for standard in (heatmap.MAXIMUM, heatmap.PERCENTILE):
        layers = slider_layers(explanation, standard=standard)
        assert len(layers.thresholds) == 10
        size = len(explanation_figure(photo, layers, title="CAM").to_json().encode())
        assert size <= MAX_FIGURE_BYTES, f"{standard}: {size} bytes"


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
    assert [t["visible"] for t in traces[1:]] == [rank == chosen for rank in range(K)] * 2 + [True]
    for rank, index in enumerate(HEAT):
        z = nan_of(traces[index]["z"])
        assert z.tolist() == nan_of(figure["data"][index]["z"]).tolist()  # no slider sends a map
        np.testing.assert_array_equal(kept_cells(traces[index]), (z.astype(np.float32) >= np.float32(0.4)) & (z > 0))
        assert traces[index]["colorscale"] == cut_colorscale("jet", layers.levels[:, rank])
        assert (traces[index]["zmin"], traces[index]["zmax"]) == segment_range(4, 10)
        assert traces[index]["opacity"] == 0.3
        assert "x" not in traces[index] and traces[index]["x0"] == figure["data"][index]["x0"]
    assert traces[BAR]["marker"]["colorscale"] == heatmap.colorscale("jet") and "colorscale" not in traces[BAR]
    x0, y0, x1, y1 = layers.boxes[4, chosen]
    assert traces[BOXES[chosen]]["x"] == pytest.approx([x0, x1, x1, x0, x0], abs=ROUNDING)
    assert traces[BOXES[chosen]]["y"] == pytest.approx([y0, y0, y1, y1, y0], abs=ROUNDING)
    assert all("zmin" not in traces[index] and "colorscale" not in traces[index] for index in BOXES)


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
