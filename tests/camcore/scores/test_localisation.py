"""Localisation scores against answers worked out by hand on 4x4 maps and masks, and their edge cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from camcore.maps import heatmap
from camcore.scores import localisation

MASK = np.zeros((4, 4), dtype=bool)
MASK[:2, :2] = True  # the pet: the top-left quarter, 4 of 16 pixels
PEAK_ON_PET = np.array([[0, 1, 0, 0],
                        [0, 3, 0, 0],
                        [0, 0, 0, 2],
                        [0, 0, 0, 0]], dtype=np.float32)
"""Positive mass 6, of which 1 + 3 = 4 on the pet; normalised (/ 3): 1/3 at (0,1), 1 at (1,1), 2/3 at (2,3)."""
PEAK_OFF_PET = np.array([[-5, 1, 0, 0],
                         [0, 1, 0, 0],
                         [0, 0, 0, 0],
                         [0, 0, 0, 6]], dtype=np.float32)
"""Positive mass 8 (the -5 counts nothing), 2 on the pet; peak at (3,3), off the pet."""


def _one(array: np.ndarray) -> np.ndarray:
    return array[None]


def test_pointing_game_hits_and_misses() -> None:
    maps = np.stack([PEAK_ON_PET, PEAK_OFF_PET])
    assert localisation.pointing_game(maps, np.stack([MASK, MASK])).tolist() == [True, False]


def test_pointing_game_takes_the_first_maximum_on_ties() -> None:
    tied = np.zeros((4, 4))
    tied[0, 3] = tied[3, 0] = 5.0  # row-major order meets (0, 3) first
    only_first, only_second = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    only_first[0, 3], only_second[3, 0] = True, True
    assert localisation.pointing_game(_one(tied), _one(only_first)).tolist() == [True]
    assert localisation.pointing_game(_one(tied), _one(only_second)).tolist() == [False]
    constant = np.ones((1, 4, 4))
    assert localisation.pointing_game(constant, _one(MASK)).tolist() == [True]  # top-left pixel, on the pet
    assert localisation.pointing_game(constant, _one(~MASK)).tolist() == [False]


def test_mask_iou_at_two_thresholds() -> None:
    normalised = _one(PEAK_ON_PET / 3)
    # >= 0.5 keeps (1,1) and (2,3): intersection 1, union 4 + 2 - 1 = 5
    assert localisation.mask_iou(normalised, _one(MASK), 0.5) == pytest.approx([1 / 5])
    # >= 0.3 also keeps (0,1): intersection 2, union 4 + 3 - 2 = 5
    assert localisation.mask_iou(normalised, _one(MASK), 0.3) == pytest.approx([2 / 5])
    assert localisation.mask_iou(_one(MASK.astype(float)), _one(MASK), 0.2) == pytest.approx([1.0])


def test_mask_iou_of_two_empty_sets_is_undefined_and_an_empty_mask_scores_zero() -> None:
    nothing_kept = np.zeros((1, 4, 4))  # what heatmap.normalise makes of a constant map
    empty = np.zeros((1, 4, 4), bool)
    assert math.isnan(localisation.mask_iou(nothing_kept, empty, 0.2)[0])
    assert localisation.mask_iou(nothing_kept, _one(MASK), 0.2).tolist() == [0.0]
    assert localisation.mask_iou(_one(PEAK_ON_PET / 3), empty, 0.2).tolist() == [0.0]


def test_mask_iou_of_a_signed_map_never_keeps_its_negative_part() -> None:
    """PEAK_OFF_PET normalised: 1/6 at (0,1) and (1,1), 1 at (3,3), the -5 and the zeros at 0. At 0.1 the kept
    pixels are those three: intersection 2, union 4 + 3 - 2 = 5. (Min-max would put zero at 5/11 and keep all.)"""
    normalised = heatmap.normalise(_one(PEAK_OFF_PET))
    assert localisation.mask_iou(normalised, _one(MASK), 0.1) == pytest.approx([2 / 5])
    assert localisation.mask_iou(normalised, _one(MASK), 0.0) == pytest.approx([2 / 5])


@pytest.mark.parametrize(("box_a", "box_b", "iou"), [
    ((0, 0, 4, 4), (2, 2, 6, 6), 4 / 28),  # a 2x2 overlap of two 4x4 boxes: 4 / (16 + 16 - 4)
    ((0, 0, 4, 2), (0, 0, 2, 4), 4 / 12),  # crossed 4x2 and 2x4: overlap 2x2
    ((1, 1, 3, 3), (0, 0, 10, 10), 4 / 100),  # inside: the small area over the big one
    ((0, 0, 2, 2), (2, 2, 4, 4), 0.0),  # corners touch: x1/y1 are exclusive, no shared pixel
    ((0, 0, 2, 2), (5, 0, 7, 2), 0.0),
    ((3, 1, 9, 6), (3, 1, 9, 6), 1.0),
    ((0, 0, 2, 2), None, 0.0),
    (None, None, 0.0),
])
def test_box_iou_by_hand(box_a, box_b, iou: float) -> None:
    assert localisation.box_iou(box_a, box_b) == pytest.approx(iou)
    assert localisation.box_iou(box_b, box_a) == pytest.approx(iou)


def _pet_10x10() -> np.ndarray:
    """A 10x10 mask whose pet is an L in the box [2, 2, 8, 8] (36 px): the box, not the pixels, is compared."""
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 2:4] = True
    mask[6:8, 2:8] = True
    return mask


def test_box_localised_is_the_box_iou_with_the_pets_box_at_least_a_half() -> None:
    """The pet box is [2, 2, 8, 8] (36 px). By hand: region [2, 2, 7, 8] covers 30 px (IoU 30/36, a hit);
    [0, 0, 4, 4] overlaps 2x2 (IoU 4/48); [2, 2, 8, 5] overlaps 18 (IoU 0.5 exactly: a hit); the 30 px region
    plus two hot corner pixels still hits (a box around every kept pixel, [0, 0, 10, 10], would not: 36/100);
    a 19 px L along the top and right edges (value 1, box [0, 0, 10, 10]) outgrows an 18 px block on the pet
    (value 2) at 0.2 but drops out at 0.6; a map with no positive value keeps nothing: a miss."""
    maps = np.full((6, 10, 10), -1.0, dtype=np.float32)
    maps[0, 2:8, 2:7] = 2.0
    maps[1, 0:4, 0:4] = 2.0
    maps[2, 2:5, 2:8] = 2.0
    maps[3, 2:8, 2:7] = 2.0
    maps[3, 0, 0] = maps[3, 9, 9] = 2.0
    maps[4, 2:5, 2:8] = 2.0
    maps[4, 0, :] = maps[4, :, 9] = 1.0
    masks = np.stack([_pet_10x10()] * 6)
    normalised = heatmap.normalise(maps)
    assert localisation.box_localised(normalised, masks, 0.2).tolist() == [True, False, True, True, False, False]
    assert localisation.box_localised(normalised, masks, 0.6).tolist() == [True, False, True, True, True, False]
    assert localisation.LOCALISED_IOU == 0.5


def test_pointing_game_in_boxes_by_hand() -> None:
    """The peak of each map is at row 1, column 2; boxes are [x0, y0, x1, y1) with x1/y1 exclusive."""
    maps = np.zeros((4, 4, 5))
    maps[:, 1, 2] = 7.0
    maps[:, 3, 4] = -9.0
    boxes = [(2, 1, 3, 2), (0, 0, 2, 2), (2, 0, 5, 1), None]
    out = localisation.pointing_game_in_boxes(maps, boxes)
    assert out[:3].tolist() == [1.0, 0.0, 0.0] and math.isnan(out[3])
    with pytest.raises(ValueError):
        localisation.pointing_game_in_boxes(maps, boxes[:2])


def test_energy_inside_counts_only_positive_mass() -> None:
    maps = np.stack([PEAK_ON_PET, PEAK_OFF_PET])
    assert localisation.energy_inside(maps, np.stack([MASK, MASK])) == pytest.approx([4 / 6, 2 / 8])


def test_energy_inside_of_a_map_without_positive_values_is_zero() -> None:
    assert localisation.energy_inside(-np.abs(_one(PEAK_OFF_PET)), _one(MASK)).tolist() == [0.0]
    assert localisation.energy_inside(np.zeros((1, 4, 4)), _one(MASK)).tolist() == [0.0]


def test_relative_energy_divides_by_the_masks_share() -> None:
    maps = np.stack([PEAK_ON_PET, PEAK_OFF_PET, np.ones((4, 4))])
    masks = np.stack([MASK, MASK, MASK])
    # the pet is 1/4 of the image; a uniform map puts 1/4 of its mass there: exactly 1.0
    assert localisation.relative_energy(maps, masks) == pytest.approx([(4 / 6) * 4, (2 / 8) * 4, 1.0])


def test_relative_energy_of_an_empty_mask_is_nan() -> None:
    assert math.isnan(localisation.relative_energy(_one(PEAK_ON_PET), np.zeros((1, 4, 4), bool))[0])


def test_batch_scores_equal_one_image_at_a_time() -> None:
    rng = np.random.default_rng(0)
    maps, masks = rng.normal(size=(5, 6, 7)), rng.random((5, 6, 7)) > 0.6
    for fn in (localisation.pointing_game, localisation.energy_inside, localisation.relative_energy):
        assert fn(maps, masks).tolist() == [fn(maps[i:i + 1], masks[i:i + 1])[0] for i in range(5)]


def test_accepts_cpu_tensors() -> None:
    scores = localisation.energy_inside(torch.from_numpy(_one(PEAK_ON_PET)), torch.from_numpy(_one(MASK)))
    assert scores == pytest.approx([4 / 6])


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="upsample"):
        localisation.pointing_game(np.zeros((1, 4, 4)), np.zeros((1, 4, 5), bool))
    with pytest.raises(ValueError):
        localisation.energy_inside(np.zeros((4, 4)), np.zeros((4, 4), bool))


def test_centred_gaussian_peaks_in_the_middle_with_sigma_a_share_of_each_side() -> None:
    gauss = localisation.centred_gaussian(5, 7, sigma_frac=0.25)
    assert gauss.shape == (5, 7) and gauss.dtype == np.float32
    assert gauss[2, 3] == pytest.approx(1.0)
    assert gauss[3, 3] == pytest.approx(math.exp(-0.5 * (1 / (0.25 * 5)) ** 2))  # one row = 1/1.25 sigma
    assert gauss[2, 5] == pytest.approx(math.exp(-0.5 * (2 / (0.25 * 7)) ** 2))
    np.testing.assert_allclose(gauss, gauss[::-1, ::-1])


def test_centred_gaussian_of_an_even_size_points_at_the_upper_left_centre_pixel() -> None:
    gauss = localisation.centred_gaussian(4, 4)
    assert gauss[1, 1] == gauss[1, 2] == gauss[2, 1] == gauss[2, 2] == gauss.max()
    assert localisation.pointing_game(_one(gauss), _one(MASK)).tolist() == [True]  # (1, 1) is on the pet


def test_centred_gaussian_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError):
        localisation.centred_gaussian(0, 4)
    with pytest.raises(ValueError):
        localisation.centred_gaussian(4, 4, sigma_frac=0)
