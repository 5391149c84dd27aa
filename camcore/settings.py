"""The server's settings: CAM_EXPLORER_* variables, each read here, typed and checked, with a one-line error that
names the variable and what it must hold. The app, the CLI and the job processes (which inherit the server's
environment) all read them through this module."""
from __future__ import annotations

import os

from camcore.errors import SettingError

MODEL_ENV = "CAM_EXPLORER_MODEL"
WEIGHTS_ENV = "CAM_EXPLORER_WEIGHTS"
RUN_LIMIT_ENV = "CAM_EXPLORER_RUN_LIMIT_MIN"
DEFAULT_RUN_LIMIT_MIN = 30.0
"""A class's default: the quick demo trains in a few minutes on a CPU, the lesson's 3 epochs at 512 px in about
ten on a GPU; a run a student walked away from gives the one training slot back after half an hour."""


def number(name: str, default: float, *, low: float, high: float) -> float:
    """$name as a float in [low, high], or `default` when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SettingError(f"${name} is {text!r}: it must be a number from {low:g} to {high:g}.")
    return value


def run_limit_s() -> float | None:
    """The longest a training process may train before it stops itself with a checkpoint (Resume continues), in
    seconds; None when the operator set $CAM_EXPLORER_RUN_LIMIT_MIN=0 (no limit)."""
    minutes = number(RUN_LIMIT_ENV, DEFAULT_RUN_LIMIT_MIN, low=0, high=7 * 24 * 60)
    return minutes * 60 if minutes > 0 else None


def server_model() -> str:
    """The model every page starts with, the class's default: the operator's $CAM_EXPLORER_MODEL, else
    camcore.models.pretrained.default_model() (resnet18 when its weights are cached, else the packaged Lite0)."""
    from camcore.models.pretrained import default_model

    return os.environ.get(MODEL_ENV, "").strip() or default_model()


def server_weights() -> str | None:
    """The operator's weights file for server_model() ($CAM_EXPLORER_WEIGHTS), or None: the library's own."""
    return os.environ.get(WEIGHTS_ENV, "").strip() or None
