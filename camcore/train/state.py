"""resume.pt: everything needed to continue a run exactly where it stopped, loadable with weights_only=True."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from camcore.errors import CheckpointError
from camcore.files import write_atomic
from camcore.models.checkpoints import load_tensors


@dataclass(frozen=True)
class ResumeState:
    """Where a run is: `epoch` (1-based) is the epoch in progress and `batch` the global batches of it already
    done (0 at an epoch's start); `step` counts optimiser steps since the run began. `train_sums` are the epoch's
    running (loss sum, correct, images) so that its train metrics stay whole across a stop. The model's weights
    are here too, not only in last.pt: a kill between writing the two files must not pair one epoch's weights
    with another's optimiser."""

    epoch: int = 1
    batch: int = 0
    step: int = 0
    best_accuracy: float = -1.0
    train_sums: tuple[float, float, float] = (0.0, 0.0, 0.0)
    model: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)


def save_resume(state: ResumeState, path: Path) -> None:
    """Atomically, so a kill mid-write leaves the previous resume.pt."""
    payload = {"epoch": state.epoch, "batch": state.batch, "step": state.step, "best_accuracy": state.best_accuracy,
               "train_sums": list(state.train_sums), "model": state.model, "optimizer": state.optimizer}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())


def load_resume(path: Path) -> ResumeState | None:
    """The saved state, or None when the run never reached a checkpoint (it then starts from the beginning)."""
    if not path.is_file():
        return None
    data = load_tensors(path)
    try:
        loss, correct, seen = (float(value) for value in data["train_sums"])
        return ResumeState(epoch=int(data["epoch"]), batch=int(data["batch"]), step=int(data["step"]),
                           best_accuracy=float(data["best_accuracy"]), train_sums=(loss, correct, seen),
                           model=dict(data["model"]), optimizer=dict(data["optimizer"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: not a resume file of this version ({exc}). Start a new run.") from exc
