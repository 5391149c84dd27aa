"""ui.dataset.inputs: the Model section hands the page its model and how it predicts (method, NWC, threshold
standard, scope, faithfulness); none while the model cannot be loaded."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from camcore.maps import heatmap
from camcore.options import MapOptions
from camcore.scores.faithfulness import DATASET_STEPS
from camcore.settings import MODEL_ENV, WEIGHTS_ENV

TIMEOUT_S = 60
"""A first model load on a busy 2-core machine takes several seconds."""


def predictor_script() -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    import streamlit as st

    from ui.dataset.inputs import predictor_ui

    predictor = predictor_ui(12)
    st.text("none" if predictor is None else
            f"{predictor.choice.spec} {predictor.choice.device} {predictor.options} "
            f"steps={predictor.faithfulness_steps} all={predictor.predict_all} "
            f"mistakes={predictor.mistakes_only} classes={len(predictor.model.class_names)}")


def predictor_app(**state: object) -> AppTest:
    at = AppTest.from_function(predictor_script, default_timeout=TIMEOUT_S)
    at.session_state["dataset.device"] = "cpu"
    for name, value in state.items():
        at.session_state[f"dataset.{name}"] = value
    return at.run()


def test_the_model_section_says_how_the_page_predicts(binary_checkpoint: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(binary_checkpoint))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    at = predictor_app()
    assert not at.exception and not at.error
    options = MapOptions(method="cam", top_k=1, clamp_negative_weights=False, threshold_standard=heatmap.MAXIMUM)
    assert at.text[0].value == f"{binary_checkpoint} cpu {options} steps=None all=False mistakes=False classes=2"
    assert at.radio(key="dataset.scope").options == ["this page", "all 12 shown"]
    at.radio(key="dataset.scope").set_value("all").run()
    at.checkbox(key="dataset.faithfulness").check().run()
    assert not at.exception
    assert f"steps={DATASET_STEPS} " in at.text[0].value
    assert at.text[0].value.endswith("all=True mistakes=False classes=2")
    at.radio(key="dataset.scope").set_value("page").run()
    at.toggle(key="dataset.mistakes").set_value(True).run()
    assert at.text[0].value.endswith("all=False mistakes=True classes=2")


def test_no_predictor_while_the_model_cannot_be_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    monkeypatch.setenv(MODEL_ENV, str(broken))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    at = predictor_app()
    assert not at.exception
    assert at.text[0].value == "none" and at.error  # the load's one line, and nothing to predict with
    assert not [radio for radio in at.radio if radio.key == "dataset.scope"]
