"""camcore.scores.wsol against answers worked out by hand: box IoU curves of maps with several regions,
MaxBoxAccV2 and MaxBoxAcc at the split's own best and at calibrated thresholds (ties, photos without a head box),
PxAP, empty and constant maps, bicubic upsampling as Choe et al.'s inference, and a calibrated threshold that
never looks at the scored split. The curves' one pass over nested regions (regions.nested_region_boxes) against
scipy labelling every level, on hand-made, random and real maps."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from camcore.data import pets
from camcore.data.images import load_image
from camcore.data.pets import TRIMAP_BACKGROUND, TRIMAP_BORDER, TRIMAP_PET
from camcore.explain import explain
from camcore.maps import heatmap, regions
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions
from camcore.scores import localisation, wsol

T = len(wsol.THRESHOLDS)
KEEPS_BOTH = wsol.THRESHOLDS <= 0.5
"""The thresholds at which the half-height blob below is kept (threshold_mask keeps values >= tau)."""


def two_blobs() -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A 100 x 100 map with a 30 x 20 blob at 1.0 on the pet and a 10 x 10 blob at 0.5 on the 'head', the pet's
    trimap (with a 2-row border below it, scored 1.0 too) and the head box around the small blob."""
    score_map = np.zeros((100, 100), dtype=np.float32)
    score_map[10:32, 10:40] = 1.0
    score_map[60:70, 60:70] = 0.5
    trimap = np.full((100, 100), TRIMAP_BACKGROUND, dtype=np.uint8)
    trimap[10:30, 10:40] = TRIMAP_PET
    trimap[30:32, 10:40] = TRIMAP_BORDER
    return score_map, trimap, (60, 60, 70, 70)


def test_every_region_is_boxed_and_the_largest_one_is_read_apart() -> None:
    """Pet box (trimap 1 and 3) = the big blob's box: IoU 1 for both rules at every threshold. Head box = the small
    blob's box: IoU 1 over all regions while the blob is kept (tau <= 0.5), else 0; the largest region is the big
    blob, which does not overlap the head box: 0 throughout."""
    curves = wsol.map_curves(*two_blobs())
    np.testing.assert_array_equal(curves.pet_box_iou, np.ones((2, T)))
    np.testing.assert_array_equal(curves.head_box_iou[wsol.ALL_REGIONS], KEEPS_BOTH.astype(np.float32))
    np.testing.assert_array_equal(curves.head_box_iou[wsol.LARGEST_REGION], np.zeros(T))


def test_a_region_that_half_covers_the_box_has_the_iou_worked_out_by_hand() -> None:
    """Map blob 20 x 20 at (0, 0); true pet box 20 x 40 at (0, 0): IoU 400 / 800 = 0.5 at every threshold."""
    score_map = np.zeros((50, 50), dtype=np.float32)
    score_map[:20, :20] = 1.0
    trimap = np.full((50, 50), TRIMAP_BACKGROUND, dtype=np.uint8)
    trimap[:40, :20] = TRIMAP_PET
    curves = wsol.map_curves(score_map, trimap, None)
    np.testing.assert_allclose(curves.pet_box_iou, np.full((2, T), 0.5))
    assert np.isnan(curves.head_box_iou).all()


@pytest.mark.parametrize("value", [0.0, 3.0])
def test_an_empty_or_constant_map_localises_nothing(value: float) -> None:
    """min-max of a constant map is all zeros, and threshold_mask never keeps a zero: no box, IoU 0."""
    score_map, trimap, head = two_blobs()
    curves = wsol.map_curves(np.full_like(score_map, value), trimap, head)
    np.testing.assert_array_equal(curves.pet_box_iou, np.zeros((2, T)))
    np.testing.assert_array_equal(curves.head_box_iou, np.zeros((2, T)))
    # PxAP of a map that ranks nothing: every pixel tied at 0, precision = the pet's share of scored pixels.
    pet, background = 600, 100 * 100 - 600 - 60  # the border's 60 pixels are left out
    assert wsol.pxap(curves.pet_pixels, curves.background_pixels) == pytest.approx(pet / (pet + background))


def test_pxap_leaves_the_border_out() -> None:
    """The border scores 1.0 like the pet: were it background, precision at the top would be 600/660, not 1."""
    curves = wsol.map_curves(*two_blobs())
    assert curves.pet_pixels.sum() == 600 and curves.background_pixels.sum() == 100 * 100 - 660
    assert wsol.pxap(curves.pet_pixels, curves.background_pixels) == pytest.approx(1.0)


