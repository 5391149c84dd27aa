"""Lesson steps 3 and 4: CAM of the top-k classes thresholded into the CAM paper's box, and Grad-CAM's weights
beside CAM's."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from camcore import cams, data, heatmap, lesson, metrics
from camcore.errors import CamcoreError
from camcore.explain import Explanation, explain
from camcore.models import LoadedModel
from ui.state import LESSON


def overlay_figure(image: Image.Image, raw_map: np.ndarray, box: tuple[int, int, int, int] | None = None,
                   title: str = "") -> go.Figure:
    """The photo with a map over it, and the box in white when given."""
    fig = px.imshow(np.asarray(heatmap.map_overlay(image, raw_map)))
    if box is not None:
        fig.add_shape(type="rect", x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=dict(color="white", width=3))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return fig.update_layout(title=title, height=320, margin=dict(l=0, r=0, t=30, b=0))


def pet_box(name: str) -> tuple[int, int, int, int] | None:
    """The pet's box from its Oxford trimap, when the photo is one and the data set is here."""
    try:
        root = data.data_root()
        records = {record.name: record for record in data.pet_index(root)}
        record = records.get(name.rsplit(".", 1)[0])
        return None if record is None else heatmap.bounding_box(data.pet_mask(root, record))
    except CamcoreError:
        return None


def topk_step(model: LoadedModel, image: Image.Image, name: str) -> None:
    st.markdown("Each class has its own map. The CAM paper keeps the part above a fraction of the map's maximum "
                "and draws a box around its largest piece: a localisation with no box ever seen in training.")
    top_k = st.slider("Top-k classes", 1, 5, key=LESSON.default("top_k", 3))
    threshold = st.slider("Threshold (fraction of the map's maximum)", 0.05, 0.95, step=0.05,
                          key=LESSON.default("threshold", heatmap.DEFAULT_THRESHOLD))
    method = cams.exact_method(model)
    result = explain([image], model, method=method, top_k=top_k)[0]
    truth = pet_box(name)
    columns = st.columns(min(top_k, 3))
    for rank, prediction in enumerate(result.predictions):
        raw = result.at_image_size()[rank]
        box = heatmap.threshold_box(heatmap.normalise(raw), threshold)
        iou = f", IoU with the pet {metrics.box_iou(box, truth):.2f}" if truth is not None else ""
        with columns[rank % len(columns)]:
            st.plotly_chart(overlay_figure(image, raw, box, f"{prediction.class_name} "
                                           f"({prediction.probability:.0%}){iou}"), key=LESSON.key(f"topk.{rank}"))
    if truth is None:
        st.caption("The box's IoU with the pet shows for Oxford-IIIT Pet photos when the data set (with its trimaps) "
                   "is on the server.")


def weights_scatter(comparison: lesson.WeightsComparison) -> go.Figure:
    fig = px.scatter(x=comparison.cam_weights, y=comparison.grad_weights,
                     labels={"x": "Linear layer's weight (CAM)", "y": "pooled gradient (Grad-CAM)"})
    return fig.update_layout(height=360, margin=dict(l=0, r=0, t=10, b=0))


def gradcam_step(model: LoadedModel, image: Image.Image, class_names: list[tuple[int, str]],
                 layers: tuple[str, ...]) -> None:
    indices = [c for c, _ in class_names]
    index = st.selectbox("Class", indices, key=LESSON.valid("grad_class", indices, indices[0]),
                         format_func=dict(class_names).__getitem__)
    if model.cam is None:
        st.info("This head is not GAP+Linear, so CAM cannot run; Grad-CAM still can, at any layer.")
    else:
        comparison = lesson.compare_weights(model, image, index)
        st.markdown("Grad-CAM weighs each channel by the **average gradient** of the class score. Behind a GAP+Linear "
                    "head that gradient is the Linear weight divided by the number of positions: the points lie on "
                    "a line through zero.")
        st.plotly_chart(weights_scatter(comparison), key=LESSON.key("scatter"))
        cam_col, grad_col = st.columns(2)
        cam_col.plotly_chart(overlay_figure(image, comparison.cam_map, title="CAM"), key=LESSON.key("cam_map"))
        grad_col.plotly_chart(overlay_figure(image, comparison.gradcam_map, title="Grad-CAM"),
                              key=LESSON.key("gradcam_map"))
        st.markdown(f"Correlation of the two maps: **{comparison.map_correlation:.3f}** (Grad-CAM drops the "
                    "negative part, so it is not always exactly 1).")
    st.markdown("Grad-CAM needs no special head, so it also works at an **earlier layer**: finer, noisier maps.")
    layer = st.selectbox("Earlier layer", layers, key=LESSON.valid("grad_layer", layers, layers[-2]))
    earlier: Explanation = explain([image], model, method="gradcam", layer=layer, classes=[[index]])[0]
    st.plotly_chart(overlay_figure(image, earlier.at_image_size()[0], title=f"Grad-CAM at {layer}"),
                    key=LESSON.key("earlier"))
