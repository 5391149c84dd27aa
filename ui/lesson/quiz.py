"""Lesson step 5: guess where the model looks (a click on the photo), then see the map and a score, then say which
class a map is for. No map of the photo shows before the click: any map of the top class answers the guess."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from camcore.cams import lesson
from camcore.explain import Explanation
from camcore.maps import heatmap
from ui.common.state import LESSON
from ui.common.text import plain
from ui.lesson.inputs import Lesson
from ui.lesson.maps import bare_axes, overlay_figure

CLICK_GRID = 24
"""Markers per side: Plotly's selection reports points only, not pixels of an image."""
CLEAR = "rgba(0, 0, 0, 0)"
"""The markers' colour: a click selects a marker of any colour, and a transparent one draws nothing on the photo."""
GUESS_FIRST = "Make your guess above first: the next question shows a map."


def click_figure(image: Image.Image) -> go.Figure:
    """The photo under a transparent grid of markers, so that a click selects the point nearest to it."""
    width, height = image.size
    xs, ys = np.meshgrid(np.linspace(0, width - 1, CLICK_GRID), np.linspace(0, height - 1, CLICK_GRID))
    fig = px.imshow(np.asarray(image))
    fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker=dict(size=14, color=CLEAR),
                             hoverinfo="none", showlegend=False))
    return bare_axes(fig).update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0), clickmode="event+select")


def clicked_point(event: object) -> tuple[float, float] | None:
    points = getattr(getattr(event, "selection", None), "points", None) or []
    return (float(points[0]["x"]), float(points[0]["y"])) if points else None


def quiz_step(ctx: Lesson, result: Explanation) -> None:
    """The guess, then the map revealed (beside the photo on a projector, below it otherwise) and the class quiz."""
    class_name = plain(result.predictions[0].class_name)
    st.markdown(f"**Guess first.** Click where you think the model looks to say *{class_name}*.")
    guess_col, reveal_col = ctx.panes([1, 1])
    event = guess_col.plotly_chart(click_figure(ctx.photo.image), on_select="rerun", selection_mode="points",
                                   key=LESSON.key("click"))
    click = clicked_point(event)
    if click is None:
        reveal_col.caption("No guess yet: click on the photo.")
        st.caption(GUESS_FIRST)
        return
    reveal(reveal_col, ctx, result, click)
    class_quiz(ctx.photo.image, result)


def reveal(column: DeltaGenerator, ctx: Lesson, result: Explanation, click: tuple[float, float]) -> None:
    """The top class's map with its box, and how hot the clicked pixel is in it."""
    raw = result.at_image_size()[0]
    score = lesson.click_score(raw, *click, threshold_frac=heatmap.DEFAULT_THRESHOLD)
    box = heatmap.threshold_box(heatmap.normalise(raw), heatmap.DEFAULT_THRESHOLD)
    column.plotly_chart(overlay_figure(ctx.photo.image, raw, box, height_px=380 if ctx.presenter else 320),
                        key=LESSON.key("reveal"))
    verdict = "inside" if score.inside else "outside"
    column.markdown(f"Your click is hotter than **{score.percentile:.0f}%** of the map, and {verdict} the "
                    f"region above {heatmap.DEFAULT_THRESHOLD:.0%} of its maximum.")


def class_quiz(image: Image.Image, result: Explanation) -> None:
    """"Which class is this map for?": a map of one of the top-3 (chosen per photo), the top-3 as choices."""
    ranks = list(range(min(3, len(result.predictions))))
    shown = sum(image.size) % len(ranks)
    st.markdown("**Which class is this map for?**")
    st.plotly_chart(overlay_figure(image, result.at_image_size()[shown]), key=LESSON.key("which_map"))
    answer = st.radio("Class", ranks, index=None, format_func=lambda r: plain(result.predictions[r].class_name),
                      key=LESSON.key("which_class"), horizontal=True)
    if answer is not None:
        right = plain(result.predictions[shown].class_name)
        st.markdown("**Right!**" if answer == shown else f"Not quite: it is the map of **{right}**.")
