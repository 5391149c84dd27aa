"""The WSOL field's localisation metrics (Choe et al., CVPR 2020, "Evaluating Weakly Supervised Object
Localization Methods Right"): MaxBoxAccV2, MaxBoxAcc and PxAP as they define them, and beside them the box scores
at a threshold calibrated on another split.

Per photo, map_curves keeps what the split-level scores pool: at every threshold tau of THRESHOLDS, the best box
IoU of the map's regions with the true box, and the map's pixel counts per score bin on the pet and on the
background. MaxBoxAcc(V2) takes the best threshold of the scored split itself (Choe et al.'s `BoxEvaluator`: the
score no longer depends on a threshold someone picked); their point against earlier work was tuning methods on
the test set's full supervision, not this maximum. `*_calibrated` reads the scored split at the threshold that
was best on another split (trainval, applied to test): what a fixed threshold in use would get.

Maps are upsampled bicubically and min-max normalised (heatmap.min_max), as Choe et al.'s inference does, and
scored with the long side at SCORED_LONG_PX (they score 224 x 224 inputs): a hundred labellings of a 12 MP grid
would cost seconds per photo.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from camcore.data.pets import TRIMAP_BACKGROUND, TRIMAP_PET, is_pet
from camcore.maps import heatmap, regions
from camcore.scores.localisation import Box, box_ious

THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)
"""tau in [0, 1) in steps of 0.01: region = heatmap.threshold_mask(min-max map, tau)."""
IOU_DELTAS = (0.3, 0.5, 0.7)
"""MaxBoxAccV2's IoU criteria; its value is the mean of the three MaxBoxAcc(delta)."""
LARGEST_REGION_DELTA = 0.5
"""MaxBoxAcc (the first version): the largest region's box only, IoU >= 0.5."""
SCORE_EDGES = np.append(THRESHOLDS, [1.0, 2.0])
"""PxAP's score bins: [0, 0.01), ..., [0.99, 1), [1, 2] (numpy's last bin is closed: the peak, 1.0, lands there)."""
SCORED_LONG_PX = 224
ALL_REGIONS, LARGEST_REGION = 0, 1
"""Rows of MapCurves' box IoUs."""


@dataclass(frozen=True, eq=False)
class MapCurves:
    """One map of one photo. pet_box_iou, head_box_iou (2, T): at each of THRESHOLDS, the best IoU with the pet's
    box (around trimap 1 and 3) or the head box of any region's box (row ALL_REGIONS) and of the largest region's
    (row LARGEST_REGION); 0.0 where nothing is kept, NaN rows where there is no head box. pet_pixels,
    background_pixels (B,): the map's pixels on trimap 1 / trimap 2 per bin of SCORE_EDGES (the border, 3, left
    out as Choe et al. leave out ignored pixels)."""

    pet_box_iou: np.ndarray
    head_box_iou: np.ndarray
    pet_pixels: np.ndarray
    background_pixels: np.ndarray

    def as_lists(self) -> dict[str, list]:
        """Plain lists for JSON (the prediction store), exact (float32 -> float -> float32), NaN kept (Python's
        json allows it)."""
        return {"pet_box_iou": self.pet_box_iou.tolist(), "head_box_iou": self.head_box_iou.tolist(),
                "pet_pixels": self.pet_pixels.tolist(), "background_pixels": self.background_pixels.tolist()}

    @classmethod
    def from_lists(cls, fields: Mapping[str, list]) -> MapCurves:
        return cls(np.asarray(fields["pet_box_iou"], dtype=np.float32),
                   np.asarray(fields["head_box_iou"], dtype=np.float32),
                   np.asarray(fields["pet_pixels"], dtype=np.int64),
                   np.asarray(fields["background_pixels"], dtype=np.int64))


