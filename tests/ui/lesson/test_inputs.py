"""ui.lesson.inputs: the class pickers' choices from the top explanation, and the step picker, whose Previous and
Next (presenter mode) stay within the steps."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.camcore.maps.test_display import synthetic_explanation
from ui.lesson.inputs import STEPS, class_choices


def test_class_choices_are_the_top_classes_with_their_probability() -> None:
    assert class_choices(synthetic_explanation()) == [(0, "tabby (54%)"), (1, "German shepherd, alsatian (20%)"),
                                                      (2, "tiger cat (10%)")]


def step_script(presenter: bool) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    import streamlit as st

    from ui.lesson.inputs import step_ui

    st.text(f"step {step_ui(presenter)}")


def test_previous_and_next_move_one_step_and_stop_at_the_ends() -> None:
    at = AppTest.from_function(step_script, args=(True,)).run()
    assert not at.exception and at.text[0].value == "step 0"
    assert at.button(key="lesson.previous").disabled and not at.button(key="lesson.next").disabled
    at.button(key="lesson.next").click().run()
    assert at.text[0].value == "step 1" and at.header[0].value == f"Step {STEPS[1]}"
    at.button(key="lesson.previous").click().run()
    assert at.text[0].value == "step 0"
    at.radio(key="lesson.step").set_value(len(STEPS) - 1).run()
    assert at.text[0].value == f"step {len(STEPS) - 1}" and at.button(key="lesson.next").disabled


def test_without_presenter_mode_the_picker_alone_shows() -> None:
    at = AppTest.from_function(step_script, args=(False,)).run()
    assert not at.exception and not at.button and not at.header
    assert at.radio(key="lesson.step").options == list(STEPS)
