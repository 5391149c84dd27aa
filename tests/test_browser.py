"""The real app in Chromium: upload a photo on the Explain page, move the figure's class and threshold sliders,
and read back from the rendered Plotly figure that both took effect together, with no rerun of Python."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from camcore.data import DATA_ENV
from tests.conftest import LITE0_WEIGHTS, PETS_ROOT, make_photo
from ui.widgets import MODEL_ENV, WEIGHTS_ENV

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = Path("/tmp/explain_page.png")
REAL_PHOTO = PETS_ROOT / "images" / "Siamese_63.jpg"
START_TIMEOUT_S = 60
THRESHOLD_SLIDER, CLASS_SLIDER = 2, 3
"""Slider order in ui.figures.explanation_figure: opacity, colormap, threshold, class."""
CHOSEN_CLASS, CHOSEN_STEP = 2, 5
"""The third class and the threshold slider's sixth step (0.5 of the map's maximum)."""
EXPLANATION_FIGURE = "[...document.querySelectorAll('.js-plotly-plot')].findIndex(p => p.layout?.sliders?.length === 4)"
RESTYLED = """([i, step, rank]) => { const p = document.querySelectorAll('.js-plotly-plot')[i];
    const heat = p.data.filter(t => t.type === 'heatmap');
    return heat[rank].visible === true &&
        JSON.stringify(heat[rank].z) === JSON.stringify(p.layout.sliders[2].steps[step].args[0].z[rank]); }"""
"""Plotly runs a slider's restyle on the next animation frame, after its `active` changes: wait for the data."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {START_TIMEOUT_S} s")


@pytest.fixture
def app_url(resnet18_weights: Path, tmp_path: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free port, with the real Lite0 weights when present, else random resnet18."""
    real = LITE0_WEIGHTS.is_file()
    env = {**os.environ, MODEL_ENV: "timm:tf_efficientnet_lite0" if real else "resnet18",
           WEIGHTS_ENV: str(LITE0_WEIGHTS if real else resnet18_weights), DATA_ENV: str(tmp_path)}
    port, log = free_port(), (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """A real pet photo where the shared data is (the real model calls it a Siamese cat at 64%: a clear
    screenshot), else a generated one."""
    if REAL_PHOTO.is_file():
        return REAL_PHOTO
    path = tmp_path / "generated.png"
    make_photo(320, 240).save(path)
    return path


def click_step(plot, slider: int, step: int) -> None:
    """Clicks the slider's rail above the step's tick, as a user would."""
    group = plot.locator("g.slider-group").nth(slider)
    group.scroll_into_view_if_needed()
    tick = group.locator("rect.slider-tick-rect").nth(step).bounding_box()
    rail = group.locator("rect.slider-rail-rect").bounding_box()
    plot.page.mouse.click(tick["x"] + tick["width"] / 2, rail["y"] + rail["height"] / 2)


def heat_state(page, index: int) -> dict:
    """The heatmaps' visibility and z now, and each class's full map (the threshold slider's 0 step)."""
    return page.evaluate("""(i) => { const p = document.querySelectorAll('.js-plotly-plot')[i];
        const heat = p.data.filter(t => t.type === 'heatmap');
        return {visible: heat.map(t => t.visible === true), z: heat.map(t => t.z),
                full: p.layout.sliders[2].steps[0].args[0].z.slice(0, heat.length),
                thresholds: p.layout.sliders[2].steps.map(s => Number(s.label))}; }""", index)


def as_array(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if value is None else value for value in row] for row in rows], dtype=float)


def test_uploaded_photo_sliders_compose_in_the_app(browser, app_url: str, upload: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        page.goto(f"{app_url}/Explain")
        page.locator("input[type=file]").set_input_files(upload)
        page.wait_for_function(f"() => {EXPLANATION_FIGURE} >= 0", timeout=45_000)
        index = page.evaluate(f"() => {EXPLANATION_FIGURE}")
        before = heat_state(page, index)
        plot = page.locator(".js-plotly-plot").nth(index)
        click_step(plot, CLASS_SLIDER, CHOSEN_CLASS)
        click_step(plot, THRESHOLD_SLIDER, CHOSEN_STEP)
        page.wait_for_function(RESTYLED, arg=[index, CHOSEN_STEP, CHOSEN_CLASS], timeout=5_000)
        after = heat_state(page, index)
        page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        page.close()
    assert before["visible"].index(True) == 0
    assert after["visible"] == [rank == CHOSEN_CLASS for rank in range(len(after["visible"]))]
    full, shown = as_array(after["full"][CHOSEN_CLASS]), as_array(after["z"][CHOSEN_CLASS])
    threshold = after["thresholds"][CHOSEN_STEP]
    assert not np.isnan(full).any()
    clear = np.abs(full - threshold) > 1e-3  # the browser gets values rounded to 3 decimals
    np.testing.assert_array_equal(np.isnan(shown)[clear], (full < threshold)[clear])
    kept = ~np.isnan(shown)
    np.testing.assert_array_equal(shown[kept], full[kept])
    assert np.isnan(shown).mean() > np.isnan(as_array(before["z"][CHOSEN_CLASS])).mean()