def counts(scores: list[float]) -> np.ndarray:
    return np.histogram(scores, wsol.SCORE_EDGES)[0]


def test_pxap_by_hand() -> None:
    """Pet pixels score 0.9 and 0.5, background 0.7 and 0.1. From the top: at 0.9 precision 1, recall 1/2; at 0.7
    recall unchanged; at 0.5 precision 2/3, recall 1; at 0.1 unchanged. AP = 1 x 1/2 + 2/3 x 1/2 = 5/6."""
    assert wsol.pxap(counts([0.9, 0.5]), counts([0.7, 0.1])) == pytest.approx(5 / 6)


def test_pxap_pools_pixels_over_photos_not_scores_per_photo() -> None:
    """Two photos, each with precision 1 on its own, pooled: photo A's pet at 0.5 ranks below photo B's background
    at 0.8. Pooled from the top: B's pet 0.9 (P 1, R 1/2), B's background 0.8, A's pet 0.5 (P 2/3, R 1): 5/6."""
    pet = np.stack([counts([0.5]), counts([0.9])])
    background = np.stack([counts([0.2]), counts([0.8])])
    assert wsol.pxap(pet, background) == pytest.approx(5 / 6)
    assert wsol.pxap(counts([]), counts([0.3])) is None


def curves_hitting(ranges: list[tuple[float, float]]) -> np.ndarray:
    """(N, T) IoU curves: photo i has IoU 0.6 at thresholds within ranges[i] (inclusive), 0.2 elsewhere."""
    tau = wsol.THRESHOLDS
    inside = [(tau > low - 1e-9) & (tau < high + 1e-9) for low, high in ranges]
    return np.stack([np.where(hits, 0.6, 0.2) for hits in inside])


def test_max_box_acc_takes_one_threshold_for_the_whole_split() -> None:
    """Photo A hits (IoU 0.6 >= 0.5) at tau in [0.1, 0.3], B at [0.3, 0.5], C at [0.6, 0.7]. The split's best: tau
    0.3, 2 of 3 (no single threshold serves all three, although each photo has its own). At delta 0.7 nobody ever
    hits."""
    ious = curves_hitting([(0.1, 0.3), (0.3, 0.5), (0.6, 0.7)])
    best = wsol.box_accuracy(ious, (0.5,))
    assert best is not None and best.value == pytest.approx(2 / 3) and best.thresholds == (0.3,)
    v2 = wsol.box_accuracy(ious, (0.3, 0.5, 0.7))
    assert v2 is not None and v2.value == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert v2.thresholds == (0.3, 0.3, 0.0)  # at delta 0.7 every tau ties at 0 hits: the lowest is read


def test_ties_go_to_the_lowest_threshold_and_calibration_reads_another_split() -> None:
    """Calibration photos hit at [0.6, 0.7] only: their best tau is 0.6, where the scored photos A, B miss (1/3 hit,
    C). Nothing hits anywhere: every tau ties, the lowest (0.0) is read."""
    scored = curves_hitting([(0.1, 0.3), (0.3, 0.5), (0.6, 0.7)])
    calibrated = wsol.box_accuracy(scored, (0.5,), chosen_on=curves_hitting([(0.6, 0.7), (0.55, 0.65)]))
    assert calibrated is not None and calibrated.thresholds == (0.6,) and calibrated.value == pytest.approx(1 / 3)
    nothing = wsol.box_accuracy(np.full((2, T), 0.1), (0.5,))
    assert nothing is not None and nothing.thresholds == (0.0,) and nothing.value == 0.0


def test_photos_without_a_head_box_are_left_out() -> None:
    ious = np.vstack([curves_hitting([(0.1, 0.3)]), np.full((1, T), np.nan)])
    scored = wsol.box_accuracy(ious, (0.5,))
    assert scored is not None and scored.value == 1.0
    assert wsol.box_accuracy(np.full((2, T), np.nan), (0.5,)) is None


