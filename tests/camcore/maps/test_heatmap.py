"""camcore.maps.heatmap on synthetic maps whose thresholds, boxes and colours are known in advance."""
from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from camcore.maps import heatmap

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


def test_threshold_half_of_a_ramp_keeps_exactly_the_upper_half_and_zero_is_never_kept() -> None:
    ramp = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (4, 1))  # 0, 1/9, ..., 1 along each row
    assert np.array_equal(heatmap.threshold_mask(ramp, 0.5), np.tile(np.arange(10) >= 5, (4, 1)))
    assert np.array_equal(heatmap.threshold_mask(ramp, 0.0), np.tile(np.arange(10) >= 1, (4, 1)))
    assert heatmap.threshold_mask(ramp, 1.0).sum() == 4
    assert not heatmap.threshold_mask(ramp, 1.01).any()


def test_normalise_divides_the_positive_part_by_its_maximum() -> None:
    """Hand-worked: [-4, 0; 2, 1] -> relu [0, 0; 2, 1] -> / 2; nothing positive -> zeros; float32 out."""
    maps = np.array([[[-4.0, 0.0], [2.0, 1.0]], [[-1.0, -3.0], [-2.0, 0.0]], [[3.5, 3.5], [3.5, 3.5]]])
    out = heatmap.normalise(maps)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [[0.0, 0.0], [1.0, 0.5]])
    np.testing.assert_array_equal(out[1], np.zeros((2, 2)))
    np.testing.assert_array_equal(out[2], np.ones((2, 2)))  # a constant positive map is its own maximum


def test_a_signed_map_keeps_nothing_at_or_below_zero_at_any_threshold() -> None:
    """Values -10 .. 2: min-max would put zero at 10/12 = 0.83 of the range and keep negatives at 0.2. The
    rule keeps exactly the values >= threshold_frac * 2 that are positive."""
    raw = np.linspace(-10, 2, 13, dtype=np.float32).reshape(1, 13)  # -10, -9, ..., 0, 1, 2
    normalised = heatmap.normalise(raw)
    for threshold_frac, kept_values in ((0.0, [1, 2]), (0.2, [1, 2]), (0.5, [1, 2]), (0.6, [2]), (1.0, [2])):
        assert raw[heatmap.threshold_mask(normalised, threshold_frac)].tolist() == kept_values
    assert heatmap.threshold_box(normalised, 0.0) == (11, 0, 13, 1)


def _two_blobs_and_a_trough() -> np.ndarray:
    """20x30: a big warm blob (8x6 = 48 px at 0.6), a small hot one (3x3 at 1.0), a deep trough (-5), 0 else."""
    grid = np.zeros((20, 30), dtype=np.float32)
    grid[3:9, 2:10] = 0.6
    grid[12:15, 20:23] = 1.0
    grid[15:20, 0:12] = -5.0
    return grid


def test_box_is_the_largest_kept_region_not_the_hottest_nor_all_kept_pixels() -> None:
    normalised = heatmap.normalise(_two_blobs_and_a_trough())
    assert heatmap.threshold_box(normalised, 0.2) == (2, 3, 10, 9)
    assert heatmap.threshold_box(normalised, 0.0) == (2, 3, 10, 9)  # zeros and the trough are never kept
    assert heatmap.threshold_box(normalised, 0.7) == (20, 12, 23, 15)  # only the hot blob passes 0.7
    assert heatmap.threshold_box(normalised, 1.5) is None


def test_box_joins_diagonal_neighbours_eight_connectivity() -> None:
    """A 3x3 and a 2x2 square touching at one corner (13 px) beat a separate 4x3 block (12 px) only if
    diagonal neighbours join; with 4-connectivity the block would win."""
    grid = np.zeros((10, 12), dtype=np.float32)
    grid[0:3, 0:3] = 1.0
    grid[3:5, 3:5] = 1.0
    grid[6:9, 7:11] = 1.0
    assert heatmap.threshold_box(grid, 0.5) == (0, 0, 5, 5)


def test_equal_regions_give_the_first_in_row_major_order() -> None:
    grid = np.zeros((6, 8), dtype=np.float32)
    grid[3:5, 0:2] = 1.0
    grid[0:2, 5:7] = 1.0
    assert heatmap.threshold_box(grid, 0.5) == (5, 0, 7, 2)


@pytest.mark.parametrize("box", [(3, 2, 9, 6), (0, 0, 10, 7), (4, 5, 5, 6)])
def test_bounding_box_and_threshold_box_of_one_rectangle_are_its_corners(box: tuple[int, int, int, int]) -> None:
    assert heatmap.bounding_box(_rectangle(7, 10, box) > 0.5) == box
    assert heatmap.threshold_box(_rectangle(7, 10, box), heatmap.DEFAULT_THRESHOLD) == box


def test_bounding_box_of_an_empty_mask_is_none() -> None:
    assert heatmap.bounding_box(np.zeros((5, 6), dtype=bool)) is None
    assert heatmap.threshold_box(np.zeros((5, 6), dtype=np.float32), 0.0) is None


