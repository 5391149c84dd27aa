"""A real browser starts a quick training run from the Training page and watches it: the progress bar moves and
the probe photos' CAMs appear, while the run trains in its own process. The run stays its starter's across a
reload, a second tab and a server restart, and is never another browser's."""
from __future__ import annotations

from pathlib import Path

import pytest

from camcore.jobs.runs import list_runs
from camcore.settings import DATA_ENV, RUNS_ENV
from tests.browser.deadlines import JOB_MS, PAGE_MS
from tests.browser.test_explain import streamlit_server
from tests.camcore.train.helpers import wait_for
from ui.training.rights import NOT_YOURS

pytestmark = pytest.mark.browser

PROGRESS_TEXT = "() => document.querySelector('[data-testid=\"stProgress\"]')?.innerText ?? ''"
PROBE_FIGURE = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p =>
    (p.layout?.sliders?.[0]?.currentvalue?.prefix ?? '').startsWith('After epoch'))"""


def test_quick_run_started_from_the_page_trains_and_shows_probe_cams(browser, tmp_path: Path,
                                                                     tiny_pets: Path) -> None:
    runs = tmp_path / "runs"
    owner = browser.new_context(viewport={"width": 1400, "height": 1600})
    with streamlit_server(tmp_path, **{DATA_ENV: str(tiny_pets), RUNS_ENV: str(runs)}) as url:
        page = owner.new_page()
        try:
            page.goto(f"{url}/Training")
            page.get_by_text("Quick demo: 1 epoch, 224 px, lr 1e-3").click()
            page.get_by_role("button", name="Start training").click()
            page.wait_for_function(f"() => ({PROGRESS_TEXT})().includes('step ')", timeout=PAGE_MS)
            first = page.evaluate(PROGRESS_TEXT)
            page.wait_for_function(PROBE_FIGURE, timeout=JOB_MS)
            page.wait_for_function(f"() => {{ const t = ({PROGRESS_TEXT})(); return t !== {first!r} && "
                                   "/step (\\d+)\\/\\1\\b/.test(t); }", timeout=JOB_MS)
            last = page.evaluate(PROGRESS_TEXT)
            [run] = list_runs(runs)
            wait_for(lambda: not run.live_status().active, timeout_s=60)  # its epoch end: test set, probes
            page.reload()
            after_reload = owns(page, run.name)
            second_tab = owner.new_page()
            second_tab.goto(f"{url}/Training")
            in_a_second_tab = owns(second_tab, run.name)
            stranger = browser.new_page()
            stranger.goto(f"{url}/Training")
            to_another_browser = owns(stranger, run.name)
        finally:
            page.close()
    with streamlit_server(tmp_path, **{DATA_ENV: str(tiny_pets), RUNS_ENV: str(runs)}) as url:  # a restart
        page = owner.new_page()
        page.goto(f"{url}/Training")
        after_a_restart = owns(page, run.name)
    owner.close()
    assert run.live_status().state == "finished", run.log_tail()
    assert (after_reload, in_a_second_tab, after_a_restart, to_another_browser) == (True, True, True, False)
    assert first != last
    steps = [m for m in run.history() if m["kind"] == "step"]
    assert steps and f"step {steps[-1]['step']}/{steps[-1]['step']}" in last


def owns(page, run_name: str) -> bool:
    """Whether the Training page, once it has drawn `run_name`, treats this browser as the run's owner: its Delete
    picker, and no "Started from another browser" line."""
    page.get_by_text(f"{run_name}:").first.wait_for(timeout=PAGE_MS)
    page.get_by_text("Delete a run").or_(page.get_by_text(NOT_YOURS)).first.wait_for(timeout=PAGE_MS)
    return page.get_by_text(NOT_YOURS).count() == 0 and page.get_by_text("Delete a run").count() == 1
