"""The Dataset page's inputs: data folder, filters, order, the model and how it predicts, paging, the photo in
detail and the confusion cell."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from camcore import settings
from camcore.data import pets
from camcore.errors import PathRefused
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores import browse
from camcore.scores.faithfulness import DATASET_STEPS, forward_passes
from camcore.serving.paths import allowed_path
from ui.common import inputs, models, wsol_inputs
from ui.common.notes import fixed_size_note
from ui.common.reporting import reported
from ui.common.state import DATASET
from ui.common.text import plain
from ui.dataset import figures

ALL = "all"
PAGE_SIZE = 25


def data_root_ui() -> Path | None:
    """The folder holding oxford-iiit-pet/ (torchvision's `root`), preset from $CAM_EXPLORER_DATA; None, with
    the refusal shown, when it lies outside the server's allowed folders (camcore.serving.paths)."""
    typed = st.text_input("Data folder", key=DATASET.default("root", str(settings.data_root())),
                          help=f"The folder that holds oxford-iiit-pet/ (default: ${settings.DATA_ENV}).").strip()
    try:
        return allowed_path(typed or str(settings.data_root()))
    except PathRefused as exc:
        st.error(plain(exc))
        return None


def pet_filters_ui(records: Sequence[pets.PetRecord]) -> tuple[pets.PetRecord, ...]:
    """The records left by the split, species, breed and file-name filters (the breed list follows species)."""
    split = st.selectbox("Split", (ALL, *pets.SPLITS), key=DATASET.key("split"))
    species = st.selectbox("Species", (ALL, *pets.SPECIES), key=DATASET.key("species"))
    breeds = [ALL, *sorted({r.breed for r in records if species == ALL or r.species == species}, key=str.lower)]
    breed = st.selectbox("Breed", breeds, key=DATASET.valid("breed", breeds, ALL))
    search = st.text_input("File name contains", key=DATASET.key("search"), placeholder="e.g. beagle_1")
    return pets.filter_records(records, split=None if split == ALL else split,
                               species=None if species == ALL else species,
                               breed=None if breed == ALL else breed, name_contains=search.strip())


ORDER_LABELS = {browse.BY_NAME: "file name", browse.RANDOM: "random", browse.CONFIDENCE: "confidence, lowest first",
                browse.WRONG_FIRST: "wrong first"}


def order_ui(predicting: bool) -> tuple[str, int]:
    """(sort order, random seed); the orders by the model's answers are offered only while predicting."""
    options = [*browse.ORDERS[:2], *(browse.ORDERS[2:] if predicting else ())]
    order = st.selectbox("Sort by", options, key=DATASET.valid("order", options, browse.BY_NAME),
                         format_func=ORDER_LABELS.__getitem__)
    seed_key = DATASET.default("seed", 0)
    seed = st.number_input("Seed", min_value=0, step=1, key=seed_key) if order == browse.RANDOM else 0
    return order, int(seed)


@dataclass(frozen=True)
class Predictor:
    """The sidebar's Model section: the shared model the page predicts with, the map options its answers are
    scored with (top 1: method, NWC, threshold standard), the faithfulness curves' steps (None: none), and over
    which photos (every shown one, or this page's; then the mistakes only, or all). Each (model version, options,
    steps) has a store of its own (camcore.jobs.predict_store)."""

    model: LoadedModel
    choice: models.ModelChoice
    options: MapOptions
    faithfulness_steps: int | None
    predict_all: bool
    mistakes_only: bool


def predictor_ui(shown: int) -> Predictor | None:
    """The Model section (call it in the sidebar): model, device, method, NWC, threshold standard and scope over
    the `shown` photos; None while no model is typed in, or when it cannot be loaded (its error shown)."""
    st.header("Model")
    spec, weights_path = inputs.model_ui(DATASET)
    device = inputs.device_ui(DATASET)
    model = None
    with reported(f"Loading {spec}", ValueError):  # ValueError: an unknown model name, or cuda without a GPU
        model = models.shared_model(spec, weights_path, device) if spec else None
    if model is None:
        return None
    if note := fixed_size_note(model):
        st.caption(note)
    method = inputs.method_ui(model, DATASET)
    options = MapOptions(method=method, top_k=1, clamp_negative_weights=wsol_inputs.nwc_ui(DATASET, method),
                         threshold_standard=wsol_inputs.threshold_standard_ui(DATASET))
    predict_all, mistakes_only, faithfulness_steps = scope_ui(shown)
    return Predictor(model, models.ModelChoice.of(spec, weights_path, device), options, faithfulness_steps,
                     predict_all=predict_all, mistakes_only=mistakes_only)


def scope_ui(shown: int) -> tuple[bool, bool, int | None]:
    """(predict every shown image rather than this page's, show mistakes only, the faithfulness curves' steps or
    None: off by default, as it multiplies the forward passes per photo)."""
    scope = st.radio("Predict", ("page", "all"), key=DATASET.default("scope", "page"), horizontal=True,
                     format_func=lambda key: "this page" if key == "page" else f"all {shown} shown",
                     help="All: sorting and filters by the model's answers span every shown image, predicted by a "
                     "background job whose results are kept on disk for every session.")
    faithful = st.checkbox(f"Also score faithfulness (deletion / insertion; {forward_passes(DATASET_STEPS)} forward "
                           "passes per photo, slower)", key=DATASET.key("faithfulness"),
                           help="Deletion and insertion AUC, and the drop or increase in confidence, of the map "
                           f"beside a random map and the centred Gaussian, in curves of {DATASET_STEPS} steps "
                           "(as `python -m camcore evaluate --faithfulness`). These results are stored apart from "
                           "those without them.")
    mistakes_only = st.toggle("Mistakes only", key=DATASET.key("mistakes"))
    return scope == "all", mistakes_only, DATASET_STEPS if faithful else None


def page_ui(count: int) -> int:
    """0-based page of PAGE_SIZE records, with where it stands."""
    pages = max(1, -(-count // PAGE_SIZE))
    key = DATASET.valid("page", range(1, pages + 1), 1)
    number_col, caption_col = st.columns([1, 4], vertical_alignment="bottom")
    page = number_col.number_input("Page", min_value=1, max_value=pages, step=1, key=key)
    caption_col.caption(f"{count} images, page {page} of {pages}")
    return int(page) - 1


def detail_ui(names: Sequence[str]) -> str | None:
    """The photo shown in detail: one of this page's, picked here or by a thumbnail's button."""
    return st.selectbox("Photo", [None, *names], key=DATASET.valid("detail", [None, *names], None),
                        format_func=lambda name: "none" if name is None else name)


def confusion_ui(pairs: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The (true, predicted) cell that filters the grid: clicked in the confusion matrix, or picked below it."""
    cells = sorted(set(pairs))
    st.plotly_chart(figures.confusion_figure(pairs), key=DATASET.key("confusion"), on_select=_cell_clicked,
                    selection_mode="points", config={"displayModeBar": False})
    return st.selectbox("Show only the cell", [None, *cells], key=DATASET.valid("cell", [None, *cells], None),
                        format_func=lambda cell: "every cell" if cell is None else
                        f"true {cell[0]}, predicted {cell[1]}")


def _cell_clicked() -> None:
    """Selection events of the confusion matrix's cell markers -> the cell selectbox's value."""
    points = st.session_state[DATASET.key("confusion")].selection.points
    st.session_state[DATASET.key("cell")] = (points[0]["y"], points[0]["x"]) if points else None


def map_target_ui(true_class: str | None) -> bool:
    """True when the detail view should map the photo's true class (the ground-truth CAM) instead of the top 5
    predicted; offered only when the model has a class for the photo's label."""
    if true_class is None:
        return False
    return st.radio("Map of", (False, True), key=DATASET.key("map_true"), horizontal=True,
                    format_func=lambda true: f"the true class: {plain(true_class)}" if true else "the top 5 predicted")
