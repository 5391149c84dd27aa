"""The Explain page's inputs: photos (uploads, camera, the shipped samples, Oxford pets when present, a linked
training run's probe photos) and the map's settings. Each *_ui() draws its widgets and returns plain values."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from camcore import settings
from camcore.cams import METHODS
from camcore.data.samples import sample_photos
from camcore.errors import DataNotFound
from camcore.explain import Prediction
from camcore.jobs.runs import list_runs
from camcore.models.loading import LoadedModel
from camcore.settings import runs_root
from ui.common import datasets
from ui.common.state import EXPLAIN
from ui.common.text import plain

IMAGE_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")
SHARP_SIZE_PX = 512
PHOTO_UPLOAD_MB = 50
"""A phone photo is a few MB; the server's cap (.streamlit/config.toml) is higher for weights files."""


def layer_ui(model: LoadedModel, method: str) -> str | None:
    """The layer whose activations are mapped; None for CAM, which always uses the features feeding the head."""
    if METHODS[method].needs_head:
        st.selectbox("Layer", [model.default_layer], disabled=True,
                     help="CAM uses the features that feed the classifier; pick a Grad-CAM method for another layer.")
        return None
    asked = EXPLAIN.get("layer")
    if asked is not None and asked not in model.layers:  # a link's, or the previous model's
        st.caption(f"Layer '{plain(asked)}' is not one of this model's layers with a map over the photo: showing "
                   f"{plain(model.default_layer)}.")
    return st.selectbox("Layer", model.layers, key=EXPLAIN.valid("layer", model.layers, model.default_layer),
                        help="Deeper layers: coarse maps of whole objects; earlier ones: finer maps of parts. Only "
                             "layers whose output is laid out over the photo are offered (not attention weights).")


def top_k_ui() -> int:
    return st.slider("Top-k classes", 1, 10, key=EXPLAIN.valid("top_k", range(1, 11), 5))


def size_ui(model: LoadedModel) -> int:
    """Shorter side fed to the network: the weights' own size, or SHARP_SIZE_PX for a finer map grid (slower);
    a fixed-size model (a ViT or Swin) has its own size only."""
    fixed = model.preprocessing.fixed_size is not None
    own_px = model.preprocessing.short_side_px if fixed else model.preprocessing.resize_px
    options = [own_px] if fixed else sorted({own_px, SHARP_SIZE_PX})
    return st.radio("Input size (shorter side)", options, key=EXPLAIN.valid("size_px", options, own_px),
                    horizontal=True, disabled=fixed,
                    format_func=lambda px: f"model's {px} px" if px == own_px else f"{px} px (sharper maps)")


def compare_ui(model: LoadedModel) -> bool:
    checked = st.checkbox("Compare CAM and Grad-CAM side by side", key=EXPLAIN.default("compare", False),
                          disabled=model.cam is None)
    return checked and model.cam is not None


def photos_ui() -> list[tuple[str, bytes]]:
    """(file name, bytes) of every uploaded, camera and sample photo, in that order."""
    upload_col, sample_col = st.columns(2)
    uploads = upload_col.file_uploader("Upload photos", type=list(IMAGE_TYPES), accept_multiple_files=True,
                                       key=EXPLAIN.key("uploads"), max_upload_size=PHOTO_UPLOAD_MB)
    photos = [(upload.name, upload.getvalue()) for upload in uploads or []]
    with upload_col:
        if st.toggle("Take a photo with the camera", key=EXPLAIN.key("camera_on")):
            shot = st.camera_input("Camera", key=EXPLAIN.key("camera"))
            if shot is not None:
                photos.append(("camera.jpg", shot.getvalue()))
    with sample_col:
        photos += [(path.name, path.read_bytes())
                   for path in [*shipped_samples_ui(), *pet_samples_ui(), *probe_photos_ui()]]
    return photos


def probe_photos_ui() -> list[Path]:
    """A training run's probe photos, when the Training page's "Compare before and after" link names the run (one
    of the runs folder's, so a link cannot point anywhere else)."""
    name = EXPLAIN.get("probes")
    if not name:
        return []
    run = next((run for run in list_runs(runs_root()) if run.name == name), None)
    if run is None:
        st.caption(f"The linked run '{plain(name)}' is not on this server.")
        return []
    paths = run.probe_images()
    label = f"The probe photos of run {plain(name)} ({len(paths)})"
    return paths if st.toggle(label, key=EXPLAIN.default("probes_on", True)) else []


def shipped_samples_ui() -> list[Path]:
    """The photos that ship with the app: "Try a sample" works with no upload and no data set."""
    paths = {path.name: path for path in sample_photos()}
    st.button("Try a sample", icon=":material/pets:", key=EXPLAIN.key("try_sample"), on_click=_add_sample,
              args=(sorted(paths),), help="Adds one of the cats and dogs that come with the app.")
    chosen = st.multiselect("Sample photos (Oxford-IIIT Pet, CC BY-SA 4.0)", sorted(paths),
                            key=EXPLAIN.valid_many("shipped", sorted(paths)))
    return [paths[name] for name in chosen if name in paths]


def _add_sample(names: Sequence[str]) -> None:
    """Adds the next shipped sample not already chosen (the first one on a fresh page)."""
    chosen = st.session_state[EXPLAIN.key("shipped")]
    remaining = [name for name in names if name not in chosen]
    if remaining:
        st.session_state[EXPLAIN.key("shipped")] = [*chosen, remaining[0]]


def pet_samples_ui() -> list[Path]:
    """More samples from the Oxford-IIIT Pet folder, when the data set is there (silently absent otherwise)."""
    try:
        paths = datasets.sample_photos(str(settings.data_root().resolve()))
    except DataNotFound:
        return []
    by_name = {path.name: path for path in paths}
    chosen = st.multiselect("…or pick from the Oxford-IIIT Pet data set", list(by_name),
                            key=EXPLAIN.valid_many("samples", list(by_name)), placeholder="Type a breed, e.g. beagle")
    return [by_name[name] for name in chosen]


def class_ui(predictions: Sequence[Prediction], key: str) -> int:
    """Rank (0 = top-1) of the class the identity and the downloads are about."""
    return st.selectbox("Class of the downloads", range(len(predictions)),
                        key=EXPLAIN.valid(key, range(len(predictions)), 0),
                        format_func=lambda rank: f"{rank + 1}. {predictions[rank].class_name}")
