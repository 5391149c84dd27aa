"""A training run from its folder to the end: data, model, resume, epochs, metrics, checkpoints, probes, status.

Rank 0 alone writes the folder (camcore.jobs.runs format); every rank trains. The state "failed" with the error's
message is written for any exception, then the exception goes on to the caller. A stop file, whenever it was written
from "starting" on, ends the run "stopped" (and is removed once honoured); so does the server's limit on a run's wall
time (camcore.settings.run_limit_s), with its checkpoints kept for Resume.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from camcore import distributed
from camcore.distributed import World, all_sum
from camcore.errors import CamcoreError
from camcore.jobs.process import Heartbeat
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.models.checkpoints import save_checkpoint
from camcore.models.device import autocast_dtype, choose_device
from camcore.settings import RUN_LIMIT_ENV, run_limit_s
from camcore.train.board import add_record, open_board
from camcore.train.config import TrainConfig
from camcore.train.data import PetTensors, load_split, on_device
from camcore.train.model import Classifier, build_classifier, to_checkpoint
from camcore.train.probes import choose_probes, probe_set, write_probe_images, write_probe_maps
from camcore.train.state import ResumeState, load_resume, save_resume
from camcore.train.steps import StepResult, epoch_order, evaluate, train_step

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

STATUS_EVERY_S = 1.0
"""status.json is rewritten at most this often between steps (and by the heartbeat thread in between)."""
ProgressFn = Callable[[int, int], None]
"""progress(step, steps_total), called on rank 0 after every step (the CLI's tqdm bar)."""


@dataclass(eq=False)
class Session:
    """What one process holds while it trains; `state` is updated after every step."""

    config: TrainConfig
    run: RunFolder
    world: World
    classifier: Classifier
    optimizer: torch.optim.Optimizer
    train: PetTensors
    test: PetTensors
    train_images: torch.Tensor
    test_images: torch.Tensor
    state: ResumeState
    probes: PetTensors
    deadline: float | None = None
    """Unix time at which the server's limit on a run's wall time stops this process; None: no limit."""
    beat: Heartbeat | None = None
    board: SummaryWriter | None = None
    started_s: float = field(default_factory=time.perf_counter)
    steps_this_session: int = 0
    rate_images_per_s: float | None = None
    last_status_s: float = 0.0
    test_accuracy: float | None = None

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.config.batch_size)

    @property
    def steps_total(self) -> int:
        return self.config.epochs * self.steps_per_epoch

    def stop_reason(self) -> str | None:
        """Why this process should stop now (rank 0's view: the stop file, the wall-time limit), or None."""
        return _stop_reason(self.run, self.deadline)


def train_run(run: RunFolder, *, config: TrainConfig | None = None, world: World | None = None,
              progress: ProgressFn | None = None) -> RunStatus:
    """Trains the run described by run.config() (or `config`, for ranks that may not see the folder yet), from
    resume.pt when there is one; returns the final status ("finished" or "stopped"). Under torchrun pass
    distributed.world_from_env() (the process group is joined here)."""
    world = world or World()
    beat = Heartbeat(run) if world.main else None
    limit_s = run_limit_s()
    deadline = None if limit_s is None else time.time() + limit_s
    try:
        if beat is not None:
            beat.__enter__()
            beat.update(RunStatus("running", message="Loading the data and the model", deadline=deadline))
        config = config or TrainConfig.from_dict(run.config())
        device = world.device(choose_device(config.device))
        distributed.join(world, device)
        if _agreed_stop(run, deadline, world, device):
            return _stopped_early(run, beat, "before loading its data")
        session = _prepare(config, run, world, device, beat, deadline)
        if _agreed_stop(run, deadline, world, device):
            return _stopped_early(run, beat, "before its first step")
        try:
            status = _train(session, progress)
        finally:
            if session.board is not None:
                session.board.close()
        if beat is not None:
            beat.update(status)
        return status
    except BaseException as exc:
        if beat is not None:
            message = str(exc) if isinstance(exc, CamcoreError) else f"{type(exc).__name__}: {exc}"
            beat.update(RunStatus("failed", message=message or type(exc).__name__))
        raise
    finally:
        if beat is not None:
            beat.__exit__(None, None, None)
        distributed.leave(world)


def _stop_reason(run: RunFolder, deadline: float | None) -> str | None:
    if run.stop_requested():
        return "asked"
    if deadline is not None and time.time() >= deadline:
        return "limit"
    return None


