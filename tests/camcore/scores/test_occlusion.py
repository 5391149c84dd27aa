"""camcore.scores.occlusion: a box blurred out, checked against the model's own forward on a copy blurred here with
torchvision; the map's share of a box on a hand-made symmetric map; and "hide the top 30%" equal to the deletion
curves' point at 30%, for the map and its random baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms.v2.functional import gaussian_blur

from camcore.explain import Explanation, Prediction, explain
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores.faithfulness import map_faithfulness, random_map
from camcore.scores.occlusion import hide_box, hide_top
from tests.conftest import make_photo

SIZE_PX = 64
"""A 96x64 photo at size 64 is its own network input: photo pixels are input pixels."""


def symmetric_explanation(class_index: int) -> Explanation:
    """A hand-made (1, 2, 4) map, mirror-symmetric left to right: any left half holds half its mass."""
    maps = np.array([[[1.0, 3.0, 3.0, 1.0], [2.0, 5.0, 5.0, 2.0]]], dtype=np.float32)
    return Explanation(predictions=(Prediction(class_index, "c", 0.0, 0.0),), signed_maps=maps, maps=maps, bias=None,
                       image_size=(96, 64), options=MapOptions(), layer="layer4", device="cpu", elapsed_s=0.0)


def test_a_blurred_box_matches_the_models_own_forward(resnet18: LoadedModel) -> None:
    photo = make_photo(96, 64, seed=2)
    (explanation,) = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))
    result = hide_box(resnet18, photo, explanation, (10, 5, 50, 40))
    x = resnet18.preprocessing.with_size(SIZE_PX).transform()(photo)
    assert x.shape[-2:] == (64, 96)
    hidden = x.clone()
    hidden[:, 5:40, 10:50] = gaussian_blur(x, [11, 11], [5.0, 5.0])[:, 5:40, 10:50]
    with torch.inference_mode():
        own = torch.softmax(resnet18.module(torch.stack([x, hidden])), dim=1)[:, explanation.predictions[0].class_index]
    assert result.probability == pytest.approx(float(own[0]), abs=1e-5)
    assert result.hidden_probability == pytest.approx(float(own[1]), abs=1e-5)
    assert result.area_share == pytest.approx(40 * 35 / (96 * 64))
    assert result.change == pytest.approx(float(own[1] - own[0]), abs=1e-5)


def test_the_maps_share_of_a_box(resnet18: LoadedModel) -> None:
    photo = make_photo(96, 64, seed=2)
    explanation = symmetric_explanation(3)
    left = hide_box(resnet18, photo, explanation, (0, 0, 48, 64))
    whole = hide_box(resnet18, photo, explanation, (0, 0, 96, 64))
    assert left.map_share == pytest.approx(0.5) and left.area_share == pytest.approx(0.5)
    assert whole.map_share == pytest.approx(1.0) and whole.area_share == 1.0


def test_hiding_the_top_share_is_the_deletion_curves_point(resnet18: LoadedModel) -> None:
    photo = make_photo(96, 64, seed=5)
    (explanation,) = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))
    top, random = hide_top(resnet18, photo, explanation, 0.3)
    x = resnet18.preprocessing.with_size(SIZE_PX).transform()(photo)
    own, noise = map_faithfulness(resnet18, x, [explanation.maps[0], random_map(explanation.maps[0].shape)],
                                  explanation.predictions[0].class_index, steps=10)
    assert top.hidden_probability == pytest.approx(float(own.deletion.probabilities[3]), abs=1e-5)
    assert random.hidden_probability == pytest.approx(float(noise.deletion.probabilities[3]), abs=1e-5)
    assert top.area_share == pytest.approx(0.3, abs=1e-3) and random.area_share == pytest.approx(0.3, abs=1e-3)
    assert top.map_share > random.map_share and top.what == "the map's top 30%"
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        hide_top(resnet18, photo, explanation, 0.0)
