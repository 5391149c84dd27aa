"""ui.lesson.steps: the table pairs every step the picker offers with its section, in order, and each section
takes what the page hands every step (the lesson, the top explanation)."""
from __future__ import annotations

import inspect

from streamlit.testing.v1 import AppTest

from tests.camcore.maps.test_display import PHOTO_SIZE, synthetic_explanation
from tests.conftest import make_photo
from ui.common.models import ModelChoice
from ui.lesson import features, fixes, maps, quiz
from ui.lesson.inputs import STEPS, Lesson, Photo
from ui.lesson.steps import SECTIONS


def test_every_step_has_its_own_section_in_the_pickers_order() -> None:
    assert list(SECTIONS) == list(STEPS)
    assert [SECTIONS[name] for name in STEPS] == [features.feature_maps_step, features.pooling_step, maps.topk_step,
                                                  maps.gradcam_step, quiz.quiz_step, fixes.fixes_step]


def test_every_section_takes_the_lesson_and_the_top_explanation() -> None:
    for section in SECTIONS.values():
        inspect.signature(section).bind(object(), object())  # the page's call: TypeError when it does not fit


def quiz_by_name_script(lesson: object, top: object) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    from ui.lesson.steps import SECTIONS

    SECTIONS["5. Quiz"](lesson, top)


def test_the_quiz_step_is_drawn_by_its_name() -> None:
    photo = make_photo(*PHOTO_SIZE)
    lesson = Lesson(ModelChoice("fake", None, "cpu"), Photo("fake.png", b"", photo, None))
    top = synthetic_explanation()
    at = AppTest.from_function(quiz_by_name_script, args=(lesson, top)).run()
    assert not at.exception
    assert [chart.proto.id.rsplit("-lesson.", 1)[-1] for chart in at.get("plotly_chart")] == ["click"]
    assert "say *tabby*" in at.markdown[0].value
