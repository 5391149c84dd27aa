"""Inputs every model page shares: the model (with the offline default), the device and the map method.

The model choice is set up once per session from the environment ($CAM_EXPLORER_MODEL, $CAM_EXPLORER_WEIGHTS),
so a deployment can preselect real local weights; otherwise resnet18 when its weights are cached, else the
EfficientNet-Lite0 that ships with the app (camcore.pretrained.default_model, decided from the disk alone).
"""
from __future__ import annotations

import os

import streamlit as st

from camcore.cams import METHODS
from camcore.device import DEVICE_CHOICES
from camcore.models import MODEL_CHOICES, LoadedModel
from camcore.pretrained import PREFERRED_MODEL, default_model, torchvision_weights_file
from camcore.runs import list_runs, runs_root
from ui.state import PageState

MODEL_ENV = "CAM_EXPLORER_MODEL"
WEIGHTS_ENV = "CAM_EXPLORER_WEIGHTS"
OTHER_MODEL = "other"
MODEL_LABELS = {"lite0": "EfficientNet-Lite0 (ships with the app)", OTHER_MODEL: "Other: timm:NAME or a checkpoint"}
WEIGHTS_HELP = ("A state dict saved with torch.save(model.state_dict()) for the model chosen above, for ImageNet "
                "weights this server cannot download. Empty: the library's own weights.")


def model_ui(state: PageState) -> tuple[str, str | None]:
    """(spec, weights_path or None); spec is "" while the user has not typed an 'Other' model yet."""
    trained = trained_checkpoints()
    choices = (*MODEL_CHOICES, *trained, OTHER_MODEL)
    env_model = os.environ.get(MODEL_ENV) or default_model()
    key = state.default("model", env_model if env_model in choices else OTHER_MODEL)
    state.default("model_other", "" if env_model in choices else env_model)
    state.valid("model", choices, MODEL_CHOICES[0])  # a deleted run's checkpoint falls back to the default
    labels = {**MODEL_LABELS, **trained}
    spec = st.selectbox("Model", choices, key=key, format_func=lambda name: labels.get(name, name),
                        help="ImageNet classifiers, or a checkpoint trained on the Training page.")
    if spec == "lite0" and not os.environ.get(MODEL_ENV):
        st.caption(f"EfficientNet-Lite0 is the default here: {PREFERRED_MODEL}'s ImageNet weights are not in "
                   f"{torchvision_weights_file(PREFERRED_MODEL).parent}. Pick {PREFERRED_MODEL} once with internet "
                   "to download them; it is the default from then on.")
    if spec == OTHER_MODEL:
        spec = st.text_input("timm:NAME or checkpoint path", key=state.key("model_other")).strip()
    with st.expander("Local weights file", expanded=bool(os.environ.get(WEIGHTS_ENV))):
        key = state.default("weights", os.environ.get(WEIGHTS_ENV, ""))
        weights = st.text_input("Weights file (optional)", key=key, help=WEIGHTS_HELP).strip()
    return spec, weights or None


def trained_checkpoints() -> dict[str, str]:
    """Checkpoint path -> label ("run cats-1 · best"), for every run folder's best and last checkpoints."""
    return {str(run.checkpoint(which)): f"Trained: {run.name} · {which}"
            for run in list_runs(runs_root()) for which in ("best", "last") if run.checkpoint(which).is_file()}


def device_ui(state: PageState) -> str:
    return st.selectbox("Device", DEVICE_CHOICES, key=state.default("device", "auto"),
                        help="auto: the GPU when there is one.")


def method_ui(model: LoadedModel, state: PageState) -> str:
    """A METHODS key; CAM is left out for models whose head is not global average pooling plus one Linear."""
    options = [key for key, method in METHODS.items() if method.needs_gradients or model.cam is not None]
    method = st.selectbox("Method", options, format_func=method_label, key=state.valid("method", options, options[0]),
                          help="CAM reads the classifier's own weights; the Grad-CAM family uses gradients.")
    if model.cam is None:
        st.caption("CAM is not offered: this model's head is not global average pooling plus one Linear layer.")
    return method


def method_label(key: str) -> str:
    """Human name of a method key (the CLI's names are the keys)."""
    return METHODS[key].label
