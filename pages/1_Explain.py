"""Explain: photos in; the model's top guesses, where in the photo each comes from, and the files to keep."""
from __future__ import annotations

import logging

import streamlit as st

from camcore.errors import CamcoreError, WeightsUnavailable
from camcore.explain import decode_side_px
from ui import explain_inputs, explain_view, inputs, resources
from ui.reporting import reported
from ui.state import EXPLAIN

logger = logging.getLogger(__name__)

st.set_page_config(page_title="Explain · CAM Explorer", page_icon="🔍", layout="wide")
st.title("Explain a photo")
st.write("For each photo: the model's top guesses, and a heatmap of where each guess comes from. The sliders under "
         "the heatmap switch class, threshold, colours and opacity instantly; the threshold keeps the hottest part "
         "and draws a box around it.")

with st.sidebar:
    st.header("Model")
    spec, weights_path = inputs.model_ui(EXPLAIN)
    device = inputs.device_ui(EXPLAIN)
if not spec:
    st.info("Type a timm:NAME or the path of a checkpoint in the sidebar.")
    st.stop()
try:
    model = resources.shared_model(spec, weights_path, device)
except WeightsUnavailable as exc:
    st.error(str(exc))
    st.info("EfficientNet-Lite0 works without internet: pick it in the sidebar's Model list.")
    st.stop()
except (CamcoreError, ValueError) as exc:  # ValueError: an unknown model name, or cuda on a CPU-only machine
    st.error(str(exc))
    st.stop()
except Exception:
    logger.exception("Loading model %s failed", spec)
    st.error(f"{spec} could not be loaded; the server log has the details. Try another model.")
    st.stop()

with st.sidebar:
    st.header("Explanation")
    method = inputs.method_ui(model, EXPLAIN)
    layer = explain_inputs.layer_ui(model, method)
    top_k, size_px = explain_inputs.top_k_ui(), explain_inputs.size_ui(model)
    settings = explain_view.Settings(spec=spec, weights_path=weights_path, device=device, method=method, layer=layer,
                                     top_k=top_k, size_px=size_px, compare=explain_inputs.compare_ui(model),
                                     min_side_px=decode_side_px(model, size_px=size_px))

photos = explain_inputs.photos_ui()
if not photos:
    st.info("Upload a photo, or press Try a sample.")
    st.stop()

progress = st.progress(0.0, text="Explaining…")
for index, (name, data) in enumerate(photos):
    with st.container(border=True), reported(f"Explaining {name}"):
        explain_view.show_photo(name, data, index, settings)
    progress.progress((index + 1) / len(photos), text=f"{index + 1} of {len(photos)} photos explained")
progress.empty()
