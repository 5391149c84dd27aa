"""One photo's record: its labels and prediction, each map's MapScores and FaithfulnessScores, and its flat JSON."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camcore.scores.wsol import MapCurves

SCORE_NAMES = {"pointing": "Pointing game", "iou": "Mask IoU", "rel_energy": "Relative energy",
               "localised": "Box IoU>=0.5", "head_pointing": "Head pointing"}
"""Each localisation score's key (MapScores' field, summarise()'s key) and its name in tables and charts."""
THRESHOLD_SCORES = ("iou", "localised")
"""The scores that depend on the threshold (heatmap.threshold_mask), which tables print beside them."""
SCORES = tuple(SCORE_NAMES)
"""The per-image localisation scores, in their order in tables and JSON."""
BASELINES = ("model", "gaussian", "random")
"""The maps scored for localisation, ImageResult.localisation's and summarise()'s keys: the model's top-1 map, a
centred Gaussian and the top-1 map of the same architecture with randomised weights (its own top class)."""
FAITHFULNESS_NAMES = {"deletion_auc": "Deletion AUC", "insertion_auc": "Insertion AUC",
                      "confidence_drop": "Drop in conf.", "confidence_increase": "Increase in conf."}
"""Each faithfulness score's key (FaithfulnessScores' field, summarise()'s key) and its name in tables."""
FAITHFULNESS_BASELINES = ("model", "gaussian", "random_map")
"""The maps faithfulness compares, ImageResult.faithfulness's keys, all explaining the model's own top-1 class: its
map, the centred Gaussian and a seeded random map (not the random-weights model of BASELINES, whose class differs)."""
_PREFIXES = {"model": "", "gaussian": "gauss_", "random": "random_", "random_map": "random_map_"}
"""Each map's prefix in the flat JSON keys (iou, gauss_iou, random_iou, random_map_deletion_auc): the format of the
CLI's results and of the prediction store, which docs/cli.md documents; code reads the record's mappings."""
CURVE_KEYS = {name: _PREFIXES[name] + "curves" for name in BASELINES}
"""Each map's key of its WSOL curves in the prediction store's JSON (curves, gauss_curves, random_curves)."""


@dataclass(frozen=True)
class MapScores:
    """One map's localisation scores on one photo (SCORE_NAMES' keys) and its WSOL curves.

    iou and rel_energy are NaN where undefined. localised: the CAM paper's score, heatmap.threshold_box's box has
    IoU >= 0.5 with the pet's box (around trimap 1 and 3). head_pointing: 1.0 / 0.0 whether the map's peak lies in
    the head box of annotations/xmls, NaN for the photos without one (a float, so that means skip them). curves:
    camcore.scores.wsol's per-photo curves, pooled over a split by summarise; not in the CLI's per-photo JSON.
    """

    pointing: bool
    iou: float
    rel_energy: float
    localised: bool
    head_pointing: float
    curves: MapCurves | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, bool | float]:
        """The scores by their SCORE_NAMES key, in its order (no curves)."""
        return {"pointing": self.pointing, "iou": self.iou, "rel_energy": self.rel_energy,
                "localised": self.localised, "head_pointing": self.head_pointing}


@dataclass(frozen=True)
class FaithfulnessScores:
    """One map's faithfulness scores on one photo (camcore.scores.faithfulness), all NaN unless predict_records was
    asked for them: the deletion and insertion curves' areas, max(0, Y - O) / Y (its mean x 100 is the average drop
    %) and 1.0 / 0.0 whether O > Y."""

    deletion_auc: float = math.nan
    insertion_auc: float = math.nan
    confidence_drop: float = math.nan
    confidence_increase: float = math.nan

    def as_dict(self) -> dict[str, float]:
        """The scores by their FAITHFULNESS_NAMES key, in its order."""
        return {"deletion_auc": self.deletion_auc, "insertion_auc": self.insertion_auc,
                "confidence_drop": self.confidence_drop, "confidence_increase": self.confidence_increase}


