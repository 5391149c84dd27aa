"""The training run folder: one on-disk format that the trainer writes and any page or CLI reads.

RUN_DIR/config.json, status.json (atomic), metrics.jsonl (appended), log.txt, start.pt, last.pt, best.pt, resume.pt,
probes/epoch_NNN.npz, probes/images/, confusion/epoch_NNN.json, stop, owner. See docs/training.md, "Run folder".
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from camcore.errors import DataNotFound, RunBusy, RunExists
from camcore.files import write_atomic

STATES = ("queued", "starting", "running", "stopping", "stopped", "finished", "failed")
ACTIVE_STATES = ("starting", "running", "stopping")
"""States in which a process should be alive and beating. "queued" waits for the device, with no process yet
(camcore.train.launch starts it); the others are final."""
HEARTBEAT_TIMEOUT_S = 30.0
"""A live run rewrites status.json at least this often (camcore.jobs.process.Heartbeat does it from a thread, since one
512 px CPU step or the first image cache can take longer); older means the process or its host is gone."""
CHECKPOINTS = ("start", "last", "best")
"""start: the model before training (ImageNet backbone, new head), for comparing it with best; last, best."""
_TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class RunStatus:
    """What a run is doing now, as status.json holds it. heartbeat is unix time; eta_s and rates may be unknown."""

    state: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_total: int = 0
    images_per_s: float | None = None
    eta_s: float | None = None
    pid: int | None = None
    heartbeat: float = 0.0
    message: str = ""
    test_accuracy: float | None = None
    host: str = ""
    """The machine the pid belongs to (socket.gethostname()); "" in folders written before it was recorded."""
    deadline: float | None = None
    """Unix time at which the server's limit on a run's wall time stops this process (camcore.settings)."""

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"Unknown run state {self.state!r}. Valid: {', '.join(STATES)}.")

    @property
    def active(self) -> bool:
        """True while the run should have a live process (starting, running, stopping)."""
        return self.state in ACTIVE_STATES

    @property
    def queued(self) -> bool:
        """Waiting for the device, with no process yet."""
        return self.state == "queued"

    @property
    def stoppable(self) -> bool:
        """Starting or running: Stop asks it to stop after its current step."""
        return self.state in ("starting", "running")

    @property
    def ongoing(self) -> bool:
        """Queued or active: not over yet, so a page keeps following it."""
        return self.queued or self.active

    @property
    def resumable(self) -> bool:
        """Stopped or failed: Resume continues from the last checkpoint."""
        return self.state in ("stopped", "failed")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStatus:
        """Unknown keys are ignored, so an older app reads a newer trainer's status."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def pid_alive(pid: int) -> bool:
    """True when process `pid` exists and is not a zombie (an exited child nobody waited for still has a pid).

    Lives here, not in camcore.jobs.process, because live_status needs it and process imports this module; process
    re-exports it.
    """
    if pid <= 0:  # os.kill(0, ...) and negative pids address process groups, not one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS) or it exited just now: trust kill()
        return not Path("/proc").is_dir()
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