def test_the_calibrated_threshold_never_looks_at_the_scored_split() -> None:
    """Calibration photo: the pet's blob at 1.0 inside a 0.5 halo, so only tau > 0.5 boxes the pet (0.51 is read);
    scored photos: the blob alone, boxed at every tau (their own best is the lowest, 0.0). The calibrated
    thresholds are the calibration photo's own best ones, whatever the scored photos are."""
    blob, trimap, _ = two_blobs()
    blob[60:70, 60:70] = 0.0
    halo = np.where(blob > 0, 1.0, 0.0).astype(np.float32)
    halo[:50, :60] = np.maximum(halo[:50, :60], 0.5)
    calibration = [wsol.map_curves(halo, trimap, None)]
    one = wsol.split_scores([wsol.map_curves(blob, trimap, None)], calibration)
    other = wsol.split_scores([wsol.map_curves(np.roll(blob, 30, axis=0), trimap, None)], calibration)
    assert one["calibrated_threshold"]["maxboxacc_v2"] == (0.51, 0.51, 0.51) == \
        wsol.split_scores(calibration)["best_threshold"]["maxboxacc_v2"]
    assert other["calibrated_threshold"] == one["calibrated_threshold"]
    assert one["best_threshold"]["maxboxacc_v2"] == (0.0, 0.0, 0.0)
    assert one["maxboxacc_v2"] == 1.0 and other["maxboxacc_v2"] == 0.0  # the scores do follow the scored photos
    assert one["maxboxacc_v2_calibrated"] == 1.0 and other["maxboxacc_v2_calibrated"] == 0.0  # read at 0.51
    alone = wsol.summary({"model": calibration})  # no calibration: the scores as Choe et al. define them only
    assert alone["calibrated_threshold"] is None and alone["maxboxacc_v2_calibrated"] is None


