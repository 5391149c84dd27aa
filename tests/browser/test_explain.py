"""The real app in Chromium: upload a photo on the Explain page, move the figure's class and threshold sliders,
and read back from the rendered Plotly figure that both took effect together, with no rerun of Python."""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from camcore.models.loading import MODEL_CHOICES, imagenet_categories
from camcore.scores.labels import IMAGENET_CATS
from camcore.settings import DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from tests.browser.deadlines import PAGE_MS, REACTION_MS, SERVER_START_S
from tests.conftest import PETS_ROOT, make_photo
from tests.ui.explain.test_figures import kept_cells, nan_of
from ui.common.inputs import MODEL_LABELS, checkpoint_label

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = Path("/tmp/explain_page.png")
REAL_PHOTO = PETS_ROOT / "images" / "Siamese_63.jpg"
THRESHOLD_SLIDER, CLASS_SLIDER = 2, 3
"""Slider order in ui.explain.figures.explanation_figure: opacity, colormap, threshold, class."""
CHOSEN_CLASS, CHOSEN_STEP = 2, 5
"""The third class and the threshold slider's sixth step (0.5 of the map's maximum)."""
EXPLANATION_FIGURE = "[...document.querySelectorAll('.js-plotly-plot')].findIndex(p => p.layout?.sliders?.length === 4)"
RESTYLED = """([i, step, rank]) => { const p = document.querySelectorAll('.js-plotly-plot')[i];
    const heat = p.data.filter(t => t.type === 'heatmap');
    return heat[rank].visible === true && heat[rank].zmin === p.layout.sliders[2].steps[step].args[0].zmin[rank]; }"""
