"""A real browser starts a quick training run from the Training page and watches it: the progress bar moves and
the probe photos' CAMs appear, while the run trains in its own process."""
from __future__ import annotations

from pathlib import Path

import pytest

from camcore.data.pets import DATA_ENV
from camcore.jobs.runs import RUNS_ENV, list_runs
from tests.browser.test_explain import streamlit_server
from tests.camcore.train.helpers import wait_for

pytestmark = pytest.mark.browser

PROGRESS_TEXT = "() => document.querySelector('[data-testid=\"stProgress\"]')?.innerText ?? ''"
PROBE_FIGURE = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p =>
    (p.layout?.sliders?.[0]?.currentvalue?.prefix ?? '').startsWith('After epoch'))"""


def test_quick_run_started_from_the_page_trains_and_shows_probe_cams(browser, tmp_path: Path,
                                                                     tiny_pets: Path) -> None:
    runs = tmp_path / "runs"
    with streamlit_server(tmp_path, **{DATA_ENV: str(tiny_pets), RUNS_ENV: str(runs)}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            page.goto(f"{url}/Training")
            page.get_by_text("Quick demo: 1 epoch, 224 px, lr 1e-3").click()
            page.get_by_role("button", name="Start training").click()
            page.wait_for_function(f"() => ({PROGRESS_TEXT})().includes('step ')", timeout=60_000)
            first = page.evaluate(PROGRESS_TEXT)
            page.wait_for_function(PROBE_FIGURE, timeout=120_000)
            page.wait_for_function(f"() => {{ const t = ({PROGRESS_TEXT})(); return t !== {first!r} && "
                                   "/step (\\d+)\\/\\1\\b/.test(t); }", timeout=120_000)
            last = page.evaluate(PROGRESS_TEXT)
        finally:
            page.close()
    [run] = list_runs(runs)
    wait_for(lambda: not run.live_status().active, timeout_s=60)  # the last step's epoch end: test set, probes
    assert run.live_status().state == "finished", run.log_tail()
    assert first != last
    steps = [m for m in run.history() if m["kind"] == "step"]
    assert steps and f"step {steps[-1]['step']}/{steps[-1]['step']}" in last
