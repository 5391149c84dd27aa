"""TensorBoard event files: the scalars of metrics.jsonl, read back with TensorBoard's own reader; and a run
without the tensorboard package writes none and does not fail."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from camcore.jobs.runs import RunFolder
from camcore.train.board import open_board
from tests.camcore.train.helpers import metric_lines, run, train_args

EXPECTED_TAGS = {("step", "loss"): "loss/train_step", ("step", "accuracy"): "accuracy/train_step",
                 ("step", "lr"): "lr", ("epoch", "train_loss"): "loss/train_epoch", ("epoch", "test_loss"): "loss/test",
                 ("epoch", "train_accuracy"): "accuracy/train_epoch", ("epoch", "test_accuracy"): "accuracy/test"}


def test_event_file_scalars_equal_the_metrics_lines(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    done = run(train_args(tiny_pets, resnet18_weights, "--epochs", "2", "--probes", "0", "--out", str(out)))
    assert done.returncode == 0, done.stderr[-3000:]
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    lines = metric_lines(out)
    for (kind, key), tag in EXPECTED_TAGS.items():
        expected = [(line["step"], line[key]) for line in lines if line["kind"] == kind]
        found = [(event.step, event.value) for event in events.Scalars(tag)]
        assert [step for step, _ in found] == [step for step, _ in expected], tag
        assert [value for _, value in found] == pytest.approx([value for _, value in expected], rel=1e-6), tag
    assert len([line for line in lines if line["kind"] == "epoch"]) == 2


def test_without_tensorboard_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # its import now raises ImportError
    assert open_board(RunFolder.create(tmp_path / "run", {})) is None
    assert not (tmp_path / "run" / "tensorboard").exists()
