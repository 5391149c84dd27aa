"""The Lesson's steps in order: each step's name (the step picker's, ui.lesson.inputs.STEPS) -> the section that
draws it. A new step: its name in STEPS and its section at the same place here."""
from __future__ import annotations

from collections.abc import Callable

from camcore.explain import Explanation
from ui.lesson import features, fixes, maps, quiz
from ui.lesson.inputs import STEPS, Lesson

Section = Callable[[Lesson, Explanation], None]
"""A step's section: (the lesson, the photo's top-5 explanation with the model's exact method). The page makes that
explanation once for every step (its note shows above each); a section uses it or not."""

SECTIONS: dict[str, Section] = dict(zip(STEPS, (
    features.feature_maps_step,
    features.pooling_step,
    maps.topk_step,
    maps.gradcam_step,
    quiz.quiz_step,
    fixes.fixes_step,
), strict=True))
"""The rows pair STEPS' names in order: zip's strict makes a name without a section (or one too many) fail at
import."""