def scored_size(size_hw: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of a photo -> the (h, w) its maps are scored at: long side SCORED_LONG_PX at most, never enlarged."""
    height, width = size_hw
    scale = min(1.0, SCORED_LONG_PX / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def map_curves(score_map: np.ndarray, trimap: np.ndarray, head_box: Box | None, *,
               standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> MapCurves:
    """An (h, w) map at any resolution, the photo's (H, W) trimap and its head box in photo pixels -> MapCurves,
    at scored_size (the map upsampled bicubically, as Choe et al.'s inference does); the true boxes are scaled to
    it exactly (floats), the trimap by nearest neighbour. Each tau is a fraction of what `standard` says: of the
    min-max map's maximum (1), or of its percentile (PaS)."""
    size_hw = scored_size(trimap.shape)
    scale = np.array([size_hw[1] / trimap.shape[1], size_hw[0] / trimap.shape[0]] * 2)
    pet_box = heatmap.bounding_box(is_pet(trimap))
    truths = [None if box is None else np.asarray(box, dtype=np.float64) * scale for box in (pet_box, head_box)]
    normalised = heatmap.min_max(heatmap.upsample(score_map, size_hw, mode="bicubic"))
    pet_iou, head_iou = _box_curves(normalised, standard.levels(normalised, THRESHOLDS).reshape(-1), truths)
    small = np.asarray(Image.fromarray(trimap).resize(size_hw[::-1], Image.Resampling.NEAREST))
    return MapCurves(pet_iou, head_iou, np.histogram(normalised[small == TRIMAP_PET], SCORE_EDGES)[0],
                     np.histogram(normalised[small == TRIMAP_BACKGROUND], SCORE_EDGES)[0])


def _box_curves(normalised: np.ndarray, levels: np.ndarray, truths: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """Each true box's (2, T) IoU curves at the T levels, from every level's regions found in one pass
    (regions.nested_region_boxes: the same regions as region_boxes level by level)."""
    curves = [np.full((2, len(levels)), np.nan if truth is None else 0.0, dtype=np.float32) for truth in truths]
    found = regions.nested_region_boxes(normalised, levels)
    largest = np.flatnonzero(np.diff(found.level_index, prepend=-1))  # each kept level's first row
    if not len(largest):
        return curves
    kept = found.level_index[largest]
    for curve, truth in zip(curves, truths):
        if truth is not None:
            ious = box_ious(found.boxes, truth[None])[:, 0]
            curve[ALL_REGIONS, kept], curve[LARGEST_REGION, kept] = np.maximum.reduceat(ious, largest), ious[largest]
    return curves


@dataclass(frozen=True)
class BoxAccuracy:
    """A MaxBoxAcc-style score: the hit rate at each delta's threshold, averaged over the deltas; thresholds,
    one per delta, where the rate was read."""

    value: float
    thresholds: tuple[float, ...]


def box_accuracy(ious: np.ndarray, deltas: Sequence[float], *, chosen_on: np.ndarray | None = None
                 ) -> BoxAccuracy | None:
    """(N, T) IoU curves of the scored photos -> the mean over deltas of their hit rate (IoU >= delta) at the
    threshold where the hit rate of `chosen_on` ((M, T) curves of other photos: calibration) peaks, or of the
    scored photos themselves (None: MaxBoxAcc's own definition). Photos whose rows are NaN (no head box)
    are left out; None when none is left. Ties go to the lowest threshold."""
    scored = _defined(ious)
    chooser = scored if chosen_on is None else _defined(chosen_on)
    if not len(scored) or not len(chooser):
        return None
    rates, thresholds = [], []
    for delta in deltas:
        best = int((chooser >= delta).mean(axis=0).argmax())
        rates.append(float((scored[:, best] >= delta).mean()))
        thresholds.append(float(THRESHOLDS[best]))
    return BoxAccuracy(float(np.mean(rates)), tuple(thresholds))


def _defined(ious: np.ndarray) -> np.ndarray:
    ious = np.asarray(ious, dtype=np.float64).reshape(-1, len(THRESHOLDS))
    return ious[~np.isnan(ious).any(axis=1)]


def pxap(pet_pixels: np.ndarray, background_pixels: np.ndarray) -> float | None:
    """Area under the pixel precision-recall curve, pooled: (N, B) or (B,) bin counts of SCORE_EDGES -> the sum over
    thresholds, from the highest down, of precision x the recall gained there. None without a pet pixel."""
    pet = np.asarray(pet_pixels, dtype=np.float64).reshape(-1, len(SCORE_EDGES) - 1).sum(axis=0)
    background = np.asarray(background_pixels, dtype=np.float64).reshape(-1, len(SCORE_EDGES) - 1).sum(axis=0)
    if pet.sum() == 0:
        return None
    true_positives = pet[::-1].cumsum()  # pixels scoring >= each bin's lower edge, highest bin first
    kept = true_positives + background[::-1].cumsum()
    precision = np.divide(true_positives, kept, out=np.zeros_like(kept), where=kept > 0)
    recall_gain = np.diff(true_positives, prepend=0.0) / pet.sum()
    return float((precision * recall_gain).sum())


SCORE_NAMES = {"maxboxacc_v2": "MaxBoxAccV2", "maxboxacc": "MaxBoxAcc", "pxap": "PxAP",
               "head_maxboxacc_v2": "MaxBoxAccV2 (head)", "head_maxboxacc": "MaxBoxAcc (head)"}
"""summary()'s keys, as Choe et al. define the scores, and their names in tables; each but pxap (which has no
threshold) also as KEY_calibrated."""


def sweep_description(standard: heatmap.ThresholdStandard) -> str:
    """What the box scores' thresholds are, in words (the CLI's table and the JSON's `wsol_thresholds`). Under PaS
    they are a sweep, not Bae et al.'s use of it: one fixed 0.35 of the percentile, which the scores at a
    threshold (`localised`, `iou`) take."""
    if standard.percentile is None:
        return "a sweep of 0.00-0.99 of each min-max map's maximum"
    return (f"a sweep of 0.00-0.99 of each min-max map's {standard.percentile:g}th percentile (PaS swept; Bae et "
            f"al. fix {heatmap.PAS_THRESHOLD} of it, as the scores at a threshold do)")


def calibrated_key(key: str) -> str:
    """A box score's key at the calibrated threshold: "maxboxacc_v2" -> "maxboxacc_v2_calibrated"."""
    return f"{key}_calibrated"


def summary(curves: Mapping[str, Sequence[MapCurves | None]],
            calibration: Mapping[str, Sequence[MapCurves | None]] | None = None) -> dict[str, Any]:
    """Curves per map kind ({"model": [...], "gaussian": [...], ...}; None for a photo without them) -> each score
    of split_scores as {kind: value}; best_threshold and calibrated_threshold: {kind: {score: the thresholds it
    was read at, one per delta}}. Without calibration, calibrated_threshold and every KEY_calibrated are None."""
    per_kind = {kind: split_scores([c for c in kind_curves if c is not None],
                                   None if calibration is None else [c for c in calibration[kind] if c is not None])
                for kind, kind_curves in curves.items()}
    calibrated = [calibrated_key(key) for key in SCORE_NAMES if key != "pxap"]
    scores: dict[str, Any] = {key: {kind: per_kind[kind].get(key) for kind in curves}
                              for key in [*SCORE_NAMES, "best_threshold"]}
    for key in [*calibrated, "calibrated_threshold"]:
        scores[key] = None if calibration is None else {kind: per_kind[kind].get(key) for kind in curves}
    return scores


def split_scores(curves: Sequence[MapCurves], calibration: Sequence[MapCurves] | None = None) -> dict[str, Any]:
    """One map kind's WSOL scores over a split, as Choe et al. define them (each at the split's own best
    threshold): maxboxacc_v2 and maxboxacc (pet box), head_maxboxacc_v2 and head_maxboxacc (head box), pxap; with
    `calibration`, each box score also as KEY_calibrated, read at the threshold best on those other photos;
    best_threshold and calibrated_threshold: {score: thresholds, one per delta}."""
    if not curves:
        return {}
    scores: dict[str, Any] = {"pxap": pxap(np.stack([c.pet_pixels for c in curves]),
                                           np.stack([c.background_pixels for c in curves]))}
    chosen: dict[str, dict[str, tuple[float, ...] | None]] = {"best_threshold": {}, "calibrated_threshold": {}}
    for prefix, box in (("", "pet_box_iou"), ("head_", "head_box_iou")):
        for name, row, deltas in (("maxboxacc_v2", ALL_REGIONS, IOU_DELTAS),
                                  ("maxboxacc", LARGEST_REGION, (LARGEST_REGION_DELTA,))):
            best = box_accuracy(_rows(curves, box, row), deltas)
            scores[prefix + name] = None if best is None else best.value
            chosen["best_threshold"][prefix + name] = None if best is None else best.thresholds
            if calibration is not None:
                calibrated = box_accuracy(_rows(curves, box, row), deltas, chosen_on=_rows(calibration, box, row))
                scores[calibrated_key(prefix + name)] = None if calibrated is None else calibrated.value
                chosen["calibrated_threshold"][prefix + name] = None if calibrated is None else calibrated.thresholds
    return {**scores, **chosen}


def _rows(curves: Sequence[MapCurves], box: str, row: int) -> np.ndarray:
    """(N, T): one row of each photo's IoU curves (an empty (0, T) for no photos)."""
    return np.array([getattr(c, box)[row] for c in curves], dtype=np.float64).reshape(-1, len(THRESHOLDS))
