"""A class opening the teacher's link at once on a freshly started server: ten sessions over every page in the same
second, while torch, torchvision, timm and Plotly are imported for the first time (bench/first_visit.py). No
session may meet an exception or an error box, and the server log must hold no script error. Once here, then
once more on the warm server; an import race shows only some of the time, so `python -m bench.first_visit
--rounds N` repeats the storm on N fresh servers (docs/serving.md)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.first_visit import storm, uncaught
from camcore.settings import DATA_ENV, RUNS_ENV
from tests.browser.test_explain import streamlit_server

pytestmark = pytest.mark.browser

SESSIONS = 10
SLOWER_THAN_WARM_S = 8.0
"""How much later than on the warm server the slowest first title may come: ten Chromium tabs on two cores take
10-20 s either way, so the fresh storm is judged against the warm one."""


def test_a_class_opening_every_page_at_once_on_a_fresh_server(browser, tmp_path: Path, tiny_pets: Path) -> None:
    with streamlit_server(tmp_path, **{DATA_ENV: str(tiny_pets), RUNS_ENV: str(tmp_path / "runs")}) as url:
        fresh = storm(browser, url, SESSIONS)
        warm = storm(browser, url, SESSIONS)
    log = (tmp_path / "streamlit.log").read_text(errors="replace")
    assert fresh.failures == {} and warm.failures == {}
    assert uncaught(tmp_path / "streamlit.log") == 0 and "Traceback" not in log, log[-4000:]
    assert max(fresh.painted_s) < max(warm.painted_s) + SLOWER_THAN_WARM_S
