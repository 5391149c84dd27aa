"""Following a background job's folder, as the Dataset and Training pages do: a fragment that rereads it every
REFRESH_S seconds, the whole page's rerun once the job is over, and the progress bar with its state line (speed,
ETA). The state lives on disk (camcore.jobs.runs), so a rerun or another session finds the job where it is."""
from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from camcore.jobs.runs import RunStatus

REFRESH_S = 2
"""Seconds between two reads of a followed job's folder."""


def follow(draw: Callable[..., None], *args: Any, polling: bool = True) -> None:
    """draw(*args) in a fragment that reruns on its own (only it, not the page) every REFRESH_S seconds while
    polling; drawn once when there is nothing to follow (a finished run). Made at call time, not as a decorator:
    whether it polls is known only then."""
    st.fragment(draw, run_every=REFRESH_S if polling else None)(*args)


def rerun_when_over(status: RunStatus, *, polling: bool = True) -> None:
    """Reruns the whole page once a polled job is over (neither queued nor active): its next draw shows the results
    or the error, and follows nothing. st.rerun raises, so nothing after this call draws."""
    if polling and not status.ongoing:
        st.rerun()


def done_fraction(status: RunStatus) -> float:
    """step / steps_total within [0, 1]; 0 while the total is not known yet."""
    done = status.step / status.steps_total if status.steps_total else 0.0
    return min(max(done, 0.0), 1.0)


def state_line(status: RunStatus, *parts: str) -> str:
    """`parts`, then the job's speed and ETA when it reports them (the ETA only while it is active: a stale one
    would promise an end that will not come), joined by " · "."""
    shown = list(parts)
    if status.images_per_s:
        shown.append(f"{status.images_per_s:.1f} images/s")
    if status.eta_s is not None and status.active:
        shown.append(f"ETA {datetime.timedelta(seconds=round(status.eta_s))}")
    return " · ".join(shown)


def progress_ui(status: RunStatus, text: str, *, where: DeltaGenerator | None = None) -> None:
    """The job's progress bar, captioned `text`, in `where` (default: where the script is drawing)."""
    (st if where is None else where).progress(done_fraction(status), text=text)
