"""Lesson step 5: guess where the model looks (a click on the photo), then see the map and a score."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from camcore.cams import lesson
from camcore.explain import Explanation
from camcore.maps import heatmap
from ui.common.state import LESSON
from ui.lesson.inputs import Lesson
from ui.lesson.maps import overlay_figure

CLICK_GRID = 24
"""Invisible markers per side: Plotly's selection reports points only, not pixels of an image."""


def click_figure(image: Image.Image) -> go.Figure:
    """The photo under an invisible grid of markers, so that a click selects the point nearest to it."""
    width, height = image.size
    xs, ys = np.meshgrid(np.linspace(0, width - 1, CLICK_GRID), np.linspace(0, height - 1, CLICK_GRID))
    fig = px.imshow(np.asarray(image))
    fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker=dict(size=14, opacity=0.01),
                             hoverinfo="none", showlegend=False))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return fig.update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0), clickmode="event+select")


def clicked_point(event: object) -> tuple[float, float] | None:
    points = getattr(getattr(event, "selection", None), "points", None) or []
    return (float(points[0]["x"]), float(points[0]["y"])) if points else None


def quiz_step(ctx: Lesson, result: Explanation) -> None:
    """The guess, then the map revealed (beside the photo on a projector, below it otherwise)."""
    image = ctx.photo.image
    st.markdown(f"**Guess first.** Click where you think the model looks to say *{result.predictions[0].class_name}*.")
    guess_col, reveal_col = ctx.panes([1, 1])
    event = guess_col.plotly_chart(click_figure(image), on_select="rerun", selection_mode="points",
                                   key=LESSON.key("click"))
    click = clicked_point(event)
    raw = result.at_image_size()[0]
    if click is None:
        reveal_col.caption("No guess yet: click on the photo.")
    else:
        score = lesson.click_score(raw, *click, threshold_frac=heatmap.DEFAULT_THRESHOLD)
        box = heatmap.threshold_box(heatmap.normalise(raw), heatmap.DEFAULT_THRESHOLD)
        reveal_col.plotly_chart(overlay_figure(image, raw, box, height_px=380 if ctx.presenter else 320),
                                key=LESSON.key("reveal"))
        verdict = "inside" if score.inside else "outside"
        reveal_col.markdown(f"Your click is hotter than **{score.percentile:.0f}%** of the map, and {verdict} the "
                            f"region above {heatmap.DEFAULT_THRESHOLD:.0%} of its maximum.")
    class_quiz(image, result)


def class_quiz(image: Image.Image, result: Explanation) -> None:
    """"Which class is this map for?": a map of one of the top-3 (chosen per photo), the top-3 as choices."""
    ranks = list(range(min(3, len(result.predictions))))
    shown = sum(image.size) % len(ranks)
    st.markdown("**Which class is this map for?**")
    st.plotly_chart(overlay_figure(image, result.at_image_size()[shown]), key=LESSON.key("which_map"))
    answer = st.radio("Class", ranks, index=None, format_func=lambda r: result.predictions[r].class_name,
                      key=LESSON.key("which_class"), horizontal=True)
    if answer is not None:
        right = result.predictions[shown].class_name
        st.markdown("**Right!**" if answer == shown else f"Not quite: it is the map of **{right}**.")
