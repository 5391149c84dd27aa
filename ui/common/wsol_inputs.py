"""The fixes of Bae et al. (2020) that Explain, Dataset and the Lesson all offer: clamping CAM's negative weights
(NWC) and thresholding at a percentile instead of the maximum (PaS). Each *_ui() draws its widget and returns
a plain value; its key is the page's, so a shareable link carries it."""
from __future__ import annotations

import streamlit as st

from camcore.cams import METHODS
from camcore.maps import heatmap
from ui.common.state import PageState

STANDARDS = ("max", "percentile")
PERCENTILES = tuple(range(50, 100))
NWC_HELP = ("Negative weight clamping (Bae et al., 2020): the map sums only the channels that vote for the class. "
            "Channels that vote against it (often the background) can no longer cancel the object's weaker parts, "
            "so the map spreads over more of the object; the map's mean plus the bias is then no longer the logit.")
PAS_HELP = ("Percentile as a standard (Bae et al., 2020): the threshold is a fraction of the map's p-th percentile "
            "rather than of its peak, so one very hot spot no longer pushes the rest of the object below the "
            f"threshold. The authors use {heatmap.PAS_THRESHOLD} of the {heatmap.PAS_PERCENTILE:g}th percentile.")


def nwc_ui(state: PageState, method: str) -> bool:
    """Whether CAM's negative weights are clamped; False, with no widget, for methods without head weights."""
    if not METHODS[method].needs_head:
        return False
    return st.toggle("Clamp negative weights (NWC)", key=state.default("nwc", False), help=NWC_HELP)


def threshold_standard_ui(state: PageState) -> heatmap.ThresholdStandard:
    """What the threshold is a fraction of: the map's maximum (the CAM paper) or its p-th percentile (PaS)."""
    kind = st.radio("Threshold of", STANDARDS, key=state.valid("standard", STANDARDS, "max"), horizontal=True,
                    format_func={"max": "the maximum", "percentile": "a percentile (PaS)"}.__getitem__, help=PAS_HELP)
    if kind == "max":
        return heatmap.MAXIMUM
    percentile = st.select_slider("Percentile", PERCENTILES,
                                  key=state.valid("percentile", PERCENTILES, int(heatmap.PAS_PERCENTILE)))
    return heatmap.ThresholdStandard(float(percentile))
