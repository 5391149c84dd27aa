"""The Explain page's view of one photo: top-k bars, the map figure with its sliders, the signed map, CAM's
identity with the photo's numbers, and downloads that say which class and settings they hold."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from camcore.cams import METHODS
from camcore.cams.finercam import close_call
from camcore.explain import Explanation
from camcore.maps import display, exports, heatmap
from ui.common import explanations
from ui.common.inputs import method_label
from ui.common.notes import squashed_note
from ui.common.state import EXPLAIN
from ui.common.text import plain, plot_text
from ui.explain import faithfulness, figure_cache, inputs, occlusion, sanity
from ui.explain.settings import Settings


def show_photo(name: str, data: bytes, index: int, settings: Settings) -> None:
    result = _explained(name, data, settings, settings.options.method)
    st.subheader(plain(name), anchor=False)
    bar_col, figure_col = (st.container(), st.container()) if settings.compare else st.columns([1, 2])
    bar_col.plotly_chart(figure_cache.top_k_bar(tuple(result.predictions)), key=EXPLAIN.key(f"bar.{index}"),
                         config={"displayModeBar": False})
    bar_col.caption(f"{method_label(result.method)} at layer {plain(result.layer)}: explained in "
                    f"{result.elapsed_s * 1000:.0f} ms on {result.device}.")
    if note := squashed_note(result):
        bar_col.caption(note)
    if not METHODS[result.method].compares_classes and close_call([p.probability for p in result.predictions]):
        first, second = result.predictions[:2]
        bar_col.info(f"A close call: '{plain(first.class_name)}' {first.probability:.0%}, '{plain(second.class_name)}' "
                     f"{second.probability:.0%}. Pick Finer-CAM as the method to see what tells them apart.")
    stem = exports.file_stem(Path(name).stem)
    with figure_col:
        if settings.compare:
            for column, method in zip(st.columns(2), ("cam", "gradcam")):
                other = result if method == settings.options.method else _explained(name, data, settings, method)
                with column:
                    map_chart(name, data, settings, other, f"{index}.{method}", stem)
            st.caption("With a global-average-pooling + Linear head, Grad-CAM at the last block is ReLU(CAM) up to "
                       "scale, so the two agree there; pick a Grad-CAM method and an earlier layer to see them differ.")
        else:
            map_chart(name, data, settings, result, str(index), stem)
        st.caption("The camera icon above the figure saves exactly what it shows: class, threshold and colours.")
    with st.expander("Signed map (evidence for / against)"):
        st.caption("Before the ReLU: red areas push the class's score up, blue areas push it down.")
        st.plotly_chart(_figures(name, data, settings, result)[1], key=EXPLAIN.key(f"signed.{index}"))
    _downloads(name, data, settings, result, index)
    # Trust the map: does the model use what the map shows, and does the map depend on what the model learnt?
    faithfulness.faithfulness_ui(name, data, settings.model, result, key=EXPLAIN.key(str(index)))
    occlusion.occlusion_ui(name, data, settings.model, result, index)
    sanity.show_sanity(name, data, index, settings.model, result)


def _explained(name: str, data: bytes, settings: Settings, method: str) -> Explanation:
    with st.spinner(f"Explaining {plain(name)} with {method_label(method)}…"):
        return explanations.explanation(data, name, settings.model, settings.options_for(method))


def _figures(name: str, data: bytes, settings: Settings, result: Explanation) -> tuple[go.Figure, go.Figure]:
    """(map figure, signed figure) of this explanation, built once (ui.explain.figure_cache): a rerun shows them."""
    fixes = " (NWC)" if result.clamped else ""
    return figure_cache.explanation_figures(data, name, settings.model, settings.options_for(result.method),
                                            title=f"{method_label(result.method)}{fixes} · {plot_text(result.layer)}")


def map_chart(name: str, data: bytes, settings: Settings, result: Explanation, key: str, stem: str) -> None:
    """The map figure with its in-figure sliders; the camera icon saves it as STEM_METHOD.png."""
    st.plotly_chart(_figures(name, data, settings, result)[0], key=EXPLAIN.key(f"map.{key}"),
                    config={"toImageButtonOptions": {"filename": f"{stem}_{result.method}", "scale": 2}})


def _downloads(name: str, data: bytes, settings: Settings, result: Explanation, index: int) -> None:
    """The class the identity and the files are about, the files' settings, and the files of that class once
    asked for. The bytes go to the buttons with the page (a file built on click is dropped when other sessions
    rerun first: 18 of 60 downloads were lost under load); until "Prepare the files" they are not built at all:
    with them every rerun cost about twice as much server time (bench/load_server.py)."""
    st.markdown("**Downloads** (the photo at the resolution explained)")
    class_col, threshold_col, colour_col = st.columns([2, 1, 1])
    with class_col:
        rank = inputs.class_ui(result.predictions, key=f"class.{index}")
    standard = settings.options.threshold_standard
    thresholds = [float(t) for t in display.slider_thresholds(standard)]
    threshold = threshold_col.select_slider(
        f"Threshold ({standard.describe()})", thresholds,
        key=EXPLAIN.valid(f"threshold.{index}", thresholds, standard.default_threshold))  # a link's may be any
    colormap = colour_col.selectbox("Colormap", heatmap.SEQUENTIAL_COLORMAPS, key=EXPLAIN.key(f"colormap.{index}"))
    if st.toggle("Prepare the files", key=EXPLAIN.key(f"files.{index}"),
                 help="Builds the overlay PNG and the raw map of this class at these settings."):
        _download_buttons(name, data, settings, result, index, rank=rank, threshold=threshold, colormap=colormap)
    prediction = result.predictions[rank]
    if result.bias is not None:
        _cam_identity(result, rank)
    if result.clamped:
        st.caption("NWC: the map sums only the channels whose head weight is positive, so its mean plus the bias "
                   "is no longer the logit (the logit above is the model's, unchanged).")
    if result.compared is not None:
        st.caption(f"Finer-CAM: the map of '{plain(prediction.class_name)}' minus those of the classes scored nearest "
                   f"to it: {plain(', '.join(result.compared[rank]))}.")


def _download_buttons(name: str, data: bytes, settings: Settings, result: Explanation, index: int, *, rank: int,
                      threshold: float, colormap: str) -> None:
    """The overlay PNG and raw map buttons; their labels and file names say which class and settings they hold,
    whatever the figure's sliders show."""
    prediction = result.predictions[rank]
    what = plain(f"{rank + 1}. {prediction.class_name}, threshold {threshold:.1f}, {colormap}")
    stem = exports.file_stem(f"{Path(name).stem}_{result.method}_top{rank + 1}_{prediction.class_name}")
    png = explanations.overlay_png(data, name, settings.model, settings.options_for(result.method), rank=rank,
                                   colormap=colormap, threshold_frac=threshold)
    png_col, npy_col = st.columns(2)
    png_col.download_button(f"Overlay PNG ({what})", png,
                            file_name=f"{stem}_t{threshold:.1f}_{colormap}.png", mime="image/png", on_click="ignore",
                            key=EXPLAIN.key(f"png.{index}"))
    npy_col.download_button(f"Raw map .npy ({plain(f'{rank + 1}. {prediction.class_name}')})",
                            exports.map_npy(result, rank),
                            file_name=f"{stem}.npy", mime="application/octet-stream",
                            on_click="ignore", key=EXPLAIN.key(f"npy.{index}"))


