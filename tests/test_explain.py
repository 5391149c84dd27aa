"""explain(): every registered method end to end, photos of mixed sizes, ordering and clamping of classes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_photo
from PIL import Image

from camcore.cams import METHODS
from camcore.errors import UnsupportedMethod
from camcore.explain import Explanation, explain
from camcore.models import LoadedModel

SIZE_PX = 64


def _logit_of(model: LoadedModel, photo: Image.Image) -> torch.Tensor:
    """The model's own output for the photo, preprocessed as explain() does."""
    x = model.preprocessing.with_size(SIZE_PX).transform()(photo)[None]
    with torch.inference_mode():
        return model.module(x)[0]


def _assert_well_formed(explanation: Explanation, model: LoadedModel, method: str, top_k: int) -> None:
    k = min(top_k, len(model.class_names))
    assert len(explanation.predictions) == k
    assert explanation.maps.shape == explanation.signed_maps.shape and explanation.maps.shape[0] == k
    assert np.isfinite(explanation.maps).all() and np.isfinite(explanation.signed_maps).all()
    assert explanation.method == method and explanation.elapsed_s > 0
    assert explanation.device.startswith("cpu")
    assert (explanation.bias is None) == METHODS[method].needs_gradients
    if METHODS[method].rectify:
        assert (explanation.maps >= 0).all()
        assert np.array_equal(explanation.maps, np.maximum(explanation.signed_maps, 0))
    for p in explanation.predictions:
        assert p.class_name == model.class_names[p.class_index]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_a_thousand_class_model(resnet18: LoadedModel, method: str) -> None:
    photos = [make_photo(seed=0), make_photo(seed=1)]
    for explanation, photo in zip(explain(photos, resnet18, method=method, top_k=3, size_px=SIZE_PX), photos):
        _assert_well_formed(explanation, resnet18, method, 3)
        logits = _logit_of(resnet18, photo)
        expected = logits.topk(3).indices.tolist()
        assert [p.class_index for p in explanation.predictions] == expected
        probabilities = torch.softmax(logits, dim=0)
        assert np.allclose([p.probability for p in explanation.predictions], probabilities[expected], atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_a_one_logit_head(binary_resnet: LoadedModel, photo: Image.Image, method: str) -> None:
    (explanation,) = explain([photo], binary_resnet, method=method, top_k=5, size_px=SIZE_PX)
    _assert_well_formed(explanation, binary_resnet, method, 5)
    z = float(_logit_of(binary_resnet, photo)[0])
    by_name = {p.class_name: p for p in explanation.predictions}
    assert set(by_name) == {"cat", "dog"}
    assert np.isclose(by_name["dog"].logit, z, atol=1e-5) and np.isclose(by_name["cat"].logit, -z, atol=1e-5)
    assert np.isclose(by_name["dog"].probability, 1 / (1 + np.exp(-z)), atol=1e-6)
    assert np.isclose(by_name["cat"].probability + by_name["dog"].probability, 1.0, atol=1e-6)
    if method == "cam":
        cat, dog = (explanation.predictions.index(by_name[name]) for name in ("cat", "dog"))
        assert np.allclose(explanation.signed_maps[cat], -explanation.signed_maps[dog], atol=1e-6)


def test_predictions_are_sorted_by_probability(resnet18: LoadedModel, photo: Image.Image) -> None:
    (explanation,) = explain([photo], resnet18, top_k=10, size_px=SIZE_PX)
    probabilities = [p.probability for p in explanation.predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] == pytest.approx(float(torch.softmax(_logit_of(resnet18, photo), 0).max()), abs=1e-6)


def test_photos_of_different_sizes_get_maps_of_their_own_aspect(resnet18: LoadedModel) -> None:
    photos = [make_photo(256, 64, seed=0), make_photo(64, 192, seed=1), make_photo(256, 64, seed=2),
              make_photo(120, 90, seed=3)]
    explanations = explain(photos, resnet18, method="gradcam", top_k=2, size_px=SIZE_PX)
    for photo, explanation in zip(photos, explanations):
        height, width = explanation.maps.shape[1:]
        assert abs(width - height * photo.width / photo.height) <= 1  # each side rounds to whole cells
        assert explanation.image_size == photo.size
        assert explanation.at_image_size().shape == (2, photo.height, photo.width)
        (alone,) = explain([photo], resnet18, method="gradcam", top_k=2, size_px=SIZE_PX)  # batching is invisible
        assert [p.class_index for p in alone.predictions] == [p.class_index for p in explanation.predictions]
        assert np.allclose([p.logit for p in alone.predictions], [p.logit for p in explanation.predictions])
        assert np.allclose(alone.maps, explanation.maps, rtol=1e-4, atol=1e-6)


def test_wide_photo_map_is_wider_than_tall(resnet18: LoadedModel) -> None:
    (wide, tall) = explain([make_photo(256, 64), make_photo(64, 256)], resnet18, top_k=1, size_px=SIZE_PX)
    assert wide.maps.shape[2] > wide.maps.shape[1] and tall.maps.shape[1] > tall.maps.shape[2]
    assert wide.maps.shape[1:] == tall.maps.shape[:0:-1]


def test_normalised_maps_span_zero_to_one(resnet18: LoadedModel, photo: Image.Image) -> None:
    (explanation,) = explain([photo], resnet18, method="layercam", top_k=3, size_px=SIZE_PX)
    normalised = explanation.normalised()
    assert normalised.shape == explanation.maps.shape
    assert np.allclose(normalised.min(axis=(1, 2)), 0) and np.allclose(normalised.max(axis=(1, 2)), 1)


def test_unknown_method_names_the_valid_ones(resnet18: LoadedModel, photo: Image.Image) -> None:
    with pytest.raises(UnsupportedMethod) as info:
        explain([photo], resnet18, method="gradcampp", size_px=SIZE_PX)
    assert all(key in str(info.value) for key in METHODS)


def test_unknown_layer_is_a_value_error(resnet18: LoadedModel, photo: Image.Image) -> None:
    with pytest.raises(ValueError, match="layer9"):
        explain([photo], resnet18, method="gradcam", layer="layer9", size_px=SIZE_PX)


@pytest.mark.parametrize("method", list(METHODS))
def test_given_classes_are_mapped_in_their_order_like_the_top_k(resnet18, method: str) -> None:
    """The map of a class chosen by index (a photo's true class) is the one top-k gives that class."""
    photos = [make_photo(96, 80, seed=4), make_photo(96, 80, seed=5)]
    top = explain(photos, resnet18, method=method, top_k=3, size_px=SIZE_PX)
    wanted = [[e.predictions[2].class_index, e.predictions[0].class_index] for e in top]
    given = explain(photos, resnet18, method=method, size_px=SIZE_PX, classes=wanted)
    for t, g, w in zip(top, given, wanted):
        assert [p.class_index for p in g.predictions] == w
        np.testing.assert_allclose(g.maps, t.maps[[2, 0]], rtol=1e-4, atol=1e-6)
        assert g.predictions[0].probability == pytest.approx(t.predictions[2].probability)


def test_cam_explanation_states_the_lessons_identity(resnet18, binary_resnet) -> None:
    """What the Explain page prints: the map's mean plus the bias is each explained class's logit."""
    for model in (resnet18, binary_resnet):
        (result,) = explain([make_photo(90, 70, seed=6)], model, top_k=2, size_px=SIZE_PX)
        for rank, prediction in enumerate(result.predictions):
            assert result.map_mean(rank) + result.bias[rank] == pytest.approx(prediction.logit, rel=1e-5, abs=1e-5)
