"""The Training page's inputs: the run's settings (the lesson's defaults, or the quick classroom demo), the run to
watch, runs to compare and the run to delete."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from camcore import settings
from camcore.errors import PathRefused
from camcore.jobs.runs import RunFolder
from camcore.models.loading import MODEL_CHOICES
from camcore.models.pooling import DEFAULT_TAU, pooling_name
from camcore.models.pretrained import default_model
from camcore.serving.paths import allowed_model, allowed_path
from camcore.train.config import QUICK_DEMO, TASKS, TrainConfig
from ui.common.inputs import MODEL_LABELS, OTHER_MODEL
from ui.common.state import TRAINING
from ui.common.text import plain
from ui.explain.inputs import IMAGE_TYPES, PHOTO_UPLOAD_MB

TASK_LABELS = {"binary": "cat vs dog (one logit, BCEWithLogits, dog = 1)", "breeds": "37 breeds (cross-entropy)"}
PRESETS = {"lesson": "The lesson: 3 epochs, 512 px, lr 1e-5", "quick": "Quick demo: 1 epoch, 224 px, lr 1e-3"}
NUMBERS = (("epochs", "Epochs", 1, 50, 1, {}), ("batch_size", "Batch size", 1, 256, 1, {}),
           ("lr", "Learning rate (Adam)", 1e-6, 1.0, 1e-5, {"format": "%.0e"}),
           ("limit", "Photos per split (0: all)", 0, 10_000, 32, {}), ("seed", "Seed", 0, 2**31 - 1, 1, {}),
           ("probes", "Test photos to watch (probes, half cats, half dogs)", 0, 12, 1, {}))
"""The form's number boxes: (TrainConfig field and widget key, label, min, max, step, other options)."""


POOLING_CHOICES = ("avg", pooling_name(DEFAULT_TAU))
POOLING_LABELS = {"avg": "average (CAM's)", pooling_name(DEFAULT_TAU): f"TAP (tau {DEFAULT_TAU})"}
POOLING_HELP = ("TAP, thresholded average pooling (Bae et al., 2020): each channel is averaged over its positions "
                "above a fraction of its maximum only, so training is not pushed towards one small hot spot. The "
                "checkpoint records it; its CAM is still the weighted sum of the features, but the map's mean plus "
                "the bias is then no longer the logit.")


def settings_form() -> tuple[TrainConfig, list[tuple[str, bytes]]] | None:
    """The settings of a new run and the user's own probe photos as (name, bytes); None until Start is pressed, or
    with a data folder outside the server's allowed folders (camcore.serving.paths; its refusal shown). A preset fills
    the form before it is drawn."""
    preset = st.radio("Preset", list(PRESETS), format_func=PRESETS.__getitem__, horizontal=True,
                      key=TRAINING.key("preset"), on_change=_apply_preset)
    _defaults(preset)
    with st.form(TRAINING.key("form")):
        left, right = st.columns(2)
        arch = left.selectbox("Base model (ImageNet weights)", (*MODEL_CHOICES, OTHER_MODEL), key=TRAINING.key("arch"),
                              format_func=lambda name: MODEL_LABELS.get(name, name))
        other = left.text_input("Other: timm:NAME, a torchvision name or a checkpoint to fine-tune further",
                                key=TRAINING.key("arch_other"), placeholder="e.g. timm:resnet50 or convnext_tiny")
        weights = left.text_input("Local ImageNet weights file (optional, offline)", key=TRAINING.key("weights"))
        task = left.radio("Task", TASKS, format_func=TASK_LABELS.__getitem__, key=TRAINING.key("task"))
        root = left.text_input("Data folder (holds oxford-iiit-pet/)", key=TRAINING.key("data_root"))
        freeze = left.checkbox("Freeze the backbone (train the new head only)", key=TRAINING.key("freeze"))
        pooling = left.radio("Pooling before the head", POOLING_CHOICES, key=TRAINING.key("pooling"),
                             format_func=POOLING_LABELS.__getitem__, horizontal=True, help=POOLING_HELP)
        image_px = right.select_slider("Image size (px)", [128, 160, 224, 320, 384, 448, 512],
                                       key=TRAINING.key("image_px"))
        numbers = {name: right.number_input(label, low, high, step=step, key=TRAINING.key(name), **extra)
                   for name, label, low, high, step, extra in NUMBERS}
        uploads = st.file_uploader("Your own probe photos (optional): explained with CAM after every epoch too",
                                   type=list(IMAGE_TYPES), accept_multiple_files=True, max_upload_size=PHOTO_UPLOAD_MB,
                                   key=TRAINING.key("probe_uploads"))
        if not st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:"):
            return None
    if arch == OTHER_MODEL and not other.strip():
        st.error("Type the other model's name (timm:NAME) or a checkpoint path, or pick one from the list.")
        return None
    try:
        data_root = allowed_path(root.strip() or str(settings.data_root()))
        spec = allowed_model(other.strip()) if arch == OTHER_MODEL else arch
        weights_path = str(allowed_path(weights)) if weights.strip() else None
    except PathRefused as exc:
        st.error(plain(exc))
        return None
    lr, limit = float(numbers.pop("lr")), int(numbers.pop("limit")) or None
    config = TrainConfig(data_root=str(data_root), task=task, arch=spec, weights=weights_path, freeze_backbone=freeze,
                         image_size_px=int(image_px), lr=lr, limit=limit, device="auto", pooling=pooling,
                         **{name: int(value) for name, value in numbers.items()})
    return config, [(upload.name, upload.getvalue()) for upload in uploads or []]


