"""The Dataset page's per-photo results: the on-disk store of a model version and method (camcore.jobs.predict_store),
what this server has read of it, and a page of photos predicted where no session or job has stored them yet."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from camcore.data import pets
from camcore.jobs.predict import predict_missing
from camcore.jobs.predict_store import PredictStore
from camcore.options import MapOptions
from camcore.scores.evaluate import Progress
from camcore.scores.record import ImageResult
from ui.common.models import ModelChoice, random_model


def prediction_store(root: Path, choice: ModelChoice, options: MapOptions, *,
                     faithfulness_steps: int | None = None) -> PredictStore:
    """The on-disk results of this model version and these options on `root`, shared with the predict job and
    every session (camcore.jobs.predict_store); with faithfulness_steps, the store of results made so."""
    return PredictStore.for_model(root, choice.spec, choice.weights_path, options,
                                  faithfulness_steps=faithfulness_steps)


@st.cache_resource(max_entries=16, show_spinner=False)
def _results_read(store_path: str) -> dict[str, ImageResult]:
    """Results already read from one store, by file name: a store's results never change (a new model version
    gets a new store), so a rerun reads only the photos it has not seen yet."""
    return {}


def stored_predictions(store: PredictStore, records: Sequence[pets.PetRecord]) -> dict[str, ImageResult]:
    """The records' results that the store holds, by name; the others are simply absent."""
    known = _results_read(str(store.path))
    known.update(store.results(record.name for record in records if record.name not in known))
    return {record.name: known[record.name] for record in records if record.name in known}


def predictions(root: Path, records: Sequence[pets.PetRecord], choice: ModelChoice, options: MapOptions, *,
                faithfulness_steps: int | None = None, progress: Progress | None = None) -> dict[str, ImageResult]:
    """Each record's result by name, predicted here (a page of photos) where no session or job has stored it yet,
    and stored for all of them; with faithfulness_steps, results with the faithfulness scores too."""
    store = prediction_store(root, choice, options, faithfulness_steps=faithfulness_steps)
    if len(stored_predictions(store, records)) < len(records):
        predict_missing(store, root, records, choice.load(), options,
                        random_model=random_model(choice.spec, choice.weights_path, choice.device),
                        faithfulness_steps=faithfulness_steps, progress=progress)
    return stored_predictions(store, records)
