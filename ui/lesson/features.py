"""Lesson steps 1 and 2: what a layer's feature maps look like, and how pooling then Linear becomes CAM. In
presenter mode each step's text and figures sit side by side, smaller, so that one 1280x720 screen holds them."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import streamlit as st

from camcore import cams
from camcore.cams import lesson
from camcore.explain import Explanation
from ui.common.state import LESSON
from ui.common.text import plain
from ui.lesson.inputs import Lesson, class_choices

GRID_CHANNELS = 16
PRESENTER_CHANNELS = 8
"""Channels in the chosen layer's grid (4 per row): two rows on a projector."""


def feature_grid(maps: lesson.FeatureMaps, first: int, where: str, count: int = GRID_CHANNELS,
                 row_px: int = 180) -> None:
    """`count` channels from rank `first` (sorted by mean activation), each on its own colour scale, `row_px`
    high per row of 4; `where` names the grid's place on the page (one layer can show twice)."""
    ranks = list(range(first, min(first + count, len(maps.order))))
    stack = maps.activations[maps.order[ranks]]
    fig = px.imshow(stack, facet_col=0, facet_col_wrap=4, color_continuous_scale="viridis", aspect="equal")
    for annotation in fig.layout.annotations:  # listed bottom row first: the text "facet_col=i" says which
        index = int(annotation.text.split("=")[1])
        annotation.text = f"#{ranks[index] + 1} (ch {maps.order[ranks[index]]})"
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(height=row_px * ((len(ranks) + 3) // 4), margin=dict(l=0, r=0, t=30, b=0),
                      coloraxis_showscale=False)
    st.plotly_chart(fig, key=LESSON.key(f"grid.{where}"))


def feature_maps_step(ctx: Lesson, top: Explanation) -> None:
    stages = cams.stage_layers(ctx.model)
    text_col, grid_col = ctx.panes([2, 3])
    text_col.markdown("A convolutional layer turns the photo into many **channels**, each a small map of where one "
                      "pattern occurs. Pick a stage of the network:")
    layer = text_col.selectbox("Layer (a stage of the network)", stages,
                               key=LESSON.valid("layer", stages, stages[-1]))
    maps = ctx.features(layer)
    channels, height, width = maps.activations.shape
    text_col.markdown(f"**{plain(layer)}**: {channels} channels of {height} x {width}. Channels are sorted by their "
                      "mean activation, strongest first.")
    count = PRESENTER_CHANNELS if ctx.presenter else GRID_CHANNELS
    last = max(channels - count, 0)
    first = text_col.slider("First channel shown (rank)", 0, last, step=GRID_CHANNELS // 4,
                            key=LESSON.valid("channel", range(last + 1), 0))
    with grid_col:
        feature_grid(maps, first, "chosen", count, 150 if ctx.presenter else 180)
    text_col.markdown("**Early and late side by side.** Early maps still look like the photo (edges, colours); "
                      "late ones are coarse and say *what* rather than *where exactly*.")
    with grid_col:
        early_late(ctx, stages)


def early_late(ctx: Lesson, stages: list[str]) -> None:
    """The first and last stages' strongest channels, side by side (one row each on a projector)."""
    for column, name, where in zip(st.columns(2), (stages[0], stages[-1]), ("early", "late")):
        with column:
            other = ctx.features(name)
            st.caption(f"{plain(name)}: {other.activations.shape[0]} x {other.activations.shape[1]} x "
                       f"{other.activations.shape[2]}")
            feature_grid(other, 0, where, 4 if ctx.presenter else 8, 110 if ctx.presenter else 180)


def pooling_step(ctx: Lesson, top: Explanation) -> None:
    model, class_names = ctx.model, class_choices(top)
    if model.cam is None:
        st.info(f"This step needs a head of global average pooling plus one Linear layer; for {plain(model.spec)}, "
                f"{plain(model.cam_refusal)}.")
        return
    text_col, map_col = ctx.panes([3, 2])
    indices = [c for c, _ in class_names]
    index = map_col.selectbox("Class", indices, key=LESSON.valid("pool_class", indices, indices[0]),
                              format_func=dict(class_names).__getitem__)
    steps = ctx.pooling(index)
    channels, height, width = steps.features.shape
    top = np.argsort(-np.abs(steps.pooled * steps.weight))[:3]
    terms = " + ".join(f"{steps.pooled[c]:.3f} x {steps.weight[c]:.3f}" for c in top)
    text_col.markdown(f"The network's body turns the photo into **{channels} x {height} x {width}** features "
                      f"({plain(model.default_layer)}). The head then does two things:")
    pool_name = "Global average pooling" if model.cam.pooling == "avg" else "Thresholded average pooling (TAP)"
    text_col.markdown(f"1. **{pool_name}** → a vector of {channels} numbers, then **Linear**: "
                      f"logit = {terms} + … + bias {steps.bias:.3f} = **{steps.gap_then_linear:.4f}**\n"
                      f"2. **Swapped**: Linear on every one of the {height * width} positions first gives a "
                      f"{height} x {width} **class map**; its mean {steps.class_map.mean():.4f} + bias "
                      f"{steps.bias:.3f} = **{steps.linear_then_gap:.4f}**")
    if model.cam.pooling != "avg":
        text_col.markdown(f"This model pools with **TAP** ({plain(model.cam.pooling)}): each channel's mean over its "
                          f"positions above a fraction of its maximum. Pooling first still gives the logit "
                          f"**{steps.logit:.4f}**, but the swapped order does not: thresholding and a weighted sum "
                          "do not commute. The map is still where each position's features vote.")
    else:
        text_col.markdown(f"Both orders give the model's logit **{steps.logit:.4f}**: averaging and a weighted sum "
                          "commute. The swap reveals where the logit comes from: that map is the CAM.")
    fig = px.imshow(steps.class_map, color_continuous_scale="RdBu_r", color_continuous_midpoint=0.0,
                    text_auto=".1f" if height * width <= 256 else False)
    fig.update_layout(height=380 if ctx.presenter else 420, margin=dict(l=0, r=0, t=10, b=0))
    map_col.plotly_chart(fig, key=LESSON.key("class_map"))
    if model.binary:
        st.markdown("**One logit for cat vs dog.** The model has one output z: dog if z > 0. So the dog map is "
                    "w·A and the cat score is -z, whose weights are -w: the cat map is exactly minus the dog map.")
