"""Dataset: Oxford-IIIT Pet page by page; with a model, its answers, CAMs and localisation scores beside baselines."""
from __future__ import annotations

import streamlit as st

from camcore.data import pets
from camcore.data.images import load_image
from camcore.data.pets import PetRecord
from camcore.errors import DataNotFound
from camcore.options import MapOptions
from camcore.scores import browse
from camcore.scores.labels import true_class_index
from camcore.scores.record import ImageResult
from ui.common import datasets, explanations, inputs, models, wsol_inputs
from ui.common.notes import fixed_size_note
from ui.common.reporting import reported
from ui.common.state import DATASET
from ui.common.text import plain, plot_text
from ui.dataset import figures as dataset_figures
from ui.dataset import inputs as dataset_inputs
from ui.dataset import jobs as dataset_jobs
from ui.dataset import view as dataset_view
from ui.explain import faithfulness as explain_faithfulness
from ui.explain import figure_cache

st.set_page_config(page_title="Dataset · CAM Explorer", page_icon="🐾", layout="wide")
st.title("Oxford-IIIT Pet")
st.write("37 breeds of cats and dogs, each photo with a trimap that marks the pet's pixels. With a model: what it "
         "predicts, where its map points, and whether that beats two maps that know nothing about the photo.")


def paged(records: list[PetRecord]) -> list[PetRecord]:
    """The page of records chosen in the navigation box (above the grid, whenever this runs)."""
    with navigation:
        first = dataset_inputs.page_ui(len(records)) * dataset_inputs.PAGE_SIZE
    return records[first:first + dataset_inputs.PAGE_SIZE]


with st.sidebar:
    st.header("Data")
    root = dataset_inputs.data_root_ui()
if root is None:
    st.stop()
records: tuple[PetRecord, ...] = ()
with reported("Reading the data set's index"):
    try:
        records = datasets.pet_index(str(root))
    except DataNotFound as exc:
        st.warning(plain(exc))
        dataset_jobs.download_ui(root)
if not records:
    st.stop()

with st.sidebar:
    st.header("Filter and sort")
    shown = dataset_inputs.pet_filters_ui(records)
    predicting = st.checkbox("Predict with a model", key=DATASET.key("predict"))
    order, seed = dataset_inputs.order_ui(predicting)
ordered = browse.shuffled(shown, order, seed)
with st.expander("Label distribution per split"):
    st.plotly_chart(dataset_figures.label_counts(records), key=DATASET.key("labels"))

model = None
if predicting:
    with st.sidebar:
        st.header("Model")
        spec, weights_path = inputs.model_ui(DATASET)
        device = inputs.device_ui(DATASET)
        with reported(f"Loading {spec}", ValueError):  # ValueError: an unknown model name, or cuda without a GPU
            model = models.shared_model(spec, weights_path, device) if spec else None
        if model is not None:
            if note := fixed_size_note(model):
                st.caption(note)
            method = inputs.method_ui(model, DATASET)
            clamp_negative_weights = wsol_inputs.nwc_ui(DATASET, method)
            threshold_standard = wsol_inputs.threshold_standard_ui(DATASET)
            predict_all, mistakes_only, faithfulness_steps = dataset_inputs.scope_ui(len(ordered))
            scoring = dataset_jobs.Scoring(method, faithfulness_steps, clamp_negative_weights, threshold_standard)

summary_box, navigation = st.container(), st.container()
results: dict[str, ImageResult] = {}
if model is None:
    page = paged(ordered)
else:
    pool = ordered if predict_all else paged(ordered)
    with reported("Predicting"):
        results = dataset_jobs.predictions_ui(root, pool, spec, weights_path, device, scoring=scoring,
                                              predict_all=predict_all)
    if results:
        calibration = dataset_jobs.calibration_results(root, records, pool, spec, weights_path, scoring=scoring)
        with summary_box:
            pool = dataset_view.summary_ui(model, f"{inputs.method_label(method)} of {plain(spec)}", pool, results,
                                           mistakes_only=mistakes_only, order=order, calibration=calibration)
    page = paged(pool) if predict_all else pool

with reported("Showing the thumbnails"):
    dataset_view.thumbnail_grid_ui(root, page, results)
if not page:
    st.info("No image matches these filters.")
    st.stop()

st.header("Detail view")
chosen = dataset_inputs.detail_ui([r.name for r in page])
if chosen is None:
    st.info("Pick a photo above (Details) or here to see its trimap, head box and, with a model, its CAM.")
    st.stop()
record, result = next(r for r in page if r.name == chosen), results.get(chosen)
with reported(f"Showing {chosen}"):
    photo_col, cam_col = st.columns(2)
    photo = load_image(pets.image_path(root, record))
    with photo_col:
        overlay = st.toggle("Trimap overlay", value=True, key=DATASET.key("trimap"))
        box = pets.head_box(root, record)
        st.plotly_chart(dataset_figures.trimap_figure(photo, pets.trimap(root, record) if overlay else None, box),
                        key=DATASET.key("trimap_figure"))
        st.caption(f"{plain(record.name)}: {plain(record.breed)} ({record.species}), {record.split} split; "
                   f"{'head box from' if box else 'no head box in'} annotations/xmls.")
    if result is not None:
        with cam_col:
            path = pets.image_path(root, record)
            true_index = true_class_index(model, record.species, record.breed)
            map_true = dataset_inputs.map_target_ui(None if true_index is None else model.class_names[true_index])
            image_bytes, classes = path.read_bytes(), ((true_index,) if map_true else None)
            choice = models.ModelChoice.of(spec, weights_path, device)
            options = MapOptions(method=method, classes=classes, clamp_negative_weights=clamp_negative_weights,
                                 threshold_standard=threshold_standard)
            explanation = explanations.explanation(image_bytes, path.name, choice, options)
            figure, _ = figure_cache.explanation_figures(
                image_bytes, path.name, choice, options,
                title=f"{inputs.method_label(method)} · {plot_text(explanation.layer)}")
            st.plotly_chart(figure, key=DATASET.key("cam"))
            st.caption(f"True: {plain(record.breed)} ({record.species}). The class slider switches between the classes "
                       "shown.")
            dataset_view.scores_ui(result)
            explain_faithfulness.faithfulness_ui(path.name, image_bytes, choice, explanation,
                                                 key=DATASET.key("detail_view"))