def _defaults(preset: str) -> None:
    """The form's values on a fresh session: the chosen preset over the lesson's defaults."""
    for name, value in _preset_values(preset).items():
        TRAINING.default(name, value)


def _apply_preset() -> None:
    for name, value in _preset_values(st.session_state[TRAINING.key("preset")]).items():
        st.session_state[TRAINING.key(name)] = value


def _preset_values(preset: str) -> dict[str, Any]:
    lesson = TrainConfig(data_root=str(settings.data_root()), arch=default_model())
    config = TrainConfig(**{**lesson.to_dict(), **QUICK_DEMO}) if preset == "quick" else lesson
    return {"arch": config.arch, "task": config.task, "data_root": config.data_root, "freeze": config.freeze_backbone,
            "image_px": config.image_size_px, "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
            "limit": config.limit or 0, "seed": config.seed, "probes": config.probes, "pooling": config.pooling}


def run_picker(runs: Sequence[RunFolder]) -> RunFolder | None:
    """The run the live view follows: the newest by default, or the one just started."""
    names = [run.name for run in runs]
    if not names:
        return None
    name = st.selectbox("Run", names, key=TRAINING.valid("run", names, names[0]))
    return runs[names.index(name)]


def compare_picker(runs: Sequence[RunFolder]) -> list[RunFolder]:
    names = [run.name for run in runs]
    chosen = st.multiselect("Overlay the curves of", names, key=TRAINING.key("compare"),
                            placeholder="Pick two or more runs")
    return [run for run in runs if run.name in chosen]


def delete_picker(runs: Sequence[RunFolder]) -> RunFolder | None:
    """The run to delete, once its name is picked and the deletion confirmed; `runs`: those this session may
    delete (ui.training.rights), so no other name can be picked, even by a crafted widget value."""
    names = [run.name for run in runs]
    if not names:
        return None
    name = st.selectbox("Delete a run", [None, *names], key=TRAINING.valid("delete", [None, *names], None),
                        format_func=lambda value: "—" if value is None else value)
    if name is None:
        return None
    confirmed = st.checkbox(f"Yes, delete {plain(name)} and its checkpoints", key=TRAINING.key("delete_confirm"))
    pressed = st.button("Delete", icon=":material/delete:", disabled=not confirmed, key=TRAINING.key("delete_go"))
    return runs[names.index(name)] if pressed and confirmed else None
