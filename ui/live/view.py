"""What the Live page shows beside the video: the stream's numbers, Pause and explain, and the snapshot path."""
from __future__ import annotations

import io

import streamlit as st
from PIL import Image

from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from ui.common import inputs
from ui.common.models import ModelChoice
from ui.common.state import LIVE
from ui.explain import view as explain_view
from ui.explain.settings import Settings
from ui.live.stream import LiveStream

CAMERA_HELP = ("No video? Browsers give a page the camera only on localhost or over HTTPS: ask whoever runs the "
               "server to serve it over HTTPS (docs/serving.md), or allow the camera in the address bar.")


@st.fragment(run_every=1.0)
def status_ui(stream: LiveStream) -> None:
    """Once a second, without rerunning the page: the newest frame's class and how fast the stream goes."""
    latest, result = stream.latest, stream.latest.result()
    if result is None:
        st.caption(f"Frames mapped: {latest.explained}. Press START and allow the camera.")
        return
    prediction = result.prediction
    st.metric("Class on the newest frame", prediction.class_name, f"{prediction.probability:.0%}", delta_color="off")
    st.caption(f"Frames mapped: {latest.explained}, skipped while the model was busy: {latest.skipped}. Last frame: "
               f"{result.explain_s * 1000:.0f} ms forward + CAM, {result.overlay_s * 1000:.0f} ms overlay.")


def pause_ui(model: LoadedModel, choice: ModelChoice, stream: LiveStream) -> None:
    """Pause and explain: the newest frame, frozen, on the Explain page's path with every method and a download."""
    with st.sidebar:
        st.header("Pause and explain")
        method = inputs.method_ui(model, LIVE)
    if st.button("Pause and explain", icon=":material/pause:", key=LIVE.key("pause")):
        frame = stream.latest.frame()
        if frame is None:
            st.warning("No frame yet: press START and allow the camera first.")
        else:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="PNG")
            st.session_state[LIVE.key("paused")] = buffer.getvalue()
    paused = st.session_state.get(LIVE.key("paused"))
    if paused is None:
        return
    if st.button("Resume: close the paused frame", key=LIVE.key("resume")):
        del st.session_state[LIVE.key("paused")]
        st.rerun()
    settings = Settings(choice, MapOptions(method=method))
    with st.container(border=True):
        explain_view.show_photo("paused_frame.png", paused, 0, settings)


def snapshot_ui() -> None:
    """The path without live video: one snapshot (st.camera_input), shown as the paused frame is."""
    with st.expander("No live video? Take a snapshot instead"):
        st.caption(CAMERA_HELP)
        shot = st.camera_input("Snapshot", key=LIVE.key("snapshot"))
    if shot is not None:
        st.session_state[LIVE.key("paused")] = shot.getvalue()
