"""Starting and resuming training runs as background jobs, one live run per device.

The device check and the launch happen under an exclusive lock file in the runs folder, so two sessions pressing
Start in the same instant cannot both put a run on one GPU (busy_device then start alone is not atomic).
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from camcore.data.pets import data_root
from camcore.errors import DataNotFound, RunBusy
from camcore.jobs import process
from camcore.jobs.runs import RunFolder
from camcore.models.device import choose_device
from camcore.train.config import TrainConfig
from camcore.train.probes import checked_uploads, keep_uploads


def start_run(root: Path, config: TrainConfig, *, probe_photos: Sequence[tuple[str, bytes]] = ()) -> RunFolder:
    """Creates the run's folder, with copies of the user's (name, bytes) probe photos, and starts its trainer
    (`python -m camcore train --resume RUN_DIR`). A photo that does not decode is refused before anything exists."""
    if not (Path(config.data_root) / "oxford-iiit-pet").is_dir():
        raise DataNotFound(f"{config.data_root}: no oxford-iiit-pet/ folder here (default: {data_root()}). The "
                           "Dataset page can download it.")
    uploads = checked_uploads(probe_photos)
    with _device_lock(root, config.device):
        _refuse_busy(root, config.device)
        run = RunFolder.create(root / process.run_name(config.task, config.arch), config.to_dict())
        keep_uploads(run, uploads)
        process.start(["train", "--resume", str(run.path)], run)
    return run


def resume_run(root: Path, run: RunFolder) -> None:
    """Continues a stopped or failed run from its last checkpoint, in a new trainer process."""
    device = str(run.config().get("device", "auto"))
    with _device_lock(root, device):
        _refuse_busy(root, device)
        run.clear_stop()
        process.start(["train", "--resume", str(run.path)], run)


def _refuse_busy(root: Path, device: str) -> None:
    busy = process.busy_device(root, device)
    if busy is not None:
        raise RunBusy(f"{busy.name} is still training on this device: one run at a time. Stop it or wait for it.")


def _device_lock(root: Path, device: str) -> contextlib.AbstractContextManager[None]:
    """The lock on ROOT/.lock-DEVICE, held while the device is checked and the run launched."""
    return process.exclusive(root / f".lock-{choose_device(device).type}")
