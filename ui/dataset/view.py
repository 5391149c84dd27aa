"""The Dataset page's views: this page of photos with their predictions, the thumbnail grid with each prediction's
map, the summary (confusion matrix and per-breed scores, faithfulness too when the predictions have it) and the
score tables of one photo."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from camcore.data import pets, thumbnails
from camcore.data.images import load_image
from camcore.errors import ImageError
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.scores import browse, wsol
from camcore.scores.record import FAITHFULNESS_NAMES, SCORE_NAMES, FaithfulnessScores, ImageResult, MapScores
from camcore.scores.summary import summarise
from ui.common.inputs import method_label
from ui.common.reporting import reported
from ui.common.state import DATASET
from ui.common.text import plain
from ui.dataset import figures, inputs, jobs
from ui.dataset.inputs import Predictor

GRID_COLUMNS, THUMBNAIL_PX = 5, 224
YES_NO_SCORES = ("pointing", "localised", "head_pointing")
VERDICTS = {True: "✅", False: "❌", None: "❔"}
"""A prediction's ImageResult.correct in a caption (None: the model's classes say neither species nor breed)."""


def browse_ui(root: Path, records: Sequence[pets.PetRecord], ordered: Sequence[pets.PetRecord],
              predictor: Predictor | None, *, order: str) -> tuple[Sequence[pets.PetRecord], dict[str, ImageResult]]:
    """This page of the `ordered` photos and their results by name. With a predictor: its predictions (this page's,
    or every shown photo's by a background job) and their summary, which may filter and reorder them. The summary
    and the page picker sit above the predictions' progress, in containers made first."""
    summary_box, navigation = st.container(), st.container()
    if predictor is None:
        return _paged(ordered, navigation), {}
    pool = ordered if predictor.predict_all else _paged(ordered, navigation)
    results: dict[str, ImageResult] = {}
    with reported("Predicting"):
        results = jobs.predictions_ui(root, pool, predictor)
    if results:
        calibration = jobs.calibration_results(root, records, pool, predictor)
        with summary_box:
            title = f"{method_label(predictor.options.method)} of {plain(predictor.choice.spec)}"
            pool = summary_ui(predictor.model, title, pool, results, mistakes_only=predictor.mistakes_only, order=order,
                              calibration=calibration, standard=predictor.options.threshold_standard)
    return (_paged(pool, navigation) if predictor.predict_all else pool), results


def _paged(records: Sequence[pets.PetRecord], navigation: DeltaGenerator) -> Sequence[pets.PetRecord]:
    """The page of records chosen in the navigation box (above the grid, whenever this runs)."""
    with navigation:
        first = inputs.page_ui(len(records)) * inputs.PAGE_SIZE
    return records[first:first + inputs.PAGE_SIZE]


def thumbnail_grid_ui(root: Path, records: Sequence[pets.PetRecord], results: Mapping[str, ImageResult]) -> None:
    """Cached thumbnails in rows of GRID_COLUMNS, captioned with the labels and any prediction, with the
    predicted class's map over them (the lesson's gallery); a photo that cannot be read shows its error
    instead; each one's button opens its detail view."""
    for first in range(0, len(records), GRID_COLUMNS):
        row = st.columns(GRID_COLUMNS, vertical_alignment="bottom")
        for column, record in zip(row, records[first:first + GRID_COLUMNS]):
            result = results.get(record.name)
            verdict = "" if result is None else (f" · {VERDICTS[result.correct]} {plain(result.predicted_name)} "
                                                 f"{result.probability:.0%}")
            try:
                thumb = thumbnails.thumbnail(pets.image_path(root, record), size_px=THUMBNAIL_PX)
                shown = str(thumb) if result is None else heatmap.map_overlay(load_image(thumb), result.top_map)
                column.image(shown, caption=f"{plain(record.name)} · {plain(record.breed)}{verdict}", width="stretch")
            except ImageError as exc:  # one unreadable photo must not hide the other 24
                column.warning(plain(exc))
            column.button("Details", key=DATASET.key(f"open.{record.name}"), icon=":material/zoom_in:",
                          type="tertiary", on_click=st.session_state.__setitem__, args=(DATASET.key("detail"),
                                                                                          record.name))


def summary_ui(model: LoadedModel, title: str, pool: Sequence[pets.PetRecord], results: Mapping[str, ImageResult],
               *, mistakes_only: bool, order: str, calibration: Mapping[str, ImageResult] | None = None,
               standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> list[pets.PetRecord]:
    """Draws the confusion matrix, per-breed scores and WSOL scores of the pool's predicted photos (thresholds
    calibrated on `calibration`'s results when given; swept as fractions of what `standard` says); returns the
    pool filtered and sorted by the answers. Photos not predicted yet (predict all still running) follow, unless a
    confusion cell or mistakes only asks for answers they do not have."""
    answered = [record for record in pool if record.name in results]
    summary = summarise((results[record.name] for record in answered),
                        calibration=None if calibration is None else calibration.values())
    pairs = browse.confusion_pairs(model, [results[record.name] for record in answered])
    accuracy = "" if summary["accuracy"] is None else f", accuracy {summary['accuracy']:.0%}"
    st.subheader(f"{title} on {summary['count']} images{accuracy}")
    matrix_col, breed_col = st.columns([1, 2])
    with matrix_col:
        cell = inputs.confusion_ui(pairs)
    breed_col.plotly_chart(figures.localisation_by_breed(summary["per_breed"]), key=DATASET.key("breeds"))
    breed_col.caption(figures.SCORES_HELP)
    _wsol_ui(summary, calibration, standard)
    if summary["deletion_auc"]["model"] is not None:  # predicted with faithfulness
        breed_col.plotly_chart(figures.faithfulness_by_breed(summary["per_breed"]),
                               key=DATASET.key("breed_faithfulness"))
        breed_col.caption(figures.FAITHFULNESS_HELP)
    kept = browse.by_answers(answered, results, pairs, cell=cell, mistakes_only=mistakes_only, order=order)
    waiting = [] if cell is not None or mistakes_only else [record for record in pool if record.name not in results]
    return kept + waiting


def _wsol_ui(summary: Mapping[str, Any], calibration: Mapping[str, ImageResult] | None,
             standard: heatmap.ThresholdStandard) -> None:
    st.markdown("**WSOL scores** (the weakly-supervised localisation papers' numbers)")
    st.plotly_chart(figures.wsol_scores(summary, calibrated=calibration is not None), key=DATASET.key("wsol"))
    chosen = (f"Bars: the threshold best for these photos; diamonds: the one best for {len(calibration)} trainval "
              "photos predicted earlier." if calibration is not None else
              "Bars: the threshold best for these photos. Show the test split with trainval photos predicted "
              "(Predict all over both splits) to see the scores at a threshold calibrated on trainval too.")
    st.caption(f"Thresholds: {wsol.sweep_description(standard)}. {chosen} {figures.WSOL_HELP}")


def scores_ui(result: ImageResult) -> None:
    """A table of the localisation scores: one row per score, the model's column beside the two baselines'; then
    the faithfulness scores' table beside theirs, when the result has them."""
    _table(SCORE_NAMES, result.localisation, _score_text)
    if not math.isnan(result.faithfulness["model"].deletion_auc):
        _table(FAITHFULNESS_NAMES, result.faithfulness, _faithfulness_text)
        st.caption("Deletion AUC: lower is better; insertion AUC: higher is better. Drop: the share of the top "
                   "class's probability lost when the photo is multiplied by the map (lower is better); increase: "
                   "whether it rose instead.")


def _table(names: Mapping[str, str], maps: Mapping[str, MapScores] | Mapping[str, FaithfulnessScores],
           text: Callable[[str, float], str]) -> None:
    """One row per score of `names` (key -> row name), one column per map of `maps` (name -> its scores)."""
    st.table({"score": list(names.values()),
              **{figures.MAP_NAMES[name]: [text(score, scores.as_dict()[score]) for score in names]
                 for name, scores in maps.items()}}, hide_index=True)


def _faithfulness_text(score: str, value: float) -> str:
    """AUCs with two decimals, the drop in confidence as a percentage, the increase as yes or no."""
    if score == "confidence_drop":
        return f"{value:.0%}"
    return ("yes" if value else "no") if score == "confidence_increase" else f"{value:.2f}"


def _score_text(score: str, value: bool | float) -> str:
    """Hit or miss for the yes/no scores (head pointing is 1.0/0.0 so that means can skip photos without a head
    box), others with two decimals; "–" where a score is undefined (no mask, no head box)."""
    if math.isnan(value):
        return "–"
    return ("hit" if value else "miss") if score in YES_NO_SCORES else f"{value:.2f}"
