"""camcore.display: every slider state's maps and boxes, checked against the photo-size pipeline of heatmap."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from camcore import heatmap
from camcore.display import THRESHOLDS, slider_layers
from camcore.explain import Explanation, Prediction, explain
from tests.conftest import make_photo

PHOTO_SIZE = (400, 300)
"""make_photo(400, 300) puts its disc at (240, 120): the first class's blob sits on it."""
BLOB_CENTRES = ((0.6, 0.4), (0.2, 0.75), (0.8, 0.8))
"""(x, y) of each class's blob as fractions of the photo."""


def synthetic_explanation(image_size: tuple[int, int] = PHOTO_SIZE) -> Explanation:
    """Three classes, each a Gaussian blob on a 7x9 grid as a network's layer gives; maps are ReLU'd.

    7x9 does not divide the display grids: upsampling misses the peak, so normalising after it matters.
    """
    grid_hw = (7, 9)
    rows, cols = np.mgrid[:grid_hw[0], :grid_hw[1]]
    centres = [((cy * grid_hw[0]) - 0.5, (cx * grid_hw[1]) - 0.5) for cx, cy in BLOB_CENTRES]
    signed = np.stack([np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 2.0) - 0.3 for r, c in centres])
    signed = signed.astype(np.float32)
    predictions = tuple(Prediction(index, name, 2.0 - index, probability) for index, (name, probability)
                        in enumerate([("tabby", 0.54), ("German shepherd, alsatian", 0.2), ("tiger cat", 0.1)]))
    return Explanation(predictions=predictions, signed_maps=signed, maps=np.maximum(signed, 0), bias=None,
                       image_size=image_size, method="gradcam", layer="layer4", device="cpu", elapsed_s=0.0)


def test_shapes_follow_the_photo_aspect_with_long_side_grid_px() -> None:
    layers = slider_layers(synthetic_explanation(), grid_px=40)
    assert layers.photo_size == PHOTO_SIZE
    np.testing.assert_array_equal(layers.thresholds, THRESHOLDS.astype(np.float32))
    assert layers.maps.shape == (10, 3, 30, 40)
    assert layers.boxes.shape == (10, 3, 4)
    assert layers.signed.shape == (3, 30, 40)
    portrait = slider_layers(synthetic_explanation(image_size=(300, 400)), grid_px=40)
    assert portrait.maps.shape == (10, 3, 40, 30)


def test_threshold_zero_is_the_normalised_grid() -> None:
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, grid_px=40)
    up = heatmap.upsample(explanation.maps, (30, 40))
    span = up.max(axis=(1, 2), keepdims=True) - up.min(axis=(1, 2), keepdims=True)
    expected = (up - up.min(axis=(1, 2), keepdims=True)) / span
    assert not np.isnan(layers.maps[0]).any()
    np.testing.assert_allclose(layers.maps[0], expected, atol=1e-6)


def test_nan_cells_are_exactly_those_below_each_threshold() -> None:
    layers = slider_layers(synthetic_explanation())
    grid = layers.maps[0]
    for threshold, maps in zip(layers.thresholds, layers.maps):
        np.testing.assert_array_equal(np.isnan(maps), grid < threshold)
        np.testing.assert_array_equal(maps[~np.isnan(maps)], grid[grid >= threshold])


@pytest.mark.parametrize("box_px", [80, 320])
def test_boxes_match_the_full_size_box_within_one_box_cell(box_px: int) -> None:
    """The reference is what camcore.exports does: upsample to the photo's pixels, normalise, threshold, box."""
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, box_px=box_px)
    width, height = PHOTO_SIZE
    full = heatmap.normalise(heatmap.upsample(explanation.maps, (height, width)))
    cell_px = max(width, height) / box_px
    for threshold, boxes in zip(layers.thresholds, layers.boxes):
        for rank, box in enumerate(boxes):
            expected = heatmap.bounding_box(heatmap.threshold_mask(full[rank], threshold))
            np.testing.assert_allclose(box, expected, atol=cell_px + 1e-3, err_msg=f"t={threshold} class={rank}")


def test_boxes_are_nan_where_nothing_is_kept() -> None:
    """A constant map normalises to zeros: everything is kept at 0, nothing above; 1.5 keeps nothing anywhere."""
    explanation = synthetic_explanation()
    flat = dataclasses.replace(explanation, maps=np.concatenate([explanation.maps[:2], np.ones((1, 7, 9))]))
    layers = slider_layers(flat, thresholds=np.array([0.0, 0.5, 1.5]))
    np.testing.assert_array_equal(layers.boxes[0, 2], [0, 0, *PHOTO_SIZE])
    assert np.isnan(layers.boxes[1, 2]).all()
    assert not np.isnan(layers.boxes[1, :2]).any()
    assert np.isnan(layers.boxes[2]).all()
    assert np.isnan(layers.maps[2]).all()


def test_signed_maps_are_scaled_by_their_largest_magnitude() -> None:
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, grid_px=40)
    up = heatmap.upsample(explanation.signed_maps, (30, 40))
    np.testing.assert_allclose(layers.signed, up / np.abs(up).max(axis=(1, 2), keepdims=True), atol=1e-6)
    assert np.abs(layers.signed).max(axis=(1, 2)) == pytest.approx(1.0)
    assert (layers.signed < 0).any()


def test_labels_give_rank_name_and_probability() -> None:
    layers = slider_layers(synthetic_explanation())
    assert layers.labels == ("1. tabby (54.0%)", "2. German shepherd, alsatian (20.0%)", "3. tiger cat (10.0%)")


def test_real_explanation_of_a_large_photo(resnet18) -> None:
    """A 4000x3000 upload: boxes are in its pixels, every map stays on the small grid."""
    photo = make_photo(4000, 3000)
    layers = slider_layers(explain([photo], resnet18, top_k=2, size_px=64)[0], grid_px=40)
    assert layers.maps.shape == (10, 2, 30, 40)
    kept = layers.boxes[~np.isnan(layers.boxes).any(axis=-1)]
    assert kept.size and kept.min() >= 0 and kept[:, 2].max() <= 4000 and kept[:, 3].max() <= 3000
    np.testing.assert_array_equal(layers.boxes[0], [[0, 0, 4000, 3000]] * 2)
