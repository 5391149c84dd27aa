"""A page's share of st.session_state: every widget key carries the page's prefix ("explain.method").

Streamlit drops the state of widgets a page does not draw, so two pages cannot share one key; one prefix per
page, given here once, keeps them apart. `default` and `valid` return the key, ready for the widget's key=.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class PageState:
    page: str

    def key(self, name: str) -> str:
        return f"{self.page}.{name}"

    def default(self, name: str, value: Any) -> str:
        """Sets the value once per session (never over the user's choice)."""
        key = self.key(name)
        if key not in st.session_state:
            st.session_state[key] = value
        return key

    def valid(self, name: str, options: Sequence[Any], fallback: Any) -> str:
        """Resets a choice the new options no longer hold (e.g. a layer of the previous model)."""
        key = self.key(name)
        if st.session_state.get(key) not in options:
            st.session_state[key] = fallback
        return key

    def valid_many(self, name: str, options: Sequence[Any]) -> str:
        """Keeps only the chosen values the options hold (a multiselect refuses any other)."""
        key = self.key(name)
        kept = [value for value in st.session_state.get(key, []) if value in options]
        if st.session_state.get(key) != kept:
            st.session_state[key] = kept
        return key

    def get(self, name: str, fallback: Any = None) -> Any:
        return st.session_state.get(self.key(name), fallback)


EXPLAIN, DATASET, TRAINING = PageState("explain"), PageState("dataset"), PageState("training")
LESSON, LIVE = PageState("lesson"), PageState("live")