def keys_cubic(grid: np.ndarray, size_hw: tuple[int, int], a: float = -0.75) -> np.ndarray:
    """Keys' cubic convolution (a = -0.75, OpenCV's INTER_CUBIC, which Choe et al.'s inference resizes with),
    pixel centres aligned, edges replicated: one axis at a time, written from the kernel's definition."""
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        return np.where(x <= 1, (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1,
                        np.where(x < 2, a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a, 0.0))

    def along(values: np.ndarray, size: int) -> np.ndarray:  # resizes axis 0
        source = (np.arange(size) + 0.5) * len(values) / size - 0.5
        base = np.floor(source).astype(int)
        out = np.zeros((size, *values.shape[1:]))
        for offset in (-1, 0, 1, 2):
            weight = kernel(source - (base + offset)).reshape(-1, *[1] * (values.ndim - 1))
            out += weight * values[np.clip(base + offset, 0, len(values) - 1)]
        return out

    return along(along(np.asarray(grid, dtype=np.float64), size_hw[0]).T, size_hw[1]).T


def test_maps_are_upsampled_bicubically_as_choe_et_al_resize_them() -> None:
    """The pet's and the background's score histograms are those of the bicubic, min-max normalised map (a pixel
    or two may change bins by float rounding); bilinear upsampling moves hundreds."""
    rng = np.random.default_rng(3)
    grid = rng.random((7, 7)).astype(np.float32)
    _, trimap, _ = two_blobs()
    curves = wsol.map_curves(grid, trimap, None)
    for name, bilinear in (("bicubic", False), ("bilinear", True)):
        up = heatmap.upsample(grid, trimap.shape, mode="bilinear") if bilinear else keys_cubic(grid, trimap.shape)
        normalised = (up - up.min()) / (up.max() - up.min())
        expected = np.histogram(normalised[trimap == TRIMAP_PET], wsol.SCORE_EDGES)[0]
        moved = np.abs(curves.pet_pixels - expected).sum()
        assert (moved <= 4) != bilinear, (name, moved)


def test_curves_round_trip_through_json() -> None:
    curves = wsol.map_curves(*two_blobs())
    again = wsol.MapCurves.from_lists(json.loads(json.dumps(curves.as_lists())))
    for name in ("pet_box_iou", "head_box_iou", "pet_pixels", "background_pixels"):
        np.testing.assert_array_equal(getattr(again, name), getattr(curves, name))


def test_big_photos_are_scored_at_224_px_with_their_boxes_scaled() -> None:
    """A 448 x 896 photo is scored at 112 x 224 (half): the blob's box still matches the pet's box exactly."""
    score_map = np.zeros((448, 896), dtype=np.float32)
    score_map[100:300, 200:600] = 1.0
    trimap = np.full((448, 896), TRIMAP_BACKGROUND, dtype=np.uint8)
    trimap[100:300, 200:600] = TRIMAP_PET
    assert wsol.scored_size(trimap.shape) == (112, 224)
    curves = wsol.map_curves(score_map, trimap, None)
    np.testing.assert_allclose(curves.pet_box_iou, 1.0)
    assert curves.pet_pixels.sum() == 50 * 100


def per_level_box_curves(normalised: np.ndarray, levels: np.ndarray, truths: list[np.ndarray | None]
                         ) -> list[np.ndarray]:
    """The curves as they were computed before the one pass, written out: at each level, scipy labels the pixels
    >= the level and > 0 (8-connected), each region is boxed; the best IoU over regions, and the largest region's
    (equal sizes: the one whose first pixel comes first in row-major order)."""
    curves = [np.full((2, len(levels)), np.nan if truth is None else 0.0, dtype=np.float32) for truth in truths]
    for t, level in enumerate(levels):
        labels, count = ndimage.label((normalised >= level) & (normalised > 0), structure=np.ones((3, 3)))
        if not count:
            continue
        slices = ndimage.find_objects(labels)
        boxes = np.array([(c.start, r.start, c.stop, r.stop) for r, c in slices])
        sizes = np.bincount(labels.ravel())[1:]
        first_columns = [c.start + int(np.argmax(labels[r.start, c] == k)) for k, (r, c) in enumerate(slices, 1)]
        largest = np.lexsort((first_columns, boxes[:, 1], -sizes))[0]  # the first pixel's row, then column
        for curve, truth in zip(curves, truths):
            if truth is not None:
                ious = localisation.box_ious(boxes, truth[None])[:, 0]
                curve[wsol.ALL_REGIONS, t], curve[wsol.LARGEST_REGION, t] = ious.max(), ious[largest]
    return curves


def assert_one_pass_is_per_level(normalised: np.ndarray, levels: np.ndarray) -> None:
    """Curves bit for bit (the IoUs of the same boxes), and regions.nested_region_boxes's regions level by level
    exactly those of heatmap.region_boxes, threshold_box's first."""
    height, width = normalised.shape
    truths = [np.array([0.1 * width, 0.2 * height, 0.7 * width, 0.9 * height]), None,
              np.array([width / 2, 0.5, width, height / 3 + 1])]
    for new, old in zip(wsol._box_curves(normalised, levels, truths), per_level_box_curves(normalised, levels, truths)):
        np.testing.assert_array_equal(new, old)
    found = regions.nested_region_boxes(normalised, levels)
    for t, level in enumerate(levels):
        mine = found.level_index == t
        boxes, sizes = heatmap.region_boxes(normalised, float(level))
        assert sorted(zip(map(tuple, found.boxes[mine]), found.sizes[mine])) == \
            sorted(zip(map(tuple, boxes), sizes))
        if len(sizes):
            assert tuple(found.boxes[mine][0]) == tuple(boxes[sizes.argmax()])  # threshold_box's


def both_standards(normalised: np.ndarray) -> list[np.ndarray]:
    return [standard.levels(normalised, wsol.THRESHOLDS).reshape(-1)
            for standard in (heatmap.MAXIMUM, heatmap.PERCENTILE)]


def hand_made_maps() -> dict[str, np.ndarray]:
    """Maps whose regions tie, sit on plateaus, merge, enclose holes or touch only diagonally."""
    twins = np.zeros((12, 16), dtype=np.float32)
    twins[2:5, 2:5] = twins[7:10, 10:13] = 0.8  # equal sizes at every level: the first in row-major order wins
    twins[2:5, 11:14] = 0.8
    saddle = np.zeros((9, 20), dtype=np.float32)
    saddle[3:6, 1:6], saddle[3:6, 14:19], saddle[4, 6:14] = 1.0, 0.9, 0.4  # two peaks join at 0.4
    ring = np.pad(np.full((5, 5), 0.6, dtype=np.float32), 2)
    ring[3:6, 3:6] = 0.2  # a hole that fills at 0.2
    ring[4, 4] = 0.9  # a peak in the hole: appears inside, merges as the hole fills
    diagonal = np.eye(7, dtype=np.float32)[::-1] * np.linspace(0.3, 1.0, 7, dtype=np.float32)[:, None]
    terraces = np.repeat(np.repeat(np.array([[0.0, 0.3, 0.3, 0.7], [0.5, 0.5, 0.3, 0.7], [0.5, 0.1, 0.9, 0.9]],
                                            dtype=np.float32), 3, axis=0), 4, axis=1)
    on_levels = np.array([[wsol.THRESHOLDS[30], 0.0, wsol.THRESHOLDS[30]], [0.0, wsol.THRESHOLDS[31], 0.0]],
                         dtype=np.float32)  # values exactly on a level: kept at it (>=), not at the next
    return {"twins": twins, "saddle": saddle, "ring": ring, "diagonal": diagonal, "terraces": terraces,
            "on levels": on_levels, "one pixel": np.ones((1, 1), dtype=np.float32),
            "row": np.array([[0.2, 0.9, 0.2, 0.9, 0.5]], dtype=np.float32), "zeros": np.zeros((4, 5), dtype=np.float32)}


@pytest.mark.parametrize("name", list(hand_made_maps()))
def test_one_pass_curves_equal_per_level_labelling_on_hand_made_maps(name: str) -> None:
    normalised = hand_made_maps()[name]
    for levels in [*both_standards(normalised), np.float32([0.5, 0.1, 0.9, 0.1, 0.0, 0.8])]:  # any order, repeats
        assert_one_pass_is_per_level(normalised, levels)


def test_twin_regions_tie_for_largest_and_the_first_in_row_major_order_is_read() -> None:
    """Three 3 x 3 regions, all the same size: the largest-region row boxes the top-left one (IoU 1 with it)."""
    curves = wsol._box_curves(hand_made_maps()["twins"], wsol.THRESHOLDS, [np.array([2.0, 2, 5, 5]),
                                                                         np.array([10.0, 7, 13, 10])])
    kept = np.arange(T) <= 80  # tau <= 0.8
    np.testing.assert_array_equal(curves[0], np.stack([kept, kept]).astype(np.float32))
    np.testing.assert_array_equal(curves[1], np.stack([kept, np.zeros(len(kept), bool)]).astype(np.float32))


def random_map(rng: np.random.Generator, kind: int) -> np.ndarray:
    height, width = (int(n) for n in rng.integers(1, 40, size=2))
    raw = [lambda: rng.random((height, width)),  # a region per pixel, almost
           lambda: np.round(rng.random((height, width)) * 4) / 4,  # plateaus and ties
           lambda: heatmap.upsample(rng.random((4, 5)).astype(np.float32), (height, width)),  # smooth, as CAMs
           lambda: rng.random((height, width)) * (rng.random((height, width)) < 0.4)][kind]()  # sparse
    return heatmap.min_max(np.asarray(raw, dtype=np.float32))


def test_one_pass_curves_equal_per_level_labelling_on_random_maps() -> None:
    rng = np.random.default_rng(20240601)
    for index in range(64):
        normalised = random_map(rng, index % 4)
        for levels in both_standards(normalised):
            assert_one_pass_is_per_level(normalised, levels)


@pytest.fixture(scope="module")
def real_maps(lite0: LoadedModel, pets_root: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple | None]]:
    """24 photos spread over the mini set: the real Lite0's top-1 CAM, a random-weight copy's, the trimap and the
    head box (where the photo has one)."""
    root = pets_root.parent
    records = pets.pet_index(root)[::20]
    photos = [load_image(pets.image_path(root, record)) for record in records]
    real = explain(photos, lite0, MapOptions(top_k=1))
    random = explain(photos, randomised(lite0), MapOptions(top_k=1))
    return [(mine.maps[0], theirs.maps[0], pets.trimap(root, record), pets.head_box(root, record))
            for record, mine, theirs in zip(records, real, random)]


@pytest.mark.shared_data
@pytest.mark.parametrize("standard", [heatmap.MAXIMUM, heatmap.PERCENTILE], ids=str)
def test_one_pass_curves_equal_per_level_labelling_on_the_mini_set(real_maps, standard: heatmap.ThresholdStandard,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """map_curves of the real model's maps, the random model's and the Gaussian on real trimaps and head boxes, as
    the Dataset page computes them, against the same with the per-level labelling in place of the one pass."""
    def every_curve() -> list[wsol.MapCurves]:
        return [wsol.map_curves(each, trimap, head, standard=standard) for mine, theirs, trimap, head in real_maps
                for each in (mine, theirs, localisation.centred_gaussian(*wsol.scored_size(trimap.shape)))]

    one_pass = every_curve()
    monkeypatch.setattr(wsol, "_box_curves", per_level_box_curves)
    per_level = every_curve()
    assert sum(curves.head_box_iou[0, 0] >= 0 for curves in one_pass) > 10  # head boxes were scored too
    for new, old in zip(one_pass, per_level):
        for name in ("pet_box_iou", "head_box_iou", "pet_pixels", "background_pixels"):
            np.testing.assert_array_equal(getattr(new, name), getattr(old, name))
