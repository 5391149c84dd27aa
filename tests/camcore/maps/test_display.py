"""camcore.maps.display: every slider state's maps and boxes, checked against the photo-size pipeline of heatmap."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from camcore.explain import Explanation, Prediction, explain
from camcore.maps import heatmap
from camcore.maps.display import THRESHOLDS, slider_layers
from camcore.options import MapOptions
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
                       image_size=image_size, options=MapOptions(method="gradcam"), layer="layer4", device="cpu",
                       elapsed_s=0.0)


def test_shapes_follow_the_photo_aspect_with_long_side_grid_px() -> None:
    layers = slider_layers(synthetic_explanation(), grid_px=40)
    assert layers.photo_size == PHOTO_SIZE
    np.testing.assert_array_equal(layers.thresholds, THRESHOLDS.astype(np.float32))
    assert layers.maps.shape == (3, 30, 40)
    assert layers.levels.shape == (10, 3)
    assert layers.boxes.shape == (10, 3, 4)
    assert layers.signed.shape == (3, 30, 40)
    portrait = slider_layers(synthetic_explanation(image_size=(300, 400)), grid_px=40)
    assert portrait.maps.shape == (3, 40, 30)


def test_maps_are_the_grid_over_its_maximum_and_levels_the_thresholds() -> None:
    """The maps are ReLU'd blobs, zero around each; each travels once. Of the maximum, a map normalised on the
    grid peaks at 1, so every class's level is the threshold itself."""
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, grid_px=40)
    up = heatmap.upsample(explanation.maps, (30, 40))
    np.testing.assert_allclose(layers.maps, np.maximum(up, 0) / up.max(axis=(1, 2), keepdims=True), atol=1e-6)
    assert (layers.maps == 0).any() and (layers.maps.max(axis=(1, 2)) == 1).all()
    np.testing.assert_array_equal(layers.levels, np.repeat(THRESHOLDS.astype(np.float32)[:, None], 3, axis=1))


@pytest.mark.parametrize("box_px", [80, 320])
def test_boxes_match_the_full_size_box_within_one_box_cell(box_px: int) -> None:
    """The reference is what camcore.maps.exports does: upsample to the photo's pixels, normalise, threshold_box."""
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, box_px=box_px)
    width, height = PHOTO_SIZE
    full = heatmap.normalise(heatmap.upsample(explanation.maps, (height, width)))
    cell_px = max(width, height) / box_px
    for threshold, boxes in zip(layers.thresholds, layers.boxes):
        for rank, box in enumerate(boxes):
            expected = heatmap.threshold_box(full[rank], float(threshold))
            np.testing.assert_allclose(box, expected, atol=cell_px + 1e-3, err_msg=f"t={threshold} class={rank}")


def test_boxes_are_nan_where_nothing_is_kept() -> None:
    """A constant positive map is its own maximum everywhere: the whole photo at any threshold up to 1. A map
    without a positive value keeps nothing, even at 0; 1.5 keeps nothing anywhere."""
    explanation = synthetic_explanation()
    maps = np.concatenate([explanation.maps[:1], np.ones((1, 7, 9)), -np.ones((1, 7, 9))])
    layers = slider_layers(dataclasses.replace(explanation, maps=maps), thresholds=np.array([0.0, 0.5, 1.5]))
    np.testing.assert_array_equal(layers.boxes[:2, 1], [[0, 0, *PHOTO_SIZE]] * 2)
    assert np.isnan(layers.boxes[:, 2]).all() and (layers.maps[2] == 0).all()
    assert not np.isnan(layers.boxes[1, 0]).any()
    assert np.isnan(layers.boxes[2]).all()
    assert (layers.levels[2] > layers.maps.max(axis=(1, 2))).all()


