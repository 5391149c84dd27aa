"""Starting runs from the page (camcore.train.launch): one live run per device, a missing data set refused, and the
curves a resumed run shows (RunFolder.history)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from camcore.errors import DataNotFound, RunBusy
from camcore.jobs.runs import RunFolder, RunStatus, list_runs
from camcore.train.config import TrainConfig
from camcore.train.launch import start_run


def test_a_second_run_on_a_busy_device_is_refused_and_creates_nothing(tiny_pets: Path, tmp_path: Path) -> None:
    live = RunFolder.create(tmp_path / "live", TrainConfig(data_root=str(tiny_pets), device="cpu").to_dict())
    live.write_status(RunStatus(state="running", pid=os.getpid(), heartbeat=time.time()))
    with pytest.raises(RunBusy, match="live is still training on this device"):
        start_run(tmp_path, TrainConfig(data_root=str(tiny_pets), device="cpu"))
    assert [run.name for run in list_runs(tmp_path)] == ["live"]


def test_a_folder_without_the_data_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound, match="no oxford-iiit-pet/ folder here"):
        start_run(tmp_path / "runs", TrainConfig(data_root=str(tmp_path / "nothing")))
    assert not list_runs(tmp_path / "runs")


def test_history_drops_the_records_a_resume_replaced(tmp_path: Path) -> None:
    """Killed after step 5 with its last checkpoint at step 3: steps 4 and 5 run again after the resume record."""
    run = RunFolder.create(tmp_path / "run", {"device": "cpu"})
    for step in range(1, 6):
        run.append_metrics({"kind": "step", "step": step, "loss": 1.0 / step})
    run.append_metrics({"kind": "resume", "step": 3, "epoch": 2})
    for step in (4, 5, 6):
        run.append_metrics({"kind": "step", "step": step, "loss": 0.1})
    assert [record["step"] for record in run.history()] == [1, 2, 3, 4, 5, 6]
    assert [record["loss"] for record in run.history()][3:] == [0.1, 0.1, 0.1]
