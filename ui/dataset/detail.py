"""The Dataset page's detail view of one photo: the photo with its trimap and head box; with a prediction beside
it, its CAM (of the top 5 predicted classes or of the true class), its scores beside the baselines' and its
faithfulness."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from camcore.data import pets
from camcore.data.images import load_image
from camcore.data.pets import PetRecord
from camcore.scores.labels import true_class_index
from camcore.scores.record import ImageResult
from ui.common import explanations, inputs
from ui.common.state import DATASET
from ui.common.text import plain, plot_text
from ui.dataset import figures as dataset_figures
from ui.dataset import inputs as dataset_inputs
from ui.dataset import view as dataset_view
from ui.dataset.inputs import Predictor
from ui.explain import faithfulness as explain_faithfulness
from ui.explain import figure_cache


def detail_ui(root: Path, record: PetRecord, result: ImageResult | None, predictor: Predictor | None) -> None:
    """The photo in two columns: its labels on the left; its map, scores and faithfulness on the right, when it
    has a result (which only a predictor's predictions give)."""
    photo_col, cam_col = st.columns(2)
    photo = load_image(pets.image_path(root, record))
    with photo_col:
        overlay = st.toggle("Trimap overlay", value=True, key=DATASET.key("trimap"))
        box = pets.head_box(root, record)
        st.plotly_chart(dataset_figures.trimap_figure(photo, pets.trimap(root, record) if overlay else None, box),
                        key=DATASET.key("trimap_figure"))
        st.caption(f"{plain(record.name)}: {plain(record.breed)} ({record.species}), {record.split} split; "
                   f"{'head box from' if box else 'no head box in'} annotations/xmls.")
    if result is not None and predictor is not None:
        with cam_col:
            path, model = pets.image_path(root, record), predictor.model
            true_index = true_class_index(model, record.species, record.breed)
            map_true = dataset_inputs.map_target_ui(None if true_index is None else model.class_names[true_index])
            image_bytes = path.read_bytes()
            options = replace(predictor.options, top_k=5, classes=(true_index,) if map_true else None)
            explanation = explanations.explanation(image_bytes, path.name, predictor.choice, options)
            figure, _ = figure_cache.explanation_figures(
                image_bytes, path.name, predictor.choice, options,
                title=f"{inputs.method_label(options.method)} · {plot_text(explanation.layer)}")
            st.plotly_chart(figure, key=DATASET.key("cam"))
            st.caption(f"True: {plain(record.breed)} ({record.species}). The class slider switches between the classes "
                       "shown.")
            dataset_view.scores_ui(result)
            explain_faithfulness.faithfulness_ui(path.name, image_bytes, predictor.choice, explanation,
                                                 key=DATASET.key("detail_view"))
