"""Inputs every model page shares: the model (with the offline default), the device and the map method.

The model choice is set up once per session from the environment ($CAM_EXPLORER_MODEL, $CAM_EXPLORER_WEIGHTS),
so a deployment can preselect real local weights; otherwise resnet18 when its weights are cached, else the
EfficientNet-Lite0 that ships with the app (camcore.models.pretrained.default_model, decided from the disk alone).
Typed paths must lie in the server's allowed folders (camcore.serving.paths); weights can be uploaded instead. With
$CAM_EXPLORER_LOCK_MODEL the operator's model is the only one: no box to type in, nothing to upload. With
$CAM_EXPLORER_NO_SLOW_METHODS the methods that need a forward pass per channel (Score-CAM) are not offered.
"""
from __future__ import annotations

import logging
import re

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from camcore.cams import METHODS
from camcore.cams.finercam import COMPARED
from camcore.errors import CamcoreError, WeightsUnavailable
from camcore.jobs.runs import list_runs
from camcore.models.device import DEVICE_CHOICES
from camcore.models.loading import MODEL_CHOICES, LoadedModel
from camcore.models.pretrained import PREFERRED_MODEL, server_model, torchvision_weights_file
from camcore.serving.paths import UPLOAD_LIMIT_MB, allowed_model, allowed_path
from camcore.settings import (
    model_locked,
    operator_model,
    runs_root,
    server_weights,
    slow_methods_allowed,
)
from ui.common import models
from ui.common.notes import fixed_size_note
from ui.common.state import PageState
from ui.common.text import plain

logger = logging.getLogger(__name__)

WEIGHTS_TYPES = ("pt", "pth", "ckpt", "bin")
OTHER_MODEL = "other"
MODEL_LABELS = {"lite0": "EfficientNet-Lite0", "swin_tiny": "Swin-T (transformer)", "deit_tiny": "DeiT-tiny (ViT)",
                OTHER_MODEL: "Other: timm or checkpoint"}
"""Short enough for the sidebar's box (LABEL_CHARS); MODEL_HELP says what each is."""
LABEL_CHARS = 28
"""What the sidebar's model box shows without cutting a label (checked in Chromium: tests/browser)."""
RUN_STAMP = re.compile(r"\d{8}-(?P<hour>\d\d)(?P<minute>\d\d)\d\d-(?P<rest>.+)")
"""camcore.jobs.process.run_name's "20261207-142100-binary-lite0"."""
MODEL_HELP = ("EfficientNet-Lite0 ships with the app and works offline; resnet18 is the lesson's model (its weights "
              "download once with internet). Swin-T is a transformer with exact CAM; DeiT-tiny a ViT, where only "
              "the gradient methods apply. Other: any timm:NAME or a checkpoint's path. Below them, the checkpoints "
              "of the Training page's runs.")
WEIGHTS_HELP = ("A state dict saved with torch.save(model.state_dict()) for the model chosen above, for ImageNet "
                "weights this server cannot download. Empty: the library's own weights.")


UPLOAD_HELP = (f"Up to {UPLOAD_LIMIT_MB} MB. A CAM Explorer checkpoint replaces the model chosen above; a state dict "
               "gives it weights. Read with weights_only=True: a file holding code is refused.")


def model_ui(state: PageState) -> tuple[str, str | None]:
    """(spec, weights_path or None); spec is "" while there is no model to load yet: an 'Other' box still empty,
    or a typed path or upload refused (its one line is shown here)."""
    if model_locked():
        spec = server_model()
        st.caption(f"Model: {plain(MODEL_LABELS.get(spec, spec))}, chosen by whoever runs this server.")
        return spec, server_weights()
    spec, typed, weights, upload = _model_widgets(state)
    presets = (operator_model(), server_weights())
    try:
        if upload is not None:
            path, is_checkpoint = models.stored_upload(upload.file_id, upload.getvalue())
            if is_checkpoint:
                return path, None
            weights = path
        elif weights:
            weights = str(allowed_path(weights, operator_files=presets))
        return (allowed_model(spec, operator_files=presets) if typed and spec else spec), weights or None
    except CamcoreError as exc:
        st.error(plain(exc))
        return "", None


def model_choices() -> dict[str, str]:
    """Every model the sidebar lists, with its label: the app's models, then the training runs' checkpoints."""
    return {**{choice: MODEL_LABELS.get(choice, choice) for choice in MODEL_CHOICES}, **trained_checkpoints()}


def _model_widgets(state: PageState) -> tuple[str, bool, str, UploadedFile | None]:
    """(spec, whether it was typed in 'Other', typed weights path, uploaded file), as drawn: nothing checked yet."""
    labels = {**model_choices(), OTHER_MODEL: MODEL_LABELS[OTHER_MODEL]}
    choices = tuple(labels)
    env_model = server_model()
    key = state.default("model", env_model if env_model in choices else OTHER_MODEL)
    state.default("model_other", "" if env_model in choices else env_model)
    state.valid("model", choices, MODEL_CHOICES[0])  # a deleted run's checkpoint falls back to the default
    spec = st.selectbox("Model", choices, key=key, format_func=lambda name: labels.get(name, name), help=MODEL_HELP)
    if spec == "lite0" and not operator_model():
        st.caption(f"EfficientNet-Lite0 is the default here: {PREFERRED_MODEL}'s ImageNet weights are not in "
                   f"{plain(torchvision_weights_file(PREFERRED_MODEL).parent)}. Pick {PREFERRED_MODEL} once with "
                   "internet to download them; it is the default from then on.")
    typed = spec == OTHER_MODEL
    if typed:
        spec = st.text_input("timm:NAME or checkpoint path", key=state.key("model_other")).strip()
    with st.expander("Local weights file", expanded=server_weights() is not None):
        key = state.default("weights", server_weights() or "")
        weights = st.text_input("Weights file (optional)", key=key, help=WEIGHTS_HELP).strip()
        upload = st.file_uploader("Or upload weights or a checkpoint", type=list(WEIGHTS_TYPES),
                                  key=state.key("weights_upload"), max_upload_size=UPLOAD_LIMIT_MB, help=UPLOAD_HELP)
    return spec, typed, weights, upload


