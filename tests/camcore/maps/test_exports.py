"""exports: overlay PNG, raw map .npy and box at the photo's resolution, checked against hand-made maps."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from camcore.explain import Explanation, Prediction, explain
from camcore.maps import exports, heatmap
from camcore.options import MapOptions
from tests.conftest import make_photo

WIDTH, HEIGHT = 120, 90


def _explanation(maps: np.ndarray) -> Explanation:
    """An Explanation around hand-made (K, h, w) maps, so the expected box and means are known."""
    predictions = tuple(Prediction(k, f"class {k}", 0.0, 0.5) for k in range(len(maps)))
    return Explanation(predictions=predictions, signed_maps=maps, maps=maps, bias=None, image_size=(WIDTH, HEIGHT),
                       options=MapOptions(method="gradcam"), layer="layer4", device="cpu", elapsed_s=0.0)


@pytest.fixture
def blob() -> Explanation:
    """Class 0: a hot block in the upper middle of a signed raw map, -2 elsewhere (as a CAM's negative
    evidence); class 1: signed noise; class 2: a big warm block (4 on the left) and a small hot cell (10 on
    the right) on -1: the CAM paper's box surrounds the big block alone."""
    low_res = np.full((3, 6, 8), -2.0, dtype=np.float32)
    low_res[0, 1:3, 3:6] = 10.0
    low_res[1] = np.random.default_rng(0).uniform(-3, 10, size=(6, 8))
    low_res[2] = -1.0
    low_res[2, 1:5, 0:3] = 4.0
    low_res[2, 2, 6] = 10.0
    return _explanation(low_res)


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


def box_at_threshold(explanation: Explanation, rank: int,
                     threshold_frac: float = heatmap.DEFAULT_THRESHOLD) -> tuple[int, int, int, int] | None:
    """The box the CLI writes (export_class's), over a blank photo of the explanation's size."""
    blank = Image.new("RGB", explanation.image_size)
    return exports.export_class(blank, explanation, rank, threshold_frac=threshold_frac).bbox


def _expected_box(low_res: np.ndarray, threshold_frac: float,
                  size_hw: tuple[int, int] = (HEIGHT, WIDTH)) -> tuple[int, int, int, int] | None:
    """The CAM paper's rule on the map upsampled to the photo: heatmap.threshold_box (tested on hand-made maps
    in test_heatmap) of relu(map) / max(relu(map))."""
    up = heatmap.upsample(low_res, size_hw)
    positive = np.maximum(up, 0)
    return heatmap.threshold_box(positive / positive.max(), threshold_frac)


def _kept_pixels_box(low_res: np.ndarray, threshold_frac: float) -> tuple[int, int, int, int]:
    """By hand, for a map with one kept region: first/last row and column of the positive values >= the
    fraction of the upsampled map's maximum."""
    up = heatmap.upsample(low_res, (HEIGHT, WIDTH))
    ys, xs = np.nonzero((up >= threshold_frac * up.max()) & (up > 0))
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_overlay_png_decodes_to_the_photos_size(blob: Explanation) -> None:
    pixels = _decode(exports.overlay_png(make_photo(WIDTH, HEIGHT), blob, 0))
    assert pixels.shape == (HEIGHT, WIDTH, 3)


