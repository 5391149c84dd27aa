"""camcore.heatmap on synthetic maps whose thresholds, boxes and colours are known in advance."""
from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from camcore import heatmap

ALL_COLORMAPS = heatmap.SEQUENTIAL_COLORMAPS + heatmap.DIVERGING_COLORMAPS


def _rectangle(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Ones inside [x0, y0, x1, y1) (x1/y1 exclusive), zeros elsewhere."""
    x0, y0, x1, y1 = box
    grid = np.zeros((height, width), dtype=np.float32)
    grid[y0:y1, x0:x1] = 1.0
    return grid


def _matplotlib_rgb(colormap: str, value: float) -> np.ndarray:
    """The colormap's own float colour in 0..255 (its byte table truncates, hence tolerances of 1)."""
    return np.array(colormaps[colormap](value)[:3]) * 255


def test_threshold_half_of_a_ramp_keeps_exactly_the_upper_half() -> None:
    ramp = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (4, 1))
    mask = heatmap.threshold_mask(ramp, 0.5)
    assert np.array_equal(mask, np.tile(np.arange(10) >= 5, (4, 1)))
    assert heatmap.threshold_mask(ramp, 0.0).all()
    assert heatmap.threshold_mask(ramp, 1.0).sum() == 4


@pytest.mark.parametrize("box", [(3, 2, 9, 6), (0, 0, 10, 7), (4, 5, 5, 6)])
def test_bounding_box_is_the_rectangle_corners(box: tuple[int, int, int, int]) -> None:
    assert heatmap.bounding_box(_rectangle(7, 10, box) > 0.5) == box


def test_bounding_box_of_an_empty_mask_is_none() -> None:
    assert heatmap.bounding_box(np.zeros((5, 6), dtype=bool)) is None


def test_boxes_per_threshold_agree_with_bounding_box_and_are_nan_when_empty() -> None:
    maps = heatmap.normalise(np.random.default_rng(0).random((3, 9, 13)))
    maps[2] = _rectangle(9, 13, (2, 1, 6, 4))
    thresholds = np.array([0.0, 0.2, 0.5, 0.9, 1.0, 1.5], dtype=np.float32)
    boxes = heatmap.boxes_per_threshold(maps, thresholds)
    assert boxes.shape == (len(thresholds), 3, 4)
    for t, threshold in enumerate(thresholds):
        for k in range(3):
            expected = heatmap.bounding_box(heatmap.threshold_mask(maps[k], threshold))
            if expected is None:
                assert np.isnan(boxes[t, k]).all()
            else:
                assert tuple(boxes[t, k].astype(int)) == expected
    assert np.isnan(boxes[-1]).all()  # nothing reaches 1.5
    assert tuple(boxes[2, 2].astype(int)) == (2, 1, 6, 4)


def test_thresholded_sets_values_below_each_threshold_to_nan() -> None:
    ramp = np.linspace(0, 1, 11, dtype=np.float32).reshape(1, 1, 11)
    out = heatmap.thresholded(ramp, np.array([0.0, 0.5]))
    assert out.shape == (2, 1, 1, 11)
    assert np.array_equal(out[0], ramp)
    assert np.isnan(out[1, 0, 0, :5]).all() and np.array_equal(out[1, 0, 0, 5:], ramp[0, 0, 5:])


def test_normalise_constant_map_is_zeros() -> None:
    assert np.array_equal(heatmap.normalise(np.full((2, 4, 5), 3.5)), np.zeros((2, 4, 5), dtype=np.float32))


def test_normalise_scales_each_map_to_zero_one_by_min_max() -> None:
    rng = np.random.default_rng(1)
    scales = np.array([1.0, 50.0, 1e-3])[:, None, None]
    maps = ((rng.normal(size=(3, 6, 7)) - 4) * scales).astype(np.float32)
    out = heatmap.normalise(maps)
    assert out.dtype == np.float32
    assert np.allclose(out.min(axis=(1, 2)), 0) and np.allclose(out.max(axis=(1, 2)), 1)
    for k in range(3):
        low, high = float(maps[k].min()), float(maps[k].max())
        expected = (maps[k].astype(np.float64) - low) / (high - low)
        assert np.allclose(out[k], expected, atol=1e-6)


