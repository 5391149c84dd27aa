"""Shareable links: a page's chosen values live in the URL's query parameters, so a teacher can send a class to the
same picture and view. The link is read once per session, before the widgets, to seed their session_state; after
every run (a widget changed, or st.stop) the URL is rewritten from what the widgets hold.

A link is untrusted text: each value is parsed here (type and range), and the widgets still check it against
their options (PageState.valid), so a bad value falls back to the default. No value names a file: photos are
picked by name among the shipped samples or the data set's index, never opened from a path in a link. Uploads
cannot travel in a link.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import streamlit as st

from ui.common.inputs import OTHER_MODEL
from ui.common.state import EXPLAIN, LESSON, LIVE, PageState

Parse = Callable[[list[str]], Any]
"""All the values a parameter has in the URL (a list, as ?shipped=a&shipped=b) -> the widget's value, or
ValueError."""


def text(values: list[str]) -> str:
    return values[-1]


def texts(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # no duplicates: a multiselect refuses them


def flag(values: list[str]) -> bool:
    words = {"1": True, "true": True, "0": False, "false": False}
    if values[-1].lower() not in words:
        raise ValueError(values[-1])
    return words[values[-1].lower()]


def integer(values: list[str]) -> int:
    return int(values[-1])


def number(low: float, high: float) -> Parse:
    """A float in [low, high], rounded to 2 decimals as the sliders' steps (0.05) are."""
    def parse(values: list[str]) -> float:
        value = round(float(values[-1]), 2)
        if not low <= value <= high:
            raise ValueError(values[-1])
        return value
    return parse


def model(values: list[str]) -> str:
    """A model from the sidebar's list (PageState.valid checks it is there); never 'Other', whose typed path a
    link must not carry."""
    if values[-1] == OTHER_MODEL:
        raise ValueError(values[-1])
    return values[-1]


LESSON_LINK: dict[str, Parse] = {
    "model": model, "presenter": flag, "step": integer, "sample": text, "pet": text, "layer": text,
    "channel": integer, "pool_class": integer, "top_k": integer, "threshold": number(0.05, 0.95),
    "grad_class": integer, "grad_layer": text}
LINKED_PHOTOS = 8
"""The Explain page links each photo's download class and threshold for its first 8 photos."""
EXPLAIN_LINK: dict[str, Parse] = {
    "model": model, "method": text, "layer": text, "top_k": integer, "size_px": integer, "compare": flag,
    "nwc": flag, "standard": text, "percentile": integer, "shipped": texts, "samples": texts, "compare_models": texts,
    "probes": text,
    **{f"class.{index}": integer for index in range(LINKED_PHOTOS)},
    **{f"threshold.{index}": number(0.0, 0.95) for index in range(LINKED_PHOTOS)}}
LIVE_LINK: dict[str, Parse] = {
    "model": model, "class": integer, "opacity": number(0.0, 1.0), "colormap": text, "threshold": number(0.05, 0.95),
    "mirror": flag, "method": text, "presenter": flag}
PAGES: dict[str, dict[str, Parse]] = {LESSON.page: LESSON_LINK, EXPLAIN.page: EXPLAIN_LINK, LIVE.page: LIVE_LINK}


@contextlib.contextmanager
def shared(state: PageState) -> Iterator[None]:
    """Around a page's body: restores the link on the session's first run, then writes the URL even when the
    body stops early (st.stop raises through here)."""
    restore(state, PAGES[state.page])
    try:
        yield
    finally:
        publish(state, PAGES[state.page])


def restore(state: PageState, link: Mapping[str, Parse]) -> None:
    """Seeds session_state from the URL once per session; a value that does not parse is left out (default)."""
    done = state.key("link_read")
    if st.session_state.get(done):
        return
    st.session_state[done] = True
    for name, parse in link.items():
        values = st.query_params.get_all(name)
        if values:
            with contextlib.suppress(ValueError):
                st.session_state[state.key(name)] = parse(values)


def publish(state: PageState, link: Mapping[str, Parse]) -> None:
    """The URL from what the widgets hold now; rewritten only when it changes (each write reaches the browser)."""
    wanted = {name: url_value(st.session_state[state.key(name)]) for name in link
              if state.key(name) in st.session_state and st.session_state[state.key(name)] is not None}
    now = {name: st.query_params.get_all(name) for name in st.query_params}
    if {name: value if isinstance(value, list) else [value] for name, value in wanted.items()} != now:
        st.query_params.from_dict(wanted)


def url_value(value: Any) -> str | list[str]:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)
