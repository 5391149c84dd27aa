"""The shared models: one frozen model per (spec, weights, device) for every session, the class's default kept
loaded apart, randomised copies for the baselines, uploaded weights, and ModelChoice, the value every cache of
results made with a model keys on (its files' versions included).

Each cache is defined once (st.cache_resource keys include the defining module: a loader pasted into two modules
would hold two copies of the same model); ui/common/explanations.py, ui/common/datasets.py,
ui/explain/figure_cache.py and ui/dataset/prediction_cache.py hold the others.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from camcore.files import modified_ns
from camcore.models.device import choose_device
from camcore.models.loading import LoadedModel, load_model, randomised
from camcore.models.pretrained import server_model
from camcore.serving.paths import store_upload
from camcore.settings import server_weights

MODELS_KEPT = 4
"""Models kept loaded besides the class's default (pinned apart): the four rows of Explain's Compare models
(ui.explain.compare_models) stay loaded across reruns, and never push the default out (docs/serving.md: memory)."""


def shared_model(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """One frozen model for every session; read-only use only (camcore.models.hooks restores whatever it touches).

    Cached under the resolved device, so "auto" and "cuda" on a GPU machine share one copy, and under the files'
    modification times, so a checkpoint rewritten at the same path (a training run's best.pt) is loaded again,
    never explained stale. The server's default model has a cache of its own: whatever other models sessions
    load, every session's first page never waits for it again. Failures (no weights offline, a wrong file) are not
    cached, so a retry reloads.
    """
    resolved, stamp = str(choose_device(device)), _files_stamp(spec, weights_path)
    if _is_servers_default(spec, weights_path):
        return _default_model_on(spec, weights_path or None, resolved, stamp)
    return _model_on(spec, weights_path or None, resolved, stamp)


def _is_servers_default(spec: str, weights_path: str | None) -> bool:
    """The model every page starts with (camcore.settings), with the operator's weights file if there is one."""
    weights = server_weights()
    same_weights = (not weights_path and not weights) or bool(
        weights_path and weights and Path(weights_path).resolve() == Path(weights).resolve())
    return spec == server_model() and same_weights


def _files_stamp(*paths: str | None) -> tuple[int, ...]:
    """Modification times (ns) of the paths that are files: a model name or a missing file contributes nothing."""
    return tuple(stamp for stamp in map(modified_ns, paths) if stamp is not None)


@dataclass(frozen=True)
class ModelChoice:
    """Which shared model a page explains with, as one hashable value: every cache of results made with a model
    keys on it. version: the model files' modification times when the page chose it, so a checkpoint rewritten at
    the same path (a training run's best.pt) misses every such cache, as shared_model reloads it."""

    spec: str
    weights_path: str | None
    device: str
    version: tuple[int, ...] = ()

    @classmethod
    def of(cls, spec: str, weights_path: str | None, device: str) -> ModelChoice:
        return cls(spec, weights_path or None, device, _files_stamp(spec, weights_path))

    def load(self) -> LoadedModel:
        return shared_model(self.spec, self.weights_path, self.device)


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def _default_model_on(spec: str, weights_path: str | None, device: str, stamp: tuple[int, ...]) -> LoadedModel:
    """Two entries: the default changes once resnet18's weights are cached (camcore.models.pretrained.server_model)."""
    return load_model(spec, weights_path=weights_path, device=device)


@st.cache_resource(max_entries=MODELS_KEPT, show_spinner="Loading the model…")
def _model_on(spec: str, weights_path: str | None, device: str, stamp: tuple[int, ...]) -> LoadedModel:
    return load_model(spec, weights_path=weights_path, device=device)


def random_model(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """The shared model's architecture with re-initialised weights: the sanity-check baseline of every score."""
    return _random_model_on(spec, weights_path or None, str(choose_device(device)))


@st.cache_resource(max_entries=3, show_spinner="Randomising a copy of the model…")
def _random_model_on(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """The architecture alone matters, so no file stamp: a retrained checkpoint keeps its random baseline."""
    return randomised(shared_model(spec, weights_path, device))


@st.cache_data(max_entries=8, show_spinner="Checking the uploaded file…")
def stored_upload(file_id: str, _data: bytes) -> tuple[str, bool]:
    """(path, is a checkpoint) of an upload kept by camcore.serving.paths.store_upload, read once per upload (keyed on
    Streamlit's file id: hashing up to 200 MB on every rerun would be slow)."""
    path, is_checkpoint = store_upload(_data)
    return str(path), is_checkpoint
