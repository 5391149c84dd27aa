"""A split's means, overall and per breed, of each map's scores beside the baselines' (summarise)."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from camcore.scores import wsol
from camcore.scores.record import (
    BASELINES,
    FAITHFULNESS_BASELINES,
    FAITHFULNESS_NAMES,
    SCORES,
    FaithfulnessScores,
    ImageResult,
    MapScores,
)
from camcore.scores.wsol import MapCurves


def summarise(results: Iterable[ImageResult], *, calibration: Iterable[ImageResult] | None = None) -> dict[str, Any]:
    """Means overall and per breed (sorted by name): {"count", "accuracy", each of SCORES and FAITHFULNESS_NAMES,
    "randomised_spearman", the WSOL scores (camcore.scores.wsol.summary's keys), "per_breed": {breed: the same
    without per_breed}}, each score as {"model", "gaussian", "random"} (BASELINES; faithfulness:
    FAITHFULNESS_BASELINES, "random_map" for "random"); a bool's mean is its rate.

    Means skip NaN (an empty mask, a photo without a head box); a mean over nothing, and the accuracy where no
    prediction could be judged, is None. The WSOL scores read their thresholds off `calibration` (other photos,
    e.g. trainval for test), chosen once for the whole of it, per breed too; without it, off the scored photos.
    """
    results = list(results)
    chosen_on = None if calibration is None else _curves(list(calibration))
    by_breed: dict[str, list[ImageResult]] = defaultdict(list)
    for result in results:
        by_breed[result.breed].append(result)
    return {**_means(results, chosen_on),
            "per_breed": {breed: _means(by_breed[breed], chosen_on) for breed in sorted(by_breed)}}


def _means(results: list[ImageResult], calibration: dict[str, list[MapCurves | None]] | None) -> dict[str, Any]:
    judged = [result.correct for result in results if result.correct is not None]
    summary: dict[str, Any] = {"count": len(results), "accuracy": _mean(judged)}
    summary |= _by_map([result.localisation for result in results], SCORES, BASELINES)
    summary |= _by_map([result.faithfulness for result in results], FAITHFULNESS_NAMES, FAITHFULNESS_BASELINES)
    summary["randomised_spearman"] = _mean([result.randomised_spearman for result in results])
    return {**summary, **wsol.summary(_curves(results), calibration)}


def _by_map(photos: Sequence[Mapping[str, MapScores | FaithfulnessScores]], scores: Iterable[str],
            names: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """{score: {map name: the score's mean over the photos}}, from each photo's {map name: its scores}."""
    values = {name: [photo[name].as_dict() for photo in photos] for name in names}
    return {score: {name: _mean([row[score] for row in values[name]]) for name in names} for score in scores}


def _curves(results: list[ImageResult]) -> dict[str, list[MapCurves | None]]:
    return {name: [result.localisation[name].curves for result in results] for name in BASELINES}


def _mean(values: Sequence[float | bool]) -> float | None:
    kept = [float(value) for value in values if not math.isnan(value)]
    return sum(kept) / len(kept) if kept else None
