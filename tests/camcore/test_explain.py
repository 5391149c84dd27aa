"""explain(): every registered method end to end, photos of mixed sizes, ordering and clamping of classes, and maps
that line up with the photo (a model whose features are the photo itself, pooled at stride 32)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from camcore.cams import METHODS
from camcore.errors import UnsupportedMethod
from camcore.explain import Explanation, explain
from camcore.models import heads
from camcore.models.loading import LoadedModel
from camcore.models.preprocessing import Preprocessing
from camcore.options import MapOptions
from tests.conftest import cheap_layer, make_photo

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
    assert (explanation.bias is None) == (not METHODS[method].needs_head)
    if METHODS[method].rectify:
        assert (explanation.maps >= 0).all()
        assert np.array_equal(explanation.maps, np.maximum(explanation.signed_maps, 0))
    for p in explanation.predictions:
        assert p.class_name == model.class_names[p.class_index]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_a_thousand_class_model(resnet18: LoadedModel, method: str) -> None:
    photos = [make_photo(seed=0), make_photo(seed=1)]
    explanations = explain(photos, resnet18,
                           MapOptions(method=method, top_k=3, size_px=SIZE_PX, layer=cheap_layer(method)))
    for explanation, photo in zip(explanations, photos):
        _assert_well_formed(explanation, resnet18, method, 3)
        logits = _logit_of(resnet18, photo)
        expected = logits.topk(3).indices.tolist()
        assert [p.class_index for p in explanation.predictions] == expected
        probabilities = torch.softmax(logits, dim=0)
        assert np.allclose([p.probability for p in explanation.predictions], probabilities[expected], atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_a_one_logit_head(binary_resnet: LoadedModel, photo: Image.Image, method: str) -> None:
    (explanation,) = explain([photo], binary_resnet,
                             MapOptions(method=method, top_k=5, size_px=SIZE_PX, layer=cheap_layer(method)))
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


def test_finercam_explanations_name_the_classes_each_map_subtracts(resnet18: LoadedModel, photo: Image.Image) -> None:
    """The three other classes whose logits (the model's own) are nearest each explained class's."""
    (explanation,) = explain([photo], resnet18, MapOptions(method="finercam", top_k=2, size_px=SIZE_PX))
    logits = _logit_of(resnet18, photo)
    assert explanation.compared is not None and len(explanation.compared) == 2
    for prediction, names in zip(explanation.predictions, explanation.compared):
        gap = (logits - logits[prediction.class_index]).abs()
        gap[prediction.class_index] = float("inf")
        assert names == tuple(resnet18.class_names[i] for i in gap.argsort()[:3].tolist())
    (other,) = explain([photo], resnet18, MapOptions(method="gradcam", top_k=2, size_px=SIZE_PX))
    assert other.compared is None


def test_predictions_are_sorted_by_probability(resnet18: LoadedModel, photo: Image.Image) -> None:
    (explanation,) = explain([photo], resnet18, MapOptions(top_k=10, size_px=SIZE_PX))
    probabilities = [p.probability for p in explanation.predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] == pytest.approx(float(torch.softmax(_logit_of(resnet18, photo), 0).max()), abs=1e-6)


def test_photos_of_different_sizes_get_maps_of_their_own_aspect(resnet18: LoadedModel) -> None:
    photos = [make_photo(256, 64, seed=0), make_photo(64, 192, seed=1), make_photo(256, 64, seed=2),
              make_photo(120, 90, seed=3)]
    explanations = explain(photos, resnet18, MapOptions(method="gradcam", top_k=2, size_px=SIZE_PX))
    for photo, explanation in zip(photos, explanations):
        height, width = explanation.maps.shape[1:]
        assert abs(width - height * photo.width / photo.height) <= 1  # each side rounds to whole cells
        assert explanation.image_size == photo.size
        assert explanation.at_image_size().shape == (2, photo.height, photo.width)
        # batching is invisible
        (alone,) = explain([photo], resnet18, MapOptions(method="gradcam", top_k=2, size_px=SIZE_PX))
        assert [p.class_index for p in alone.predictions] == [p.class_index for p in explanation.predictions]
        assert np.allclose([p.logit for p in alone.predictions], [p.logit for p in explanation.predictions])
        assert np.allclose(alone.maps, explanation.maps, rtol=1e-4, atol=1e-6)


def test_wide_photo_map_is_wider_than_tall(resnet18: LoadedModel) -> None:
    (wide, tall) = explain([make_photo(256, 64), make_photo(64, 256)], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))
    assert wide.maps.shape[2] > wide.maps.shape[1] and tall.maps.shape[1] > tall.maps.shape[2]
    assert wide.maps.shape[1:] == tall.maps.shape[:0:-1]


def test_normalised_maps_are_their_positive_part_over_its_maximum(resnet18: LoadedModel, photo: Image.Image) -> None:
    (explanation,) = explain([photo], resnet18, MapOptions(method="layercam", top_k=3, size_px=SIZE_PX))
    normalised = explanation.normalised()
    positive = np.maximum(explanation.maps, 0)
    np.testing.assert_allclose(normalised, positive / positive.max(axis=(1, 2), keepdims=True), rtol=1e-6)


def test_unknown_method_names_the_valid_ones(resnet18: LoadedModel, photo: Image.Image) -> None:
    with pytest.raises(UnsupportedMethod) as info:
        explain([photo], resnet18, MapOptions(method="gradcampp", size_px=SIZE_PX))
    assert all(key in str(info.value) for key in METHODS)


def test_unknown_layer_is_a_value_error(resnet18: LoadedModel, photo: Image.Image) -> None:
    with pytest.raises(ValueError, match="layer9"):
        explain([photo], resnet18, MapOptions(method="gradcam", layer="layer9", size_px=SIZE_PX))


@pytest.mark.parametrize("method", list(METHODS))
def test_given_classes_are_mapped_in_their_order_like_the_top_k(resnet18, method: str) -> None:
    """The map of a class chosen by index (a photo's true class) is the one top-k gives that class."""
    photos = [make_photo(96, 80, seed=4), make_photo(96, 80, seed=5)]
    top = explain(photos, resnet18, MapOptions(method=method, top_k=3, size_px=SIZE_PX, layer=cheap_layer(method)))
    wanted = [[e.predictions[2].class_index, e.predictions[0].class_index] for e in top]
    given = explain(photos, resnet18, MapOptions(method=method, size_px=SIZE_PX, layer=cheap_layer(method)),
                    per_photo_classes=wanted)
    for t, g, w in zip(top, given, wanted):
        assert [p.class_index for p in g.predictions] == w
        np.testing.assert_allclose(g.maps, t.maps[[2, 0]], rtol=1e-4, atol=1e-6)
        assert g.predictions[0].probability == pytest.approx(t.predictions[2].probability)


def test_cam_explanation_states_the_lessons_identity(resnet18, binary_resnet) -> None:
    """What the Explain page prints: the map's mean plus the bias is each explained class's logit."""
    for model in (resnet18, binary_resnet):
        (result,) = explain([make_photo(90, 70, seed=6)], model, MapOptions(top_k=2, size_px=SIZE_PX))
        for rank, prediction in enumerate(result.predictions):
            assert result.map_mean(rank) + result.bias[rank] == pytest.approx(prediction.logit, rel=1e-5, abs=1e-5)


class _PoolNet(torch.nn.Module):
    """A CAM model whose features are known: the input itself averaged over 32x32 cells (stride 32), then GAP and
    a Linear head whose class 0 is the mean brightness, so a cell's map value is its share of the photo's light."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AvgPool2d(32)
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1 / 3] * 3, [-1 / 3] * 3]))
            self.fc.bias.zero_()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    def get_classifier(self) -> torch.nn.Linear:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def pool_net() -> LoadedModel:
    module = _PoolNet().requires_grad_(False).eval()
    device = torch.device("cpu")
    layers = heads.map_layers(module, device)
    cam = heads.find_cam_parts(module, device)
    assert cam is not None
    return LoadedModel(spec="poolnet", arch="poolnet", module=module, class_names=("bright", "dark"), binary=False,
                       preprocessing=Preprocessing(resize_px=224, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
                       layouts=layers.layouts, default_layer=layers.default, cam=cam, device=device)


ODD_PHOTOS = {(500, 375): (7, 9), (333, 517): (11, 7), (1001, 251): (7, 28)}
"""(width, height) -> the feature grid (h, w): each input side is the nearest multiple of 32 at shorter side 224."""


def _square_photo(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    """A black photo with a white box [x0, y0, x1, y1)."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    x0, y0, x1, y1 = box
    pixels[y0:y1, x0:x1] = 255
    return Image.fromarray(pixels)


def _cell_shares(length_px: int, cells: int) -> np.ndarray:
    """(cells, length_px): how much of each photo pixel [p, p + 1) lies in cell i's share [i, i + 1) * length / cells,
    divided by the share's length: a matrix that averages a photo row or column over the cells."""
    edges = np.arange(cells + 1) * length_px / cells
    pixels = np.arange(length_px)
    overlap = np.clip(np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels), 0, None)
    return overlap / (length_px / cells)


@pytest.mark.parametrize("size", ODD_PHOTOS)
@pytest.mark.parametrize("where", [(0.08, 0.1), (0.45, 0.5), (0.86, 0.84)])
def test_a_bright_square_comes_out_where_it_is(pool_net: LoadedModel, size: tuple[int, int],
                                               where: tuple[float, float]) -> None:
    """The map's peak at photo size lies within one grid cell of the square's centre, corners included."""
    width, height = size
    grid_h, grid_w = ODD_PHOTOS[size]
    side = int(min(width / grid_w, height / grid_h))
    x0, y0 = int(where[0] * (width - side)), int(where[1] * (height - side))
    (result,) = explain([_square_photo(size, (x0, y0, x0 + side, y0 + side))], pool_net, per_photo_classes=[[0]])
    assert result.maps.shape == (1, grid_h, grid_w)
    peak_y, peak_x = np.unravel_index(np.argmax(result.at_image_size()[0]), (height, width))
    assert abs(peak_x - (x0 + side / 2)) <= width / grid_w and abs(peak_y - (y0 + side / 2)) <= height / grid_h


@pytest.mark.parametrize("size", ODD_PHOTOS)
def test_each_map_cell_covers_its_equal_share_of_the_photo(pool_net: LoadedModel, size: tuple[int, int]) -> None:
    """Cell (i, j) holds the photo's mean over [j, j + 1) * W / w x [i, i + 1) * H / h, what heatmap.upsample
    assumes, computed here from the pixels alone. A grid that covered more or less than the photo (a 299 px
    wide input pooled to 9 cells of 32 px) would be off by a third of a cell at the far edge."""
    width, height = size
    grid_h, grid_w = ODD_PHOTOS[size]
    photo = _square_photo(size, (int(width * 0.55), int(height * 0.6), int(width * 0.93), int(height * 0.95)))
    (result,) = explain([photo], pool_net, per_photo_classes=[[0]])
    brightness = np.asarray(photo, dtype=np.float64).mean(axis=2) / 255
    expected = _cell_shares(height, grid_h) @ brightness @ _cell_shares(width, grid_w).T
    np.testing.assert_allclose(result.maps[0], expected, atol=0.04)
    assert result.map_mean(0) == pytest.approx(result.predictions[0].logit, rel=1e-5)
