"""CAM Explorer's home page: what the app does, which device it runs on, where weights and data are looked for.

Run with `streamlit run app.py`; the files in pages/ become the other pages. The text is written before torch
is imported (inside environment()), so the page paints at once on a fresh start.
"""
from __future__ import annotations

import os

import streamlit as st

from camcore.data import DATA_ENV, data_root

st.set_page_config(page_title="CAM Explorer", page_icon="🔍", layout="wide")
st.title("CAM Explorer")
st.markdown("""
**See where an image classifier looks.** Give it a photo: it tells you what it thinks is in it, and a heatmap
shows which parts of the photo made it think so (Class Activation Maps, CAM, and its cousins Grad-CAM,
Grad-CAM++ and LayerCAM).

- **Teachers and students:** watch the lesson's identity happen on your own photo: the mean of a class's map
  plus the bias is exactly the class's score.
- **Pet owners:** is it really your cat's face that makes the model say *tabby*, or the sofa behind it?
- **ML practitioners:** compare methods and layers, threshold the maps into boxes, download the raw maps.

Open **Explain** in the sidebar, upload a photo (or take one, or pick a sample), and move the sliders under the
heatmap: class, threshold, colours and opacity change instantly.
""")
st.page_link("pages/1_Explain.py", label="Explain a photo", icon=":material/image_search:")
st.page_link("pages/2_Dataset.py", label="Browse Oxford-IIIT Pet with predictions and localisation scores",
             icon=":material/grid_view:")


def environment() -> None:
    """Device, weights and data locations; imports torch, so it runs after the text above is on screen."""
    from camcore.device import choose_device, describe
    from camcore.models import DEFAULT_MODEL, weights_cache_dir
    from ui.widgets import MODEL_ENV, WEIGHTS_ENV

    st.subheader("Where it runs")
    st.markdown(f"- **Device:** {describe(choose_device('auto'))} (the Explain page's sidebar can force cpu or cuda).")
    st.markdown(f"- **Weights:** torchvision's ImageNet weights are looked for in `{weights_cache_dir()}` "
                "($TORCH_HOME/hub/checkpoints) and downloaded there once when there is internet. Offline, give "
                "a local weights file in the Explain page's sidebar.")
    if os.environ.get(WEIGHTS_ENV):
        st.markdown(f"- **Preselected:** model `{os.environ.get(MODEL_ENV) or DEFAULT_MODEL}` with weights "
                    f"`{os.environ[WEIGHTS_ENV]}` (from ${MODEL_ENV} and ${WEIGHTS_ENV}).")
    st.markdown(f"- **Sample photos:** the Oxford-IIIT Pet data set is looked for in "
                f"`{data_root().resolve() / 'oxford-iiit-pet'}` (set ${DATA_ENV} to the folder that holds it).")


with st.spinner("Checking the device…"):
    environment()
