"""Dataset: Oxford-IIIT Pet page by page; with a model, its answers, CAMs and localisation scores beside baselines."""
from __future__ import annotations

import random
from collections.abc import Sequence

import streamlit as st

from camcore import data, display
from camcore.data import PetRecord
from camcore.errors import DataNotFound
from camcore.evaluate import ImageResult, judged_labels, summarise, true_class_index
from camcore.images import load_image
from camcore.models import LoadedModel
from ui import figures, resources, widgets
from ui.reporting import reported

st.set_page_config(page_title="Dataset · CAM Explorer", page_icon="🐾", layout="wide")
st.title("Oxford-IIIT Pet")
st.write("37 breeds of cats and dogs, each photo with a trimap that marks the pet's pixels. With a model: what it "
         "predicts, where its map points, and whether that beats two maps that know nothing about the photo.")


def confusion_pairs(model: LoadedModel, results: Sequence[ImageResult]) -> list[tuple[str, str]]:
    """(true, predicted) at the level the model answers; the breed and class name where it answers neither."""
    return [judged_labels(model, r.species, r.breed, r.predicted_index) or (r.breed, r.predicted_name)
            for r in results]


def paged(records: list[PetRecord]) -> list[PetRecord]:
    """The page of records chosen in the navigation box (above the grid, whenever this runs)."""
    with navigation:
        first = widgets.page_ui(len(records)) * widgets.PAGE_SIZE
    return records[first:first + widgets.PAGE_SIZE]


def summarised(model: LoadedModel, pool: list[PetRecord], results: dict[str, ImageResult]) -> list[PetRecord]:
    """Draws the confusion matrix and per-breed scores; returns the pool filtered and sorted by the answers."""
    summary, pairs = summarise(results.values()), confusion_pairs(model, [results[r.name] for r in pool])
    accuracy = "" if summary["accuracy"] is None else f", accuracy {summary['accuracy']:.0%}"
    st.subheader(f"{widgets.method_label(method)} of {spec} on {summary['count']} images{accuracy}")
    matrix_col, breed_col = st.columns([1, 2])
    with matrix_col:
        cell = widgets.confusion_ui(pairs)
    breed_col.plotly_chart(figures.localisation_by_breed(summary["per_breed"]), key="dataset.breeds")
    breed_col.caption(figures.SCORES_HELP)
    kept = [r for r, pair in zip(pool, pairs)
            if cell in (None, pair) and not (mistakes_only and results[r.name].correct is not False)]
    if order == widgets.CONFIDENCE:
        kept.sort(key=lambda r: results[r.name].probability)
    elif order == widgets.WRONG_FIRST:
        kept.sort(key=lambda r: results[r.name].correct is not False)
    return kept


with st.sidebar:
    st.header("Data")
    root = widgets.data_root_ui()
records: tuple[PetRecord, ...] = ()
with reported("Reading the data set's index"):
    try:
        records = resources.pet_index(str(root))
    except DataNotFound as exc:
        st.warning(str(exc))
        if st.button("Download Oxford-IIIT Pet (about 800 MB)", key="dataset.download", icon=":material/download:"):
            bar = st.progress(0.0, text=f"Downloading into {root}…")
            with reported("Downloading"):
                data.download(root, progress=lambda done: bar.progress(min(done / data.DOWNLOAD_BYTES, 1.0), text=(
                    f"{done / 1e6:.0f} of about {data.DOWNLOAD_BYTES / 1e6:.0f} MB into {root}")))
                st.rerun()
if not records:
    st.stop()

with st.sidebar:
    st.header("Filter and sort")
    shown = widgets.pet_filters_ui(records)
    predicting = st.checkbox("Predict with a model", key="dataset.predict")
    order, seed = widgets.order_ui(predicting)
ordered = list(shown)
if order == widgets.RANDOM:
    random.Random(seed).shuffle(ordered)
with st.expander("Label distribution per split"):
    st.plotly_chart(figures.label_counts(records), key="dataset.labels")

model = None
if predicting:
    with st.sidebar:
        st.header("Model")
        spec, weights_path = widgets.model_ui("dataset")
        device = widgets.device_ui("dataset")
        with reported(f"Loading {spec}", ValueError):  # ValueError: an unknown model name, or cuda without a GPU
            model = resources.shared_model(spec, weights_path, device) if spec else None
        if model is not None:
            method = widgets.method_ui(model, "dataset")
            predict_all, mistakes_only = widgets.scope_ui(len(ordered))

summary_box, navigation = st.container(), st.container()
results: dict[str, ImageResult] = {}
if model is None:
    page = paged(ordered)
else:
    pool = ordered if predict_all else paged(ordered)
    bar = st.progress(0.0, text="Predicting…")
    with reported("Predicting"):
        results = resources.predictions(root, pool, spec, weights_path, device, method=method,
                                        progress=lambda done, total: bar.progress(done / total, f"{done}/{total}"))
    bar.empty()
    if results:
        with summary_box:
            pool = summarised(model, pool, results)
    page = paged(pool) if predict_all else pool

with reported("Showing the thumbnails"):
    widgets.thumbnail_grid_ui(root, page, results)
if not page:
    st.info("No image matches these filters.")
    st.stop()

st.header("Detail view")
chosen = widgets.detail_ui([r.name for r in page])
if chosen is None:
    st.info("Pick a photo above (Details) or here to see its trimap, head box and, with a model, its CAM.")
    st.stop()
record, result = next(r for r in page if r.name == chosen), results.get(chosen)
with reported(f"Showing {chosen}"):
    photo_col, cam_col = st.columns(2)
    photo = load_image(data.image_path(root, record))
    with photo_col:
        overlay = st.toggle("Trimap overlay", value=True, key="dataset.trimap")
        box = data.head_box(root, record)
        st.plotly_chart(figures.trimap_figure(photo, data.trimap(root, record) if overlay else None, box),
                        key="dataset.trimap_figure")
        st.caption(f"{record.name}: {record.breed} ({record.species}), {record.split} split; "
                   f"{'head box from' if box else 'no head box in'} annotations/xmls.")
    if result is not None:
        with cam_col:
            path = data.image_path(root, record)
            true_index = true_class_index(model, record.species, record.breed)
            map_true = widgets.map_target_ui(None if true_index is None else model.class_names[true_index])
            explanation = resources.explanation(path.read_bytes(), path.name, spec, weights_path, device,
                                                method=method, layer=None, top_k=5, size_px=None,
                                                classes=(true_index,) if map_true else None)
            st.plotly_chart(figures.explanation_figure(photo, display.slider_layers(explanation),
                                                       title=f"{widgets.method_label(method)} · {explanation.layer}"),
                            key="dataset.cam")
            st.caption(f"True: {record.breed} ({record.species}). The class slider switches between the classes shown.")
            widgets.scores_ui(result)
