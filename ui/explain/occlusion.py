"""The Explain page's "Hide a region": drag a box on the photo, or hide the map's top 10% / 30% (and as much of
the photo at random), and see the class's probability with it blurred out beside the share of the map's positive
mass it holds (camcore.scores.occlusion): the deletion curve one point at a time, in the student's hands."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from camcore.explain import Explanation
from camcore.scores.occlusion import Box, Occlusion
from ui.common import explanations
from ui.common.models import ModelChoice
from ui.common.state import EXPLAIN
from ui.common.text import plain
from ui.explain import figure_cache

FRACTIONS = (0.1, 0.3)
HOW_TO_READ = ("Drag a box on the photo (the box tool is on): that region is blurred out, as the faithfulness curves "
               "delete pixels, and the model's probability of the class is read again. Or hide the map's own top "
               "pixels beside as many random ones: if the map is right about what the model uses, hiding its top "
               "costs the class far more.")


def occlusion_ui(name: str, data: bytes, model: ModelChoice, result: Explanation, index: int) -> None:
    """The expander under one photo's map, for its first explained class (one forward pass per region)."""
    key = EXPLAIN.key(f"occlusion.{index}")
    # keyed, with its state kept: the reruns a dragged box or a button starts must not fold it away
    with st.expander("Hide a region: does the class need what the map shows?", key=f"{key}.open", on_change="rerun"):
        st.caption(HOW_TO_READ)
        figure = figure_cache.selection_figure(data, name, model, result.options)
        event = st.plotly_chart(figure, key=f"{key}.figure", on_select="rerun", selection_mode=("box",),
                                config={"displayModeBar": False})
        columns = st.columns(len(FRACTIONS))
        for column, fraction in zip(columns, FRACTIONS):
            if column.button(f"Hide the map's top {fraction:.0%}", key=f"{key}.top{fraction:g}"):
                st.session_state[f"{key}.fraction"] = fraction
        box = selected_box(event.selection.get("box", []) if event else [], result.image_size)
        fraction = st.session_state.get(f"{key}.fraction")
        if box is None and fraction is None:
            return
        rows = [*explanations.occlusion(data, name, model, result.options, box=box, fraction=fraction)]
        occlusion_table(rows, result.predictions[0].class_name)


def selected_box(boxes: Sequence[dict], photo_size: tuple[int, int]) -> Box | None:
    """The last box dragged (Plotly's x and y ranges, in photo pixels), clipped to the photo; None if none."""
    if not boxes:
        return None
    width, height = photo_size
    xs, ys = sorted(boxes[-1]["x"]), sorted(boxes[-1]["y"])
    x0, x1 = (int(min(max(round(value), 0), width)) for value in xs)
    y0, y1 = (int(min(max(round(value), 0), height)) for value in ys)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def occlusion_table(rows: Sequence[Occlusion], class_name: str) -> None:
    st.table({"hidden": [row.what for row in rows],
              f"P({plain(class_name)})": [f"{row.probability:.3f} → {row.hidden_probability:.3f}" for row in rows],
              "change": [f"{row.change:+.3f}" for row in rows],
              "share of the photo": [f"{row.area_share:.0%}" for row in rows],
              "share of the map": [f"{row.map_share:.0%}" for row in rows]}, hide_index=True)
