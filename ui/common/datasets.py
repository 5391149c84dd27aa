"""The data set's caches: its photos and its index, read once per folder and shared by every page and session."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from camcore.data import pets


@st.cache_resource(max_entries=4, ttl=60, show_spinner=False)
def sample_photos(root: str) -> tuple[Path, ...]:
    """The data set's photos; re-listed after a minute so that a download on the Dataset page shows up. A shared
    tuple (cache_resource): st.cache_data would unpickle a copy of every path (7,390 in the full set) on every
    rerun of every session."""
    return tuple(pets.pet_images(Path(root)))


@st.cache_data(max_entries=4, show_spinner=False)
def pet_index(root: str) -> tuple[pets.PetRecord, ...]:
    """The data set's records, read once per root (a missing folder raises and is not cached, so a download
    shows up on the next run)."""
    return pets.pet_index(Path(root))
