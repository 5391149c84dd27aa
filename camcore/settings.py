"""The server's settings: every CAM_EXPLORER_* variable, read here and nowhere else, typed and checked, with a
one-line SettingError that names the variable and what it must hold. The app, the CLI and the job processes (which
inherit the server's environment) all read them through this module; each is read at its use, so a changed
environment counts at once. docs/serving.md has the table of them all.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from camcore.errors import SettingError

MODEL_ENV = "CAM_EXPLORER_MODEL"
WEIGHTS_ENV = "CAM_EXPLORER_WEIGHTS"
DATA_ENV = "CAM_EXPLORER_DATA"
RUNS_ENV = "CAM_EXPLORER_RUNS"
CACHE_ENV = "CAM_EXPLORER_CACHE"
ALLOWED_ENV = "CAM_EXPLORER_ALLOWED_DIRS"
LOCK_ENV = "CAM_EXPLORER_LOCK_MODEL"
NO_DOWNLOADS_ENV = "CAM_EXPLORER_NO_DOWNLOADS"
NO_SLOW_METHODS_ENV = "CAM_EXPLORER_NO_SLOW_METHODS"
RUN_ADMIN_ENV = "CAM_EXPLORER_RUN_ADMIN"
RUN_LIMIT_ENV = "CAM_EXPLORER_RUN_LIMIT_MIN"
ICE_SERVERS_ENV = "CAM_EXPLORER_ICE_SERVERS"
DEFAULT_RUN_LIMIT_MIN = 30.0
"""A class's default: the quick demo trains in a few minutes on a CPU, the lesson's 3 epochs at 512 px in about
ten on a GPU; a run a student walked away from gives the one training slot back after half an hour."""
ICE_SERVERS_FORM = 'it must be a JSON list of {"urls": ...} objects, e.g. [{"urls": "stun:host:3478"}]'
_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _text(name: str) -> str:
    return os.environ.get(name, "").strip()


def switch(name: str) -> bool:
    """An operator's on/off variable: 1, true, yes or on; unset, empty, 0, false, no or off is off."""
    value = _text(name).lower()
    if value not in (*_ON, *_OFF):
        raise SettingError(f"${name} is {_text(name)!r}: it must be 1 (on) or 0 (off).")
    return value in _ON


def number(name: str, default: float, *, low: float, high: float) -> float:
    """$name as a float in [low, high], or `default` when unset or empty."""
    text = _text(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SettingError(f"${name} is {text!r}: it must be a number from {low:g} to {high:g}.")
    return value


def operator_model() -> str | None:
    """The model the operator chose ($CAM_EXPLORER_MODEL), or None when the default rule decides."""
    return _text(MODEL_ENV) or None


def server_weights() -> str | None:
    """The operator's weights file for the server's model ($CAM_EXPLORER_WEIGHTS), or None: the library's own."""
    return _text(WEIGHTS_ENV) or None


def data_root() -> Path:
    """The data folder, which holds oxford-iiit-pet/: $CAM_EXPLORER_DATA, else `data` where the app or CLI runs."""
    return Path(_text(DATA_ENV) or "data")


def runs_root() -> Path:
    """Where training runs live: $CAM_EXPLORER_RUNS, else ./runs (the page and the CLI see the same runs)."""
    return Path(_text(RUNS_ENV) or "runs")


def cache_root() -> Path:
    """$CAM_EXPLORER_CACHE, else ~/.cache/cam-explorer: never the data folder, which may be read-only."""
    return Path(_text(CACHE_ENV) or Path.home() / ".cache" / "cam-explorer")


def extra_allowed_dirs() -> tuple[Path, ...]:
    """The operator's $CAM_EXPLORER_ALLOWED_DIRS: more folders a visitor may name, os.pathsep-separated."""
    return tuple(Path(folder.strip()) for folder in _text(ALLOWED_ENV).split(os.pathsep) if folder.strip())


def model_locked() -> bool:
    """$CAM_EXPLORER_LOCK_MODEL: the operator's model is the only one (no box to type in, nothing to upload)."""
    return switch(LOCK_ENV)


def downloads_allowed() -> bool:
    """False under $CAM_EXPLORER_NO_DOWNLOADS: no weights from the hubs, no data set download, as offline."""
    return not switch(NO_DOWNLOADS_ENV)


def slow_methods_allowed() -> bool:
    """False under $CAM_EXPLORER_NO_SLOW_METHODS: no method that needs a forward pass per channel. Score-CAM at
    Lite0's last layer takes 34 s of both cores of a 2-core server (1,280 forward passes; Grad-CAM 27 ms), time
    every other student waits."""
    return not switch(NO_SLOW_METHODS_ENV)


def run_admin() -> bool:
    """$CAM_EXPLORER_RUN_ADMIN: everyone may stop, resume and delete every training run."""
    return switch(RUN_ADMIN_ENV)


def run_limit_s() -> float | None:
    """The longest a training process may train before it stops itself with a checkpoint (Resume continues), in
    seconds; None when the operator set $CAM_EXPLORER_RUN_LIMIT_MIN=0 (no limit)."""
    minutes = number(RUN_LIMIT_ENV, DEFAULT_RUN_LIMIT_MIN, low=0, high=7 * 24 * 60)
    return minutes * 60 if minutes > 0 else None


def ice_servers() -> list[dict[str, Any]]:
    """The operator's ICE servers for the Live page ($CAM_EXPLORER_ICE_SERVERS, a JSON list), else none: offline.

    The error names the variable but never quotes its value: a TURN server's credential would be on the page of
    every visitor."""
    text = _text(ICE_SERVERS_ENV)
    if not text:
        return []
    try:
        servers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingError(f"${ICE_SERVERS_ENV} is not JSON ({exc.msg} at character {exc.pos}): "
                           f"{ICE_SERVERS_FORM}.") from exc
    if not isinstance(servers, list) or not all(isinstance(server, dict) and "urls" in server for server in servers):
        raise SettingError(f"${ICE_SERVERS_ENV} is not valid: {ICE_SERVERS_FORM}.")
    return servers


def problems() -> list[str]:
    """Every setting the operator got wrong, one line each (the Home page lists them; each use refuses too)."""
    checks = (model_locked, downloads_allowed, slow_methods_allowed, run_admin, run_limit_s,
              ice_servers)
    found = []
    for check in checks:
        try:
            check()
        except SettingError as exc:
            found.append(str(exc))
    return found
