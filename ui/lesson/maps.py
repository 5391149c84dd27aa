"""Lesson steps 3 and 4: CAM of the top-k classes thresholded into the CAM paper's box, and Grad-CAM's weights
beside CAM's; on a projector each step's main maps share one row."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from camcore import cams, settings
from camcore.cams import lesson
from camcore.data import pets
from camcore.errors import CamcoreError
from camcore.explain import Explanation
from camcore.maps import heatmap
from camcore.options import MapOptions
from camcore.scores import labels, localisation
from ui.common import datasets
from ui.common.state import LESSON
from ui.common.text import plain, plot_text
from ui.lesson.inputs import Lesson, class_choices


def overlay_figure(image: Image.Image, raw_map: np.ndarray, box: tuple[int, int, int, int] | None = None,
                   title: str = "", height_px: int = 320) -> go.Figure:
    """The photo with a map over it, and the box in white when given; `title` is drawn as plain text (it names
    classes and layers)."""
    fig = px.imshow(np.asarray(heatmap.map_overlay(image, raw_map)))
    if box is not None:
        fig.add_shape(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=dict(color="white", width=3))
    return bare_axes(fig).update_layout(title=plot_text(title), height=height_px, margin=dict(l=0, r=0, t=30, b=0))


def bare_axes(fig: go.Figure) -> go.Figure:
    """`fig` with no ticks, grid or zero line: Streamlit's Plotly theme draws them, as faint lines beside a photo
    narrower than its plot area. The axes stay, hidden: a click is still read in the photo's pixels."""
    hidden = dict(visible=False, showgrid=False, zeroline=False)
    return fig.update_xaxes(**hidden).update_yaxes(**hidden)


def pet_box(name: str) -> tuple[int, int, int, int] | None:
    """The pet's box from its Oxford trimap, when the photo is one and the data set is here."""
    try:
        root = settings.data_root()
        records = {record.name: record for record in datasets.pet_index(str(root.resolve()))}
        record = records.get(name.rsplit(".", 1)[0])
        return None if record is None else heatmap.bounding_box(pets.pet_mask(root, record))
    except CamcoreError:
        return None


def box_chart(image: Image.Image, raw_map: np.ndarray, threshold: float, truth: localisation.Box | None, title: str,
              key: str, *, standard: heatmap.ThresholdStandard = heatmap.MAXIMUM, height_px: int = 320,
              show_area: bool = False) -> None:
    """One class's map with the CAM paper's box at `threshold` (a fraction of what `standard` says), and its IoU
    with the pet's box when known, else (show_area) the share of the photo the box covers."""
    normalised = standard.normalise(raw_map)
    box = heatmap.threshold_box(normalised, standard.level(normalised, threshold))
    iou = ""
    if truth is not None:
        iou = f", IoU with the pet {localisation.box_iou(box, truth):.2f}"
    elif show_area:
        area = 0 if box is None else (box[2] - box[0]) * (box[3] - box[1])
        iou = f", box {area / raw_map.size:.0%} of the photo"
    st.plotly_chart(overlay_figure(image, raw_map, box, f"{title}{iou}", height_px), key=LESSON.key(key))


def topk_step(ctx: Lesson, top: Explanation) -> None:
    st.markdown("Each class has its own map. The CAM paper keeps the part above a fraction of the map's maximum "
                "and draws a box around its largest piece: a localisation with no box ever seen in training.")
    k_col, threshold_col = st.columns(2)
    top_k = k_col.slider("Top-k classes", 1, 5, key=LESSON.valid("top_k", range(1, 6), 3))
    threshold = threshold_col.slider("Threshold (fraction of the map's maximum)", 0.05, 0.95, step=0.05,
                                     key=LESSON.default("threshold", heatmap.DEFAULT_THRESHOLD))
    method = cams.exact_method(ctx.model)  # top's method: the sliders only pick and threshold top's 5 maps
    image, truth, maps = ctx.photo.image, pet_box(ctx.photo.name), top.at_image_size()
    columns = st.columns(top_k if ctx.presenter else min(top_k, 3))  # a projector shows them all in one row
    for rank, prediction in enumerate(top.predictions[:top_k]):
        with columns[rank % len(columns)]:
            box_chart(image, maps[rank], threshold, truth,
                      f"{prediction.class_name} ({prediction.probability:.0%})", f"topk.{rank}")
    true_class_chart(ctx, method, threshold, truth)
    if truth is None:
        st.caption("The box's IoU with the pet shows for Oxford-IIIT Pet photos when the data set (with its trimaps) "
                   "is on the server.")


