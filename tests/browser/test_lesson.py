"""The Lesson in Chromium, from a shared link: presenter mode readable on a 1280x720 projector at every step, and
the quiz's click on the photo scored where the model's own map (computed here from its forward pass) is hot or
cold, with no map of the photo on the page before it and no axis lines beside the photo."""
from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from camcore.data.images import load_image
from camcore.data.samples import SAMPLES_DIR
from camcore.models.loading import load_model
from tests.browser.deadlines import PAGE_MS
from tests.browser.test_explain import page_without_data
from ui.lesson.inputs import STEPS
from ui.lesson.quiz import GUESS_FIRST

pytestmark = pytest.mark.browser

PROJECTOR = {"width": 1280, "height": 720}
HEADING_MIN_PX = 36
"""The step's heading on a projector: Streamlit's own h2 is 36 px at 1.0 zoom on a laptop; presenter's is larger."""
BODY_MIN_PX = 21
CAPTION_MIN_PX = 17
QUIZ_PHOTO = "Bengal_3.jpg"
PRESENTED_PHOTO = "saint_bernard_87.jpg"
SCORE = re.compile(r"hotter than (\d+)% of the map")
PLOT_POINT = """([x, y]) => { const p = document.querySelector('.js-plotly-plot'); const r = p.getBoundingClientRect();
    const xa = p._fullLayout.xaxis, ya = p._fullLayout.yaxis;
    return [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)]; }"""
"""Photo pixel -> page coordinates through the rendered figure's own axes."""


@pytest.fixture(scope="module")
def lesson_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with page_without_data(tmp_path_factory, "Lesson") as url:
        yield url


@pytest.fixture(scope="module")
def page(browser, lesson_url: str) -> Iterator:
    page = browser.new_page(viewport=PROJECTOR)
    yield page
    page.close()


ON_SCREEN = ((("grid.chosen", "grid.early", "grid.late"), "Early and late side by side"),
             (("class_map",), "Both orders give the model's logit"),
             (("topk.0", "topk.1", "topk.2"), "Each class has its own map"),
             (("scatter", "cam_map", "gradcam_map"), "Correlation of the two maps"),
             (("click",), "Guess first"),
             (("fixes.0", "fixes.1", "fixes.2", "fixes.3"), "Does a fix grow the box"))
"""Each step's main figures (keys after "lesson.") and the last of its key sentences: all on the first screen."""
PLOT = "k => document.querySelector(`.st-key-lesson-${k.replace('.', '-')} .js-plotly-plot`)"
"""A figure by its key: Streamlit writes a key into its element's class, a dot as a dash."""
QUIZ_MAPS = "() => ['reveal', 'which_map'].filter(k => document.querySelector(`.st-key-lesson-${k}`))"
"""Step 5's maps of the photo on the page: none may show before the click, which any of them would answer."""
AXIS_LINES = f"""k => ({PLOT})(k).querySelectorAll('path.xgrid, path.ygrid, path.xzl, path.yzl, path.xtick, path.ytick')
    .length"""
"""The grid lines, zero lines and ticks plotly.js drew in a figure: beside a photo they show as faint lines."""
FIGURES_DRAWN = f"""keys => keys.every(k => ({PLOT})(k)?._fullLayout)
    && !document.querySelector('[data-testid=stStatusWidgetRunningIcon], [data-stale=true]')"""
"""The step's figures drawn and its run over (no element left from the previous step)."""
LAYOUT = f"""([keys, phrase]) => {{
    const px = e => parseFloat(getComputedStyle(e).fontSize);
    const main = document.querySelector('.stMainBlockContainer'), scroller = main.closest('[data-testid=stMain]');
    scroller.scrollTo(0, 0); window.scrollTo(0, 0);
    const text = [...main.querySelectorAll('[data-testid=stMarkdown] p')].filter(p => p.checkVisibility());
    const box = k => {{ const r = ({PLOT})(k).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }};
    const headings = [...main.querySelectorAll('h2')].filter(h => h.innerText.startsWith('Step'));
    return {{headings: headings.map(h => h.innerText), heading_px: headings.map(px),
             text_bottom: Math.max(...text.filter(p => p.innerText.includes(phrase))
                                       .map(p => p.getBoundingClientRect().bottom)),
             body_px: text.filter(p => !p.closest('[data-testid=stCaptionContainer]')).map(px),
             caption_px: text.filter(p => p.closest('[data-testid=stCaptionContainer]')).map(px),
             scroll_width: Math.max(document.documentElement.scrollWidth, scroller.scrollWidth),
             plots: keys.map(box),
             sample_visible: [...document.querySelectorAll('[data-testid=stSelectbox]')]
                 .some(s => s.innerText.includes('a sample') && s.getBoundingClientRect().right > 0
                            && s.checkVisibility())}}; }}"""
SCREENSHOTS = "/tmp/lesson_presenter_step{}.png"


