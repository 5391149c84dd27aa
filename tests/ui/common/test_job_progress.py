"""ui.common.job_progress: the fragment polls every REFRESH_S seconds only while there is something to follow, the
page reruns once a polled job is over, and the bar's value and state line come from the job's status."""
from __future__ import annotations

from dataclasses import replace

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from camcore.jobs.runs import RunStatus
from ui.common import job_progress
from ui.common.job_progress import REFRESH_S, done_fraction, rerun_when_over, state_line

RUNNING = RunStatus("running", step=5, steps_total=20, images_per_s=12.5, eta_s=75)


def test_done_fraction_is_clamped_and_zero_until_the_total_is_known() -> None:
    assert done_fraction(RUNNING) == 0.25
    assert done_fraction(replace(RUNNING, step=30)) == 1.0  # a status written past its total
    assert done_fraction(replace(RUNNING, step=-1)) == 0.0
    assert done_fraction(replace(RUNNING, steps_total=0)) == 0.0


def test_state_line_adds_the_speed_and_the_eta_only_while_active() -> None:
    assert state_line(RUNNING, "epoch 1/3", "step 5/20") == "epoch 1/3 · step 5/20 · 12.5 images/s · ETA 0:01:15"
    assert state_line(replace(RUNNING, state="failed"), "x") == "x · 12.5 images/s"  # a stale ETA is left out
    assert state_line(replace(RUNNING, images_per_s=None, eta_s=4.5), "x") == "x · ETA 0:00:04"
    assert state_line(RunStatus("starting"), "x") == "x"


@pytest.mark.parametrize(("state", "polling", "reruns"), [
    ("running", True, 0), ("stopping", True, 0), ("queued", True, 0),
    ("finished", True, 1), ("failed", True, 1), ("stopped", True, 1), ("finished", False, 0)])
def test_the_page_reruns_once_a_polled_job_is_over(state: str, polling: bool, reruns: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[None] = []
    monkeypatch.setattr(st, "rerun", lambda: calls.append(None))
    rerun_when_over(RunStatus(state), polling=polling)
    assert len(calls) == reruns


def follow_script(polling: bool) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    import streamlit as st

    from camcore.jobs.runs import RunStatus
    from ui.common import job_progress

    def draw(status: RunStatus, label: str) -> None:
        job_progress.progress_ui(status, f"{label}: " + job_progress.state_line(status, "step 5/20"))
        job_progress.progress_ui(status, "in a column", where=st.columns(2)[1])

    job_progress.follow(draw, RunStatus("running", step=5, steps_total=20, images_per_s=12.5), "job",
                        polling=polling)


@pytest.mark.parametrize("polling", [True, False])
def test_follow_draws_in_a_fragment_polled_only_while_polling(polling: bool, polls: list) -> None:
    at = AppTest.from_function(follow_script, args=(polling,)).run()
    assert not at.exception
    assert polls == [REFRESH_S if polling else None]
    bars = at.get("progress")
    assert [(bar.proto.value, bar.proto.text) for bar in bars] == [(25, "job: step 5/20 · 12.5 images/s"),
                                                                   (25, "in a column")]
    assert [bar.proto.text for bar in at.columns[1].get("progress")] == ["in a column"]
    assert job_progress.REFRESH_S == 2  # the pages' "every 2 s"