def _agreed_stop(run: RunFolder, deadline: float | None, world: World, device: torch.device) -> bool:
    """Rank 0's stop reason, agreed by every rank (one sync), so that all of them end together."""
    asked = torch.tensor([float(world.main and _stop_reason(run, deadline) is not None)], dtype=torch.float64,
                         device=device if device.type == "cuda" else "cpu")
    return bool(all_sum(asked, world).item() > 0)


def _stopped_early(run: RunFolder, beat: Heartbeat | None, when: str) -> RunStatus:
    """The run stopped before training anything: nothing to checkpoint; Resume starts it afresh."""
    reason = _stop_reason(run, None)
    status = RunStatus("stopped", message=f"Stopped {when}." if reason == "asked" else _limit_message(when))
    if beat is not None:
        run.clear_stop()
        beat.update(status)
    return status


def _limit_message(when: str) -> str:
    minutes = (run_limit_s() or 0) / 60
    return (f"Stopped {when}: this server lets a run train for {minutes:g} min at a time (${RUN_LIMIT_ENV}). "
            "Resume continues from the checkpoint.")


def _prepare(config: TrainConfig, run: RunFolder, world: World, device: torch.device,
             beat: Heartbeat | None, deadline: float | None) -> Session:
    """Decodes both splits, builds the model and optimiser, and loads resume.pt when the run has one."""
    classifier = build_classifier(config, device)
    decode = dict(task=config.task, image_size_px=config.image_size_px, limit=config.limit, seed=config.seed,
                  interpolation=classifier.preprocessing.interpolation)
    root = Path(config.data_root)
    train, test = load_split(root, "trainval", **decode), load_split(root, "test", **decode)  # type: ignore[arg-type]
    optimizer = torch.optim.Adam(classifier.parameters(), lr=config.lr)
    state = load_resume(run.resume_file) or ResumeState()
    if state.model:
        classifier.module.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
    session = Session(config=config, run=run, world=world, classifier=classifier, optimizer=optimizer,
                      train=train, test=test, train_images=on_device(train.images, device),
                      test_images=on_device(test.images, device), state=state,
                      probes=probe_set(run, test, choose_probes(test, config.probes),
                                       image_size_px=config.image_size_px,
                                       interpolation=classifier.preprocessing.interpolation), deadline=deadline,
                      beat=beat)
    if world.main:
        resumed = bool(run.metrics())
        if resumed:  # an earlier process logged past this point: readers drop its lines after `step`
            run.append_metrics({"kind": "resume", "epoch": state.epoch, "step": state.step, "time": time.time()})
        session.board = open_board(run, resumed_after_step=state.step if resumed else None)
        write_probe_images(run, session.probes)
        if not state.model:
            write_probe_maps(run, 0, classifier, session.probes)
            start = {"epoch": 0, "step": 0, "test_accuracy": None, "config": config.to_dict()}
            save_checkpoint(to_checkpoint(classifier, start), run.checkpoint("start"))  # to compare with best
    return session


def _train(session: Session, progress: ProgressFn | None) -> RunStatus:
    """The epochs from session.state on; stops early (after a step, with a checkpoint) when asked."""
    config, classifier, world = session.config, session.classifier, session.world
    wrapped = distributed.wrap(classifier.module, world, classifier.loaded.device)
    dtype = autocast_dtype(classifier.loaded.device)
    scaler = torch.amp.GradScaler(classifier.loaded.device.type, enabled=dtype == torch.float16)
    while session.state.epoch <= config.epochs:
        epoch = session.state.epoch
        order, flips = epoch_order(len(session.train), config.seed, epoch)
        classifier.train_mode()
        for batch in range(session.state.batch, session.steps_per_epoch):
            chosen = slice(batch * config.batch_size, (batch + 1) * config.batch_size)
            result = train_step(classifier, wrapped, session.optimizer, scaler, session.train_images,
                                session.train, order[chosen], flips[chosen], world,
                                lambda: session.stop_reason() is not None)
            _after_step(session, batch + 1, result, progress)
            if result.stop:
                _checkpoint(session, best=False)
                return _stopped(session)
        _end_epoch(session, epoch)
    return _status(session, "finished", message="Finished.")


def _stopped(session: Session) -> RunStatus:
    """The status of a run stopped after a step with its checkpoint written; the stop file, honoured, goes."""
    when = f"at step {session.state.step}"
    message = _limit_message(when) if session.stop_reason() == "limit" else f"Stopped {when}."
    if session.world.main:
        session.run.clear_stop()
    return _status(session, "stopped", message=message)


