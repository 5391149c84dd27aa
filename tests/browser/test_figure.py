"""The explanation figure in Chromium: clicking its four sliders, in two orders, ends in the same state, and the
threshold's cut follows the map at the figure's own resolution, not the display grid's cells."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from camcore.maps import heatmap
from camcore.maps.display import SliderLayers, slider_layers
from tests.camcore.maps.test_display import PHOTO_SIZE, synthetic_explanation
from tests.conftest import make_photo
from tests.ui.explain.test_figures import MAP_ROUNDING, ROUNDING, kept_cells, nan_of
from ui.common.threshold_scale import cut_colorscale, segment_range
from ui.explain.figures import explanation_figure

pytestmark = pytest.mark.browser

CLICKS = {"opacity": (0, 3), "colormap": (1, heatmap.SEQUENTIAL_COLORMAPS.index("jet")), "threshold": (2, 4),
          "class": (3, 2)}
"""(slider, step) per move: opacity 0.3, colormap jet, threshold 0.4, third class."""
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
"""plotly.js sliders run their restyle in the next animation frame, not in the click handler."""
READ_DATA = """() => document.querySelector('.js-plotly-plot').data.map(t => ({
    type: t.type, visible: t.visible, opacity: t.opacity, colorscale: t.colorscale, z: t.z, zmin: t.zmin,
    zmax: t.zmax, x0: t.x0, dx: t.dx, has_x: 'x' in t && t.type === 'heatmap', x: t.type === 'scatter' ? t.x : null,
    y: t.type === 'scatter' ? t.y : null, bar: t.marker?.colorscale ?? null}))"""
READ_RASTER = """() => [...document.querySelectorAll('g.hm image')].map(i => i.getAttribute('href'))"""
"""The drawn heatmaps: plotly.js paints a zsmooth="best" heatmap into a PNG of the plot area's screen pixels."""
EDGE_PX = 2
"""How far from the interpolated map's own edge a drawn pixel may differ from it (anti-aliasing, rounding)."""


def click_step(page, slider: int, step: int) -> None:
    """Clicks the slider's rail above the step's tick, as a user would, and waits for its restyle."""
    group = page.locator("g.slider-group").nth(slider)
    tick = group.locator("rect.slider-tick-rect").nth(step).bounding_box()
    rail = group.locator("rect.slider-rail-rect").bounding_box()
    page.mouse.click(tick["x"] + tick["width"] / 2, rail["y"] + rail["height"] / 2)
    page.evaluate(NEXT_FRAMES)


@pytest.mark.parametrize("order", [["class", "threshold", "colormap", "opacity"],
                                   ["opacity", "colormap", "threshold", "class"]])
def test_clicked_sliders_compose_in_the_browser(browser, tmp_path: Path, order: list[str]) -> None:
    layers = slider_layers(synthetic_explanation())
    html = tmp_path / "figure.html"
    explanation_figure(make_photo(*PHOTO_SIZE), layers).write_html(html, include_plotlyjs=True)
    page = browser.new_page(viewport={"width": 800, "height": 900})
    try:
        page.goto(html.as_uri())
        page.wait_for_selector("g.slider-group >> nth=3")
        for name in order:
            click_step(page, *CLICKS[name])
        traces = page.evaluate(READ_DATA)
        rasters = page.evaluate(READ_RASTER)
        page.screenshot(path=tmp_path / "figure.png", full_page=True)
    finally:
        page.close()
    check_final_state(traces, layers)
    (raster,) = rasters  # only the shown class is drawn
    check_cut_at_screen_resolution(raster, nan_of(traces[3]["z"]), 0.4)


def check_final_state(traces: list[dict], layers: SliderLayers) -> None:
    """Third class shown, 0.4's cut and box, jet, opacity 0.3; every map as sent; heatmap cells still tile the
    photo (no x); the colour bar jet's plain scale."""
    classes = len(layers.labels)
    heat, boxes, bar = traces[1:1 + classes], traces[1 + classes:1 + 2 * classes], traces[-1]
    assert [t["visible"] for t in heat] == [t["visible"] for t in boxes] == [rank == 2 for rank in range(classes)]
    for rank, trace in enumerate(heat):
        z = nan_of(trace["z"])
        np.testing.assert_allclose(z, layers.maps[rank], atol=MAP_ROUNDING)
        assert (trace["zmin"], trace["zmax"]) == pytest.approx(segment_range(4, len(layers.thresholds)))
        assert trace["colorscale"] == cut_colorscale("jet", layers.levels[:, rank])
        np.testing.assert_array_equal(kept_cells(trace), (z.astype(np.float32) >= np.float32(0.4)) & (z > 0))
        assert trace["opacity"] == pytest.approx(0.3)
        assert not trace["has_x"] and trace["dx"] == pytest.approx(PHOTO_SIZE[0] / layers.maps.shape[-1])
        assert trace["x0"] == pytest.approx(trace["dx"] / 2)
    x0, y0, x1, y1 = layers.boxes[4, 2]
    assert boxes[2]["x"] == pytest.approx([x0, x1, x1, x0, x0], abs=ROUNDING)
    assert boxes[2]["y"] == pytest.approx([y0, y0, y1, y1, y0], abs=ROUNDING)
    assert bar["visible"] is True and bar["bar"] == heatmap.colorscale("jet")


def check_cut_at_screen_resolution(raster: str, z: np.ndarray, level: float) -> None:
    """The drawn PNG has the plot area's pixels, many per grid cell, and is clear exactly where the map,
    interpolated bilinearly between cell centres (as zsmooth="best"), is below the level: up to EDGE_PX from that
    smooth edge. A cut on the grid's cells would be off by up to half a cell (about 5 px here) along its edge."""
    drawn = np.asarray(Image.open(io.BytesIO(base64.b64decode(raster.split(",", 1)[1]))).convert("RGBA"))
    height_px, width_px = drawn.shape[:2]
    grid_h, grid_w = z.shape
    assert width_px >= 8 * grid_w and height_px >= 8 * grid_h
    rows, cols = np.mgrid[:height_px, :width_px]
    smooth = ndimage.map_coordinates(z, [(rows + 0.5) / height_px * grid_h - 0.5, (cols + 0.5) / width_px * grid_w
                                         - 0.5], order=1, mode="nearest")
    expected, painted = smooth >= level, drawn[..., 3] > 0
    near_edge = ndimage.binary_dilation(expected, iterations=EDGE_PX) & ~ndimage.binary_erosion(
        expected, iterations=EDGE_PX)
    assert expected.any() and (~expected).any()
    assert not (painted != expected)[~near_edge].any()
    on_cells = (z >= level)[(2 * rows + 1) * grid_h // (2 * height_px), (2 * cols + 1) * grid_w // (2 * width_px)]
    assert (on_cells != expected)[~near_edge].any()  # the check tells a cut on cells from one on the smooth map
