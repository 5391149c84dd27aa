"""The Explain page's faithfulness expander (AppTest): nothing is computed until its toggle is on; then the
curves figure with each map's AUC in the legend and the confidence table, as camcore computes them."""
from __future__ import annotations

import functools
from pathlib import Path

import pytest

from camcore.data.images import load_image
from camcore.explain import explain
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores import faithfulness
from tests.app_pages.test_pages import GOOD, explain_page, figures, pets, pick_samples, random_resnet  # noqa: F401  (fixtures)  # noqa: F401  (fixtures)
from ui.common import explanations

STEPS = 2
"""Curves of 3 points: the page's wiring is under test here, the maths in tests/camcore/scores/test_faithfulness.py."""


def test_toggle_computes_the_curves_of_the_three_maps(random_resnet: None, pets: Path,  # noqa: F811
                                                      resnet18: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    cheap = functools.partial(faithfulness.explanation_faithfulness, steps=STEPS)
    monkeypatch.setattr(explanations, "explanation_faithfulness", lambda *a, **k: calls.append(1) or cheap(*a, **k))
    at = pick_samples(explain_page(), GOOD)
    assert not at.exception and not calls
    assert any(expander.label.startswith("Faithfulness") for expander in at.expander)
    at.toggle(key="explain.0.faithfulness").set_value(True).run()
    assert not at.exception and not at.error and len(calls) == 1
    [figure] = [f for f in figures(at) if f["data"][0]["type"] == "scatter"]
    photo = load_image(pets / GOOD)
    size_px = resnet18.preprocessing.resize_px
    report = cheap(photo, resnet18, explain([photo], resnet18, MapOptions(top_k=5, size_px=size_px))[0])
    expected = [f"{label}: AUC {getattr(scores, kind).auc:.3f}" for kind in ("deletion", "insertion")
                for label, scores in (("CAM", report.method), ("Random map", report.random_map),
                                      ("Centred Gaussian", report.gaussian_map))]
    assert [trace["name"] for trace in figure["data"]] == expected
    [table] = at.table
    assert f"{100 * report.method.drop:.0f}%" in table.value["drop ↓"].tolist()
