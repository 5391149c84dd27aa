"""camcore.cams.lesson: the identity of step 2 against the model's own forward, a one-logit head's cat map, and the
quiz's click score."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from camcore.cams import lesson
from camcore.models.loading import LoadedModel
from tests.conftest import make_photo


def test_pooling_both_orders_give_the_models_own_logit(resnet18: LoadedModel) -> None:
    photo = make_photo(seed=3)
    with torch.inference_mode():
        logits = resnet18.module(lesson.model_input(resnet18, photo))[0]
    index = int(logits.argmax())
    steps = lesson.pooling(resnet18, photo, index)
    assert steps.gap_then_linear == pytest.approx(float(logits[index]), abs=1e-4)
    assert steps.linear_then_gap == pytest.approx(float(logits[index]), abs=1e-4)
    assert np.allclose(steps.weight, resnet18.module.fc.weight[index].detach().numpy())


def test_one_logit_cat_map_is_minus_the_dog_map(binary_resnet: LoadedModel) -> None:
    photo = make_photo(seed=4)
    cat, dog = lesson.pooling(binary_resnet, photo, 0), lesson.pooling(binary_resnet, photo, 1)
    # float32 sums: the two signs round apart by up to a few 1e-7 on a logit near 0.1
    assert np.allclose(cat.class_map, -dog.class_map) and cat.logit == pytest.approx(-dog.logit, abs=1e-6)


def test_gradcam_weights_are_the_linear_weights_over_the_positions(resnet18: LoadedModel) -> None:
    comparison = lesson.compare_weights(resnet18, make_photo(seed=5), 7)
    positions = comparison.cam_map.size
    assert np.allclose(comparison.grad_weights * positions, comparison.cam_weights, atol=1e-5)


def test_feature_maps_are_sorted_by_mean_activation(resnet18: LoadedModel) -> None:
    maps = lesson.feature_maps(resnet18, make_photo(seed=6), "layer1")
    assert maps.activations.shape[0] == 64
    assert np.all(np.diff(maps.means[maps.order]) <= 0)


def test_click_score_is_a_percentile_and_inside_the_threshold() -> None:
    raw = np.zeros((10, 10), dtype=np.float32)
    raw[2:4, 6:8] = 1.0  # rows 2-3, columns 6-7: a click is (x = column, y = row)
    raw[0, 0] = 0.1
    hot = lesson.click_score(raw, 7.0, 3.0, threshold_frac=0.2)
    assert hot.inside and hot.percentile == pytest.approx(100.0)
    cold = lesson.click_score(raw, 0.0, 0.0, threshold_frac=0.2)
    assert not cold.inside and cold.percentile == pytest.approx(96.0)
    assert not lesson.click_score(raw, 9.0, 9.0, threshold_frac=0.2).inside