def _not_scored() -> dict[str, FaithfulnessScores]:
    return dict.fromkeys(FAITHFULNESS_BASELINES, FaithfulnessScores())


@dataclass(frozen=True)
class ImageResult:
    """One photo: its labels, the model's top-1 prediction, and the scores of each map.

    correct: whether the prediction names the photo's species (a cat/dog or an ImageNet model) or breed (a breed
    model); None when the model's classes say neither (camcore.scores.labels). localisation: BASELINES' maps ->
    their MapScores; faithfulness: FAITHFULNESS_BASELINES' maps -> their FaithfulnessScores (NaN: not scored).
    """

    name: str
    split: str
    breed: str
    species: str
    label: int
    predicted_index: int
    predicted_name: str
    probability: float
    correct: bool | None
    localisation: Mapping[str, MapScores]
    faithfulness: Mapping[str, FaithfulnessScores] = field(default_factory=_not_scored)
    randomised_spearman: float = math.nan
    """Spearman of the map with the same class's map once all but the stem is re-initialised (camcore.scores.sanity)."""
    top_map: np.ndarray | None = field(default=None, compare=False, repr=False)
    """(h, w) the top-1 class's map at the layer's resolution, for overlays on thumbnails; not in JSON."""

    def __post_init__(self) -> None:
        for maps, names in ((self.localisation, BASELINES), (self.faithfulness, FAITHFULNESS_BASELINES)):
            if set(maps) != set(names):
                raise ValueError(f"{self.name}: scores of maps {sorted(maps)}, not of {', '.join(names)}.")

    def json_fields(self) -> dict[str, Any]:
        """The flat fields of the CLI's per-photo JSON and of the prediction store, in their order: the labels and
        prediction, each map's localisation scores under its prefix (iou, gauss_iou, random_iou),
        randomised_spearman, the faithfulness scores (deletion_auc, gauss_..., random_map_...); no map, no curves."""
        fields: dict[str, Any] = {
            "name": self.name, "split": self.split, "breed": self.breed, "species": self.species, "label": self.label,
            "predicted_index": self.predicted_index, "predicted_name": self.predicted_name,
            "probability": self.probability, "correct": self.correct}
        fields |= _prefixed(self.localisation, BASELINES)
        fields["randomised_spearman"] = self.randomised_spearman
        return fields | _prefixed(self.faithfulness, FAITHFULNESS_BASELINES)

    @classmethod
    def from_json_fields(cls, fields: Mapping[str, Any], *, top_map: np.ndarray | None = None,
                         curves: Mapping[str, MapCurves | None] | None = None) -> ImageResult:
        """json_fields() back, with the map and BASELINES' curves where given. Raises KeyError where a label or a
        localisation score is missing; the faithfulness scores and randomised_spearman, which older JSON may lack,
        are NaN then."""
        curves = curves or {}
        return cls(name=fields["name"], split=fields["split"], breed=fields["breed"], species=fields["species"],
                   label=fields["label"], predicted_index=fields["predicted_index"],
                   predicted_name=fields["predicted_name"], probability=fields["probability"],
                   correct=fields["correct"],
                   localisation={name: MapScores(**{score: fields[_PREFIXES[name] + score] for score in SCORES},
                                                 curves=curves.get(name))
                                 for name in BASELINES},
                   faithfulness={name: FaithfulnessScores(**{score: fields.get(_PREFIXES[name] + score, math.nan)
                                                             for score in FAITHFULNESS_NAMES})
                                 for name in FAITHFULNESS_BASELINES},
                   randomised_spearman=fields.get("randomised_spearman", math.nan), top_map=top_map)


def _prefixed(maps: Mapping[str, MapScores] | Mapping[str, FaithfulnessScores], names: tuple[str, ...]
              ) -> dict[str, Any]:
    """{prefix + score: value} of each map of `names`, map by map."""
    return {_PREFIXES[name] + score: value for name in names for score, value in maps[name].as_dict().items()}
