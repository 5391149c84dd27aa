"""Explain's "Compare models": the same photo explained by two to four of the app's models at once (ImageNet
models, trained checkpoints), one row each with its top classes and map, the same method, top-k and figure sliders,
and a line per model saying whether CAM is exact for it. Each model's explanation is cached as a single one is."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from camcore.cams import METHODS
from camcore.maps import exports
from camcore.models.loading import LoadedModel
from ui.common import explanations, models
from ui.common.inputs import method_label, model_choices
from ui.common.models import ModelChoice
from ui.common.reporting import reported
from ui.common.state import EXPLAIN
from ui.common.text import plain
from ui.explain import figure_cache, view
from ui.explain.settings import Settings

MAX_OTHERS = models.MODELS_KEPT - 1
"""Besides the sidebar's model: four rows at most, each a full map figure, all four models kept loaded."""


def others_ui(spec: str) -> tuple[str, ...]:
    """Up to MAX_OTHERS more of the sidebar's model choices, explained beside it (a shared link keeps them; one
    that names more is cut to the first MAX_OTHERS, with a line saying so)."""
    labels = model_choices()
    options = [choice for choice in labels if choice != spec]
    key = EXPLAIN.valid_many("compare_models", options)
    if len(st.session_state[key]) > MAX_OTHERS:
        st.caption(f"The link names {len(st.session_state[key])} models to compare with: Explain compares up to "
                   f"{MAX_OTHERS} beside the sidebar's, so the first {MAX_OTHERS} are shown.")
        st.session_state[key] = st.session_state[key][:MAX_OTHERS]
    chosen = st.multiselect("Compare with other models", options, key=key,
                            max_selections=MAX_OTHERS, format_func=lambda name: labels.get(name, name),
                            help="The same photo, method and sliders, one row per model: e.g. the ImageNet model "
                                 "beside a checkpoint fine-tuned on the Training page.")
    return tuple(chosen)


def row_settings(settings: Settings, spec: str, model: LoadedModel) -> tuple[Settings, str]:
    """The sidebar's settings as they apply to another model, and a line on what changed: CAM falls back to
    Grad-CAM where it is not exact, a layer picked for the sidebar's model is its own default, a fixed-size model
    keeps its size."""
    if spec == settings.model.spec:
        return settings, ""
    options, note = settings.options, ""
    if METHODS[options.method].needs_head and model.cam is None:
        options, note = options.with_method("gradcam"), f" Shown with Grad-CAM: {plain(model.cam_refusal)}."
    size_px = None if model.preprocessing.fixed_size else options.size_px  # None: the model's own
    other = Settings(ModelChoice.of(spec, None, settings.model.device),
                     dataclasses.replace(options, layer=None, size_px=size_px), compare=False)
    return other, note


def show_compared(name: str, data: bytes, index: int, settings: Settings, others: Sequence[str]) -> None:
    """One row per model for this photo; a model that cannot be loaded is one line in its row."""
    st.subheader(plain(name), anchor=False)
    labels = model_choices()
    for row, spec in enumerate((settings.model.spec, *others)):
        with st.container(border=True), reported(f"Explaining {name} with {spec}"):
            model = settings.model.load() if spec == settings.model.spec else \
                models.shared_model(spec, None, settings.model.device)
            mine, note = row_settings(settings, spec, model)
            result = explanations.explanation(data, name, mine.model, mine.options)
            exact = "CAM is exact here" if model.cam is not None else f"Approximate: {plain(model.cam_refusal)}"
            st.markdown(f"**{plain(labels.get(spec, spec))}** · {exact}.{note}")
            bars, figure = st.columns([1, 2])
            bars.plotly_chart(figure_cache.top_k_bar(tuple(result.predictions)), key=EXPLAIN.key(f"bar.{index}.{row}"),
                              config={"displayModeBar": False})
            bars.caption(f"{method_label(result.method)} at {plain(result.layer)}, {result.elapsed_s * 1000:.0f} ms.")
            with figure:
                view.map_chart(name, data, mine, result, f"{index}.model{row}",
                               exports.file_stem(f"{Path(name).stem}_{row}"))
