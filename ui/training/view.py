"""The Training page's views of a run folder (camcore.jobs.runs): live progress, curves, the latest confusion matrix,
the probe CAMs per epoch, the log's tail, and the runs table. Everything is read from disk, so a closed tab or a
restarted app loses nothing and every session sees the same runs."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from camcore.errors import DataNotFound
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.maps import display
from camcore.train.launch import leave_queue, queue_place, start_queued
from ui.common import job_progress
from ui.common.reporting import reported
from ui.common.state import TRAINING
from ui.common.text import plain, plot_text
from ui.training import figures, rights


def live_view(root: Path, run: RunFolder, *, manage: bool) -> None:
    """The run's view, a fragment redrawn every job_progress.REFRESH_S seconds on its own (only this part reruns)
    while the run is queued or live; a finished, stopped or failed run is drawn once and not polled. manage: offer
    Stop and Leave the queue (ui.training.rights)."""
    polling = run.live_status().ongoing
    job_progress.follow(_live_view, root, run, polling, manage, polling=polling)


def _live_view(root: Path, run: RunFolder, polling: bool, manage: bool) -> None:
    """Once a polled run has ended, the whole page reruns: its next draw stops polling and the page's Resume button
    and runs table catch up; so does a run deleted meanwhile (by its session, or on the server)."""
    if not run.exists():
        st.info(f"Run {plain(run.name)} has been deleted.")
        if polling:
            st.rerun()
        return
    with reported(f"Showing run {run.name}"):
        _run_view(root, run, polling, manage)


def _run_view(root: Path, run: RunFolder, polling: bool, manage: bool) -> None:
    status = run.live_status()
    if status.queued:
        start_queued(root)  # the device may have come free since the last look
        status = run.live_status()
    job_progress.rerun_when_over(status, polling=polling)
    if status.queued:
        _queue_place(root, run)
    else:
        _progress(status)
    controls, state_col = st.columns([1, 3], vertical_alignment="center")
    with controls:
        if manage:
            _controls(root, run, status)
    state_col.markdown(f"**{plain(run.name)}**: {status.state}" + (f" · {plain(status.message)}" if status.message
                                                                   else ""))
    if not manage:
        state_col.caption(rights.NOT_YOURS)
    history = run.history()
    if history:
        st.plotly_chart(figures.curves_figure({run.name: history}), key=TRAINING.key("curves"))
    matrix_col, probe_col = st.columns([1, 2])
    with matrix_col:
        _confusion(run)
    with probe_col:
        _probes(run)
        _compare_link(run)
    with st.expander("Log"):
        st.code(run.log_tail() or "(nothing logged yet)", language=None)


def _controls(root: Path, run: RunFolder, status: RunStatus) -> None:
    """Stop for a live run, Leave the queue for a queued one: the owner's (or the operator's) buttons."""
    if status.queued:
        st.button("Leave the queue", icon=":material/cancel:", key=TRAINING.key(f"leave.{run.name}"),
                  on_click=leave_queue, args=(root, run),
                  help="Takes the run out of the queue; Resume queues it again.")
    elif status.stoppable:
        st.button("Stop", icon=":material/stop:", key=TRAINING.key(f"stop.{run.name}"), on_click=run.request_stop,
                  help="Finishes the current step, saves a checkpoint, and stops; Resume continues from there.")


def _queue_place(root: Path, run: RunFolder) -> None:
    """The queued run's place and expected start, in one line."""
    place = queue_place(root, run)
    if place is None:
        return
    ahead = "next in line" if place.place == 1 else f"number {place.place} in the queue"
    behind = f"{plain(place.training)} is training" if place.training else "the device is coming free"
    when = ("" if place.wait_s is None else f" Expected start in about {max(1, round(place.wait_s / 60))} min"
            + ("" if place.place == 1 else " at the latest (each run ahead may train up to the server's limit)")
            + ".")
    st.info(f"Queued, {ahead}: {behind} on this device, one run at a time.{when}", icon=":material/schedule:")


def _progress(status: RunStatus) -> None:
    job_progress.progress_ui(status, job_progress.state_line(status, f"epoch {status.epoch}/{status.epochs}",
                                                             f"step {status.step}/{status.steps_total}"))


def _confusion(run: RunFolder) -> None:
    epochs = run.probe_epochs()
    latest = next((run.confusion(epoch) for epoch in reversed(epochs) if run.confusion(epoch)), None)
    if latest is None:
        st.caption("The confusion matrix appears after the first epoch.")
        return
    st.plotly_chart(figures.confusion_matrix_figure(latest["labels"], latest["matrix"],
                                                             "Test set, latest epoch"), key=TRAINING.key("confusion"))


def _probes(run: RunFolder) -> None:
    """The probe photos' CAMs of every epoch so far, with an epoch slider inside the figure."""
    epochs = run.probe_epochs()
    if not epochs:
        st.caption("Probe CAMs appear once the model has seen its first probe photos (before epoch 1).")
        return
    per_epoch = [run.probes(epoch) for epoch in epochs]
    names = [str(name) for name in per_epoch[0]["names"]]
    photos = [Image.open(run.probe_images_dir / f"{name}.jpg").convert("RGB") for name in names]
    class_names = [str(name) for name in per_epoch[0]["class_names"]]
    grids = [_grids(photos, probes["maps"]) for probes in per_epoch]
    class_names = [plot_text(name) for name in class_names]
    captions = [[f"{class_names[int(p)]} {q:.2f} " + (f"(true {class_names[int(t)]})" if t >= 0 else "(your photo)")
                 for p, q, t in zip(probes["predicted"], probes["probability"], probes["labels"])]
                for probes in per_epoch]
    st.plotly_chart(figures.probes_figure(photos, epochs, grids, captions), key=TRAINING.key("probe_cams"))
    st.caption("Epoch 0 is the ImageNet model before any training. Each map is the CAM of the photo's true class; "
               "on your own photos, of the class the model predicts.")


def _compare_link(run: RunFolder) -> None:
    """One click to the Explain page: the best checkpoint beside the model before training, on the probe photos."""
    start, best = run.checkpoint("start"), run.checkpoint("best")
    if not (start.is_file() and best.is_file()):
        return
    if st.button("Compare before and after on Explain", icon=":material/compare:",
                 key=TRAINING.key(f"compare.{run.name}"),
                 help="Opens Explain with the best checkpoint beside the model before training, on the probe photos."):
        st.switch_page("app_pages/1_Explain.py",
                       query_params={"model": str(best), "compare_models": str(start), "probes": run.name})


def _grids(photos: Sequence[Image.Image], maps: np.ndarray) -> list[np.ndarray]:
    """(P, h, w) raw maps -> each photo's map on its display grid (photos differ in aspect, so a list)."""
    return [display.display_grids(raw, photo.size) for photo, raw in zip(photos, maps)]


def runs_table(runs: Sequence[RunFolder]) -> None:
    """One row per run: its state, settings and best test accuracy."""
    rows = []
    for run in runs:
        try:
            config, status = run.config(), run.live_status()
        except DataNotFound:  # deleted since the page listed it
            continue
        best = [m.get("test_accuracy") for m in run.history() if m.get("kind") == "epoch"]
        rows.append({"run": run.name, "state": status.state, "task": config.get("task"), "model": config.get("arch"),
                     "epochs": f"{status.epoch}/{config.get('epochs')}", "px": config.get("image_size_px"),
                     "lr": config.get("lr"), "photos": config.get("limit") or "all",
                     "best test accuracy": max((b for b in best if b is not None), default=None)})
    st.dataframe(rows, hide_index=True, width="stretch")
