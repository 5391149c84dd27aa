"""The Oxford-IIIT Pet download as a background job (`python -m camcore download`): one at a time per data folder.

Two locks: the downloading process holds ROOT/.download.lock for as long as it fetches (a second download into
ROOT, from any session or the CLI, is refused; the kernel frees the lock when the process dies), and the page's
check-and-start holds ROOT/.downloads/.lock, so a second click finds the running job and follows it. Job folders
(camcore.jobs.runs format; step = bytes on disk so far, steps_total = pets.DOWNLOAD_BYTES) live in ROOT/.downloads/.
"""
from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path

from camcore.data import pets
from camcore.errors import RunBusy
from camcore.jobs import process
from camcore.jobs.runs import RunFolder, delete_run, list_runs

LOCK_FILE = ".download.lock"
JOBS_FOLDER = ".downloads"


def download_locked(root: Path, progress: Callable[[int], None] | None = None,
                    stop: Callable[[], bool] | None = None) -> bool:
    """pets.download under ROOT's download lock (False when stopped); RunBusy at once if another process holds
    it."""
    with _download_lock(Path(root)):
        return pets.download(Path(root), progress=progress, stop=stop)


@contextlib.contextmanager
def _download_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunBusy(f"Oxford-IIIT Pet is already being downloaded into {root} by another process. Wait for "
                          "it to finish.") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_download(root: Path) -> RunFolder:
    """Starts `python -m camcore download` into ROOT, or returns ROOT's live download job if there is one.

    Earlier finished or failed download jobs are deleted first: only the latest one's outcome matters.
    """
    folder = Path(root) / JOBS_FOLDER
    with process.exclusive(folder / ".lock"):
        live = process.live_run(folder)
        if live is not None:
            return live
        for old in list_runs(folder):
            delete_run(old)
        job = process.new_job(folder, "download", "oxford-iiit-pet",
                              {"kind": "download", "data_root": str(Path(root).resolve())})
        process.start(["download", "--data", str(Path(root).resolve()), "--job", str(job.path)], job)
    return job


def latest_download(root: Path) -> RunFolder | None:
    """ROOT's newest download job folder (live or not), for the page to follow or report."""
    return next(iter(list_runs(Path(root) / JOBS_FOLDER)), None)
