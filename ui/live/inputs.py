"""The Live page's controls, and the session's LiveStream that carries them to the stream's thread."""
from __future__ import annotations

import streamlit as st

from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.serving.live import LiveSettings
from ui.common.state import LIVE
from ui.live.stream import LiveStream

TOP_1 = -1
"""The class picker's "each frame's top class"."""


def controls_ui(model: LoadedModel) -> LiveSettings:
    """Class (top-1 or a fixed one), opacity, colormap, threshold and mirror, in the sidebar."""
    with st.sidebar:
        st.header("Live map")
        options = [TOP_1, *range(len(model.class_names))]
        chosen = st.selectbox("Class", options, key=LIVE.valid("class", options, TOP_1),
                              format_func=lambda c: "each frame's top class" if c == TOP_1 else model.class_names[c],
                              help="Hold one class (e.g. a breed) to see where the model finds it as you move.")
        opacity = st.slider("Opacity", 0.0, 1.0, step=0.05, key=LIVE.default("opacity", 0.5))
        colormap = st.selectbox("Colormap", heatmap.SEQUENTIAL_COLORMAPS,
                                key=LIVE.valid("colormap", heatmap.SEQUENTIAL_COLORMAPS, "magma"))
        threshold = st.slider("Threshold (fraction of the map's maximum)", 0.05, 0.95, step=0.05,
                              key=LIVE.default("threshold", heatmap.DEFAULT_THRESHOLD),
                              help="The CAM paper's: the map above it is drawn and its largest region boxed.")
        mirror = st.toggle("Mirror", key=LIVE.default("mirror", True), help="As a selfie camera shows you.")
    return LiveSettings(class_index=None if chosen == TOP_1 else int(chosen), opacity=float(opacity),
                        colormap=str(colormap), threshold_frac=float(threshold), mirror=bool(mirror))


def session_stream(model: LoadedModel, settings: LiveSettings) -> LiveStream:
    """This session's LiveStream, created once and handed the rerun's model and controls."""
    key = LIVE.key("stream")
    stream = st.session_state.get(key)
    if not isinstance(stream, LiveStream):
        stream = st.session_state[key] = LiveStream(model, settings)
    stream.model, stream.settings = model, settings
    return stream
