"""The Explain page's inputs: each *_ui() draws its widgets and returns plain values.

Choices live in st.session_state under "explain."-prefixed keys, set up once per session from the
environment ($CAM_EXPLORER_MODEL, $CAM_EXPLORER_WEIGHTS), so a deployment can preselect real local weights.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from camcore import data
from camcore.cams import METHODS
from camcore.device import DEVICE_CHOICES
from camcore.errors import DataNotFound
from camcore.explain import Prediction
from camcore.models import DEFAULT_MODEL, TIMM_PREFIX, TORCHVISION_CHOICES, LoadedModel
from ui import resources

MODEL_ENV = "CAM_EXPLORER_MODEL"
WEIGHTS_ENV = "CAM_EXPLORER_WEIGHTS"
LITE0 = f"{TIMM_PREFIX}tf_efficientnet_lite0"
OTHER_MODEL = "Other (type a timm:NAME or checkpoint path)"
IMAGE_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")
METHOD_LABELS = {"cam": "CAM", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "layercam": "LayerCAM"}
SHARP_SIZE_PX = 512
WEIGHTS_HELP = ("Without internet, ImageNet weights cannot be downloaded: give a state dict saved with "
                "torch.save(model.state_dict()) for the model chosen above, e.g. "
                "tf_efficientnet_lite0_in1k.pth with timm:tf_efficientnet_lite0. "
                "Empty: the library's own weights, downloaded once into $TORCH_HOME/hub/checkpoints.")


def method_label(key: str) -> str:
    """Human name of a method key (the CLI's names are the keys)."""
    return METHOD_LABELS.get(key, key)


def model_ui() -> tuple[str, str | None]:
    """(spec, weights_path or None); spec is "" while the user has not typed an 'Other' model yet."""
    choices = (*TORCHVISION_CHOICES, LITE0, OTHER_MODEL)
    env_model = os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    _default("explain.model", env_model if env_model in choices else OTHER_MODEL)
    _default("explain.model_other", "" if env_model in choices else env_model)
    _default("explain.weights", os.environ.get(WEIGHTS_ENV, ""))
    spec = st.selectbox("Model", choices, key="explain.model",
                        help="ImageNet classifiers, or a checkpoint trained on the Training page.")
    if spec == OTHER_MODEL:
        spec = st.text_input("timm:NAME or checkpoint path", key="explain.model_other").strip()
    weights = st.text_input("Local weights file (optional)", key="explain.weights", help=WEIGHTS_HELP).strip()
    return spec, weights or None


def device_ui() -> str:
    _default("explain.device", "auto")
    return st.selectbox("Device", DEVICE_CHOICES, key="explain.device", help="auto: the GPU when there is one.")


def method_ui(model: LoadedModel) -> str:
    """A METHODS key; CAM is left out for models whose head is not global average pooling plus one Linear."""
    options = [key for key in METHODS if key != "cam" or model.cam is not None]
    _valid("explain.method", options, options[0])
    method = st.selectbox("Method", options, format_func=method_label, key="explain.method",
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


def _default(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _valid(key: str, options: Sequence[Any], fallback: Any) -> None:
    """Resets a choice the new options no longer hold (e.g. a layer of the previous model)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = fallback
