"""The pages' inputs: each *_ui() draws its widgets and returns plain values.

Choices live in st.session_state under keys prefixed by page ("explain.", "dataset."); the model choice is set
up once per session from the environment ($CAM_EXPLORER_MODEL, $CAM_EXPLORER_WEIGHTS), so a deployment can
preselect real local weights. The model widgets take the page's prefix: Streamlit drops the state of widgets a
page does not draw, so two pages cannot share one key.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from camcore import data, heatmap, thumbnails
from camcore.cams import METHODS
from camcore.device import DEVICE_CHOICES
from camcore.errors import DataNotFound, ImageError
from camcore.evaluate import BASELINES, SCORE_NAMES, SCORES, ImageResult
from camcore.explain import Prediction
from camcore.images import load_image
from camcore.models import DEFAULT_MODEL, TIMM_PREFIX, TORCHVISION_CHOICES, LoadedModel
from ui import figures, resources

MODEL_ENV = "CAM_EXPLORER_MODEL"
WEIGHTS_ENV = "CAM_EXPLORER_WEIGHTS"
LITE0 = f"{TIMM_PREFIX}tf_efficientnet_lite0"
OTHER_MODEL = "Other (type a timm:NAME or checkpoint path)"
IMAGE_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")
METHOD_LABELS = {"cam": "CAM", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "layercam": "LayerCAM"}
SHARP_SIZE_PX = 512
ALL = "all"
BY_NAME, RANDOM, CONFIDENCE, WRONG_FIRST = "file name", "random", "confidence, lowest first", "wrong first"
GRID_COLUMNS, PAGE_SIZE, THUMBNAIL_PX = 5, 25, 224
VERDICTS = {True: "✅", False: "❌", None: "❔"}
"""A prediction's ImageResult.correct in a caption (None: the model's classes say neither species nor breed)."""
WEIGHTS_HELP = ("Without internet, ImageNet weights cannot be downloaded: give a state dict saved with "
                "torch.save(model.state_dict()) for the model chosen above, e.g. "
                "tf_efficientnet_lite0_in1k.pth with timm:tf_efficientnet_lite0. "
                "Empty: the library's own weights, downloaded once into $TORCH_HOME/hub/checkpoints.")


def method_label(key: str) -> str:
    """Human name of a method key (the CLI's names are the keys)."""
    return METHOD_LABELS.get(key, key)


def model_ui(page: str = "explain") -> tuple[str, str | None]:
    """(spec, weights_path or None); spec is "" while the user has not typed an 'Other' model yet."""
    choices = (*TORCHVISION_CHOICES, LITE0, OTHER_MODEL)
    env_model = os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    _default(f"{page}.model", env_model if env_model in choices else OTHER_MODEL)
    _default(f"{page}.model_other", "" if env_model in choices else env_model)
    _default(f"{page}.weights", os.environ.get(WEIGHTS_ENV, ""))
    spec = st.selectbox("Model", choices, key=f"{page}.model",
                        help="ImageNet classifiers, or a checkpoint trained on the Training page.")
    if spec == OTHER_MODEL:
        spec = st.text_input("timm:NAME or checkpoint path", key=f"{page}.model_other").strip()
    weights = st.text_input("Local weights file (optional)", key=f"{page}.weights", help=WEIGHTS_HELP).strip()
    return spec, weights or None


def device_ui(page: str = "explain") -> str:
    _default(f"{page}.device", "auto")
    return st.selectbox("Device", DEVICE_CHOICES, key=f"{page}.device", help="auto: the GPU when there is one.")


def method_ui(model: LoadedModel, page: str = "explain") -> str:
    """A METHODS key; CAM is left out for models whose head is not global average pooling plus one Linear."""
    options = [key for key in METHODS if key != "cam" or model.cam is not None]
    _valid(f"{page}.method", options, options[0])
    method = st.selectbox("Method", options, format_func=method_label, key=f"{page}.method",
                          help="CAM reads the classifier's own weights; the Grad-CAM family uses gradients.")
    if model.cam is None:
        st.caption("CAM is not offered: this model's head is not global average pooling plus one Linear layer.")
    return method


def layer_ui(model: LoadedModel, method: str) -> str | None:
    """The layer whose activations are mapped; None for CAM, which always uses the features feeding the head."""
    if method == "cam":
        st.selectbox("Layer", [model.default_layer], disabled=True,
                     help="CAM uses the features that feed the classifier; pick a Grad-CAM method for another layer.")
        return None
    _valid("explain.layer", model.layers, model.default_layer)
    return st.selectbox("Layer", model.layers, key="explain.layer",
                        help="Deeper layers: coarse maps of whole objects; earlier ones: finer maps of parts.")


def top_k_ui() -> int:
    _default("explain.top_k", 5)
    return st.slider("Top-k classes", 1, 10, key="explain.top_k")


def size_ui(model: LoadedModel) -> int:
    """Shorter side fed to the network: the weights' own size, or SHARP_SIZE_PX for a finer map grid (slower)."""
    own_px = model.preprocessing.resize_px
    options = sorted({own_px, SHARP_SIZE_PX})
    _valid("explain.size_px", options, own_px)
    return st.radio("Input size (shorter side)", options, key="explain.size_px", horizontal=True,
                    format_func=lambda px: f"model's {px} px" if px == own_px else f"{px} px (sharper maps)")


def compare_ui(model: LoadedModel) -> bool:
    _default("explain.compare", False)
    checked = st.checkbox("Compare CAM and Grad-CAM side by side", key="explain.compare",
                          disabled=model.cam is None)
    return checked and model.cam is not None


def photos_ui() -> list[tuple[str, bytes]]:
    """(file name, bytes) of every uploaded, camera and sample photo, in that order."""
    upload_col, sample_col = st.columns(2)
    uploads = upload_col.file_uploader("Upload photos", type=list(IMAGE_TYPES), accept_multiple_files=True,
                                       key="explain.uploads")
    photos = [(upload.name, upload.getvalue()) for upload in uploads or []]
    with upload_col:
        if st.toggle("Take a photo with the camera", key="explain.camera_on"):
            shot = st.camera_input("Camera", key="explain.camera")
            if shot is not None:
                photos.append(("camera.jpg", shot.getvalue()))
    with sample_col:
        photos += [(path.name, path.read_bytes()) for path in samples_ui()]
    return photos


def samples_ui() -> list[Path]:
    """Sample photos picked from the Oxford-IIIT Pet folder; a caption saying where it looked when absent."""
    try:
        paths = resources.sample_photos(str(data.data_root().resolve()))
    except DataNotFound as exc:
        st.caption(f"No sample photos: {exc}")
        return []
    by_name = {path.name: path for path in paths}
    chosen = st.multiselect("…or pick sample photos (Oxford-IIIT Pet)", list(by_name), key="explain.samples",
                            placeholder="Type a breed, e.g. beagle")
    return [by_name[name] for name in chosen]


def class_ui(predictions: Sequence[Prediction], key: str) -> int:
    """Rank (0 = top-1) of the class the identity and the downloads are about."""
    _valid(key, range(len(predictions)), 0)
    return st.selectbox("Class", range(len(predictions)), key=key,
                        format_func=lambda rank: f"{rank + 1}. {predictions[rank].class_name}")


def data_root_ui() -> Path:
    """The folder holding oxford-iiit-pet/ (torchvision's `root`), preset from $CAM_EXPLORER_DATA."""
    _default("dataset.root", str(data.data_root()))
    return Path(st.text_input("Data folder", key="dataset.root",
                              help=f"The folder that holds oxford-iiit-pet/ (default: ${data.DATA_ENV})."
                              ).strip() or ".")


def pet_filters_ui(records: Sequence[data.PetRecord]) -> tuple[data.PetRecord, ...]:
    """The records left by the split, species, breed and file-name filters (the breed list follows species)."""
    split = st.selectbox("Split", (ALL, *data.SPLITS), key="dataset.split")
    species = st.selectbox("Species", (ALL, *data.SPECIES), key="dataset.species")
    breeds = sorted({r.breed for r in records if species == ALL or r.species == species}, key=str.lower)
    _valid("dataset.breed", [ALL, *breeds], ALL)
    breed = st.selectbox("Breed", [ALL, *breeds], key="dataset.breed")
    search = st.text_input("File name contains", key="dataset.search", placeholder="e.g. beagle_1")
    return data.filter_records(records, split=None if split == ALL else split,
                               species=None if species == ALL else species,
                               breed=None if breed == ALL else breed, name_contains=search.strip())


def order_ui(predicting: bool) -> tuple[str, int]:
    """(sort order, random seed); the model's orders are offered only while predicting."""
    options = [BY_NAME, RANDOM, *([CONFIDENCE, WRONG_FIRST] if predicting else [])]
    _valid("dataset.order", options, BY_NAME)
    order = st.selectbox("Sort by", options, key="dataset.order")
    _default("dataset.seed", 0)
    seed = st.number_input("Seed", min_value=0, step=1, key="dataset.seed") if order == RANDOM else 0
    return order, int(seed)


def scope_ui(shown: int) -> tuple[bool, bool]:
    """(predict every shown image rather than this page's, show mistakes only)."""
    _default("dataset.scope", "page")
    scope = st.radio("Predict", ("page", "all"), key="dataset.scope", horizontal=True,
                     format_func=lambda key: "this page" if key == "page" else f"all {shown} shown",
                     help="All: sorting and filters by the model's answers span every shown image (slow on a CPU).")
    return scope == "all", st.toggle("Mistakes only", key="dataset.mistakes")


def page_ui(count: int) -> int:
    """0-based page of PAGE_SIZE records, with where it stands."""
    pages = max(1, -(-count // PAGE_SIZE))
    if not 1 <= st.session_state.get("dataset.page", 1) <= pages:
        st.session_state["dataset.page"] = 1
    number_col, caption_col = st.columns([1, 4], vertical_alignment="bottom")
    page = number_col.number_input("Page", min_value=1, max_value=pages, step=1, key="dataset.page")
    caption_col.caption(f"{count} images, page {page} of {pages}")
    return int(page) - 1


def thumbnail_grid_ui(root: Path, records: Sequence[data.PetRecord], results: Mapping[str, ImageResult]) -> None:
    """Cached thumbnails in rows of GRID_COLUMNS, captioned with the labels and any prediction, with the
    predicted class's map over them (the lesson's gallery); a photo that cannot be read shows its error
    instead; each one's button opens its detail view."""
    for first in range(0, len(records), GRID_COLUMNS):
        row = st.columns(GRID_COLUMNS, vertical_alignment="bottom")
        for column, record in zip(row, records[first:first + GRID_COLUMNS]):
            result = results.get(record.name)
            verdict = "" if result is None else (f" · {VERDICTS[result.correct]} {result.predicted_name} "
                                                 f"{result.probability:.0%}")
            try:
                thumb = thumbnails.thumbnail(data.image_path(root, record), size_px=THUMBNAIL_PX)
                shown = str(thumb) if result is None else heatmap.map_overlay(load_image(thumb), result.top_map)
                column.image(shown, caption=f"{record.name} · {record.breed}{verdict}", width="stretch")
            except ImageError as exc:  # one unreadable photo must not hide the other 24
                column.warning(str(exc))
            column.button("Details", key=f"dataset.open.{record.name}", icon=":material/zoom_in:", type="tertiary",
                          on_click=st.session_state.__setitem__, args=("dataset.detail", record.name))


def detail_ui(names: Sequence[str]) -> str | None:
    """The photo shown in detail: one of this page's, picked here or by a thumbnail's button."""
    _valid("dataset.detail", [None, *names], None)
    return st.selectbox("Photo", [None, *names], key="dataset.detail",
                        format_func=lambda name: "none" if name is None else name)


def confusion_ui(pairs: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The (true, predicted) cell that filters the grid: clicked in the confusion matrix, or picked below it."""
    cells = sorted(set(pairs))
    st.plotly_chart(figures.confusion_figure(pairs), key="dataset.confusion", on_select=_cell_clicked,
                    selection_mode="points", config={"displayModeBar": False})
    _valid("dataset.cell", [None, *cells], None)
    return st.selectbox("Show only the cell", [None, *cells], key="dataset.cell", format_func=lambda cell:
                        "every cell" if cell is None else f"true {cell[0]}, predicted {cell[1]}")


def scores_ui(result: ImageResult) -> None:
    """A table of the localisation scores: one row per score, the model's column beside the two baselines'."""
    st.table({"score": [SCORE_NAMES[score] for score in SCORES],
              **{figures.MAP_NAMES[name]: [_score_text(getattr(result, prefix + score)) for score in SCORES]
                 for name, prefix in BASELINES.items()}}, hide_index=True)


def _score_text(value: bool | float) -> str:
    """The pointing game's hit or miss; other scores with two decimals (NaN where undefined, e.g. no mask)."""
    return ("hit" if value else "miss") if isinstance(value, bool) else f"{value:.2f}"


def _cell_clicked() -> None:
    """Selection events of the confusion matrix's cell markers -> the cell selectbox's value."""
    points = st.session_state["dataset.confusion"].selection.points
    st.session_state["dataset.cell"] = (points[0]["y"], points[0]["x"]) if points else None


def _default(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _valid(key: str, options: Sequence[Any], fallback: Any) -> None:
    """Resets a choice the new options no longer hold (e.g. a layer of the previous model)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = fallback


def map_target_ui(true_class: str | None) -> bool:
    """True when the detail view should map the photo's true class (the ground-truth CAM) instead of the top 5
    predicted; offered only when the model has a class for the photo's label."""
    if true_class is None:
        return False
    return st.radio("Map of", (False, True), key="dataset.map_true", horizontal=True,
                    format_func=lambda true: f"the true class: {true_class}" if true else "the top 5 predicted")
