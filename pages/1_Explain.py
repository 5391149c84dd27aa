"""Explain: photos in; the model's top guesses, where in the photo each comes from, and the files to keep."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import streamlit as st
from PIL.Image import Image

from camcore import display, exports
from camcore.errors import CamcoreError, WeightsUnavailable
from camcore.explain import Explanation
from camcore.images import load_image
from ui import figures, resources, widgets
from ui.reporting import reported

logger = logging.getLogger(__name__)
OFFLINE_HELP = ("To explain offline, put a local weights file in the sidebar's **Local weights file** (a state dict "
                "for the chosen model, e.g. EfficientNet-Lite0's with `timm:tf_efficientnet_lite0`), or set "
                f"`{widgets.MODEL_ENV}` and `{widgets.WEIGHTS_ENV}` before starting the app.")

st.set_page_config(page_title="Explain · CAM Explorer", page_icon="🔍", layout="wide")
st.title("Explain a photo")
st.write("For each photo: the model's top guesses, and a heatmap of where each guess comes from. The sliders under "
         "the heatmap switch class, threshold, colours and opacity instantly; the threshold keeps the hottest part "
         "and draws a box around it.")

with st.sidebar:
    st.header("Model")
    spec, weights_path = widgets.model_ui()
    device = widgets.device_ui()
if not spec:
    st.info("Type a timm:NAME or the path of a checkpoint in the sidebar.")
    st.stop()
try:
    model = resources.shared_model(spec, weights_path, device)
except WeightsUnavailable as exc:
    st.error(str(exc))
    st.info(OFFLINE_HELP)
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
    method = widgets.method_ui(model)
    layer = widgets.layer_ui(model, method)
    top_k = widgets.top_k_ui()
    size_px = widgets.size_ui(model)
    compare = widgets.compare_ui(model)

photos = widgets.photos_ui()
if not photos:
    st.info("Upload a photo to start.")
    st.stop()


def explained(name: str, data: bytes, method_key: str, layer_name: str | None) -> Explanation:
    with st.spinner(f"Explaining {name} with {widgets.method_label(method_key)}…"):
        return resources.explanation(data, name, spec, weights_path, device, method=method_key, layer=layer_name,
                                     top_k=top_k, size_px=size_px)


def heatmap_chart(photo: Image, result: Explanation, layers: display.SliderLayers, key: str) -> None:
    title = f"{widgets.method_label(result.method)} · {result.layer}"
    st.plotly_chart(figures.explanation_figure(photo, layers, title=title), key=key)


def cam_identity(result: Explanation, rank: int) -> None:
    """CAM's lesson with this photo's numbers: the map's mean plus the bias is the class's logit."""
    map_mean, bias, prediction = result.map_mean(rank), result.bias[rank], result.predictions[rank]
    st.markdown(f"**CAM's identity:** mean of the map {map_mean:.2f} + bias {bias:.2f} = {map_mean + bias:.2f} "
                f"= logit of '{prediction.class_name}' ({prediction.logit:.2f}).")


def downloads(name: str, photo: Image, result: Explanation, index: int) -> None:
    """Class picker, the CAM identity and the two files; files are made only when a button is clicked."""
    pick_col, png_col, npy_col = st.columns([2, 1, 1], vertical_alignment="bottom")
    with pick_col:
        rank = widgets.class_ui(result.predictions, key=f"explain.class.{index}")
    stem = f"{Path(name).stem}_{result.predictions[rank].class_name.replace(' ', '_')}_{result.method}"
    png_col.download_button("Overlay PNG", functools.partial(exports.overlay_png, photo, result, rank),
                            file_name=f"{stem}.png", mime="image/png", on_click="ignore", key=f"explain.png.{index}")
    npy_col.download_button("Raw map .npy", functools.partial(exports.map_npy, result, rank),
                            file_name=f"{stem}.npy", mime="application/octet-stream", on_click="ignore",
                            key=f"explain.npy.{index}")
    if result.bias is not None:
        cam_identity(result, rank)


def show_photo(name: str, data: bytes, index: int) -> None:
    photo = load_image(data, name=name)
    result = explained(name, data, method, layer)
    st.subheader(name)
    bar_col, figure_col = (st.container(), st.container()) if compare else st.columns([1, 2])
    bar_col.plotly_chart(figures.top_k_bar(result.predictions), key=f"explain.bar.{index}",
                         config={"displayModeBar": False})
    bar_col.caption(f"{widgets.method_label(result.method)} at layer {result.layer}: explained in "
                    f"{result.elapsed_s * 1000:.0f} ms on {result.device}.")
    layers = display.slider_layers(result)
    with figure_col:
        if compare:
            for column, method_key in zip(st.columns(2), ("cam", "gradcam")):
                other = result if method_key == method else explained(name, data, method_key,
                                                                       None if method_key == "cam" else layer)
                with column:
                    heatmap_chart(photo, other, layers if other is result else display.slider_layers(other),
                                  key=f"explain.map.{index}.{method_key}")
            st.caption("With a global-average-pooling + Linear head, Grad-CAM at the last block is ReLU(CAM) up to "
                       "scale, so the two agree there; pick a Grad-CAM method and an earlier layer to see them differ.")
        else:
            heatmap_chart(photo, result, layers, key=f"explain.map.{index}")
    with st.expander("Signed map (evidence for / against)"):
        st.caption("Before the ReLU: red areas push the class's score up, blue areas push it down.")
        st.plotly_chart(figures.signed_figure(photo, layers), key=f"explain.signed.{index}")
    downloads(name, photo, result, index)


progress = st.progress(0.0, text="Explaining…")
for index, (name, data) in enumerate(photos):
    with st.container(border=True), reported(f"Explaining {name}"):
        show_photo(name, data, index)
    progress.progress((index + 1) / len(photos), text=f"{index + 1} of {len(photos)} photos explained")
progress.empty()
