"""ui.dataset.view: the page of photos the page picker chooses (no model: nothing predicted), and how the score
tables write each score."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.data.pets import pet_index
from ui.common.text import read_back
from ui.dataset import inputs as dataset_inputs
from ui.dataset.view import _faithfulness_text, _score_text


@pytest.mark.parametrize(("score", "value", "text"), [
    ("pointing", True, "hit"), ("localised", False, "miss"), ("head_pointing", 1.0, "hit"),
    ("head_pointing", math.nan, "–"), ("iou", 0.4567, "0.46"), ("iou", math.nan, "–")])
def test_scores_read_as_hit_miss_or_two_decimals(score: str, value: float, text: str) -> None:
    assert _score_text(score, value) == text


@pytest.mark.parametrize(("score", "value", "text"), [
    ("confidence_drop", 0.256, "26%"), ("confidence_increase", 1.0, "yes"), ("confidence_increase", 0.0, "no"),
    ("deletion_auc", 0.1234, "0.12")])
def test_faithfulness_scores_read_as_a_share_yes_no_or_two_decimals(score: str, value: float, text: str) -> None:
    assert _faithfulness_text(score, value) == text


def browse_script(root: str) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    from pathlib import Path

    import streamlit as st

    from camcore.data.pets import pet_index
    from ui.dataset.view import browse_ui

    records = pet_index(Path(root))
    page, results = browse_ui(Path(root), records, records, None, order="name")
    st.text(",".join(record.name for record in page))
    st.text(f"{len(results)} results")


def test_without_a_model_the_picker_pages_the_photos_and_nothing_is_predicted(
        tiny_pets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_inputs, "PAGE_SIZE", 5)
    names = [record.name for record in pet_index(tiny_pets)]
    at = AppTest.from_function(browse_script, args=(str(tiny_pets),)).run()
    assert not at.exception and not at.get("progress")
    assert [text.value for text in at.text] == [",".join(names[:5]), "0 results"]
    assert "12 images, page 1 of 3" in [read_back(caption.value) for caption in at.caption]
    at.number_input(key="dataset.page").set_value(3).run()
    assert at.text[0].value == ",".join(names[10:])
