"""Starting runs from the page (camcore.train.launch): one live run per device and the others queued in order, with
their place and expected start; a queued run leaves the queue; the next one starts once the device is free; a
missing data set refused; the curves a resumed run shows (RunFolder.history)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from camcore.errors import DataNotFound
from camcore.jobs.runs import RunFolder, RunStatus, list_runs
from camcore.settings import RUN_LIMIT_ENV
from camcore.train import launch
from camcore.train.config import TrainConfig
from camcore.train.launch import leave_queue, queue_place, queued_runs, resume_run, start_queued, start_run


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runs whose trainer was launched, in order; each then reads as running in this (live) process."""
    names: list[str] = []

    def start(argv: list[str], run: RunFolder) -> int:
        names.append(run.name)
        run.write_status(RunStatus("running", pid=os.getpid(), heartbeat=time.time(), eta_s=120.0))
        return os.getpid()

    monkeypatch.setattr(launch.process, "start", start)
    return names


def config(tiny_pets: Path) -> TrainConfig:
    return TrainConfig(data_root=str(tiny_pets), device="cpu")


def finish(run: RunFolder) -> None:
    run.write_status(RunStatus("finished", heartbeat=time.time()))


def test_runs_started_while_one_trains_queue_in_order_and_start_when_it_ends(tiny_pets: Path, tmp_path: Path,
                                                                             launched: list[str],
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch.process, "run_name", lambda task, arch: f"run{len(list_runs(tmp_path))}")
    monkeypatch.setenv(RUN_LIMIT_ENV, "30")
    first = start_run(tmp_path, config(tiny_pets))
    second = start_run(tmp_path, config(tiny_pets))
    third = start_run(tmp_path, config(tiny_pets))
    assert launched == [first.name]
    assert [run.status().state for run in (first, second, third)] == ["running", "queued", "queued"]
    assert [run.name for run in queued_runs(tmp_path)] == [second.name, third.name]

    now = time.time()
    next_in_line, after_it = queue_place(tmp_path, second, now=now), queue_place(tmp_path, third, now=now)
    assert (next_in_line.place, next_in_line.training) == (1, first.name)
    assert next_in_line.wait_s == pytest.approx(120.0)  # the live run's ETA
    assert after_it.place == 2 and after_it.wait_s == pytest.approx(120.0 + 30 * 60)  # plus the limit ahead
    assert queue_place(tmp_path, first) is None

    assert start_queued(tmp_path) == [] and launched == [first.name]  # the device is still busy
    finish(first)
    assert [run.name for run in start_queued(tmp_path)] == [second.name]
    assert launched == [first.name, second.name] and third.status().state == "queued"


def test_the_wait_is_capped_by_the_live_runs_deadline(tiny_pets: Path, tmp_path: Path, launched: list[str]) -> None:
    live = start_run(tmp_path, config(tiny_pets))
    now = time.time()
    live.write_status(RunStatus("running", pid=os.getpid(), heartbeat=now, eta_s=3600.0, deadline=now + 300))
    waiting = RunFolder.create(tmp_path / "waiting", config(tiny_pets).to_dict(), state="queued")
    assert queue_place(tmp_path, waiting, now=now).wait_s == pytest.approx(300)


def test_leaving_the_queue_stops_a_queued_run_and_asks_a_launched_one_to_stop(tiny_pets: Path, tmp_path: Path,
                                                                             launched: list[str]) -> None:
    live = start_run(tmp_path, config(tiny_pets))
    waiting = RunFolder.create(tmp_path / "waiting", config(tiny_pets).to_dict(), state="queued")
    leave_queue(tmp_path, waiting)
    assert waiting.status().state == "stopped" and not queued_runs(tmp_path)
    finish(live)
    assert start_queued(tmp_path) == []  # it left: nothing starts
    resume_run(tmp_path, waiting)  # the device is free: Resume starts it at once
    assert launched[-1] == waiting.name
    leave_queue(tmp_path, waiting)  # launched meanwhile: Leave asks it to stop, as Stop would
    assert waiting.stop_requested()


def test_resuming_while_another_run_trains_queues_it(tiny_pets: Path, tmp_path: Path, launched: list[str]) -> None:
    stopped = RunFolder.create(tmp_path / "stopped", config(tiny_pets).to_dict())
    stopped.write_status(RunStatus("stopped", step=3, heartbeat=time.time()))
    start_run(tmp_path, config(tiny_pets))
    resume_run(tmp_path, stopped)
    assert stopped.status().state == "queued" and stopped.status().step == 3
    assert launched == [name for name in launched if name != stopped.name]


def test_the_starters_token_owns_the_run(tiny_pets: Path, tmp_path: Path, launched: list[str]) -> None:
    run = start_run(tmp_path, config(tiny_pets), owner="my-secret-token")
    assert run.owned_by("my-secret-token") and not run.owned_by("another-browser") and not run.owned_by("")
    assert "my-secret-token" not in (run.path / "owner").read_text()  # only its digest is kept
    assert not start_run(tmp_path, config(tiny_pets)).owned_by("my-secret-token")  # no owner: nobody's


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


def test_runs_started_in_the_same_second_get_folders_of_their_own(tiny_pets: Path, tmp_path: Path,
                                                                  launched: list[str]) -> None:
    runs = [start_run(tmp_path, config(tiny_pets)) for _ in range(3)]
    assert len({run.path for run in runs}) == 3 and len(list_runs(tmp_path)) == 3
