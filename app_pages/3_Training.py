"""Training: fine-tune an ImageNet CNN on Oxford-IIIT Pet in a background process, and watch curves and CAMs change."""
from __future__ import annotations

import streamlit as st

from camcore.jobs.runs import delete_run, list_runs
from camcore.settings import runs_root
from camcore.train.launch import resume_run, start_queued, start_run
from ui.common.reporting import reported
from ui.common.state import TRAINING
from ui.common.text import plain
from ui.common.visitor import visitor_token
from ui.training import figures as training_figures
from ui.training import inputs as training_inputs
from ui.training import rights as training_rights
from ui.training import view as training_view

st.set_page_config(page_title="Training · CAM Explorer", page_icon="🏋️", layout="wide")
st.title("Fine-tune and watch it learn")
st.write("Train an ImageNet classifier on Oxford-IIIT Pet, as the lesson does: one logit for cat vs dog, or the 37 "
         "breeds. The run goes on in its own process (closing this tab or restarting the app neither stops nor loses "
         "it); below, its curves and the CAMs of a few test photos after every epoch.")

root = runs_root()
start_queued(root)  # a queue whose trainer was killed moves on as soon as anyone looks
with st.expander("New run", expanded=not list_runs(root)):
    request = training_inputs.settings_form()
if request is not None:
    config, probe_photos = request
    with reported("Starting the run"):
        started = start_run(root, config, probe_photos=probe_photos, owner=visitor_token())
        st.session_state[TRAINING.key("run")] = started.name
        st.toast("Queued: another run is training." if started.status().queued else
                 "Training started in its own process.")

runs = list_runs(root)
if not runs:
    st.info(f"No runs yet. The server keeps each run in a folder of its own under {plain(root.resolve())}. Pick a "
            "preset above and press Start training.")
    st.stop()
run = training_inputs.run_picker(runs)
if run is not None:
    status, manage = run.live_status(), training_rights.may_manage(run)
    if manage and status.resumable and st.button("Resume from the last checkpoint", icon=":material/replay:",
                                                 key=TRAINING.key("resume")):
        with reported("Resuming"):
            resume_run(root, run)
    training_view.live_view(root, run, manage=manage)

st.header("All runs")
training_view.runs_table(runs)
compared = training_inputs.compare_picker(runs)
if len(compared) >= 2:
    st.plotly_chart(training_figures.curves_figure({r.name: r.history() for r in compared}),
                    key=TRAINING.key("compare_curves"))
doomed = training_inputs.delete_picker([run for run in runs if training_rights.may_manage(run)])
if doomed is not None:
    with reported(f"Deleting {doomed.name}"):
        delete_run(doomed)
        st.rerun()  # a BaseException: `reported` lets it through
