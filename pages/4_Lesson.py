"""Lesson: a guided class on a live model, one step at a time, with the student's photo or a sample."""
from __future__ import annotations

import logging

import streamlit as st

from camcore import cams
from camcore.errors import CamcoreError
from camcore.explain import explain
from ui import inputs, lesson_features, lesson_inputs, lesson_maps, lesson_quiz, resources
from ui.reporting import reported
from ui.state import LESSON

logger = logging.getLogger(__name__)

st.set_page_config(page_title="Lesson · CAM Explorer", page_icon="🎓", layout="wide")
st.title("Lesson: how a CNN decides, and where it looks")

with st.sidebar:
    st.header("Model")
    spec, weights_path = inputs.model_ui(LESSON)
    device = inputs.device_ui(LESSON)
if not spec:
    st.info("Type a timm:NAME or the path of a checkpoint in the sidebar.")
    st.stop()
try:
    model = resources.shared_model(spec, weights_path, device)
except (CamcoreError, ValueError) as exc:  # no weights offline, an unknown name, cuda on a CPU-only machine
    st.error(str(exc))
    st.stop()
except Exception:
    logger.exception("Loading model %s failed", spec)
    st.error(f"{spec} could not be loaded; the server log has the details. Try another model.")
    st.stop()

name, image = lesson_inputs.photo_ui()
step = lesson_inputs.step_ui()
with reported(f"Lesson step {step + 1}"):
    top = explain([image], model, method="cam" if model.cam is not None else "gradcam", top_k=5)[0]
    class_names = [(p.class_index, f"{p.class_name} ({p.probability:.0%})") for p in top.predictions]
    if step == 0:
        lesson_features.feature_maps_step(model, image)
    elif step == 1:
        lesson_features.pooling_step(model, image, class_names)
    elif step == 2:
        lesson_maps.topk_step(model, image, name)
    elif step == 3:
        lesson_maps.gradcam_step(model, image, class_names, cams.stage_layers(model))
    else:
        lesson_quiz.quiz_step(image, top)
