"""camcore.train.loop in this process, on the tiny generated pets: a stop asked for at any moment from "starting" on
ends the run "stopped" (before its data is loaded, while it loads, or after a step with a checkpoint), and the
server's limit on a run's wall time stops it with its checkpoints kept for Resume."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from camcore.jobs.runs import RunFolder
from camcore.settings import RUN_LIMIT_ENV
from camcore.train import loop
from camcore.train.config import TrainConfig
from camcore.train.loop import train_run


def tiny_run(path: Path, tiny_pets: Path, weights: Path) -> RunFolder:
    """2 epochs of 3 steps (6 trainval photos at batch 2), as a page creates a run: status "starting"."""
    config = TrainConfig(data_root=str(tiny_pets), arch="resnet18", weights=str(weights), image_size_px=64,
                         batch_size=2, lr=1e-3, device="cpu", probes=4, epochs=2)
    return RunFolder.create(path, config.to_dict())


def steps(run: RunFolder) -> list[int]:
    return [record["step"] for record in run.history() if record["kind"] == "step"]


def test_a_stop_asked_while_starting_is_honoured_before_the_data_loads(tiny_pets: Path, resnet18_weights: Path,
                                                                       tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "run", tiny_pets, resnet18_weights)
    run.request_stop()  # Stop pressed before the trainer's process has even begun
    status = train_run(run)
    assert status.state == "stopped" and status.message == "Stopped before loading its data."
    assert run.status().state == "stopped" and not steps(run)
    assert not run.stop_requested()  # honoured, so gone: Resume then trains


def test_a_stop_asked_while_the_photos_load_is_honoured(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run = tiny_run(tmp_path / "run", tiny_pets, resnet18_weights)
    real_load = loop.load_split

    def load_then_stop(*args, **kwargs):
        run.request_stop()  # Stop pressed while the trainer decodes the photos
        return real_load(*args, **kwargs)

    monkeypatch.setattr(loop, "load_split", load_then_stop)
    status = train_run(run)
    assert status.state == "stopped" and status.message == "Stopped before its first step."
    assert not steps(run) and not run.stop_requested()


def test_the_wall_time_limit_stops_a_run_after_a_step_and_keeps_its_checkpoints(
        tiny_pets: Path, resnet18_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves 100 s per training step, under a 5-minute limit: steps 1-3 start before the deadline,
    step 4's stop check sees it, so the run stops after step 4 with last.pt and resume.pt written."""
    run = tiny_run(tmp_path / "run", tiny_pets, resnet18_weights)
    monkeypatch.setenv(RUN_LIMIT_ENV, "5")
    offset_s = [0.0]
    real_time, real_step = time.time, loop.train_step
    monkeypatch.setattr(time, "time", lambda: real_time() + offset_s[0])

    def slow_step(*args, **kwargs):
        result = real_step(*args, **kwargs)
        offset_s[0] += 100.0
        return result

    monkeypatch.setattr(loop, "train_step", slow_step)
    status = train_run(run)
    assert status.state == "stopped" and status.step == 4 and steps(run) == [1, 2, 3, 4]
    assert status.message.startswith("Stopped at step 4: this server lets a run train for 5 min at a time")
    assert run.checkpoint("last").is_file() and run.resume_file.is_file() and status.deadline is not None
    monkeypatch.setattr(loop, "train_step", real_step)
    monkeypatch.setenv(RUN_LIMIT_ENV, "0")  # no limit: Resume trains the rest
    assert train_run(run).state == "finished" and steps(run) == list(range(1, 7))
