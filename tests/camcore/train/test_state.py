"""resume.pt: a state saved and loaded continues training exactly as the uninterrupted model and Adam would, a run
that never checkpointed has none, and a file of another version, of Python objects, or a failed save is handled."""
from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from camcore import files
from camcore.errors import CheckpointError
from camcore.train.state import ResumeState, load_resume, save_resume

X = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
Y = torch.tensor([0, 1])


def adam_step(net: nn.Linear, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    nn.functional.cross_entropy(net(X), Y).backward()
    optimizer.step()


def trained() -> tuple[nn.Linear, torch.optim.Adam]:
    """A tiny model after two Adam steps: its moments and step counts are state a resume must keep."""
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(2):
        adam_step(net, optimizer)
    return net, optimizer


def test_a_resumed_model_and_optimizer_continue_as_the_uninterrupted_ones(tmp_path: Path) -> None:
    net, optimizer = trained()
    state = ResumeState(epoch=2, batch=3, step=7, best_accuracy=0.75, train_sums=(1.5, 3.0, 4.0),
                        model=net.state_dict(), optimizer=optimizer.state_dict())
    save_resume(state, tmp_path / "resume.pt")
    loaded = load_resume(tmp_path / "resume.pt")
    assert loaded is not None
    assert (loaded.epoch, loaded.batch, loaded.step, loaded.best_accuracy, loaded.train_sums) == (2, 3, 7, 0.75,
                                                                                                  (1.5, 3.0, 4.0))
    resumed = nn.Linear(3, 2)
    resumed.load_state_dict(loaded.model)
    resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.1)
    resumed_optimizer.load_state_dict(loaded.optimizer)
    adam_step(net, optimizer)  # the run that was never stopped
    adam_step(resumed, resumed_optimizer)
    for kept, again in zip(net.parameters(), resumed.parameters()):
        assert torch.equal(kept, again)
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(loaded.model)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.1)  # the same weights without Adam's moments
    adam_step(fresh, fresh_optimizer)
    assert not torch.equal(fresh.weight, net.weight)  # so the optimizer's state is what made them equal


def test_a_run_that_never_checkpointed_has_no_resume_state(tmp_path: Path) -> None:
    assert load_resume(tmp_path / "resume.pt") is None


def test_a_file_of_another_version_is_one_line_naming_what_is_missing(tmp_path: Path) -> None:
    torch.save({"epoch": 1, "batch": 0, "step": 3, "train_sums": [0.0, 0.0, 0.0]}, tmp_path / "resume.pt")
    with pytest.raises(CheckpointError, match=r"^resume\.pt: not a resume file of this version \('best_accuracy'\)\. "
                                              r"Start a new run\.$"):
        load_resume(tmp_path / "resume.pt")


class Gadget:
    """A Python object that torch.load would have to unpickle (and could run code doing so)."""


def test_a_file_holding_python_objects_is_refused_unopened(tmp_path: Path) -> None:
    payload = {"epoch": 1, "batch": 0, "step": 0, "best_accuracy": -1.0, "train_sums": [0.0, 0.0, 0.0],
               "model": collections.OrderedDict(), "optimizer": {"gadget": Gadget()}}
    torch.save(payload, tmp_path / "resume.pt")
    with pytest.raises(CheckpointError, match="refused: it holds Python objects beyond tensors"):
        load_resume(tmp_path / "resume.pt")


def test_a_failed_save_leaves_the_previous_resume_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fails at the last moment: the previous state still loads and no temp file is left."""
    path = tmp_path / "resume.pt"
    save_resume(ResumeState(step=3), path)

    def full_disk(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_resume(ResumeState(step=9), path)
    monkeypatch.setattr(files.os, "replace", os.replace)
    previous = load_resume(path)
    assert previous is not None and previous.step == 3
    assert sorted(child.name for child in tmp_path.iterdir()) == ["resume.pt"]
