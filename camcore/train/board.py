"""TensorBoard event files in RUN_DIR/tensorboard/, the same scalars as metrics.jsonl, for users who know that tool.

Optional: the tensorboard package is not a requirement of the app. Without it open_board returns None and nothing
is written; a run never fails for its absence.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from camcore.jobs.runs import RunFolder

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

FLUSH_S = 10
"""Seconds between flushes, so TensorBoard follows a live run (its default is 120)."""
TAGS = {"step": {"loss": "loss/train_step", "accuracy": "accuracy/train_step", "lr": "lr",
                 "images_per_s": "images_per_s"},
        "epoch": {"train_loss": "loss/train_epoch", "test_loss": "loss/test", "train_accuracy": "accuracy/train_epoch",
                  "test_accuracy": "accuracy/test"}}
"""metrics.jsonl key -> TensorBoard tag, per record kind; every scalar is plotted against the optimiser step."""


def open_board(run: RunFolder, *, resumed_after_step: int | None = None) -> SummaryWriter | None:
    """A writer into RUN_DIR/tensorboard/, or None without the tensorboard package. A resumed run passes the step
    it continues after: TensorBoard then hides what an earlier process logged past it (those steps are redone),
    as runs.history drops those metrics lines."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    purge_step = None if resumed_after_step is None else resumed_after_step + 1
    return SummaryWriter(str(run.tensorboard_dir), purge_step=purge_step, flush_secs=FLUSH_S)


def add_record(board: SummaryWriter, record: dict[str, Any]) -> None:
    """The record's scalars (a metrics.jsonl line: kind "step" or "epoch") at its step and wall time."""
    for key, tag in TAGS.get(record.get("kind", ""), {}).items():
        if record.get(key) is not None:
            board.add_scalar(tag, record[key], global_step=record["step"], walltime=record.get("time"))
