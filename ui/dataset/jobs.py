"""The Dataset page's long work: predictions (one page here, every shown photo as a background job) and the data
set's download (a background job). Jobs are followed in fragments that read their folders on disk, so a rerun, a
second click or another session finds a running job and shows its progress instead of starting it again."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import streamlit as st

from camcore.data import pets
from camcore.errors import DataNotFound
from camcore.jobs.download import latest_download, start_download
from camcore.jobs.predict import latest_job, start_predictions
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.scores.record import ImageResult
from camcore.settings import downloads_allowed
from ui.common import datasets, job_progress
from ui.common.reporting import reported
from ui.common.state import DATASET
from ui.common.text import plain
from ui.dataset import prediction_cache
from ui.dataset.inputs import Predictor

PREDICT_STOP_HELP = "Stops after the current batch of photos; every result stored so far is kept and reused."
DOWNLOAD_STOP_HELP = "Stops the download and removes what it fetched: the data folder is left as it was."


def predictions_ui(root: Path, pool: Sequence[pets.PetRecord], predictor: Predictor) -> dict[str, ImageResult]:
    """The pool's results by name. One page is predicted here, with a progress bar; for all shown photos, what is
    stored so far, and the background job that predicts the rest (its button, or its progress)."""
    choice, options, steps = predictor.choice, predictor.options, predictor.faithfulness_steps
    if not predictor.predict_all:
        bar = st.progress(0.0, text="Predicting…")
        results = prediction_cache.predictions(
            root, pool, choice, options, faithfulness_steps=steps,
            progress=lambda done, total: bar.progress(done / total, f"{done}/{total}"))
        bar.empty()
        return results
    store = prediction_cache.prediction_store(root, choice, options, faithfulness_steps=steps)
    results = prediction_cache.stored_predictions(store, pool)
    job = latest_job(store)
    status = None if job is None else job.live_status()
    if job is not None and status is not None and status.active:
        _follow(job, _predict_text, PREDICT_STOP_HELP)
        return results
    _ended(status, "Predicting in the background failed; its log.txt has the details.")
    missing = [record.name for record in pool if record.name not in results]
    if missing and st.button(f"Predict the {len(missing)} photos not predicted yet, in the background",
                             key=DATASET.key("predict_all"), icon=":material/play_arrow:",
                             help="Runs in its own process and stores each result as it comes: a rerun, closing "
                             "the tab or another session loses nothing."):
        _follow(start_predictions(store, root, missing, spec=choice.spec, weights_path=choice.weights_path,
                                  device=choice.device, options=options, faithfulness_steps=steps),
                _predict_text, PREDICT_STOP_HELP)
    return results


def calibration_results(root: Path, records: Sequence[pets.PetRecord], pool: Sequence[pets.PetRecord],
                        predictor: Predictor) -> dict[str, ImageResult] | None:
    """The trainval results already stored for this model and its options, to choose the WSOL thresholds on while
    only test photos are shown; None (no calibrated scores) when a trainval photo is shown or none is stored. Predicts
    nothing."""
    if not pool or any(record.split != "test" for record in pool):
        return None
    store = prediction_cache.prediction_store(root, predictor.choice, predictor.options,
                                              faithfulness_steps=predictor.faithfulness_steps)
    trainval = [record for record in records if record.split == "trainval"]
    return prediction_cache.stored_predictions(store, trainval) or None


def records_ui(root: Path) -> tuple[pets.PetRecord, ...]:
    """The data set's index; empty, with what is missing said and the download offered, when it is not there."""
    with reported("Reading the data set's index"):
        try:
            return datasets.pet_index(str(root))
        except DataNotFound as exc:
            st.warning(plain(exc))
            download_ui(root)
    return ()


def download_ui(root: Path) -> None:
    """The download button, or the running download's progress; the whole page reruns once it has ended. No
    button when the operator turned downloads off ($CAM_EXPLORER_NO_DOWNLOADS)."""
    job = latest_download(root)
    status = None if job is None else job.live_status()
    if job is not None and status is not None and status.active:
        _follow(job, lambda status: _download_text(status, root), DOWNLOAD_STOP_HELP)
        return
    _ended(status, "The download failed; its log.txt has the details.")
    if not downloads_allowed():
        st.info("Downloads are turned off on this server: ask whoever runs it to place the data set here.")
        return
    if st.button("Download Oxford-IIIT Pet (about 800 MB)", key=DATASET.key("download"),
                 icon=":material/download:"):
        with reported("Starting the download"):
            _follow(start_download(root), lambda status: _download_text(status, root), DOWNLOAD_STOP_HELP)


def _ended(status: RunStatus | None, failed: str) -> None:
    """What the latest job's end says, when it did not simply finish: its error, or that it was stopped."""
    if status is not None and status.state == "failed":
        st.error(plain(status.message or failed))
    elif status is not None and status.state == "stopped":
        st.info(plain(status.message or "Stopped."))


def _follow(job: RunFolder, describe: Callable[[RunStatus], str], stop_help: str) -> None:
    """A live job's progress bar and Stop button, redrawn every job_progress.REFRESH_S seconds on their own; once
    the job has ended, the whole page reruns, to show its results or its error."""
    job_progress.follow(_progress_ui, job, describe, stop_help)


def _progress_ui(job: RunFolder, describe: Callable[[RunStatus], str], stop_help: str) -> None:
    """One draw of _follow's fragment. Stop asks the job as the Training page asks a trainer
    (RunFolder.request_stop: a `stop` file the job polls)."""
    status = job.live_status()
    job_progress.rerun_when_over(status)
    bar_col, stop_col = st.columns([5, 1], vertical_alignment="bottom")
    stopping = job.stop_requested()
    job_progress.progress_ui(status, describe(status) + (" Stopping…" if stopping else ""), where=bar_col)
    stop_col.button("Stop", icon=":material/stop:", key=DATASET.key(f"stop.{job.name}"), on_click=job.request_stop,
                    disabled=stopping, help=stop_help)


def _predict_text(status: RunStatus) -> str:
    if not status.steps_total:
        return f"Predicting in the background: {plain(status.message or 'starting')}…"
    return job_progress.state_line(status, f"Predicting in the background: {status.step}/{status.steps_total} "
                                   "photos") + ". Results show as they come on any rerun."


def _download_text(status: RunStatus, root: Path) -> str:
    return (f"Downloading in the background: {status.step / 1e6:.0f} of about {pets.DOWNLOAD_BYTES / 1e6:.0f} MB "
            f"into {root}")
