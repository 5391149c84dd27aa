"""Starting and resuming training runs as background jobs: one live run per device, the others queued in order.

A run started or resumed while another trains on its device waits as "queued" (no process yet); start_queued
launches the oldest once the device is free. Whoever sees the device free calls it: the trainer as it ends, and
the Training page on every look (so a trainer that was killed does not hold up the queue). The device check and
the launch happen under an exclusive lock file in the runs folder, so two sessions pressing Start in the same
instant cannot both put a run on one device (busy_device then start alone is not atomic).
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from camcore.errors import CamcoreError, DataNotFound
from camcore.jobs import process
from camcore.jobs.runs import RunFolder, RunStatus, list_runs
from camcore.models.device import choose_device
from camcore.settings import data_root, run_limit_s
from camcore.train.config import TrainConfig
from camcore.train.probes import checked_uploads, keep_uploads


def start_run(root: Path, config: TrainConfig, *, probe_photos: Sequence[tuple[str, bytes]] = (),
              owner: str | None = None) -> RunFolder:
    """Creates the run's folder, with copies of the user's (name, bytes) probe photos, and starts its trainer
    (`python -m camcore train --resume RUN_DIR`) or queues it behind the device's live run. A photo that does not
    decode is refused before anything exists. `owner`: the starter's secret token (RunFolder.owned_by)."""
    if not (Path(config.data_root) / "oxford-iiit-pet").is_dir():
        raise DataNotFound(f"{config.data_root}: no oxford-iiit-pet/ folder here (default: {data_root()}). The "
                           "Dataset page can download it.")
    uploads = checked_uploads(probe_photos)
    with _device_lock(root, config.device):
        run = RunFolder.create(_unused(root / process.run_name(config.task, config.arch)), config.to_dict(),
                               state="queued", owner=owner)
        keep_uploads(run, uploads)
        _launch_first(root, config.device)
    return run


def resume_run(root: Path, run: RunFolder) -> None:
    """Continues a stopped or failed run from its last checkpoint, in a new trainer process, or queues it."""
    device = _device_of(run)
    with _device_lock(root, device):
        run.clear_stop()
        run.write_status(dataclasses.replace(run.status(), state="queued", pid=None, heartbeat=time.time(),
                                             eta_s=None, deadline=None, message=""))
        _launch_first(root, device)


def start_queued(root: Path) -> list[RunFolder]:
    """Launches, for each device with a queued run and no live one, its oldest queued run; returns those started."""
    started = []
    for device in dict.fromkeys(_resolved(run) for run in queued_runs(root)):
        if device is None:
            continue
        with _device_lock(root, device):
            launched = _launch_first(root, device)
        if launched is not None:
            started.append(launched)
    return started


def leave_queue(root: Path, run: RunFolder) -> None:
    """Takes a queued run out of the queue ("stopped", nothing trained; Resume queues it again); one launched
    meanwhile is asked to stop instead, as Stop would."""
    with _device_lock(root, _device_of(run)):
        if run.status().state == "queued":
            run.write_status(RunStatus("stopped", heartbeat=time.time(), message="Left the queue before starting."))
        else:
            run.request_stop()


def queued_runs(root: Path, device: str | None = None) -> list[RunFolder]:
    """Queued runs in the order they will start (oldest first: a queued status's heartbeat is when it joined),
    only those for `device`'s device when given."""
    wanted = None if device is None else choose_device(device).type
    waiting = []
    for run in list_runs(root):
        status = run.status()
        if status.state == "queued" and (wanted is None or _resolved(run) == wanted):
            waiting.append((status.heartbeat, run.name, run))
    return [run for _, _, run in sorted(waiting)]


@dataclass(frozen=True)
class QueuePlace:
    """A queued run's place (1 = next) and when it should start: wait_s is the live run's time left (its ETA,
    capped by the server's limit on a run's wall time) plus the limit for each run ahead; None when unknown."""

    place: int
    training: str | None
    wait_s: float | None


def queue_place(root: Path, run: RunFolder, *, now: float | None = None) -> QueuePlace | None:
    """Where `run` stands in its device's queue, or None when it is not queued."""
    device = _device_of(run)
    waiting = [queued.name for queued in queued_runs(root, device)]
    if run.name not in waiting:
        return None
    place = waiting.index(run.name) + 1
    live = process.busy_device(root, device)
    left_s = 0.0 if live is None else _time_left_s(live.live_status(), now=time.time() if now is None else now)
    limit_s = run_limit_s()
    ahead_s = 0.0 if place == 1 else (None if limit_s is None else (place - 1) * limit_s)
    wait_s = None if left_s is None or ahead_s is None else left_s + ahead_s
    return QueuePlace(place, None if live is None else live.name, wait_s)


def _time_left_s(status: RunStatus, *, now: float) -> float | None:
    """The live run's ETA, or the time to its deadline when that comes first; None when neither is known."""
    known = [value for value in (status.eta_s, None if status.deadline is None else status.deadline - now)
             if value is not None]
    return max(0.0, min(known)) if known else None


def _launch_first(root: Path, device: str) -> RunFolder | None:
    """Under the device's lock: the first queued run is launched when no run is live on the device."""
    if process.busy_device(root, device) is not None:
        return None
    for run in queued_runs(root, device):
        try:
            process.start(["train", "--resume", str(run.path)], run)
        except (CamcoreError, OSError) as exc:  # its folder went away meanwhile, or cannot be written
            with contextlib.suppress(OSError):
                run.write_status(RunStatus("failed", heartbeat=time.time(), message=f"Could not start: {exc}"))
            continue
        return run
    return None


def _unused(path: Path) -> Path:
    """`path`, or `path`-2, -3, ... when a run already has it: a class pressing Start in the same second."""
    candidates = (path.with_name(f"{path.name}-{number}") for number in itertools.count(2))
    return path if not path.exists() else next(candidate for candidate in candidates if not candidate.exists())


def _device_of(run: RunFolder) -> str:
    try:
        return str(run.config().get("device", "auto"))
    except DataNotFound:  # deleted meanwhile
        return "auto"


def _resolved(run: RunFolder) -> str | None:
    """The device type ("cpu", "cuda") the run's config resolves to here; None for one this machine lacks."""
    try:
        return choose_device(_device_of(run)).type
    except ValueError:
        return None


def _device_lock(root: Path, device: str) -> contextlib.AbstractContextManager[None]:
    """The lock on ROOT/.lock-DEVICE, held while the device is checked and the run launched."""
    return process.exclusive(root / f".lock-{choose_device(device).type}")
