"""ui.lesson.quiz: the photo figures draw no grid, ticks or visible markers, a click is read from the selected
marker, and no map shows before the click (on a projector too); class names render as their literal text."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from streamlit.elements.plotly_chart import PlotlyChartSelectionSerde, PlotlyState
from streamlit.testing.v1 import AppTest

from tests.camcore.maps.test_display import PHOTO_SIZE, synthetic_explanation
from tests.conftest import make_photo
from ui.common.models import ModelChoice
from ui.common.text import plain
from ui.lesson.inputs import Lesson, Photo
from ui.lesson.maps import overlay_figure
from ui.lesson.quiz import CLICK_GRID, GUESS_FIRST, click_figure, clicked_point

MARKDOWN_NAMES = ("![t](http://host/track.png)", "*tabby* <b>cat</b>", "tiger_cat :red[x]")
"""Class names a checkpoint could carry: an image link, emphasis and HTML, a Streamlit directive."""


def selection(*points: tuple[float, float]) -> PlotlyState:
    """st.plotly_chart's value after a click on these points, made from the browser's JSON as Streamlit makes it."""
    selected = [{"x": x, "y": y, "curve_number": 1, "point_index": index} for index, (x, y) in enumerate(points)]
    return PlotlyChartSelectionSerde().deserialize(json.dumps(
        {"selection": {"points": selected, "point_indices": list(range(len(points))), "box": [], "lasso": []}}))


def alpha(colour: str | None) -> float:
    """The alpha of an "rgba(r, g, b, a)" colour; 1 for any other form, and for None (Plotly's own colour)."""
    return float(colour.rsplit(",", 1)[1].rstrip(") ")) if str(colour).startswith("rgba(") else 1.0


@pytest.mark.parametrize("figure", ["click", "overlay"])
def test_photo_figures_draw_no_grid_zero_line_or_ticks(figure: str) -> None:
    """Streamlit's Plotly theme draws the axes' grid and ticks beside the photo unless the figure turns them off."""
    photo = make_photo()
    fig = click_figure(photo) if figure == "click" else overlay_figure(photo, np.ones((photo.height, photo.width)))
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.visible is False and axis.showgrid is False and axis.zeroline is False


def test_click_grid_is_transparent_and_still_selects_a_point() -> None:
    photo = make_photo()
    fig = click_figure(photo)
    grid = fig.data[1]
    assert len(grid.x) == CLICK_GRID ** 2 and max(grid.x) == photo.width - 1 and max(grid.y) == photo.height - 1
    assert alpha(grid.marker.color) == 0 and not grid.marker.line.width  # nothing drawn, not even an outline
    assert grid.hoverinfo != "skip" and "select" in fig.layout.clickmode  # "skip" would stop clicks too


def test_a_click_is_read_from_the_selected_grid_point() -> None:
    assert clicked_point(selection((12.5, 40.0))) == (12.5, 40.0)
    assert clicked_point(selection()) is None
    assert clicked_point(None) is None


def quiz_script(lesson: object, result: object) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses, and its annotations
    name nothing from this module."""
    from ui.lesson.quiz import quiz_step

    quiz_step(lesson, result)


def quiz_app(presenter: bool, click: tuple[float, float] | None = None) -> AppTest:
    """Step 5 alone, on a generated photo and a synthetic explanation whose class names are Markdown."""
    photo = make_photo(*PHOTO_SIZE)
    explained = synthetic_explanation()
    result = replace(explained, predictions=tuple(replace(prediction, class_name=name) for prediction, name
                                                   in zip(explained.predictions, MARKDOWN_NAMES)))
    lesson = Lesson(ModelChoice("fake", None, "cpu"), Photo("fake.png", b"", photo, None), presenter)
    at = AppTest.from_function(quiz_script, args=(lesson, result))
    if click is not None:
        at.session_state["lesson.click"] = selection(click)
    return at.run()


def chart_keys(at: AppTest) -> list[str]:
    """The app's figures by key (after "lesson."), top to bottom."""
    return [chart.proto.id.rsplit("-lesson.", 1)[-1] for chart in at.get("plotly_chart")]


@pytest.mark.parametrize("presenter", [False, True])
def test_no_map_shows_before_the_click(presenter: bool) -> None:
    at = quiz_app(presenter)
    assert not at.exception
    assert chart_keys(at) == ["click"]  # the photo alone: no revealed map, no class quiz's map
    assert GUESS_FIRST in [caption.value for caption in at.caption] and not at.radio
    at = quiz_app(presenter, click=(10.0, 20.0))
    assert not at.exception
    assert chart_keys(at) == ["click", "reveal", "which_map"]
    assert GUESS_FIRST not in [caption.value for caption in at.caption]


def test_class_names_show_as_their_literal_text() -> None:
    at = quiz_app(False, click=(10.0, 20.0))
    assert f"say *{plain(MARKDOWN_NAMES[0])}*." in at.markdown[0].value
    quiz = at.radio(key="lesson.which_class")
    assert quiz.options == [plain(name) for name in MARKDOWN_NAMES]
    shown = sum(PHOTO_SIZE) % 3
    quiz.set_value((shown + 1) % 3).run()
    assert f"it is the map of **{plain(MARKDOWN_NAMES[shown])}**." in at.markdown[-1].value
