"""Lesson step 6: why CAM covers only the most telling part of the pet, and what Bae et al.'s (2020) two fixes
change on the student's photo: vanilla CAM beside NWC, PaS and both, each with its box (and its IoU with the
pet for an Oxford photo). On a projector the four maps share one row."""
from __future__ import annotations

import streamlit as st

from camcore.explain import Explanation
from camcore.maps import heatmap
from camcore.options import MapOptions
from ui.common.text import plain
from ui.lesson.inputs import Lesson
from ui.lesson.maps import box_chart, pet_box

VARIANTS = (("Vanilla CAM", False, heatmap.MAXIMUM), ("NWC", True, heatmap.MAXIMUM),
            ("PaS", False, heatmap.PERCENTILE), ("NWC + PaS", True, heatmap.PERCENTILE))
"""(title, clamp negative weights, threshold standard) of each map, each at its standard's own threshold."""


def fixes_step(ctx: Lesson, top: Explanation) -> None:
    if ctx.model.cam is None:
        st.info("These fixes are about CAM's own weights and threshold; this model's head is not GAP+Linear, so "
                "CAM cannot run on it. Pick another model in the sidebar.")
        return
    st.markdown("Training only needs what **tells the classes apart** (often the face), so CAM peaks there; a "
                "threshold at a fraction of that peak then drops the rest of the body. **NWC** keeps only the "
                "channels that vote *for* the class, so those voting against it stop cancelling the body's weaker "
                "evidence. **PaS** measures the threshold against the map's 90th percentile instead of its peak.")
    truth, image = pet_box(ctx.photo.name), ctx.photo.image
    columns = st.columns(len(VARIANTS) if ctx.presenter else 2)
    for index, (title, clamped, standard) in enumerate(VARIANTS):
        result = ctx.explained(MapOptions(top_k=1, clamp_negative_weights=clamped))
        with columns[index % len(columns)]:
            box_chart(image, result.at_image_size()[0], standard.default_threshold, truth, title, f"fixes.{index}",
                      standard=standard, height_px=240 if ctx.presenter else 320, show_area=True)
    st.markdown(f"The maps of *{plain(result.predictions[0].class_name)}*, the top class, at "
                f"{heatmap.DEFAULT_THRESHOLD} of the maximum or {heatmap.PAS_THRESHOLD} of the "
                f"{heatmap.PAS_PERCENTILE:g}th percentile (the authors' settings). Does a fix grow the box over more "
                "of the pet?")
    if truth is None:
        st.caption("With an Oxford-IIIT Pet photo (and the data set on the server), each box shows its IoU with "
                   "the pet's box.")