"""Plotly runs a slider's restyle on the next animation frame, after its `active` changes: wait for the data."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {SERVER_START_S} s")


@contextlib.contextmanager
def streamlit_server(tmp_path: Path, launcher: tuple[str, ...] = ("-m", "streamlit"), **env_vars: str) -> Iterator[str]:
    """`streamlit run app.py` (the README's command) on a free loopback port, with `env_vars` over a new user's
    environment: no model preselected and no torchvision weights cached (an empty TORCH_HOME). `launcher`: what
    runs the streamlit command line (bench.timed_server adds a clock)."""
    env = {key: value for key, value in os.environ.items() if key not in (MODEL_ENV, WEIGHTS_ENV)}
    env.update({"TORCH_HOME": str(tmp_path / "torch"), **env_vars})
    port, log = free_port(), (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, *launcher, "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
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


@contextlib.contextmanager
def page_without_data(tmp_path_factory: pytest.TempPathFactory, page: str) -> Iterator[str]:
    """One server for a test file's page, with no data set: the packaged Lite0 and the shipped samples."""
    tmp_path = tmp_path_factory.mktemp(f"{page.lower()}_server")
    with streamlit_server(tmp_path, **{DATA_ENV: str(tmp_path / "no-data")}) as url:
        yield f"{url}/{page}"


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """The app on a new user's machine with no data set: its default model is then the packaged Lite0."""
    with streamlit_server(tmp_path, **{DATA_ENV: str(tmp_path / "no-data")}) as url:
        yield url


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
    """The heatmaps now (visibility, map, colour scale, zmin/zmax) and the threshold slider's steps."""
    return page.evaluate("""(i) => { const p = document.querySelectorAll('.js-plotly-plot')[i];
        const heat = p.data.filter(t => t.type === 'heatmap');
        return {visible: heat.map(t => t.visible === true),
                heat: heat.map(t => ({z: t.z, colorscale: t.colorscale, zmin: t.zmin, zmax: t.zmax})),
                thresholds: p.layout.sliders[2].steps.map(s => Number(s.label))}; }""", index)


def test_uploaded_photo_sliders_compose_in_the_app(browser, app_url: str, upload: Path) -> None:
    """On the packaged Lite0, with nothing preselected."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        page.goto(f"{app_url}/Explain")
        photos = page.locator("[data-testid=stFileUploader]", has_text="Upload photos")  # not the weights uploader
        photos.locator("input[type=file]").set_input_files(upload)
        page.wait_for_function(f"() => {EXPLANATION_FIGURE} >= 0", timeout=PAGE_MS)
        index = page.evaluate(f"() => {EXPLANATION_FIGURE}")
        before = heat_state(page, index)
        plot = page.locator(".js-plotly-plot").nth(index)
        click_step(plot, CLASS_SLIDER, CHOSEN_CLASS)
        click_step(plot, THRESHOLD_SLIDER, CHOSEN_STEP)
        page.wait_for_function(RESTYLED, arg=[index, CHOSEN_STEP, CHOSEN_CLASS], timeout=REACTION_MS)
        after = heat_state(page, index)
        page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        page.close()
    assert before["visible"].index(True) == 0
    assert after["visible"] == [rank == CHOSEN_CLASS for rank in range(len(after["visible"]))]
    chosen = after["heat"][CHOSEN_CLASS]
    assert chosen["z"] == before["heat"][CHOSEN_CLASS]["z"]  # the map stays; the cut moves
    z, threshold = nan_of(chosen["z"]), after["thresholds"][CHOSEN_STEP]
    assert z.max() == 1.0  # normalised on the grid: a fraction of the maximum is the level itself
    clear_of_level = np.abs(z - threshold) > 1e-5
    kept = kept_cells(chosen)
    np.testing.assert_array_equal(kept[clear_of_level], ((z >= threshold) & (z > 0))[clear_of_level])
    assert kept.any() and kept.mean() < kept_cells(before["heat"][CHOSEN_CLASS]).mean()


BOX_TRACES = """(i) => { const p = document.querySelectorAll('.js-plotly-plot')[i];
    const box = p.data.find(t => t.type === 'scatter' && t.visible !== false);
    const slider = p.layout.sliders[2];
    return {x: box.x, prefix: slider.currentvalue.prefix, labels: slider.steps.map(s => s.label),
            active: slider.active}; }"""


def test_a_percentile_threshold_moves_the_box(browser, app_url: str) -> None:
    """A link with PaS (standard=percentile): the threshold slider counts fractions of the 90th percentile from
    the authors' 0.35, and clicking a higher step moves the box to that step's precomputed one."""
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    try:
        page.goto(f"{app_url}/Explain?standard=percentile&shipped=Bengal_3.jpg")
        page.wait_for_function(f"() => {EXPLANATION_FIGURE} >= 0", timeout=PAGE_MS)
        index = page.evaluate(f"() => {EXPLANATION_FIGURE}")
        before = page.evaluate(BOX_TRACES, index)
        plot = page.locator(".js-plotly-plot").nth(index)
        high = before["labels"].index("0.95")
        click_step(plot, THRESHOLD_SLIDER, high)
        page.wait_for_function(f"(i) => ({BOX_TRACES})(i).active === {high}", arg=index, timeout=REACTION_MS)
        page.wait_for_function(f"([i, x]) => JSON.stringify(({BOX_TRACES})(i).x) !== JSON.stringify(x)",
                               arg=[index, before["x"]], timeout=REACTION_MS)
        after = page.evaluate(BOX_TRACES, index)
        wanted = page.evaluate("""([i, step]) => document.querySelectorAll('.js-plotly-plot')[i]
            .layout.sliders[2].steps[step].args[0].x.find(x => x !== null)""", [index, high])
    finally:
        page.close()
    assert before["prefix"] == "Threshold (90th percentile x): "
    assert before["labels"][before["active"]] == "0.35" and before["labels"][0] == "0.05"
    assert after["x"] == wanted and after["x"] != before["x"]
    assert max(after["x"]) - min(after["x"]) <= max(before["x"]) - min(before["x"])  # a higher level keeps less


RERUNNERS, DOWNLOADS = 3, 12
"""Sessions rerunning all the time, and downloads one more session makes meanwhile."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def explanation_names(page, index: int) -> list[str]:
    """The class names of an explanation figure's heatmaps, best first ("1. tabby (54.0%)" -> "tabby")."""
    names = page.evaluate("""(i) => document.querySelectorAll('.js-plotly-plot')[i].data
        .filter(t => t.type === 'heatmap').map(t => t.name)""", index)
    return [name.split(". ", 1)[1].rsplit(" (", 1)[0] for name in names]


def test_fresh_machine_home_and_a_sample(browser, app_url: str) -> None:
    """The README's first command on a machine with no weights cached: Home in the navigation, and "Try a sample"
    explains a shipped cat with real ImageNet classes."""
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    try:
        page.goto(app_url)
        page.get_by_text("Default model").wait_for(timeout=PAGE_MS)
        navigation = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
        page.goto(f"{app_url}/Explain")
        page.get_by_role("button", name="Try a sample").click()
        page.wait_for_function(f"() => {EXPLANATION_FIGURE} >= 0", timeout=PAGE_MS)
        names = explanation_names(page, page.evaluate(f"() => {EXPLANATION_FIGURE}"))
    finally:
        page.close()
    assert [text.split()[-1] for text in navigation] == ["Home", "Explain", "Dataset", "Training", "Lesson", "Live"]
    assert imagenet_categories().index(names[0]) in IMAGENET_CATS  # Bengal_3.jpg


LABEL_WIDTHS = """(labels) => {
    const box = document.querySelector('[data-testid=stSidebar] [data-testid=stSelectbox] input');
    const style = getComputedStyle(box), pen = document.createElement('canvas').getContext('2d');
    pen.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return labels.map(label => [label, Math.ceil(pen.measureText(label).width), Math.floor(room)]); }"""
"""Each label's width in the sidebar model box's own font, beside the width the box has for it (px)."""


def test_every_model_label_fits_the_sidebars_box(browser, tmp_path: Path) -> None:
    """The labels the sidebar lists, a long run's checkpoints among them, drawn in the box's font, fit its width
    (a cut label read "EfficientNet-Lite0 (ships with the")."""
    run = tmp_path / "runs" / "20261207-142100-breeds-timm_convnext_tiny_in22k"
    run.mkdir(parents=True)
    labels = [*MODEL_LABELS.values(), *MODEL_CHOICES,
              *(checkpoint_label(run.name, which) for which in ("best", "last", "start"))]
    with streamlit_server(tmp_path, **{DATA_ENV: str(tmp_path / "no-data")}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{url}/Explain")
            page.locator("[data-testid=stSidebar] [data-testid=stSelectbox] input").first.wait_for()
            page.evaluate("document.fonts.ready")
            widths = page.evaluate(LABEL_WIDTHS, labels)
        finally:
            page.close()
    assert [(label, width, room) for label, width, room in widths if width > room] == [], widths


def wait_idle(page, photos: int) -> None:
    """Until the session has drawn all its photos' download buttons and finished running: a session's own rerun
    replaces its buttons' files, so a click during it is not what this test is about."""
    page.wait_for_function("""n => [...document.querySelectorAll('[data-testid="stDownloadButton"] button')]
        .filter(b => b.innerText.startsWith('Overlay PNG')).length === n""", arg=photos, timeout=PAGE_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=PAGE_MS)


def test_downloads_survive_other_sessions_reruns(browser, app_url: str) -> None:
    """One session downloads its overlay again and again while the others keep rerunning (each click explains
    another sample, then reruns with all six): Streamlit deletes media files no session holds at the end of any
    run, so a button that built its file on click lost 18 of 60 such downloads; bytes handed to it lose none."""
    contexts = [browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1400})
                for _ in range(RERUNNERS + 1)]
    downloader, *rerunners = pages = [context.new_page() for context in contexts]
    downloads = []
    try:
        for page in pages:
            page.goto(f"{app_url}/Explain")
            page.get_by_role("button", name="Try a sample").click()
        downloader.get_by_text("Prepare the files").first.click()  # the files are built once asked for
        wait_idle(downloader, 1)
        for _ in range(DOWNLOADS):
            for page in rerunners:
                page.get_by_role("button", name="Try a sample").click()
            with downloader.expect_download(timeout=PAGE_MS) as info:
                downloader.get_by_role("button", name=re.compile("^Overlay PNG")).first.click()
            download = info.value
            downloads.append((download.failure(), Path(download.path()).read_bytes()[:8] if not download.failure()
                              else b"", download.suggested_filename))
    finally:
        for context in contexts:
            context.close()
    lost = [name for failure, head, name in downloads if failure is not None or head != PNG_SIGNATURE]
    assert not lost, f"{len(lost)} of {DOWNLOADS} downloads lost"
    assert all(name.startswith("Bengal_3_cam_top1_") and name.endswith("_t0.2_magma.png") for *_, name in downloads)


