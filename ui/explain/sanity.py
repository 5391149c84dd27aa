"""The Explain page's sanity-check expander: on request, the map of the top class as the model is re-initialised
from the head down (camcore.scores.sanity), in one figure with a slider over the stages."""
from __future__ import annotations

import streamlit as st

from camcore.explain import Explanation
from ui.common import explanations
from ui.common.inputs import method_label
from ui.common.models import ModelChoice
from ui.common.state import EXPLAIN
from ui.common.text import plain
from ui.explain import sanity_figures


def show_sanity(name: str, data: bytes, index: int, model: ModelChoice, result: Explanation) -> None:
    """A button, since the check costs one map per stage; once pressed for this photo, its figure stays. The
    check maps with the options that made `result` (no threshold standard: it changes no map)."""
    with st.expander("Sanity check: randomise the model"):
        st.markdown("A method whose maps survive randomisation is explaining the image, not the model.")
        st.caption("The button re-initialises a copy of the model one stage at a time, from the classifier down to "
                   "the first convolution, and maps the original top class after each stage. Spearman and SSIM "
                   "compare each map with the original's: they should fall as soon as the classifier is random "
                   "(Adebayo et al., 2018).")
        shown = EXPLAIN.key(f"sanity.{index}.photo")
        if st.button(f"Randomise and map ({method_label(result.method)})",
                     key=EXPLAIN.key(f"sanity.{index}")):
            st.session_state[shown] = name
        if st.session_state.get(shown) != name:
            return
        check = explanations.sanity_check(data, name, model, result.options)
        photo = explanations.photo_as_shown(data, name, model, result.options)
        st.plotly_chart(sanity_figures.sanity_figure(photo, check), key=EXPLAIN.key(f"sanity.figure.{index}"),
                        config={"displayModeBar": False})
        st.caption(f"{method_label(check.method)} at {plain(check.layer)}, class '{plain(check.class_name)}' (the "
                   "original's top class); the dotted line marks the stage the slider shows.")
