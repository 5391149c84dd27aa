"""Dataset: Oxford-IIIT Pet page by page; with a model, its answers, CAMs and localisation scores beside baselines."""
from __future__ import annotations

import streamlit as st

from camcore.scores import browse
from ui.common.reporting import reported
from ui.common.state import DATASET
from ui.dataset import detail as dataset_detail
from ui.dataset import figures as dataset_figures
from ui.dataset import inputs as dataset_inputs
from ui.dataset import jobs as dataset_jobs
from ui.dataset import view as dataset_view

st.set_page_config(page_title="Dataset · CAM Explorer", page_icon="🐾", layout="wide")
st.title("Oxford-IIIT Pet")
st.write("37 breeds of cats and dogs, each photo with a trimap that marks the pet's pixels. With a model: what it "
         "predicts, where its map points, and whether that beats two maps that know nothing about the photo.")

with st.sidebar:
    st.header("Data")
    root = dataset_inputs.data_root_ui()
if root is None:
    st.stop()
records = dataset_jobs.records_ui(root)  # empty when the data set is missing: the download is offered instead
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
with st.sidebar:
    predictor = dataset_inputs.predictor_ui(len(ordered)) if predicting else None

page, results = dataset_view.browse_ui(root, records, ordered, predictor, order=order)
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
with reported(f"Showing {chosen}"):
    dataset_detail.detail_ui(root, next(r for r in page if r.name == chosen), results.get(chosen), predictor)