def _cam_identity(result: Explanation, rank: int) -> None:
    """CAM's lesson with this photo's numbers: the map's mean plus the bias is the class's logit (not with NWC,
    whose map drops the negative weights' share, nor with a TAP head: the page then says what holds instead)."""
    map_mean, bias, prediction = result.map_mean(rank), result.bias[rank], result.predictions[rank]
    if result.pooling != "avg":
        tau = plain(result.pooling.partition(":")[2])
        st.markdown(f"**CAM's identity with TAP:** this model pools each channel over its positions above {tau} of "
                    f"the channel's maximum, so its logit ({prediction.logit:.2f}) is the weights times those "
                    f"thresholded means plus the bias, not the map's mean {map_mean:.2f} + bias {bias:.2f} = "
                    f"{map_mean + bias:.2f}. The map is still the weighted sum of every position's features.")
        return
    if result.clamped:
        st.markdown(f"**CAM's identity, broken by NWC:** mean of the clamped map {map_mean:.2f} + bias {bias:.2f} "
                    f"= {map_mean + bias:.2f}, not the logit of '{plain(prediction.class_name)}' "
                    f"({prediction.logit:.2f}).")
        return
    st.markdown(f"**CAM's identity:** mean of the map {map_mean:.2f} + bias {bias:.2f} = {map_mean + bias:.2f} "
                f"= logit of '{plain(prediction.class_name)}' ({prediction.logit:.2f}).")
