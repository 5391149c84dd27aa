"""The Explain page's figures, built once per photo and settings and shared (st.plotly_chart only reads a figure):
the map and signed figures with their sliders, Hide a region's selection figure, and the top-k bars."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from camcore.explain import Prediction
from camcore.maps import display, heatmap
from camcore.options import MapOptions
from ui.common.explanations import explanation, photo_as_shown
from ui.common.models import ModelChoice
from ui.explain import figures as explain_figures


@st.cache_resource(max_entries=64, show_spinner=False)
def explanation_figures(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions, *,
                        title: str) -> tuple[go.Figure, go.Figure]:
    """(map figure with its sliders, signed figure) of one explained photo, built once per photo and settings and
    shared by every rerun and session (st.plotly_chart only reads a figure; st.cache_data would unpickle a copy
    of 0.25 MB of figure each time). A class picker or download rerun then costs only Streamlit's JSON
    encoding of the figures (bench/bench_figures.py)."""
    result = explanation(image_bytes, name, model, options)
    photo = photo_as_shown(image_bytes, name, model, options)
    layers = display.slider_layers(result, standard=options.threshold_standard)
    return (explain_figures.explanation_figure(photo, layers, title=title),
            explain_figures.signed_figure(photo, layers))


@st.cache_resource(max_entries=64, show_spinner=False)
def selection_figure(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> go.Figure:
    """Hide a region's photo with its first class's map, in box-select mode: built once per photo and settings,
    as explanation_figures are (the expander's body runs on every rerun, open or not)."""
    result = explanation(image_bytes, name, model, options)
    photo = photo_as_shown(image_bytes, name, model, options)
    width, height = photo.size
    return explain_figures.selection_figure(photo, heatmap.upsample(result.maps[0], (height, width)))


@st.cache_resource(max_entries=256, show_spinner=False)
def top_k_bar(predictions: tuple[Prediction, ...]) -> go.Figure:
    """The top-k bars, built once per answer and shared (st.plotly_chart only reads it): plotly validates every
    figure it builds, a few ms of held GIL on each rerun of each session otherwise."""
    return explain_figures.top_k_bar(predictions)