def true_class_chart(ctx: Lesson, method: str, threshold: float, truth: localisation.Box | None) -> None:
    """The map of the photo's true class (a sample's or an Oxford pet's breed or species), when the model has it."""
    label = ctx.photo.label
    index = None if label is None else labels.true_class_index(ctx.model, *label)
    if label is None or index is None:
        if label is not None:
            st.caption(f"This photo is a {plain(label[1].replace('_', ' '))} ({label[0]}): not one of the model's "
                       "classes.")
        return
    result = ctx.explained(MapOptions(method=method, top_k=1, classes=(index,)))
    prediction = result.predictions[0]
    st.markdown(f"**The true class**, {plain(prediction.class_name)} (the photo is a "
                f"{plain(label[1].replace('_', ' '))}): "
                f"the model gives it {prediction.probability:.0%}. Does its map look at the same place?")
    box_chart(ctx.photo.image, result.at_image_size()[0], threshold, truth, f"True class: {prediction.class_name}",
              "true_class")


def weights_scatter(comparison: lesson.WeightsComparison, height_px: int = 360) -> go.Figure:
    fig = px.scatter(x=comparison.cam_weights, y=comparison.grad_weights,
                     labels={"x": "Linear layer's weight (CAM)", "y": "pooled gradient (Grad-CAM)"})
    return fig.update_layout(height=height_px, margin=dict(l=0, r=0, t=10, b=0))


def gradcam_step(ctx: Lesson, top: Explanation) -> None:
    model, image, layers = ctx.model, ctx.photo.image, cams.stage_layers(ctx.model)
    class_names = class_choices(top)
    indices = [c for c, _ in class_names]
    class_col, text_col = ctx.panes([1, 3])
    index = class_col.selectbox("Class", indices, key=LESSON.valid("grad_class", indices, indices[0]),
                                format_func=dict(class_names).__getitem__)
    if model.cam is None:
        text_col.info("This head is not GAP+Linear, so CAM cannot run; Grad-CAM still can, at any layer.")
    else:
        text_col.markdown("Grad-CAM weighs each channel by the **average gradient** of the class score. Behind a "
                          "GAP+Linear head that gradient is the Linear weight divided by the number of positions: "
                          "the points lie on a line through zero.")
        compared_maps(ctx, ctx.weights(index))
    st.markdown("Grad-CAM needs no special head, so it also works at an **earlier layer**: finer, noisier maps.")
    layer = st.selectbox("Earlier layer", layers, key=LESSON.valid("grad_layer", layers, layers[-2]))
    earlier = ctx.explained(MapOptions(method="gradcam", layer=layer, top_k=1, classes=(index,)))
    st.plotly_chart(overlay_figure(image, earlier.at_image_size()[0], title=f"Grad-CAM at {layer}"),
                    key=LESSON.key("earlier"))


def compared_maps(ctx: Lesson, comparison: lesson.WeightsComparison) -> None:
    """The weights' scatter, then CAM and Grad-CAM side by side (all three in one row on a projector)."""
    scatter_px, map_px = (300, 300) if ctx.presenter else (360, 320)
    scatter_col, *map_cols = st.columns(3) if ctx.presenter else [st.container(), *st.columns(2)]
    scatter_col.plotly_chart(weights_scatter(comparison, scatter_px), key=LESSON.key("scatter"))
    for column, raw_map, title, key in zip(map_cols, (comparison.cam_map, comparison.gradcam_map),
                                           ("CAM", "Grad-CAM"), ("cam_map", "gradcam_map")):
        column.plotly_chart(overlay_figure(ctx.photo.image, raw_map, title=title, height_px=map_px),
                            key=LESSON.key(key))
    st.markdown(f"Correlation of the two maps: **{comparison.map_correlation:.3f}** (Grad-CAM drops the "
                "negative part, so it is not always exactly 1).")
