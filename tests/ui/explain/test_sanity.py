"""The Explain page's sanity-check expander (ui.explain.sanity) and its figure (ui.explain.sanity_figures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from camcore.scores.sanity import SanityCheck
from tests.app_pages.test_pages import GOOD, explain_page, figures, pets, pick_samples, random_resnet  # noqa: F401 (fixtures)  # noqa: F401 (fixtures)
from tests.conftest import make_photo
from ui.common.text import read_back
from ui.explain.sanity_figures import sanity_figure

STAGES = ("original", "fc", "layer4", "conv1+bn1")


def _check() -> SanityCheck:
    maps = np.stack([np.full((3, 4), 0.5), np.eye(3, 4), np.zeros((3, 4)), np.ones((3, 4))]).astype(np.float32)
    return SanityCheck(stages=STAGES, class_index=1, class_name="goldfish", method="cam", layer="layer4", maps=maps,
                       spearman=np.array([1.0, 0.25, np.nan, -0.5]), ssim=np.array([1.0, 0.5, 0.25, 0.0]))


def test_figure_has_one_map_per_stage_and_a_slider_over_them() -> None:
    check = _check()
    figure = sanity_figure(make_photo(), check).to_dict()
    go.Figure(figure)  # plotly's validation: raises on any property it does not know
    kinds = [trace["type"] for trace in figure["data"]]
    assert kinds == ["image", *["heatmap"] * len(STAGES), "scatter", "scatter"]
    heat = figure["data"][1:1 + len(STAGES)]
    assert [trace["visible"] for trace in heat] == [True, False, False, False]
    assert heat[1]["z"] == np.round(np.eye(3, 4), 2).tolist()
    spearman, ssim = figure["data"][-2:]
    assert spearman["x"] == list(STAGES) and spearman["y"] == [1.0, 0.25, None, -0.5]
    assert ssim["y"] == [1.0, 0.5, 0.25, 0.0]
    [slider] = figure["layout"]["sliders"]
    assert [step["label"] for step in slider["steps"]] == list(STAGES)
    visible, layout, traces = slider["steps"][3]["args"]
    assert visible == {"visible": [False, False, False, True]} and traces == [1, 2, 3, 4]
    assert layout["title.text"] == "Randomised down to conv1+bn1: Spearman -0.50, SSIM 0.00"
    assert layout["shapes[0].x0"] == 3
    assert slider["steps"][2]["args"][1]["title.text"].endswith("Spearman n/a (flat map), SSIM 0.25")
    assert figure["layout"]["title"]["text"] == "Original model: Spearman 1.00, SSIM 1.00"


def test_expander_runs_the_check_on_request(random_resnet: None, pets: Path,  # noqa: F811 (fixtures)
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's resnet18 is torchvision's init under seed 0, which the cascade re-creates: every stage's map
    is the original's, so every step says Spearman 1.00 and SSIM 1.00."""
    at = pick_samples(explain_page(), GOOD)
    assert "Sanity check: randomise the model" in [expander.label for expander in at.expander]
    assert not [f for f in figures(at) if f["layout"].get("shapes")]  # nothing computed before the click
    at.button(key="explain.sanity.0").click().run()
    assert not at.exception and not at.error
    [figure] = [f for f in figures(at) if f["layout"].get("shapes")]
    [slider] = figure["layout"]["sliders"]
    assert [step["label"] for step in slider["steps"]] == ["original", "fc", "layer4", "layer3", "layer2", "layer1",
                                                           "conv1+bn1"]
    assert all(step["args"][1]["title.text"].endswith("Spearman 1.00, SSIM 1.00") for step in slider["steps"])
    assert "explaining the image, not the model" in "\n".join(read_back(m.value) for m in at.markdown)
    at.selectbox(key="explain.class.0").set_value(1).run()  # another widget's rerun keeps the figure
    assert len([f for f in figures(at) if f["layout"].get("shapes")]) == 1