def test_boxes_per_threshold_agree_with_threshold_box_and_are_nan_when_empty() -> None:
    maps = heatmap.normalise(heatmap.upsample(np.random.default_rng(0).normal(size=(3, 5, 6)), (27, 39)))
    maps[2] = _rectangle(27, 39, (2, 1, 6, 4))
    thresholds = np.array([0.0, 0.2, 0.5, 0.9, 1.0, 1.5], dtype=np.float32)
    boxes = heatmap.boxes_per_threshold(maps, thresholds)
    assert boxes.shape == (len(thresholds), 3, 4) and boxes.dtype == np.float32
    for t, threshold in enumerate(thresholds):
        for k in range(3):
            expected = heatmap.threshold_box(maps[k], float(threshold))
            if expected is None:
                assert np.isnan(boxes[t, k]).all()
            else:
                assert tuple(boxes[t, k].astype(int)) == expected
    assert np.isnan(boxes[-1]).all()  # nothing reaches 1.5
    assert tuple(boxes[2, 2].astype(int)) == (2, 1, 6, 4)


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
    opposite corner (1 of the maximum 9, where bilinear upsampling keeps the corner value) viridis' 1/9."""
    photo = Image.new("RGB", (40, 30), (128, 128, 128))
    blended = np.asarray(heatmap.map_overlay(photo, np.array([[9.0, 5.0], [5.0, 1.0]]), colormap="viridis",
                                             opacity=1.0))
    top, bottom = (np.array(colormaps["viridis"](v, bytes=True)[:3]) for v in (1.0, 1 / 9))
    assert blended.shape == (30, 40, 3)
    np.testing.assert_allclose(blended[0, 0], top, atol=2)
    np.testing.assert_allclose(blended[-1, -1], bottom, atol=2)


def test_map_overlay_leaves_the_photo_where_a_signed_map_is_not_positive() -> None:
    """Corner values survive bilinear upsampling: the -9 corner shows the photo even at threshold 0."""
    photo = Image.new("RGB", (40, 30), (128, 128, 128))
    blended = np.asarray(heatmap.map_overlay(photo, np.array([[9.0, -5.0], [-5.0, -9.0]]), opacity=1.0))
    np.testing.assert_array_equal(blended[-1, -1], [128, 128, 128])
    np.testing.assert_allclose(blended[0, 0], colormaps["magma"](1.0, bytes=True)[:3], atol=2)


def test_percentile_standard_levels_by_hand() -> None:
    """Ten values 0.0 .. 0.9: numpy's (linear) 90th percentile is 0.81, so PaS's 0.35 keeps values >= 0.2835:
    0.3 .. 0.9, seven pixels in one run: columns 3..10 of the one row. Of the maximum, 0.35 keeps 0.4 .. 0.9."""
    normalised = (np.arange(10, dtype=np.float32) / 10).reshape(1, 10)
    pas = heatmap.threshold_standard("percentile")
    assert pas == heatmap.PERCENTILE and pas.percentile == 90
    assert pas.level(normalised, 0.35) == pytest.approx(0.35 * 0.81)
    assert heatmap.threshold_box(normalised, pas.level(normalised, 0.35)) == (3, 0, 10, 1)
    assert heatmap.threshold_box(normalised, heatmap.MAXIMUM.level(normalised, 0.35)) == (4, 0, 10, 1)
    levels = pas.levels(np.stack([normalised, normalised / 2]), np.array([0.1, 0.5]))
    np.testing.assert_allclose(levels[..., 0, 0], [[0.081, 0.0405], [0.405, 0.2025]], rtol=1e-5)
    assert heatmap.threshold_standard("percentile:50").level(normalised, 1.0) == pytest.approx(0.45)
    assert str(heatmap.threshold_standard("percentile:50")) == "percentile:50" and str(heatmap.MAXIMUM) == "max"
    assert (pas.default_threshold, heatmap.MAXIMUM.default_threshold) == (0.35, 0.2)


@pytest.mark.parametrize("text", ["pas", "percentile:0", "percentile:101", "percentile:x", "max:3", ""])
def test_unknown_threshold_standards_are_refused_with_the_valid_spellings(text: str) -> None:
    with pytest.raises(ValueError, match="Valid: max, percentile, percentile:P"):
        heatmap.threshold_standard(text)


@pytest.mark.parametrize("colormap", [*heatmap.SEQUENTIAL_COLORMAPS, "jet"])
def test_colours_are_exactly_matplotlibs_entries_edges_included(colormap: str) -> None:
    values = np.concatenate([np.random.default_rng(5).random(500, dtype=np.float32),
                             np.array([0, 1, 1 - 1e-7, 0.5, 1 / 256, 255 / 256, -0.1, 1.2], dtype=np.float32)])
    expected = colormaps[colormap](np.clip(values, 0, 1), bytes=True)[..., :3]
    assert np.array_equal(heatmap.colorize(values.reshape(2, -1), colormap), expected.reshape(2, -1, 3))


@pytest.mark.parametrize("opacity", [0.0, 0.3, 0.6, 1.0])
def test_the_8_bit_blend_is_within_one_level_of_the_float_blend(opacity: float) -> None:
    photo = np.asarray(_photo(48, 64))
    values = np.random.default_rng(6).random((48, 64), dtype=np.float32)
    alpha = opacity * heatmap.threshold_mask(values, 0.3)[..., None]
    expected = photo * (1 - alpha) + colormaps["magma"](values, bytes=True)[..., :3] * alpha
    blended = heatmap.blend(photo, values, colormap="magma", opacity=opacity, threshold_frac=0.3)
    assert blended.dtype == np.uint8 and np.abs(blended - expected).max() <= 1.0