def test_boxes_are_threshold_box_on_the_box_grid_in_photo_pixels() -> None:
    """Two blobs per class (one big and warm, one small and hot) with a trough: each box is threshold_box's
    on the box grid (the larger region), scaled by the photo's pixels per grid cell (400 / 80 = 5)."""
    rows, cols = np.mgrid[:12, :16]
    big = np.exp(-((rows - 4) ** 2 + (cols - 4) ** 2) / 8.0) * 0.7
    small = np.exp(-((rows - 8) ** 2 + (cols - 12) ** 2) / 1.0)
    signed = np.stack([big + small - 0.25, big[::-1, ::-1] + small[::-1, ::-1] - 0.25]).astype(np.float32)
    signed[:, :, 14:] = -3.0
    explanation = dataclasses.replace(synthetic_explanation(), signed_maps=signed, maps=signed,
                                      predictions=synthetic_explanation().predictions[:2], options=MapOptions())
    layers = slider_layers(explanation, box_px=80)
    grid = heatmap.normalise(heatmap.upsample(signed, (60, 80)))
    for threshold, boxes in zip(layers.thresholds, layers.boxes):
        for rank, box in enumerate(boxes):
            expected = heatmap.threshold_box(grid[rank], float(threshold))
            expected = np.full(4, np.nan) if expected is None else np.array(expected) * 5.0
            np.testing.assert_allclose(box, expected, err_msg=f"t={threshold} class={rank}")
    box_0 = layers.boxes[2, 0]  # threshold 0.2 keeps both blobs apart: the box is around the big one only
    assert box_0[0] < 4 / 16 * 400 < box_0[2] and box_0[2] < 12 / 16 * 400


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
    """A 4000x3000 upload: boxes are in its pixels (threshold_box's on the 320x240 box grid, 12.5 px a cell),
    every map stays on the small grid."""
    photo = make_photo(4000, 3000)
    explanation = explain([photo], resnet18, MapOptions(top_k=2, size_px=64))[0]
    layers = slider_layers(explanation, grid_px=40)
    assert layers.maps.shape == (2, 30, 40)
    kept = layers.boxes[~np.isnan(layers.boxes).any(axis=-1)]
    assert kept.size and kept.min() >= 0 and kept[:, 2].max() <= 4000 and kept[:, 3].max() <= 3000
    grid = heatmap.normalise(heatmap.upsample(explanation.maps, (240, 320)))
    for rank in range(2):
        np.testing.assert_allclose(layers.boxes[0, rank], np.array(heatmap.threshold_box(grid[rank], 0.0)) * 12.5)


def min_max_by_hand(maps: np.ndarray) -> np.ndarray:
    low, high = maps.min(axis=(-2, -1), keepdims=True), maps.max(axis=(-2, -1), keepdims=True)
    return ((maps - low) / (high - low)).astype(np.float32)


def test_percentile_layers_keep_each_map_above_its_own_percentile_level() -> None:
    """PaS: the slider's steps are 0.05, 0.15, ... (0.35 among them), each a fraction of each class's own 90th
    percentile on each grid (np.percentile here) of the map min-max scaled, as Bae et al.'s code scales it: levels
    and boxes follow that class's level, not the maximum's."""
    explanation = synthetic_explanation()
    layers = slider_layers(explanation, standard=heatmap.PERCENTILE, grid_px=40, box_px=80)
    np.testing.assert_allclose(layers.thresholds, np.arange(0.05, 1.0, 0.1), atol=1e-6)
    assert 0.35 in np.round(layers.thresholds, 2) and layers.standard == heatmap.PERCENTILE
    grid = min_max_by_hand(heatmap.upsample(explanation.maps, (30, 40)))
    box_grid = min_max_by_hand(heatmap.upsample(explanation.maps, (60, 80)))
    np.testing.assert_allclose(layers.maps, grid, atol=1e-6)
    for threshold, levels, boxes in zip(layers.thresholds, layers.levels, layers.boxes):
        for rank in range(3):
            assert levels[rank] == pytest.approx(threshold * np.percentile(grid[rank], 90), rel=1e-5)
            box = heatmap.threshold_box(box_grid[rank], float(threshold * np.percentile(box_grid[rank], 90)))
            np.testing.assert_allclose(boxes[rank], np.full(4, np.nan) if box is None else np.array(box) * 5.0)
