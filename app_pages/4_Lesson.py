"""Lesson: a guided class on a live model, one step at a time, with the student's photo or a sample; its URL is a
link to the same view, and presenter mode shows one step per screen in large type."""
from __future__ import annotations

import streamlit as st

from camcore import cams
from camcore.options import MapOptions
from ui.common import inputs, links
from ui.common.notes import squashed_note
from ui.common.presenter import presenter_ui
from ui.common.reporting import reported
from ui.common.state import LESSON
from ui.lesson import features as lesson_features
from ui.lesson import fixes as lesson_fixes
from ui.lesson import inputs as lesson_inputs
from ui.lesson import maps as lesson_maps
from ui.lesson import quiz as lesson_quiz

with links.shared(LESSON):
    presenter = presenter_ui(LESSON, "Large type and one step per screen, for a projector; the photo moves here.")
    st.set_page_config(page_title="Lesson · CAM Explorer", page_icon="🎓", layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")
    if not presenter:
        st.title("Lesson: how a CNN decides, and where it looks")
    model, choice = inputs.model_sidebar(LESSON)
    with st.sidebar if presenter else st.container():
        photo = lesson_inputs.photo_ui(choice)
    step = lesson_inputs.step_ui(presenter)
    ctx = lesson_inputs.Lesson(choice, photo, presenter)
    with reported(f"Lesson step {step + 1}"):
        top = ctx.explained(MapOptions(method=cams.exact_method(model)))
        if note := squashed_note(top):
            st.caption(note)
        class_names = [(p.class_index, f"{p.class_name} ({p.probability:.0%})") for p in top.predictions]
        if step == 0:
            lesson_features.feature_maps_step(ctx)
        elif step == 1:
            lesson_features.pooling_step(ctx, class_names)
        elif step == 2:
            lesson_maps.topk_step(ctx)
        elif step == 3:
            lesson_maps.gradcam_step(ctx, class_names)
        elif step == 4:
            lesson_quiz.quiz_step(ctx, top)
        else:
            lesson_fixes.fixes_step(ctx)
