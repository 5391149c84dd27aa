"""The Lesson's inputs: the photo (an upload, or a shipped sample) and the step; each returns plain values."""
from __future__ import annotations

import streamlit as st
from PIL import Image

from camcore.images import load_image
from camcore.samples import sample_photos
from ui.explain_inputs import IMAGE_TYPES, PHOTO_UPLOAD_MB
from ui.state import LESSON

STEPS = ("1. Feature maps", "2. From pooling to CAM", "3. Top-k and threshold", "4. Grad-CAM", "5. Quiz")


def step_ui() -> int:
    """Index of the chosen step: one step on screen at a time, as a class follows it."""
    return st.radio("Step", range(len(STEPS)), format_func=STEPS.__getitem__, horizontal=True,
                    key=LESSON.default("step", 0))


def photo_ui() -> tuple[str, Image.Image]:
    """(name, photo): the student's upload when there is one, else the chosen shipped sample."""
    upload_col, sample_col = st.columns(2)
    upload = upload_col.file_uploader("Your own photo", type=list(IMAGE_TYPES), key=LESSON.key("upload"),
                                      max_upload_size=PHOTO_UPLOAD_MB)
    samples = {path.name: path for path in sample_photos()}
    name = sample_col.selectbox("…or a sample (Oxford-IIIT Pet)", sorted(samples),
                                key=LESSON.valid("sample", sorted(samples), sorted(samples)[0]))
    if upload is not None:
        return upload.name, load_image(upload.getvalue(), name=upload.name)
    return name, load_image(samples[name].read_bytes(), name=name)