def test_symmetric_keeps_signs_and_zero_and_peaks_at_one() -> None:
    maps = np.array([[[-4.0, 0.0], [2.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    out = heatmap.symmetric(maps)
    assert np.allclose(out[0], [[-1.0, 0.0], [0.5, 0.25]])
    assert np.array_equal(out[1], np.zeros((2, 2)))


def test_upsample_keeps_shape_and_mean() -> None:
    maps = np.random.default_rng(2).random((3, 7, 7)).astype(np.float32)
    exact = heatmap.upsample(maps, (224, 224))  # integer factor: bilinear keeps the mean exactly
    assert exact.shape == (3, 224, 224) and exact.dtype == np.float32
    assert np.allclose(exact.mean(axis=(1, 2)), maps.mean(axis=(1, 2)), atol=1e-5)
    odd = heatmap.upsample(maps, (50, 31))
    assert odd.shape == (3, 50, 31)
    assert np.allclose(odd.mean(axis=(1, 2)), maps.mean(axis=(1, 2)), atol=0.01)
    assert odd.min() >= maps.min() - 1e-6 and odd.max() <= maps.max() + 1e-6  # interpolation, no overshoot
    assert np.allclose(heatmap.upsample(np.full((2, 3), 0.25), (9, 5)), 0.25)


def _photo(height: int = 12, width: int = 16) -> Image.Image:
    return Image.fromarray(np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_overlay_with_opacity_zero_is_the_photo() -> None:
    photo = _photo()
    out = heatmap.overlay(photo, np.random.default_rng(4).random((12, 16)), opacity=0.0)
    assert out.size == photo.size and out.mode == "RGB"
    assert np.array_equal(np.asarray(out), np.asarray(photo))


@pytest.mark.parametrize("colormap", ["magma", "jet"])
def test_overlay_shows_the_colormap_above_threshold_and_the_photo_below(colormap: str) -> None:
    photo = _photo()
    values = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (12, 1))
    out = np.asarray(heatmap.overlay(photo, values, colormap=colormap, opacity=1.0, threshold_frac=0.5)).astype(int)
    below = values < 0.5
    assert np.array_equal(out[below], np.asarray(photo)[below])
    for x in np.flatnonzero(values[0] >= 0.5):
        assert np.allclose(out[3, x], _matplotlib_rgb(colormap, float(values[3, x])), atol=1)


def test_overlay_half_opacity_is_the_average_of_photo_and_colour() -> None:
    photo = _photo()
    values = np.full((12, 16), 0.75, dtype=np.float32)
    out = np.asarray(heatmap.overlay(photo, values, colormap="viridis", opacity=0.5)).astype(float)
    expected = 0.5 * np.asarray(photo, dtype=float) + 0.5 * _matplotlib_rgb("viridis", 0.75)
    assert np.abs(out - expected).max() <= 1.0


def test_overlay_refuses_a_map_of_another_size() -> None:
    with pytest.raises(ValueError, match="upsample"):
        heatmap.overlay(_photo(), np.zeros((6, 8)))


def test_colorize_follows_vmin_vmax() -> None:
    values = np.array([[-1.0, 0.0, 1.0, 3.0]])
    out = heatmap.colorize(values, "bwr", vmin=-1.0, vmax=1.0)
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    for x, frac in enumerate([0.0, 0.5, 1.0, 1.0]):  # 3.0 is clipped to vmax
        assert np.allclose(out[0, x], _matplotlib_rgb("bwr", frac), atol=1)


@pytest.mark.parametrize("colormap", ALL_COLORMAPS)
def test_colorscale_stops_run_from_zero_to_one_in_matplotlib_colours(colormap: str) -> None:
    stops = heatmap.colorscale(colormap, stops=7)
    positions = [position for position, _ in stops]
    assert positions[0] == 0.0 and positions[-1] == 1.0 and np.all(np.diff(positions) > 0) and len(stops) == 7
    for position, colour in stops:
        match = re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", colour)
        assert match, colour
        assert np.allclose([int(v) for v in match.groups()], _matplotlib_rgb(colormap, position), atol=1)



def test_map_overlay_stretches_a_raw_map_over_the_photo() -> None:
    """A raw 2x2 map hottest at top-left: at opacity 1 that corner shows the colormap's top colour and the
    opposite corner its bottom colour, whatever the map's units."""
    photo = Image.new("RGB", (40, 30), (128, 128, 128))
    blended = np.asarray(heatmap.map_overlay(photo, np.array([[9.0, 5.0], [5.0, 1.0]]), colormap="viridis",
                                             opacity=1.0))
    top, bottom = (np.array(colormaps["viridis"](v, bytes=True)[:3]) for v in (1.0, 0.0))
    assert blended.shape == (30, 40, 3)
    np.testing.assert_allclose(blended[0, 0], top, atol=2)
    np.testing.assert_allclose(blended[-1, -1], bottom, atol=2)