def _after_step(session: Session, batch: int, result: StepResult, progress: ProgressFn | None) -> None:
    """Adds the step to the state; rank 0 logs its metrics line, the status (throttled) and the progress."""
    state = session.state
    sums = tuple(total + value for total, value in zip(state.train_sums, (result.loss_sum, result.correct,
                                                                          result.images)))
    session.state = ResumeState(epoch=state.epoch, batch=batch, step=state.step + 1,
                                best_accuracy=state.best_accuracy, train_sums=sums)  # type: ignore[arg-type]
    session.steps_this_session += 1
    rate = result.images / max(result.elapsed_s, 1e-9)
    session.rate_images_per_s = rate if session.rate_images_per_s is None else (
        0.8 * session.rate_images_per_s + 0.2 * rate)
    if not session.world.main:
        return
    _log(session, {"kind": "step", "epoch": state.epoch, "step": session.state.step,
                   "loss": result.loss_sum / max(result.images, 1), "accuracy": result.correct / max(result.images, 1),
                   "lr": session.optimizer.param_groups[0]["lr"], "images_per_s": rate, "time": time.time()})
    if progress is not None:
        progress(session.state.step, session.steps_total)
    if time.perf_counter() - session.last_status_s >= STATUS_EVERY_S:
        _status(session, "running")


def _end_epoch(session: Session, epoch: int) -> None:
    """Test evaluation; rank 0 writes the epoch line, confusion, probe maps and the checkpoints."""
    result = evaluate(session.classifier, session.test_images, session.test, session.world,
                      batch_size=session.config.batch_size)
    loss_sum, correct, seen = session.state.train_sums
    best = result.accuracy > session.state.best_accuracy
    session.state = ResumeState(epoch=epoch + 1, batch=0, step=session.state.step,
                                best_accuracy=max(result.accuracy, session.state.best_accuracy))
    session.test_accuracy = result.accuracy
    if not session.world.main:
        return
    run = session.run
    run.write_confusion(epoch, list(session.classifier.class_names), result.confusion)
    write_probe_maps(run, epoch, session.classifier, session.probes)
    _log(session, {"kind": "epoch", "epoch": epoch, "step": session.state.step,
                   "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct / max(seen, 1),
                   "test_loss": result.loss, "test_accuracy": result.accuracy, "time": time.time()})
    _checkpoint(session, best=best)
    _status(session, "running")


def _log(session: Session, record: dict[str, Any]) -> None:
    """One metrics.jsonl line, and the same scalars in TensorBoard when it is installed; rank 0 only."""
    session.run.append_metrics(record)
    if session.board is not None:
        add_record(session.board, record)


def _checkpoint(session: Session, *, best: bool) -> None:
    """last.pt (and best.pt when `best`), then resume.pt; rank 0 only."""
    if not session.world.main:
        return
    state = session.state
    training: dict[str, Any] = {"epoch": state.epoch - 1, "step": state.step,  # epochs completed
                                "test_accuracy": session.test_accuracy, "config": session.config.to_dict()}
    checkpoint = to_checkpoint(session.classifier, training)
    save_checkpoint(checkpoint, session.run.checkpoint("last"))
    if best:
        save_checkpoint(checkpoint, session.run.checkpoint("best"))
    save_resume(ResumeState(epoch=state.epoch, batch=state.batch, step=state.step,
                            best_accuracy=state.best_accuracy, train_sums=state.train_sums,
                            model=checkpoint.state_dict, optimizer=session.optimizer.state_dict()),
                session.run.resume_file)


def _status(session: Session, state: str, message: str = "") -> RunStatus:
    """The run's status now (with images/s and ETA from this process's pace); rank 0 writes it."""
    done = session.steps_this_session
    seconds_per_step = (time.perf_counter() - session.started_s) / done if done else None
    remaining = session.steps_total - session.state.step
    status = RunStatus(state, epoch=min(session.state.epoch, session.config.epochs), epochs=session.config.epochs,
                       step=session.state.step, steps_total=session.steps_total,
                       images_per_s=session.rate_images_per_s,
                       eta_s=None if seconds_per_step is None or state != "running" else remaining * seconds_per_step,
                       message=message, test_accuracy=session.test_accuracy, deadline=session.deadline)
    if session.beat is not None:
        session.beat.update(status)
        session.last_status_s = time.perf_counter()
    return status
