"""The Lesson's inputs: presenter mode, the photo (an upload, a shipped sample or an Oxford pet by name) and the
step; and the Lesson itself, whose explanations come from ui.common.explanations' cache, so a slider's rerun reuses
them."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from camcore import settings
from camcore.cams.lesson import FeatureMaps, Pooling, WeightsComparison
from camcore.data import pets
from camcore.data.samples import sample_label, sample_photos
from camcore.errors import DataNotFound
from camcore.explain import Explanation
from camcore.models.loading import LoadedModel
from camcore.options import DEFAULTS, MapOptions
from ui.common import datasets, explanations
from ui.common.models import ModelChoice
from ui.common.state import LESSON
from ui.explain.inputs import IMAGE_TYPES, PHOTO_UPLOAD_MB

STEPS = ("1. Feature maps", "2. From pooling to CAM", "3. Top-k and threshold", "4. Grad-CAM", "5. Quiz",
         "6. Fixes")


@dataclass(frozen=True, eq=False)
class Photo:
    """The lesson's photo: its bytes (the key of its cached explanations), the decoded image, and its (species,
    breed) when known (a shipped sample or an Oxford pet)."""

    name: str
    data: bytes
    image: Image.Image
    label: tuple[str, str] | None


@dataclass(frozen=True, eq=False)
class Lesson:
    """The shared model, the photo, and whether a projector shows it (presenter: each step fits one 1280x720
    screen); every model pass goes through ui.common.explanations' caches, as the Explain page's do."""

    choice: ModelChoice
    photo: Photo
    presenter: bool = False

    @property
    def model(self) -> LoadedModel:
        return self.choice.load()

    def explained(self, options: MapOptions) -> Explanation:
        return explanations.explanation(self.photo.data, self.photo.name, self.choice, options)

    def features(self, layer: str) -> FeatureMaps:
        return explanations.feature_maps(self.photo.data, self.photo.name, self.choice, layer=layer)

    def panes(self, widths: list[int]) -> list[DeltaGenerator]:
        """Side-by-side columns of these widths on a projector, else one container for all: the normal page
        keeps its top-to-bottom order."""
        return st.columns(widths, gap="medium") if self.presenter else [st.container()] * len(widths)

    def pooling(self, class_index: int) -> Pooling:
        return explanations.pooling(self.photo.data, self.photo.name, self.choice, class_index=class_index)

    def weights(self, class_index: int) -> WeightsComparison:
        return explanations.weights_comparison(self.photo.data, self.photo.name, self.choice,
                                               class_index=class_index)


def class_choices(top: Explanation) -> list[tuple[int, str]]:
    """(class index, "name (probability)") of each of the photo's top classes: what the steps' class pickers offer."""
    return [(p.class_index, f"{p.class_name} ({p.probability:.0%})") for p in top.predictions]


def step_ui(presenter: bool) -> int:
    """Index of the chosen step: one step on screen at a time, as a class follows it; in presenter mode under a
    large heading, with Previous and Next."""
    key = LESSON.valid("step", range(len(STEPS)), 0)
    row = st.container()
    if presenter:
        step = st.session_state[key]
        st.header(f"Step {STEPS[step]}", anchor=False)
        back, forward, row = st.columns([1, 1, 9], vertical_alignment="center")
        back.button("Previous", on_click=_go, args=(-1,), disabled=step == 0, key=LESSON.key("previous"))
        forward.button("Next", on_click=_go, args=(1,), disabled=step == len(STEPS) - 1, key=LESSON.key("next"))
    return row.radio("Step", range(len(STEPS)), format_func=STEPS.__getitem__, horizontal=True, key=key,
                     label_visibility="collapsed" if presenter else "visible")


def _go(by: int) -> None:
    key = LESSON.key("step")
    st.session_state[key] = min(max(st.session_state[key] + by, 0), len(STEPS) - 1)


def photo_ui(choice: ModelChoice) -> Photo:
    """The student's upload when there is one, else an Oxford pet picked by name, else the chosen sample; decoded
    as its explanations decode it (ui.common.explanations.photo_as_shown), so that maps and photo line up."""
    upload_col, sample_col = st.columns(2)
    upload = upload_col.file_uploader("Your own photo", type=list(IMAGE_TYPES), key=LESSON.key("upload"),
                                      max_upload_size=PHOTO_UPLOAD_MB)
    samples = {path.name: path for path in sample_photos()}
    name = sample_col.selectbox("…or a sample (Oxford-IIIT Pet)", sorted(samples),
                                key=LESSON.valid("sample", sorted(samples), sorted(samples)[0]))
    with sample_col:
        pet = pet_ui()
    if upload is not None:
        st.caption("A link to this page shows the chosen sample: uploads stay in your session.")
        return Photo(upload.name, upload.getvalue(), _decoded(upload.getvalue(), upload.name, choice), None)
    if pet is not None:
        photo_bytes = pets.image_path(settings.data_root(), pet).read_bytes()
        return Photo(f"{pet.name}.jpg", photo_bytes, _decoded(photo_bytes, pet.name, choice), (pet.species, pet.breed))
    photo_bytes = samples[name].read_bytes()
    return Photo(name, photo_bytes, _decoded(photo_bytes, name, choice), sample_label(name))


def _decoded(data: bytes, name: str, choice: ModelChoice) -> Image.Image:
    return explanations.photo_as_shown(data, name, choice, DEFAULTS)


def pet_ui() -> pets.PetRecord | None:
    """An Oxford-IIIT Pet photo by name, when the data set is on the server (absent otherwise)."""
    try:
        records = {record.name: record for record in datasets.pet_index(str(settings.data_root().resolve()))}
    except DataNotFound:
        return None
    names = [None, *records]
    name = st.selectbox("…or an Oxford-IIIT Pet photo", names, key=LESSON.valid("pet", names, None),
                        format_func=lambda n: "none" if n is None else n, help="Its trimap gives the box's IoU.")
    return None if name is None else records[name]