STUDENTS = 4
SHOWN = "() => [...document.querySelectorAll('[data-testid=stHeading] h3')].map(h => h.innerText.trim())"
TITLE = f"(() => {{ const i = {EXPLANATION_FIGURE}; return i < 0 ? '' : " \
        "(document.querySelectorAll('.js-plotly-plot')[i].layout.title?.text ?? '').replace(/<[^>]*>/g, ''); })()"
"""A JS expression: the explanation figure's title without markup, e.g. "Grad-CAM · bn2" ('' until drawn)."""


def test_four_sessions_each_see_only_their_own_photo(browser, app_url: str, tmp_path: Path) -> None:
    """A class in small: four sessions upload four photos at once, then all switch the method at once; each page
    shows its own photo's name and map only (one shared model and cache behind them)."""
    photos = [tmp_path / f"student_{index}.png" for index in range(STUDENTS)]
    for index, path in enumerate(photos):
        make_photo(240 + 40 * index, 180 + 20 * index, seed=index).save(path)
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in photos]
    pages = [context.new_page() for context in contexts]
    try:
        for page in pages:
            page.goto(f"{app_url}/Explain")
        for page, photo in zip(pages, photos):
            page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator(
                "input[type=file]").set_input_files(photo)
        for page in pages:
            page.locator("[data-testid=stSelectbox]", has_text="Method").first.wait_for(timeout=PAGE_MS)
            page.wait_for_function(f"() => {TITLE}.startsWith('CAM')", timeout=PAGE_MS)
        for page in pages:
            page.locator("[data-testid=stSelectbox]", has_text="Method").first.click()
            page.get_by_role("option", name="Grad-CAM", exact=True).click()
        for page in pages:
            page.wait_for_function(f"() => {TITLE}.startsWith('Grad-CAM ·')", timeout=PAGE_MS)
        shown = [page.evaluate(SHOWN) for page in pages]
        states = [heat_state(page, page.evaluate(f"() => {EXPLANATION_FIGURE}")) for page in pages]
        maps = [json.dumps([heat["z"] for heat in state["heat"]]) for state in states]
    finally:
        for context in contexts:
            context.close()
    assert shown == [[photo.name] for photo in photos]
    assert len(set(maps)) == STUDENTS  # four photos, four different maps: none showed another's