def test_zero_opacity_gives_the_photo_back_except_the_box_outline(blob: Explanation) -> None:
    photo = make_photo(WIDTH, HEIGHT)
    pixels = _decode(exports.overlay_png(photo, blob, 0, opacity=0.0))
    x0, y0, x1, y1 = box_at_threshold(blob, 0)
    assert x0 > 0 and x1 < WIDTH and y1 < HEIGHT, "the blob's box should not fill the photo"
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    near_edge = ((np.abs(xx - x0) <= 6) | (np.abs(xx - (x1 - 1)) <= 6) | (np.abs(yy - y0) <= 6)
                 | (np.abs(yy - (y1 - 1)) <= 6))
    np.testing.assert_array_equal(pixels[~near_edge], np.asarray(photo)[~near_edge])
    assert tuple(pixels[(y0 + y1) // 2, x0]) == exports.BOX_COLOUR
    assert tuple(pixels[y1 - 1, (x0 + x1) // 2]) == exports.BOX_COLOUR


@pytest.mark.parametrize("opacity", [0.0, 0.7])
def test_nothing_kept_draws_nothing(blob: Explanation, opacity: float) -> None:
    photo = make_photo(WIDTH, HEIGHT)
    assert box_at_threshold(blob, 0, threshold_frac=1.01) is None
    pixels = _decode(exports.overlay_png(photo, blob, 0, opacity=opacity, threshold_frac=1.01))
    np.testing.assert_array_equal(pixels, np.asarray(photo))


def test_map_without_positive_values_has_no_box_and_leaves_the_photo_alone() -> None:
    """Zero and negative maps keep nothing; a constant positive map is its own maximum: the whole photo."""
    photo = make_photo(WIDTH, HEIGHT)
    flat = _explanation(np.stack([np.zeros((6, 8)), np.full((6, 8), -4.0), np.full((6, 8), 4.0)]))
    for rank in (0, 1):
        assert box_at_threshold(flat, rank, threshold_frac=0.0) is None
        np.testing.assert_array_equal(_decode(exports.overlay_png(photo, flat, rank)), np.asarray(photo))
    assert box_at_threshold(flat, 2) == (0, 0, WIDTH, HEIGHT)


def test_full_opacity_shows_the_colormap_inside_the_kept_region(blob: Explanation) -> None:
    pixels = _decode(exports.overlay_png(make_photo(WIDTH, HEIGHT), blob, 0, colormap="viridis", opacity=1.0))
    up = heatmap.upsample(blob.maps[0], (HEIGHT, WIDTH))
    scaled = up / up.max()
    x0, y0, x1, y1 = box_at_threshold(blob, 0)
    y, x = (y0 + y1) // 2, (x0 + x1) // 2
    np.testing.assert_array_equal(pixels[y, x], heatmap.colorize(scaled[y:y + 1, x:x + 1], "viridis")[0, 0])


@pytest.mark.parametrize("rank", [0, 1])
def test_npy_is_the_raw_map_at_the_photos_size(blob: Explanation, rank: int) -> None:
    array = np.load(io.BytesIO(exports.map_npy(blob, rank)))
    assert array.shape == (HEIGHT, WIDTH) and array.dtype == np.float32
    assert array.mean() == pytest.approx(blob.maps[rank].mean(), rel=0.02)  # raw values, not scaled to [0, 1]
    assert array.max() == pytest.approx(blob.maps[rank].max(), rel=1e-5)


@pytest.mark.parametrize("threshold_frac", [0.0, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("rank", [0, 1, 2])
def test_box_matches_the_upsampled_normalised_map(blob: Explanation, rank: int, threshold_frac: float) -> None:
    box = box_at_threshold(blob, rank, threshold_frac=threshold_frac)
    assert box == _expected_box(blob.maps[rank], threshold_frac)


@pytest.mark.parametrize("threshold_frac", [0.0, 0.2, 0.5, 0.9])
def test_one_hot_block_on_a_negative_map_is_boxed_by_hand(blob: Explanation, threshold_frac: float) -> None:
    assert box_at_threshold(blob, 0, threshold_frac=threshold_frac) == _kept_pixels_box(blob.maps[0],
                                                                                               threshold_frac)


def test_box_is_the_big_warm_region_not_the_small_hot_one(blob: Explanation) -> None:
    """Class 2 at 0.25 keeps values >= 2.5 of both blocks (4 and 10, apart): the box is the big block's alone.
    By hand, 15 px a cell with cell c's centre at 15c + 7.5: going right from column 2 (4) to 3 (-1), pixel x
    has 4 - 5 (x + 0.5 - 37.5) / 15 >= 2.5 up to x = 41; down from row 0 (-1) to 1 (4) it passes 2.5 from
    y = 18, and from row 4 (4) to 5 (-1) up to y = 71; the left edge is the photo's."""
    assert box_at_threshold(blob, 2, threshold_frac=0.25) == (0, 18, 42, 72)
    assert exports.export_class(make_photo(WIDTH, HEIGHT), blob, 2, threshold_frac=0.25).bbox == (0, 18, 42, 72)
    assert box_at_threshold(blob, 2, threshold_frac=0.5)[0] >= 75  # only the hot cell passes 0.5


def test_blob_box_surrounds_the_hot_block(blob: Explanation) -> None:
    """Cells 3..5 of 8 columns and 1..2 of 6 rows are hot (10 on -2): 45..90 x 15..45 pixels, less the ramps
    below 5. By hand, from column 2 to 3: -2 + 12 (x + 0.5 - 37.5) / 15 >= 5 from x = 46; symmetric on the
    other sides: up to x = 88, from y = 16, up to y = 43."""
    assert box_at_threshold(blob, 0, threshold_frac=0.5) == (46, 16, 89, 44)


def test_export_class_agrees_with_the_single_file_functions(blob: Explanation) -> None:
    photo = make_photo(WIDTH, HEIGHT)
    files = exports.export_class(photo, blob, 0, colormap="jet", opacity=0.3, threshold_frac=0.4)
    assert files.png == exports.overlay_png(photo, blob, 0, colormap="jet", opacity=0.3, threshold_frac=0.4)
    assert files.npy == exports.map_npy(blob, 0)
    assert files.bbox == box_at_threshold(blob, 0, threshold_frac=0.4)


def test_real_explanation_exports_match_its_own_upsampled_maps(resnet18) -> None:
    photo = make_photo(100, 70, seed=3)
    explanation = explain([photo], resnet18, MapOptions(method="gradcam", top_k=2, size_px=64))[0]
    for rank in range(2):
        array = np.load(io.BytesIO(exports.map_npy(explanation, rank)))
        np.testing.assert_allclose(array, explanation.at_image_size()[rank], rtol=1e-6, atol=1e-7)
        assert _decode(exports.overlay_png(photo, explanation, rank)).shape == (70, 100, 3)
        assert box_at_threshold(explanation, rank) == _expected_box(explanation.maps[rank], 0.2, (70, 100))


@pytest.mark.parametrize("box", [(3, 4, 40, 30), (0, 0, 64, 48), (10, 10, 14, 15), (20, 5, 24, 47)])
def test_the_frames_box_is_the_rectangle_pil_draws(box: tuple[int, int, int, int]) -> None:
    """boxed_frame outlines in the array what PIL's rectangle draws (inside the box, the same width), and a box
    thinner than two lines is filled, never drawn outside itself (where PIL spills over)."""
    from PIL import ImageDraw

    photo = np.asarray(make_photo(64, 48))
    values = np.zeros((48, 64), dtype=np.float32)  # nothing kept: the blend leaves the photo as it is
    drawn = exports.boxed_frame(photo, values, box, colormap="magma", opacity=0.5, threshold_frac=0.2)
    reference = Image.fromarray(photo.copy())
    x0, y0, x1, y1 = box
    ImageDraw.Draw(reference).rectangle((x0, y0, x1 - 1, y1 - 1), outline=exports.BOX_COLOUR,
                                        width=exports._line_width_px((64, 48)))
    assert np.array_equal(drawn, np.asarray(reference))
    thin = exports.boxed_frame(photo, values, (10, 10, 12, 11), colormap="magma", opacity=0.5, threshold_frac=0.2)
    changed = np.argwhere((thin != photo).any(axis=2))
    assert changed.tolist() == [[10, 10], [10, 11]]


def test_a_pas_box_is_bae_et_al_s_box_of_the_min_max_map(blob: Explanation) -> None:
    """Bae et al.'s PaS box: the map at the photo's size scaled min-max (their code's), kept where it reaches 0.35
    of its 90th percentile, boxed around the largest 8-connected region; worked out here with numpy and scipy.
    Class 2's -1 floor becomes 0 and its warm block stays kept, where the CAM paper's scaling (negative part to 0,
    over the maximum) would move the level."""
    from scipy import ndimage

    photo = make_photo(WIDTH, HEIGHT)
    for rank in range(3):
        full = heatmap.upsample(blob.maps[rank], (HEIGHT, WIDTH))
        scaled = (full - full.min()) / (full.max() - full.min())
        kept = (scaled >= 0.35 * np.percentile(scaled, 90)) & (scaled > 0)
        labels, _ = ndimage.label(kept, structure=np.ones((3, 3)))
        largest = np.bincount(labels.ravel())[1:].argmax() + 1
        rows, cols = np.nonzero(labels == largest)
        expected = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        export = exports.export_class(photo, blob, rank, threshold_frac=heatmap.PAS_THRESHOLD,
                                      standard=heatmap.PERCENTILE)
        assert export.bbox == expected, rank
