"""Background jobs: long work (training, "predict all", downloads) runs in its own process that writes its
progress to a run folder, so Streamlit reruns, closed tabs and server restarts neither stop nor lose it."""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from camcore.errors import CamcoreError, RunBusy
from camcore.jobs.runs import RunFolder, RunStatus, list_runs, pid_alive
from camcore.models.device import choose_device

__all__ = ["Heartbeat", "busy_device", "exclusive", "live_run", "new_job", "pid_alive", "run_name", "start"]

REPO_ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_INTERVAL_S = 5.0
"""Well under runs.HEARTBEAT_TIMEOUT_S, so a slow disk or a busy CPU never makes a live run look dead."""


def start(argv: Sequence[str], run: RunFolder) -> int:
    """Starts `python -m camcore *argv` detached (own session, stdin closed, output appended to run/log.txt);
    returns its pid.

    The run's status becomes "starting" before the launch (busy_device sees it at once), then gets the pid, so
    live_status reports a child that dies before writing anything. The child needs over a second to import torch
    before it writes its own status, which the pid write does not overwrite: it only fills a status that is
    still "starting" without a pid. A reaper thread waits for the child so it never lingers as a zombie here.
    """
    previous = run.status()
    if previous.active and previous.pid is not None and pid_alive(previous.pid):
        raise RunBusy(f"Run {run.name} already has a live process (pid {previous.pid}). Stop it first.")
    run.write_status(dataclasses.replace(previous, state="starting", pid=None, heartbeat=time.time(), message=""))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    try:
        with open(run.log_file, "ab") as log:  # append: a resumed run keeps what it logged before
            process = subprocess.Popen([sys.executable, "-m", "camcore", *argv], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                       start_new_session=True)
    except BaseException:
        run.write_status(previous)  # nothing was launched: the run stays as it was
        raise
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    current = run.status()
    if current.state == "starting" and current.pid is None:
        run.write_status(dataclasses.replace(current, pid=process.pid, host=socket.gethostname()))
    return process.pid


def run_name(task: str, arch: str, *, now: float | None = None) -> str:
    """A folder name for a new run, e.g. "20261201-153012-binary-timm_resnet50": sortable by start time, readable
    in the runs list, and safe on any file system (an arch like "timm:org/name" loses its ":" and "/")."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return "-".join([stamp, *(re.sub(r"[^A-Za-z0-9_.]+", "_", part).strip("._") or "x" for part in (task, arch))])


def new_job(root: Path, task: str, what: str, config: dict[str, Any]) -> RunFolder:
    """A fresh job folder under `root` for work other than training: run_name plus a random suffix, since the
    same command can start twice within one second."""
    return RunFolder.create(root / f"{run_name(task, what)}-{uuid.uuid4().hex[:6]}", config)


def live_run(root: Path) -> RunFolder | None:
    """The newest run under `root` whose process should be alive and is (live_status active), or None."""
    return next((run for run in list_runs(root) if run.live_status().active), None)


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Holds an flock on `lock_file` (created with its folder) while a check-and-start runs, so two sessions
    pressing the same button at once cannot both start a job. The kernel drops it if the holder dies."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def busy_device(root: Path, device: str) -> RunFolder | None:
    """A live run (starting, running or stopping) under `root` whose config's device resolves to the same device
    as `device`, or None. "auto" resolves through choose_device, so "auto" and "cuda" collide on a GPU machine."""
    wanted = choose_device(device)
    for run in list_runs(root):
        if not run.live_status().active:
            continue
        try:
            theirs = choose_device(str(run.config().get("device", "auto")))
        except (CamcoreError, ValueError):  # deleted meanwhile, or a device this machine does not have
            continue
        if theirs == wanted:
            return run
    return None


class Heartbeat:
    """Writes a job's status and keeps its heartbeat fresh from a daemon thread while the job works.

    The trainer's main thread can spend longer than runs.HEARTBEAT_TIMEOUT_S in one step (512 px on a CPU, the
    first pass that caches resized images), so beating only between steps would make live runs look failed.
    Use: `with Heartbeat(run) as beat: beat.update(RunStatus("running", ...))`; final states are not re-beaten.
    The trainer still writes its own final state ("finished", "stopped") with update().
    """

    def __init__(self, run: RunFolder, *, interval_s: float = HEARTBEAT_INTERVAL_S) -> None:
        self.run = run
        self.interval_s = interval_s
        self._status: RunStatus | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def update(self, status: RunStatus) -> None:
        """Writes `status` now, stamped with this process's pid (unless set), its host and the current time."""
        with self._lock:
            self._status = dataclasses.replace(status, pid=status.pid or os.getpid(), host=socket.gethostname(),
                                               heartbeat=time.time())
            self.run.write_status(self._status)

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval_s):
            with self._lock:
                if self._status is not None and self._status.active:
                    self._status = dataclasses.replace(self._status, heartbeat=time.time())
                    self.run.write_status(self._status)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Stops beating; an exception leaving the block marks an active run "failed" with its one-line reason,
        so the page shows why rather than only that the process vanished. A CamcoreError's line is already
        written for the user and is kept as it is; others get their type in front. The exception propagates."""
        self._stopped.set()
        self._thread.join()
        if exc is not None and self._status is not None and self._status.active:
            reason = (str(exc).strip().splitlines() or [""])[0]
            message = reason if isinstance(exc, CamcoreError) and reason else f"{type(exc).__name__}: {reason}"
            self.update(dataclasses.replace(self._status, state="failed", message=message.rstrip(": ")))
