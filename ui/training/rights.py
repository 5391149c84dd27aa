"""Who may stop, resume or delete a run: the session that started it, or anyone when the operator says so.

In a class every student sees every run; without this one student could stop or delete another's. The runs a
session started live in its own session state, which no visitor can write (only widgets take values from the
browser, and no widget has this key); behind several replicas the proxy keeps a session on its replica.
"""
from __future__ import annotations

import os

import streamlit as st

from camcore.jobs.runs import RunFolder
from ui.common.state import TRAINING

RUN_ADMIN_ENV = "CAM_EXPLORER_RUN_ADMIN"
NOT_YOURS = ("Started from another session: only that session can stop, resume or delete it (the server's operator "
             f"can allow everyone with {RUN_ADMIN_ENV}=1).")


def claim(run: RunFolder) -> None:
    """Records that this session started `run`."""
    st.session_state[TRAINING.key("started")] = {*st.session_state.get(TRAINING.key("started"), ()), run.name}


def may_manage(run: RunFolder) -> bool:
    return os.environ.get(RUN_ADMIN_ENV) == "1" or run.name in st.session_state.get(TRAINING.key("started"), ())
