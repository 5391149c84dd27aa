"""ui.dataset.jobs: the index or the download offered in its place, a live job's bar and Stop, how an ended job
says so, and the bar's words for predictions and downloads."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.jobs.runs import RunFolder, RunStatus
from camcore.settings import CACHE_ENV
from ui.common.text import read_back
from ui.dataset.jobs import _download_text, _predict_text


def test_predict_text_counts_photos_with_speed_and_eta() -> None:
    running = RunStatus("running", step=3, steps_total=12, images_per_s=2.0, eta_s=4.5)
    assert _predict_text(running) == ("Predicting in the background: 3/12 photos · 2.0 images/s · ETA 0:00:04. "
                                      "Results show as they come on any rerun.")
    assert _predict_text(RunStatus("starting", message="loading *resnet18*")) == (
        r"Predicting in the background: loading \*resnet18\*…")  # a message is plain text, not Markdown


def test_download_text_is_in_megabytes_of_the_whole(tmp_path: Path) -> None:
    assert _download_text(RunStatus("running", step=405_500_000), tmp_path) == (
        f"Downloading in the background: 406 of about 811 MB into {tmp_path}")


def records_script(root: str) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    from pathlib import Path

    import streamlit as st

    from ui.dataset.jobs import records_ui

    st.text(f"{len(records_ui(Path(root)))} records")


def test_records_or_the_download_in_their_place(tiny_pets: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    at = AppTest.from_function(records_script, args=(str(tiny_pets),)).run()
    assert not at.exception and not at.warning and not at.button
    assert at.text[0].value == "12 records"
    at = AppTest.from_function(records_script, args=(str(tmp_path / "nowhere"),)).run()
    assert not at.exception
    assert at.text[0].value == "0 records"
    assert "Oxford-IIIT Pet not found" in read_back(at.warning[0].value)
    assert at.button(key="dataset.download").label.startswith("Download Oxford-IIIT Pet")


def follow_script(path: str) -> None:
    from pathlib import Path

    from camcore.jobs.runs import RunFolder
    from ui.dataset.jobs import _follow, _predict_text

    _follow(RunFolder(Path(path)), _predict_text, "Stops after this batch.")


def test_a_live_job_shows_its_bar_and_stop_until_stop_is_asked(tmp_path: Path) -> None:
    job = RunFolder.create(tmp_path / "job", {"kind": "predict"})
    job.write_status(RunStatus("running", step=6, steps_total=12, images_per_s=2.0, pid=os.getpid(),
                               heartbeat=time.time()))
    at = AppTest.from_function(follow_script, args=(str(job.path),)).run()
    assert not at.exception
    [bar] = at.get("progress")
    assert bar.proto.value == 50
    assert bar.proto.text == ("Predicting in the background: 6/12 photos · 2.0 images/s. Results show as they come "
                              "on any rerun.")
    stop = at.button(key=f"dataset.stop.{job.name}")
    assert not stop.disabled and stop.help == "Stops after this batch."
    stop.click().run()
    assert job.stop_requested() and at.button(key=f"dataset.stop.{job.name}").disabled
    assert at.get("progress")[0].proto.text.endswith("rerun. Stopping…")


def ended_script(state: str, message: str) -> None:
    from camcore.jobs.runs import RunStatus
    from ui.dataset.jobs import _ended

    _ended(RunStatus(state, message=message), "It failed; see its log.txt.")


@pytest.mark.parametrize(("state", "message", "errors", "infos"), [
    ("failed", "", ["It failed; see its log.txt."], []),
    ("failed", "CUDA out of memory.", ["CUDA out of memory."], []),
    ("stopped", "", [], ["Stopped."]),
    ("stopped", "Stopped after 4 of 12 photos.", [], ["Stopped after 4 of 12 photos."]),
    ("finished", "Done.", [], [])])
def test_an_ended_job_says_how_unless_it_finished(state: str, message: str, errors: list[str],
                                                   infos: list[str]) -> None:
    at = AppTest.from_function(ended_script, args=(state, message)).run()
    assert not at.exception
    assert [read_back(error.value) for error in at.error] == errors
    assert [read_back(info.value) for info in at.info] == infos
