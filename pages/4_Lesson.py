"""Lesson: a guided class on a live model, one step at a time, with the student's photo or a sample."""
from __future__ import annotations

import streamlit as st

from camcore import cams
from camcore.explain import explain
from ui import inputs, lesson_features, lesson_inputs, lesson_maps, lesson_quiz
from ui.reporting import reported
from ui.state import LESSON

st.set_page_config(page_title="Lesson · CAM Explorer", page_icon="🎓", layout="wide")
st.title("Lesson: how a CNN decides, and where it looks")

model, *_ = inputs.model_sidebar(LESSON)

name, image = lesson_inputs.photo_ui()
step = lesson_inputs.step_ui()
with reported(f"Lesson step {step + 1}"):
    top = explain([image], model, method=cams.exact_method(model), top_k=5)[0]
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