def trained_checkpoints() -> dict[str, str]:
    """Checkpoint path -> label ("binary-lite0 14:21 · best"), for every run folder's best and last
    checkpoints and its start (the model before training)."""
    return {str(run.checkpoint(which)): checkpoint_label(run.name, which)
            for run in list_runs(runs_root()) for which in ("best", "last", "start") if run.checkpoint(which).is_file()}


def checkpoint_label(run_name: str, which: str) -> str:
    """A run's checkpoint in at most LABEL_CHARS: a run_name's task and model, then its start time ("14:21"), the
    task and model cut short (with "…") when the whole would not fit; the runs table has the full names."""
    stamp = RUN_STAMP.fullmatch(run_name)
    name, when = (stamp["rest"], f" {stamp['hour']}:{stamp['minute']}") if stamp else (run_name, "")
    room = LABEL_CHARS - len(when) - len(f" · {which}")
    return f"{name if len(name) <= room else name[:room - 1] + '…'}{when} · {which}"


def device_ui(state: PageState) -> str:
    return st.selectbox("Device", DEVICE_CHOICES, key=state.default("device", "auto"),
                        help="auto: the GPU when there is one.")


def method_ui(model: LoadedModel, state: PageState) -> str:
    """A METHODS key; CAM is left out for models whose head is not global average pooling plus one Linear, and
    the methods with a forward pass per channel when the operator set $CAM_EXPLORER_NO_SLOW_METHODS."""
    no_slow = not slow_methods_allowed()
    options = [key for key, method in METHODS.items()
               if (not method.needs_head or model.cam is not None) and not (no_slow and method.masked_scores)]
    method = st.selectbox("Method", options, format_func=method_label, key=state.valid("method", options, options[0]),
                          help=methods_help())
    exactness_badge(model)
    if model.cam is None:
        st.caption(f"CAM is not offered: {plain(model.cam_refusal)}.")
    if no_slow:
        st.caption("Score-CAM is turned off on this server: its forward pass per channel would hold up everyone.")
    if METHODS[method].class_agnostic:
        st.caption(f"{method_label(method)} shows the same map for every class: it reads the layer's activations "
                   "alone (their main pattern), not what the model scores.")
    if METHODS[method].compares_classes:
        st.caption(f"Finer-CAM compares each class with the {COMPARED} classes scored nearest to it and keeps what "
                   "tells it apart (why a beagle rather than a basset?); it needs a model with many classes.")
    return method


def exactness_badge(model: LoadedModel) -> None:
    """Whether CAM is exact for this model, as camcore.models.heads decided it from the module tree (and checked
    numerically at load): a GAP (or TAP) + Linear head, or something else, where only gradient methods apply."""
    if model.cam is not None:
        st.badge("CAM is exact here", icon=":material/check_circle:", color="green",
                 help=f"The head is {plain(model.cam.pooling)} pooling plus one Linear layer: CAM reads its weights.")
    else:
        st.badge("Approximate (gradient methods only)", icon=":material/info:", color="orange",
                 help=f"For {plain(model.spec)}, {plain(model.cam_refusal)}: no map is exactly the logit's "
                      "decomposition, and the Grad-CAM family approximates where the score comes from.")


def methods_help() -> str:
    """Every method's one-line summary (camcore.cams.METHODS), one per line of the menu's help."""
    return "\n".join(f"- **{method.label}**: {method.summary}." for method in METHODS.values())


def method_label(key: str) -> str:
    """Human name of a method key (the CLI's names are the keys)."""
    return METHODS[key].label


def model_sidebar(state: PageState) -> tuple[LoadedModel, models.ModelChoice]:
    """The sidebar's model and device: the shared model and the choice that names it (what caches key on). Stops
    the page with one line when nothing is chosen yet or the model cannot be loaded; the app keeps serving."""
    with st.sidebar:
        st.header("Model")
        spec, weights_path = model_ui(state)
        device = device_ui(state)
    if not spec:
        st.info("Type a timm:NAME or the path of a checkpoint in the sidebar.")
        st.stop()
    try:
        model = models.shared_model(spec, weights_path, device)
        if note := fixed_size_note(model):
            st.sidebar.caption(note)
        return model, models.ModelChoice.of(spec, weights_path, device)
    except WeightsUnavailable as exc:
        st.error(plain(exc))
        st.info("EfficientNet-Lite0 works without internet: pick it in the sidebar's Model list.")
    except (CamcoreError, ValueError) as exc:  # ValueError: an unknown model name, or cuda on a CPU-only machine
        st.error(plain(exc))
    except Exception:
        logger.exception("Loading model %s failed", spec)
        st.error(f"{plain(spec)} could not be loaded; the server log has the details. Try another model.")
    st.stop()
