"""Live: the camera's video with the model's CAM and box over every frame; Pause and explain any frame."""
from __future__ import annotations

import streamlit as st

from ui.common import inputs, links
from ui.common.presenter import presenter_ui
from ui.common.reporting import reported
from ui.common.state import LIVE
from ui.common.text import plain
from ui.live import inputs as live_inputs
from ui.live import view as live_view
from ui.live.stream import camera_stream

with links.shared(LIVE):
    presenter = presenter_ui(LIVE, "Large type and a wide video, for a projector; the controls stay here.")
    st.set_page_config(page_title="Live · CAM Explorer", page_icon="🎥", layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")
    st.title("Live: where the model looks, as the camera moves")
    if not presenter:
        st.write("Point the camera at a pet (or anything) and press START: every frame shows the model's class and "
                 "its CAM, from the same forward pass as the prediction. Pause and explain freezes a frame for every "
                 "method.")
    model, choice = inputs.model_sidebar(LIVE)
    settings = live_inputs.controls_ui(model)
    stream = live_inputs.session_stream(model, settings)
    if model.cam is None:
        st.info(f"No map on the video for {plain(choice.spec)}: {plain(model.cam_refusal)}. The video plays as it is; "
                "Pause and explain maps a frame with the gradient methods.")
    video_col, status_col = st.columns([5, 1] if presenter else [3, 1])
    with video_col, reported("The camera stream"):
        camera_stream(LIVE.key("camera"), stream)
    with status_col:
        live_view.status_ui(stream)
    st.caption(live_view.CAMERA_HELP)
    live_view.snapshot_ui()
    with reported("Explaining the paused frame"):
        live_view.pause_ui(model, choice, stream)
