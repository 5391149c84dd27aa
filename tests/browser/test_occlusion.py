"""Hide a region in Chromium: a student drags a box over the photo in the Explain page's "Hide a region", and the
table gives the class's probability with exactly that region blurred out, as camcore computes it here."""
from __future__ import annotations

import re

import pytest

from camcore.data.images import load_image
from camcore.data.samples import SAMPLES_DIR
from camcore.explain import decode_side_px, explain
from camcore.models.loading import load_model
from camcore.options import MapOptions
from camcore.scores.occlusion import hide_box
from tests.browser.deadlines import PAGE_MS
from tests.browser.test_explain import app_url  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser

PHOTO = "Bengal_3.jpg"
SELECTION_PLOT = "[class*=st-key-explain-occlusion-0-figure] .js-plotly-plot"
TO_PAGE = """([x, y]) => { const p = document.querySelector('SELECTOR'); const r = p.getBoundingClientRect();
    const xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis;
    return [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)]; }""".replace("SELECTOR", SELECTION_PLOT)
"""Photo pixel -> page coordinates through the rendered figure's own axes."""


def test_a_dragged_box_is_blurred_out_and_scored(browser, app_url: str) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    try:
        page.goto(f"{app_url}/Explain?shipped={PHOTO}")
        page.get_by_text("Hide a region: does the class need what the map shows?").click(timeout=PAGE_MS)
        drawn = f"() => document.querySelector('{SELECTION_PLOT}')?._fullLayout"
        page.wait_for_function(drawn, timeout=PAGE_MS)
        # A rerun still going (a busy machine's) redraws the figure: drag only once the session is idle, on the
        # figure it left (CI once found the first one detached under the drag).
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=PAGE_MS)
        page.wait_for_function(drawn, timeout=PAGE_MS)
        page.locator(SELECTION_PLOT).scroll_into_view_if_needed(timeout=PAGE_MS)
        start, end = page.evaluate(TO_PAGE, [100, 80]), page.evaluate(TO_PAGE, [300, 260])
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(start[0] + 40, start[1] + 40, steps=5)
        page.mouse.move(*end, steps=10)
        page.mouse.up()
        page.get_by_text("your box").wait_for(timeout=PAGE_MS)
        row = page.locator("[data-testid=stTable] tr", has_text="your box").inner_text()
    finally:
        page.close()
    model = load_model("lite0", device="cpu")
    photo = load_image((SAMPLES_DIR / PHOTO).read_bytes(), name=PHOTO, min_side_px=decode_side_px(model))
    (explanation,) = explain([photo], model, MapOptions(top_k=5))
    shown = re.search(r"(\d\.\d{3}) → (\d\.\d{3})", row)
    assert shown, row
    x0, y0, x1, y1 = 100, 80, 300, 260
    expected = hide_box(model, photo, explanation, (x0, y0, x1, y1))
    assert float(shown[1]) == pytest.approx(expected.probability, abs=1.5e-3)
    assert float(shown[2]) == pytest.approx(expected.hidden_probability, abs=0.02)  # the box's edges: +-1 px