def test_presenter_mode_fits_every_step_on_a_projector(page, lesson_url: str) -> None:
    """From a shared link on step 1, Next through the six steps: each one's heading, text and main figures on
    one 1280x720 screen at the top of the page, in large type, with no sideways scrolling."""
    page.goto(f"{lesson_url}?presenter=1&step=0&sample={PRESENTED_PHOTO}")
    for step, (keys, phrase) in enumerate(ON_SCREEN[:5]):
        if step:
            page.get_by_role("button", name="Next").click()
        assert_fits_the_screen(page, step, keys, phrase)
    page.wait_for_url(re.compile(r"[?&]step=4(&|$)"), timeout=PAGE_MS)  # the link follows (written as the run ends)
    assert page.evaluate(QUIZ_MAPS) == [] and page.get_by_text(GUESS_FIRST).is_visible()  # no answer on screen
    width, height = Image.open(SAMPLES_DIR / PRESENTED_PHOTO).size
    click_score(page, (width / 2, height / 2), None)  # the quiz's answer: the map beside the guess
    page.wait_for_function(FIGURES_DRAWN, arg=["reveal"], timeout=PAGE_MS)
    page.screenshot(path=SCREENSHOTS.format("5_revealed"))
    layout = page.evaluate(LAYOUT, [["reveal"], "Your click is hotter than"])
    assert layout["plots"][0][3] <= PROJECTOR["height"] and layout["text_bottom"] <= PROJECTOR["height"]
    page.get_by_role("button", name="Next").click()
    assert_fits_the_screen(page, 5, *ON_SCREEN[5])


def assert_fits_the_screen(page, step: int, keys: tuple[str, ...], phrase: str) -> None:
    page.get_by_role("heading", name=f"Step {STEPS[step]}").wait_for(timeout=PAGE_MS)
    page.wait_for_function(FIGURES_DRAWN, arg=list(keys), timeout=PAGE_MS)
    page.screenshot(path=SCREENSHOTS.format(step + 1))
    layout = page.evaluate(LAYOUT, [list(keys), phrase])
    assert layout["headings"] == [f"Step {STEPS[step]}"]  # one step on screen
    assert layout["heading_px"][0] >= HEADING_MIN_PX
    assert layout["body_px"] and min(layout["body_px"]) >= BODY_MIN_PX
    assert min(layout["caption_px"], default=CAPTION_MIN_PX) >= CAPTION_MIN_PX
    assert layout["scroll_width"] <= PROJECTOR["width"]
    for key, (left, top, right, bottom) in zip(keys, layout["plots"]):
        assert left >= 0 and right <= PROJECTOR["width"] and top > 0, (step, key)
        assert bottom <= PROJECTOR["height"], f"step {step + 1}: {key} ends at {bottom:.0f} px"
    assert 0 < layout["text_bottom"] <= PROJECTOR["height"], f"step {step + 1}: '{phrase}' below the screen"
    assert not layout["sample_visible"]  # the photo's inputs wait in the collapsed sidebar


def quiz_map_cells(photo_name: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Photo pixels (x, y) at the centres of the hottest and coldest cells of the top class's CAM, from the
    packaged model's own layers: its features, then its classifier's row for the class it ranks first."""
    model = load_model("lite0", device="cpu")
    photo = load_image((SAMPLES_DIR / photo_name).read_bytes(), name=photo_name)
    with torch.inference_mode():
        x = model.preprocessing.transform()(photo).unsqueeze(0)
        features = model.module.forward_features(x)[0]
        top = int(model.module.forward_head(features[None]).argmax())
        cam = torch.einsum("c,chw->hw", model.module.classifier.weight[top], features).numpy()
    rows, cols = cam.shape
    width, height = photo.size

    def centre(flat: int) -> tuple[float, float]:
        row, col = np.unravel_index(flat, cam.shape)
        return (col + 0.5) / cols * width, (row + 0.5) / rows * height

    return centre(int(cam.argmax())), centre(int(cam.argmin()))


def click_score(page, point: tuple[float, float], previous: str | None) -> int:
    """Clicks the photo at a photo pixel and waits for the revealed score (a new one when `previous` is given).
    The click is repeated (up to 3 times) if it landed while the last rerun was still redrawing the figure."""
    for attempt in range(3):
        page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')?.innerText"
                               ".includes('Running')", timeout=PAGE_MS)
        page.mouse.click(*page.evaluate(PLOT_POINT, list(point)))
        try:
            page.wait_for_function("""prev => { const t = document.body.innerText.match(/hotter than \\d+% of the map/);
                return t && t[0] !== prev; }""", arg=previous, timeout=PAGE_MS)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    match = SCORE.search(page.locator("body").inner_text())
    assert match is not None
    return int(match.group(1))


def test_quiz_click_is_scored_where_the_map_is_hot(page, lesson_url: str) -> None:
    hot, cold = quiz_map_cells(QUIZ_PHOTO)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{lesson_url}?step=4&sample={QUIZ_PHOTO}")
    page.get_by_text("No guess yet").wait_for(timeout=PAGE_MS)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullLayout?.xaxis", timeout=PAGE_MS)
    assert page.evaluate(QUIZ_MAPS) == [] and page.get_by_text(GUESS_FIRST).is_visible()
    hot_score = click_score(page, hot, None)
    assert "inside the region" in page.locator("body").inner_text()
    page.wait_for_function(FIGURES_DRAWN, arg=["click", "reveal", "which_map"], timeout=PAGE_MS)
    assert [page.evaluate(AXIS_LINES, key) for key in ("click", "reveal", "which_map")] == [0, 0, 0]
    cold_score = click_score(page, cold, f"hotter than {hot_score}% of the map")
    assert hot_score >= 90 and cold_score <= 50
