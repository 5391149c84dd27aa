"""The explanation figure in Chromium: clicking its four sliders, in two orders, ends in the same state."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camcore.maps import heatmap
from camcore.maps.display import SliderLayers, slider_layers
from tests.camcore.maps.test_display import PHOTO_SIZE, synthetic_explanation
from tests.conftest import make_photo
from tests.ui.explain.test_figures import ROUNDING, nan_of
from ui.explain.figures import explanation_figure

pytestmark = pytest.mark.browser

CLICKS = {"opacity": (0, 3), "colormap": (1, heatmap.SEQUENTIAL_COLORMAPS.index("jet")), "threshold": (2, 4),
          "class": (3, 2)}
"""(slider, step) per move: opacity 0.3, colormap jet, threshold 0.4, third class."""
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
"""plotly.js sliders run their restyle in the next animation frame, not in the click handler."""
READ_DATA = """() => document.querySelector('.js-plotly-plot').data.map(t => ({
    type: t.type, visible: t.visible, opacity: t.opacity, colorscale: t.colorscale, z: t.z,
    x0: t.x0, dx: t.dx, has_x: 'x' in t && t.type === 'heatmap', x: t.type === 'scatter' ? t.x : null,
    y: t.type === 'scatter' ? t.y : null}))"""


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
        page.screenshot(path=tmp_path / "figure.png", full_page=True)
    finally:
        page.close()
    check_final_state(traces, layers)


def check_final_state(traces: list[dict], layers: SliderLayers) -> None:
    """Third class shown, 0.4's maps and box, jet, opacity 0.3; heatmap cells still tile the photo (no x)."""
    classes = len(layers.labels)
    heat, boxes = traces[1:1 + classes], traces[1 + classes:]
    assert [t["visible"] for t in heat] == [t["visible"] for t in boxes] == [rank == 2 for rank in range(classes)]
    for rank, trace in enumerate(heat):
        z = nan_of(trace["z"])
        kept_at_zero = np.nan_to_num(layers.maps[0, rank], nan=0.0)  # threshold 0 keeps the positive part only
        np.testing.assert_array_equal(np.isnan(z), kept_at_zero < np.float32(0.4))
        np.testing.assert_allclose(z, layers.maps[4, rank], atol=ROUNDING)
        assert trace["colorscale"] == heatmap.colorscale("jet")
        assert trace["opacity"] == pytest.approx(0.3)
        assert not trace["has_x"] and trace["dx"] == pytest.approx(PHOTO_SIZE[0] / layers.maps.shape[-1])
        assert trace["x0"] == pytest.approx(trace["dx"] / 2)
    x0, y0, x1, y1 = layers.boxes[4, 2]
    assert boxes[2]["x"] == pytest.approx([x0, x1, x1, x0, x0], abs=ROUNDING)
    assert boxes[2]["y"] == pytest.approx([y0, y0, y1, y1, y0], abs=ROUNDING)
