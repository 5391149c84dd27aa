"""summarise (camcore.scores.summary): each map's means overall and per breed against means worked out by hand,
the WSOL scores pooled at the calibration photos' thresholds, undefined scores skipped and nothing as None."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from camcore.scores import wsol
from camcore.scores.record import ImageResult, MapScores
from camcore.scores.summary import summarise

SCORE_FIELDS = ("pointing", "iou", "rel_energy", "localised", "head_pointing")
MAPS = ("model", "gaussian", "random")
FAITHFUL_FIELDS = ("deletion_auc", "insertion_auc", "confidence_drop", "confidence_increase")
FAITHFUL_MAPS = ("model", "gaussian", "random_map")


def _hand_means(results: list[ImageResult]) -> dict:
    judged = [r.correct for r in results if r.correct is not None]
    means = {"count": len(results), "accuracy": statistics.mean(judged) if judged else None}
    for score, kind, maps in [*((score, "localisation", MAPS) for score in SCORE_FIELDS),
                              *((score, "faithfulness", FAITHFUL_MAPS) for score in FAITHFUL_FIELDS)]:
        means[score] = {}
        for name in maps:
            values = [float(getattr(getattr(r, kind)[name], score)) for r in results]
            values = [v for v in values if not math.isnan(v)]
            means[score][name] = statistics.mean(values) if values else None
    spearmans = [r.randomised_spearman for r in results if not math.isnan(r.randomised_spearman)]
    means["randomised_spearman"] = statistics.mean(spearmans) if spearmans else None
    return means


WSOL_KEYS = set(wsol.summary({"model": []}))
"""The WSOL scores' keys, which pool curves instead of averaging (test_wsol_scores_pool_... below)."""


def _means_only(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key not in WSOL_KEYS}


def test_wsol_scores_pool_each_breed_at_the_calibration_photos_thresholds(resnet_results) -> None:
    """Each map kind's WSOL scores pool that kind's curves (the baselines' their own), per breed too, read at the
    thresholds chosen once on the calibration photos: the same as wsol.summary on those curves by hand."""
    calibration = resnet_results[:3]
    summary = summarise(resnet_results, calibration=calibration)
    chosen_on = {kind: [r.localisation[kind].curves for r in calibration] for kind in MAPS}
    for breed, means in [(None, summary), *summary["per_breed"].items()]:
        photos = [r for r in resnet_results if breed in (None, r.breed)]
        expected = wsol.summary({kind: [r.localisation[kind].curves for r in photos] for kind in MAPS},
                                chosen_on)
        assert {key: means[key] for key in WSOL_KEYS} == expected
    gauss = [r.localisation["gaussian"].curves for r in resnet_results]
    gauss_pxap = wsol.pxap(np.stack([curves.pet_pixels for curves in gauss]),
                           np.stack([curves.background_pixels for curves in gauss]))
    assert summary["pxap"]["gaussian"] == gauss_pxap != summary["pxap"]["model"]
    assert summarise(resnet_results)["calibrated_threshold"] is None


def _flat(means: dict) -> dict:
    """{"iou": {"model": m}} -> {"iou.model": m} (pytest.approx compares flat dicts only)."""
    return {f"{key}.{name}" if isinstance(value, dict) else key: inner
            for key, value in means.items() if key != "per_breed"
            for name, inner in (value.items() if isinstance(value, dict) else [(None, value)])}


@pytest.mark.parametrize("which", ["resnet_results", "faithful_results"])
def test_summary_overall_and_per_breed_equal_hand_computed_means(which: str, request: pytest.FixtureRequest) -> None:
    resnet_results = request.getfixturevalue(which)
    summary = summarise(resnet_results)
    breeds = sorted({r.breed for r in resnet_results})
    assert list(summary["per_breed"]) == breeds
    assert _flat(_means_only(summary)) == pytest.approx(_flat(_hand_means(resnet_results)))
    for breed in breeds:
        hand = _hand_means([r for r in resnet_results if r.breed == breed])
        assert _flat(_means_only(summary["per_breed"][breed])) == pytest.approx(_flat(hand))
    assert sum(means["count"] for means in summary["per_breed"].values()) == len(resnet_results)


def _result(breed: str, *, iou: float, correct: bool | None, pointing: bool = True, localised: bool = False,
            head: float = math.nan) -> ImageResult:
    return ImageResult(name=f"{breed}_1", split="test", breed=breed, species="cat", label=0, predicted_index=0,
                       predicted_name="x", probability=0.5, correct=correct, localisation={
                           "model": MapScores(pointing=pointing, iou=iou, rel_energy=iou, localised=localised,
                                              head_pointing=head),
                           "gaussian": MapScores(pointing=False, iou=0.5, rel_energy=1.0, localised=True,
                                                 head_pointing=1.0),
                           "random": MapScores(pointing=True, iou=0.1, rel_energy=0.8, localised=localised,
                                               head_pointing=math.nan)})


def test_summary_skips_undefined_scores_and_reports_nothing_as_none() -> None:
    """Booleans average to rates; a missing head box (NaN) is skipped, not counted as a miss."""
    results = [_result("A", iou=0.2, correct=True, localised=True, head=1.0),
               _result("A", iou=float("nan"), correct=False, head=0.0),
               _result("B", iou=float("nan"), correct=None, pointing=False, localised=True)]
    summary = summarise(results)
    assert summary["count"] == 3 and summary["accuracy"] == 0.5
    assert summary["iou"] == {"model": pytest.approx(0.2), "gaussian": 0.5, "random": pytest.approx(0.1)}
    assert summary["pointing"] == {"model": pytest.approx(2 / 3), "gaussian": 0.0, "random": 1.0}
    assert summary["localised"] == {"model": pytest.approx(2 / 3), "gaussian": 1.0, "random": pytest.approx(2 / 3)}
    assert summary["head_pointing"] == {"model": 0.5, "gaussian": 1.0, "random": None}
    assert summary["per_breed"]["B"]["head_pointing"]["model"] is None
    assert summary["per_breed"]["B"]["iou"]["model"] is None and summary["per_breed"]["B"]["accuracy"] is None
    empty = summarise([])
    assert empty["count"] == 0 and empty["accuracy"] is None and empty["per_breed"] == {}
    assert empty["rel_energy"] == {"model": None, "gaussian": None, "random": None}


def test_summary_keys_keep_their_order(resnet_results) -> None:
    """The CLI's JSON and tables print the summary in this order: the counts, the localisation scores, the
    faithfulness scores, the sanity check, then the WSOL scores."""
    summary = summarise(resnet_results[:2])
    assert list(summary)[:12] == ["count", "accuracy", *SCORE_FIELDS, *FAITHFUL_FIELDS, "randomised_spearman"]
    assert set(list(summary)[12:]) == WSOL_KEYS | {"per_breed"} and list(summary)[-1] == "per_breed"
    assert all(list(summary[score]) == list(MAPS) for score in SCORE_FIELDS)
    assert all(list(summary[score]) == list(FAITHFUL_MAPS) for score in FAITHFUL_FIELDS)
