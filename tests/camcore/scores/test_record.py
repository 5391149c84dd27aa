"""One photo's record (camcore.scores.record): the score names match the score objects, the record's maps are
checked, and its flat JSON (the CLI's results and the prediction store) keeps its keys and reads back exactly."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from camcore.scores.record import (
    BASELINES,
    CURVE_KEYS,
    FAITHFULNESS_BASELINES,
    FAITHFULNESS_NAMES,
    SCORE_NAMES,
    SCORES,
    FaithfulnessScores,
    ImageResult,
    MapScores,
)
from camcore.scores.wsol import MapCurves

JSON_KEYS = ["name", "split", "breed", "species", "label", "predicted_index", "predicted_name", "probability",
             "correct",
             "pointing", "iou", "rel_energy", "localised", "head_pointing",
             "gauss_pointing", "gauss_iou", "gauss_rel_energy", "gauss_localised", "gauss_head_pointing",
             "random_pointing", "random_iou", "random_rel_energy", "random_localised", "random_head_pointing",
             "randomised_spearman",
             "deletion_auc", "insertion_auc", "confidence_drop", "confidence_increase",
             "gauss_deletion_auc", "gauss_insertion_auc", "gauss_confidence_drop", "gauss_confidence_increase",
             "random_map_deletion_auc", "random_map_insertion_auc", "random_map_confidence_drop",
             "random_map_confidence_increase"]
"""The per-photo JSON keys as the CLI's results and the prediction store wrote them before the record had maps
(written out, not derived): stored results from then must read back."""


def curves(seed: int) -> MapCurves:
    rng = np.random.default_rng(seed)
    return MapCurves(rng.random((2, 4), dtype=np.float32), np.full((2, 4), np.nan, dtype=np.float32),
                     rng.integers(0, 9, 5), rng.integers(0, 9, 5))


def photo(**changes: object) -> ImageResult:
    """A hand-made result with every score distinct (and one NaN), faithfulness scored."""
    localisation = {name: MapScores(pointing=index != 1, iou=0.1 * index, rel_energy=1.5 + index,
                                    localised=index == 1, head_pointing=math.nan if index == 2 else 1.0,
                                    curves=curves(index))
                    for index, name in enumerate(BASELINES)}
    faithfulness = {name: FaithfulnessScores(deletion_auc=0.2 + index, insertion_auc=0.3 + index,
                                             confidence_drop=0.4 + index, confidence_increase=float(index == 2))
                    for index, name in enumerate(FAITHFULNESS_BASELINES)}
    fields = dict(name="Bengal_1", split="test", breed="Bengal", species="cat", label=5, predicted_index=283,
                  predicted_name="Persian cat", probability=0.75, correct=True, localisation=localisation,
                  faithfulness=faithfulness, randomised_spearman=0.5, top_map=np.ones((2, 3), dtype=np.float32))
    return ImageResult(**(fields | changes))  # type: ignore[arg-type]


def test_score_names_are_the_score_objects_fields_in_order() -> None:
    assert tuple(SCORE_NAMES) == SCORES
    assert [f.name for f in dataclasses.fields(MapScores)] == [*SCORE_NAMES, "curves"]
    assert [f.name for f in dataclasses.fields(FaithfulnessScores)] == list(FAITHFULNESS_NAMES)
    scores = photo().localisation["gaussian"]
    assert scores.as_dict() == {"pointing": False, "iou": 0.1, "rel_energy": 2.5, "localised": True,
                                "head_pointing": 1.0}
    assert list(FaithfulnessScores().as_dict()) == list(FAITHFULNESS_NAMES)
    assert photo().faithfulness["random_map"].as_dict() == {"deletion_auc": 2.2, "insertion_auc": 2.3,
                                                            "confidence_drop": 2.4, "confidence_increase": 1.0}


def test_faithfulness_defaults_to_not_scored_and_maps_must_be_the_baselines() -> None:
    plain = photo()
    default = ImageResult(**{f.name: getattr(plain, f.name) for f in dataclasses.fields(plain)
                             if f.name != "faithfulness"})
    assert list(default.faithfulness) == list(FAITHFULNESS_BASELINES)
    assert all(math.isnan(value) for scores in default.faithfulness.values() for value in scores.as_dict().values())
    with pytest.raises(ValueError, match="gaussian"):
        photo(localisation={name: plain.localisation[name] for name in ("model", "random")})
    with pytest.raises(ValueError, match="random_map"):
        photo(faithfulness=dict(plain.faithfulness, random=plain.faithfulness["random_map"]))


def test_json_fields_keep_the_flat_keys_and_each_maps_values() -> None:
    result = photo()
    fields = result.json_fields()
    assert list(fields) == JSON_KEYS
    assert (fields["iou"], fields["gauss_iou"], fields["random_iou"]) == (0.0, 0.1, 0.2)
    assert (fields["localised"], fields["gauss_localised"], fields["random_localised"]) == (False, True, False)
    assert math.isnan(fields["random_head_pointing"]) and fields["head_pointing"] == 1.0
    assert (fields["deletion_auc"], fields["gauss_deletion_auc"], fields["random_map_deletion_auc"]) == \
        (0.2, 1.2, 2.2)
    assert fields["random_map_confidence_increase"] == 1.0 and fields["randomised_spearman"] == 0.5
    assert CURVE_KEYS == {"model": "curves", "gaussian": "gauss_curves", "random": "random_curves"}


def test_json_fields_read_back_exactly_and_older_json_without_faithfulness() -> None:
    result = photo()
    maps_curves = {name: scores.curves for name, scores in result.localisation.items()}
    again = ImageResult.from_json_fields(result.json_fields(), top_map=result.top_map, curves=maps_curves)
    assert again == result  # NaN head pointing: the same float object
    assert again.top_map is result.top_map
    assert all(again.localisation[name].curves is maps_curves[name] for name in BASELINES)
    older = {key: value for key, value in result.json_fields().items()
             if key != "randomised_spearman" and not key.endswith(tuple(FAITHFULNESS_NAMES))}
    read = ImageResult.from_json_fields(older)
    assert read.localisation == result.localisation and math.isnan(read.randomised_spearman)
    assert all(math.isnan(value) for scores in read.faithfulness.values() for value in scores.as_dict().values())
    assert read.top_map is None and all(scores.curves is None for scores in read.localisation.values())
    with pytest.raises(KeyError, match="gauss_iou"):
        ImageResult.from_json_fields({key: value for key, value in older.items() if key != "gauss_iou"})
