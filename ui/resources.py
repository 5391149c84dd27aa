"""The app's only caches: one shared model per (spec, weights, device), explanations, and the sample list.

Everything cached here lives in this one module: st.cache_resource keys include the defining module, so a
loader pasted into two pages would hold two copies of the same model.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from camcore import data
from camcore.explain import Explanation, explain
from camcore.images import load_image
from camcore.models import LoadedModel, load_model


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def shared_model(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """One frozen model for every session; read-only use only (camcore.hooks restores whatever it touches).

    Failures (no weights offline, a wrong file) are not cached, so fixing the path and rerunning retries.
    """
    return load_model(spec, weights_path=weights_path or None, device=device)


@st.cache_data(max_entries=64, show_spinner=False)
def explanation(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *,
                method: str, layer: str | None, top_k: int, size_px: int | None) -> Explanation:
    """One photo explained, keyed on its bytes and every setting, so a rerun from a download or class picker
    does not recompute. The model is fetched inside: st.cache_data cannot hash a LoadedModel."""
    model = shared_model(spec, weights_path, device)
    photo = load_image(image_bytes, name=name)
    return explain([photo], model, method=method, top_k=top_k, layer=layer, size_px=size_px)[0]


@st.cache_data(max_entries=4, ttl=60, show_spinner=False)
def sample_photos(root: str) -> list[Path]:
    """The data set's photos; re-listed after a minute so that a download on the Dataset page shows up."""
    return data.pet_images(Path(root))