@dataclass(frozen=True)
class RunFolder:
    """One training run's folder; every read tolerates a run being written at the same time by its process."""

    path: Path

    @classmethod
    def create(cls, path: Path, config: dict[str, Any], *, state: str = "starting",
               owner: str | None = None) -> RunFolder:
        """Makes the folder with config.json and a fresh status (`state`: "starting", or "queued" for the device);
        refuses a folder that holds a run. `owner`: the starter's secret token (see owned_by).

        status.json and the owner are written before config.json: config.json marks a folder as a run for list_runs.
        """
        run = cls(Path(path))
        if (run.path / "config.json").exists():
            raise RunExists(f"{run.path} already holds a run. Choose another folder, or resume this one.")
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_status(RunStatus(state, heartbeat=time.time()))
        if owner is not None:
            write_atomic(run.path / "owner", _digest(owner).encode())
        write_atomic(run.path / "config.json", json.dumps(config, indent=2, sort_keys=True).encode())
        return run

    @property
    def name(self) -> str:
        return self.path.name

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "config.json").read_text())
        except FileNotFoundError as exc:
            raise DataNotFound(f"{self.path} is not a run folder (no config.json).") from exc

    def write_status(self, status: RunStatus) -> None:
        write_atomic(self.path / "status.json", json.dumps(status.to_dict()).encode())

    def status(self) -> RunStatus:
        """status.json as written; missing or unreadable reads as "starting" (the folder is being created)."""
        try:
            return RunStatus.from_dict(json.loads((self.path / "status.json").read_text()))
        except (OSError, ValueError, TypeError):
            return RunStatus("starting")

    def live_status(self, now: float | None = None) -> RunStatus:
        """status(), except that an active run whose process is gone or whose heartbeat is stale reads "failed".

        A SIGKILLed or crashed trainer cannot write "failed" itself; this is how the page learns it died. A run
        on another machine sharing the runs folder (a replica on a network file system) has a pid that means nothing
        here: only its heartbeat tells.
        """
        status = self.status()
        if not status.active:
            return status
        now = time.time() if now is None else now
        if status.pid is not None and status.host in ("", socket.gethostname()) and not pid_alive(status.pid):
            message = f"The job's process (pid {status.pid}) ended without saying so: killed or crashed."
        elif now - status.heartbeat > HEARTBEAT_TIMEOUT_S:
            message = f"No heartbeat for {now - status.heartbeat:.0f} s: the job's process is gone or hung."
        else:
            return status
        return dataclasses.replace(status, state="failed", message=f"{message} See log.txt; resume to continue.")

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Appends one JSON line and flushes; if a crash left a torn last line, it is closed off first so that
        this record stays parseable."""
        line = json.dumps(record).encode() + b"\n"
        with open(self.path / "metrics.jsonl", "a+b") as handle:
            if handle.seek(0, os.SEEK_END) > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    line = b"\n" + line
            handle.write(line)
            handle.flush()

    def metrics(self) -> list[dict[str, Any]]:
        """Every parseable line, in order; a torn line (a crash mid-write, or the writer mid-line now) is skipped."""
        try:
            text = (self.path / "metrics.jsonl").read_text(errors="replace")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def history(self) -> list[dict[str, Any]]:
        """The step and epoch records as the curves should show them: a run killed mid-epoch resumes from its last
        checkpoint and logs those steps again, so a "resume" record drops the earlier records past its step."""
        kept: list[dict[str, Any]] = []
        for record in self.metrics():
            if record.get("kind") == "resume":
                kept = [earlier for earlier in kept if earlier.get("step", 0) <= record.get("step", 0)]
            elif record.get("kind") in ("step", "epoch"):
                kept.append(record)
        return kept

    def owned_by(self, token: str) -> bool:
        """True when `token` is the one the run was created with. The folder keeps only its SHA-256, compared in
        constant time; a run created without an owner (from the command line) is nobody's."""
        try:
            kept = (self.path / "owner").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return False
        return hmac.compare_digest(kept, _digest(token))

    def request_stop(self) -> None:
        """Asks the trainer to stop after its current step (it polls stop_requested())."""
        write_atomic(self.path / "stop", b"")

    def stop_requested(self) -> bool:
        return (self.path / "stop").exists()

    def clear_stop(self) -> None:
        (self.path / "stop").unlink(missing_ok=True)

    def checkpoint(self, which: str) -> Path:
        """RUN_DIR/start.pt, last.pt or best.pt (which = "start" | "last" | "best")."""
        if which not in CHECKPOINTS:
            raise ValueError(f"Unknown checkpoint {which!r}. Valid: {', '.join(CHECKPOINTS)}.")
        return self.path / f"{which}.pt"

    @property
    def resume_file(self) -> Path:
        return self.path / "resume.pt"

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    @property
    def tensorboard_dir(self) -> Path:
        """tensorboard/: the run's event files, when TensorBoard is installed (camcore.train.board)."""
        return self.path / "tensorboard"

    @property
    def probe_images_dir(self) -> Path:
        """probes/images/: each probe photo as the model saw it, NAME.jpg."""
        return self.path / "probes" / "images"

    @property
    def probe_uploads_dir(self) -> Path:
        """probes/uploads/: the user's own probe photos as they came."""
        return self.path / "probes" / "uploads"

    def exists(self) -> bool:
        """Whether the folder still holds a run (config.json marks one; a deleted run's folder is gone)."""
        return (self.path / "config.json").is_file()

    def probe_images(self) -> list[Path]:
        """The probe photos as the model saw them, by name."""
        return sorted(self.probe_images_dir.glob("*.jpg"))

    def write_probes(self, epoch: int, **arrays: Any) -> None:
        """Writes probes/epoch_NNN.npz (epoch 0 = before training) atomically.

        Object arrays are refused: they would need pickle to load, and probes() loads with allow_pickle=False.
        """
        converted = {key: np.asarray(value) for key, value in arrays.items()}
        for key, value in converted.items():
            if value.dtype == object:
                raise TypeError(f"Probe array {key!r} has dtype object; pass str, int or float arrays.")
        buffer = io.BytesIO()
        np.savez(buffer, **converted)  # type: ignore[arg-type]
        self._epoch_file("probes", epoch, ".npz").parent.mkdir(exist_ok=True)
        write_atomic(self._epoch_file("probes", epoch, ".npz"), buffer.getvalue())

    def probes(self, epoch: int) -> dict[str, np.ndarray]:
        path = self._epoch_file("probes", epoch, ".npz")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except FileNotFoundError as exc:
            raise DataNotFound(f"{self.name} has no probe maps for epoch {epoch}.") from exc

    def probe_epochs(self) -> list[int]:
        """Epochs with probe maps, ascending (0 = before the first epoch)."""
        return self._epochs("probes", ".npz")

    def write_confusion(self, epoch: int, labels: list[str], matrix: list[list[int]]) -> None:
        """confusion/epoch_NNN.json: rows are true classes, columns predicted, both in `labels` order."""
        if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
            raise ValueError(f"A confusion matrix for {len(labels)} labels must be {len(labels)}x{len(labels)}.")
        path = self._epoch_file("confusion", epoch, ".json")
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, json.dumps({"labels": list(labels), "matrix": [[int(n) for n in row] for row in matrix]})
                     .encode())

    def confusion(self, epoch: int) -> dict[str, Any] | None:
        """{"labels": [...], "matrix": [[...]]} of that epoch, or None when it was not written."""
        try:
            return json.loads(self._epoch_file("confusion", epoch, ".json").read_text())
        except FileNotFoundError:
            return None

    def confusion_epochs(self) -> list[int]:
        return self._epochs("confusion", ".json")

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of log.txt as a terminal shows them: tqdm's carriage-return redraws keep only
        their latest state. Reads only the file's end, since a long run's log can be large."""
        try:
            with open(self.log_file, "rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - _TAIL_BYTES))
                text = handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        shown = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
        if shown and shown[-1] == "":
            shown.pop()
        return "\n".join(shown[-lines:]) if lines > 0 else ""

    def _epoch_file(self, folder: str, epoch: int, suffix: str) -> Path:
        return self.path / folder / f"epoch_{epoch:03d}{suffix}"

    def _epochs(self, folder: str, suffix: str) -> list[int]:
        names = (path.name for path in (self.path / folder).glob(f"epoch_*{suffix}"))
        return sorted(int(name[6:-len(suffix)]) for name in names if name[6:-len(suffix)].isdigit())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def list_runs(root: Path) -> list[RunFolder]:
    """Sub-folders of `root` holding config.json, newest first by config.json's mtime; hidden folders are skipped
    (delete_run moves a run to one before removing it)."""
    if not Path(root).is_dir():
        return []
    found: list[tuple[int, str, Path]] = []
    for child in Path(root).iterdir():
        try:
            found.append(((child / "config.json").stat().st_mtime_ns, child.name, child))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return [RunFolder(child) for _, name, child in sorted(found, reverse=True) if not name.startswith(".")]


def delete_run(run: RunFolder) -> None:
    """Removes a run's folder entirely; refuses a live run and a folder that is not a run.

    The folder is first renamed to a hidden name, so the run vanishes from list_runs at once and a removal that
    fails midway never leaves half a run listed.
    """
    if not (run.path / "config.json").exists():
        raise DataNotFound(f"{run.path} is not a run folder (no config.json); nothing was deleted.")
    status = run.live_status()
    if status.active:
        raise RunBusy(f"Run {run.name} is {status.state}. Stop it and wait until it has stopped, then delete it.")
    doomed = run.path.with_name(f".deleting-{run.name}-{uuid.uuid4().hex[:8]}")
    os.replace(run.path, doomed)
    shutil.rmtree(doomed)
