"""Explain: photos in; the model's top guesses, where in the photo each comes from, and the files to keep."""
from __future__ import annotations

import streamlit as st

from camcore.options import MapOptions
from ui.common import inputs, links, wsol_inputs
from ui.common.reporting import reported
from ui.common.state import EXPLAIN
from ui.explain import compare_models
from ui.explain import inputs as explain_inputs
from ui.explain import view as explain_view
from ui.explain.settings import Settings

st.set_page_config(page_title="Explain · CAM Explorer", page_icon="🔍", layout="wide")
st.title("Explain a photo")
st.write("For each photo: the model's top guesses, and a heatmap of where each guess comes from. The sliders under "
         "the heatmap switch class, threshold, colours and opacity instantly; the threshold keeps the hottest part "
         "and draws a box around it.")

with links.shared(EXPLAIN):  # the URL holds the choices below: a link opens the same view
    model, choice = inputs.model_sidebar(EXPLAIN)

    with st.sidebar:
        st.header("Explanation")
        method = inputs.method_ui(model, EXPLAIN)
        options = MapOptions(method=method, layer=explain_inputs.layer_ui(model, method),
                             top_k=explain_inputs.top_k_ui(), size_px=explain_inputs.size_ui(model),
                             clamp_negative_weights=wsol_inputs.nwc_ui(EXPLAIN, method),
                             threshold_standard=wsol_inputs.threshold_standard_ui(EXPLAIN))
        settings = Settings(choice, options, compare=explain_inputs.compare_ui(model))
        others = compare_models.others_ui(choice.spec)

    photos = explain_inputs.photos_ui()
    if not photos:
        st.info("Upload a photo, or press Try a sample.")
        st.stop()

    progress = st.progress(0.0, text="Explaining…")
    for index, (name, data) in enumerate(photos):
        with st.container(border=True), reported(f"Explaining {name}"):
            if others:
                compare_models.show_compared(name, data, index, settings, others)
            else:
                explain_view.show_photo(name, data, index, settings)
        progress.progress((index + 1) / len(photos), text=f"{index + 1} of {len(photos)} photos explained")
    progress.empty()
