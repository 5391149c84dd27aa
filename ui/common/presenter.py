"""Presenter mode, for a projector: large type on the page's main area (the Lesson and the Live page)."""
from __future__ import annotations

import streamlit as st

from ui.common.state import PageState

PRESENTER_CSS = """<style>
.stMainBlockContainer { max-width: 100%; padding: 3.75rem 2rem 1rem; }
.stMainBlockContainer .stMarkdown p, .stMainBlockContainer .stMarkdown li { font-size: 1.4rem; line-height: 1.35; }
.stMainBlockContainer h2 { font-size: 2.6rem; padding-top: 0; }
.stMainBlockContainer label p, .stMainBlockContainer button p { font-size: 1.2rem; }
.stMainBlockContainer [data-testid=stCaptionContainer] p { font-size: 1.1rem; }
</style>"""
"""Large type for a projector at 1280x720: body text 22 px, captions 18 px, the step's heading 42 px."""


def presenter_ui(state: PageState, help_text: str) -> bool:
    """The sidebar's Presenter mode toggle (a link can open it: presenter=1), with the large type when on."""
    on = st.sidebar.toggle("Presenter mode", key=state.default("presenter", False), help=help_text)
    if on:
        st.html(PRESENTER_CSS)
    return on
