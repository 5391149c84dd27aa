"""Cached results of explaining one photo, keyed on (its bytes, the model and its version, the map options): the
explanation, the Lesson's feature maps, pooling numbers and weight comparisons, faithfulness reports, sanity
checks, hidden regions and the download's overlay PNG. Shared by every session: a rerun or another student with
the same photo and settings costs no model pass.

Each photo decodes as the page shows it (camcore.explain.decode_side_px: a large JPEG at a reduced scale), so
every section of every page that explains the same photo with the same model and options shares one pass."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from PIL import Image

from camcore import cams
from camcore.cams import lesson
from camcore.data.images import load_image
from camcore.explain import Explanation, decode_side_px
from camcore.maps import exports
from camcore.options import DEFAULTS, MapOptions
from camcore.scores.faithfulness import FaithfulnessReport, explanation_faithfulness
from camcore.scores.occlusion import Box, Occlusion, hide_box, hide_top
from camcore.scores.sanity import SanityCheck, cascading_randomisation
from camcore.serving.batching import explain_batched
from ui.common.models import ModelChoice


def photo_as_shown(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> Image.Image:
    """The photo decoded as it is explained and shown: at the scale decode_side_px gives (not cached: decoding a
    reduced JPEG costs a few ms, and holding every photo's pixels would not)."""
    return load_image(image_bytes, name=name, min_side_px=decode_side_px(model.load(), size_px=options.size_px))


def explanation(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> Explanation:
    """One photo explained, cached on the options' model pass only (MapOptions.model_pass): switching the
    threshold standard reuses it."""
    return _explained(image_bytes, name, model, options.model_pass())


@st.cache_data(max_entries=64, show_spinner=False)
def _explained(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> Explanation:
    """One photo explained, so a rerun from a download or class picker does not recompute. The model is fetched
    inside: st.cache_data cannot hash a LoadedModel. Sessions explaining at the same time share one batched model
    pass (camcore.serving.batching)."""
    photo = photo_as_shown(image_bytes, name, model, options)
    with _forward_pass_bar(options.method) as progress:
        return explain_batched([photo], model.load(), options, progress=progress)[0]


@st.cache_data(max_entries=16, show_spinner=False)
def feature_maps(image_bytes: bytes, name: str, model: ModelChoice, *, layer: str) -> lesson.FeatureMaps:
    """One layer's activations for the Lesson, cached as explanations are: paging its channels costs no pass."""
    return lesson.feature_maps(model.load(), photo_as_shown(image_bytes, name, model, DEFAULTS), layer)


@st.cache_data(max_entries=16, show_spinner=False)
def pooling(image_bytes: bytes, name: str, model: ModelChoice, *, class_index: int) -> lesson.Pooling:
    """The Lesson's GAP/Linear swap with this photo's numbers for one class, cached as feature maps are."""
    return lesson.pooling(model.load(), photo_as_shown(image_bytes, name, model, DEFAULTS), class_index)


@st.cache_data(max_entries=16, show_spinner=False)
def weights_comparison(image_bytes: bytes, name: str, model: ModelChoice, *,
                       class_index: int) -> lesson.WeightsComparison:
    """Grad-CAM's pooled gradients beside CAM's weights for one class (a forward and a backward pass), cached as
    feature maps are: a whole class rerunning the Lesson's step 4 shares one computation."""
    return lesson.compare_weights(model.load(), photo_as_shown(image_bytes, name, model, DEFAULTS), class_index)


@contextmanager
def _forward_pass_bar(method: str) -> Iterator[cams.Progress | None]:
    """A progress bar over Score-CAM's forward passes (one per channel: seconds to minutes), gone when done.
    Drawn inside the cached function: Streamlit replays what a cached function drew on a cache hit (here: a bar
    that empties itself), and cannot replay an update to an element drawn outside it."""
    spec = cams.get_method(method)
    if not spec.masked_scores:
        yield None
        return
    bar = st.progress(0.0, text=f"{spec.label}: forward passes on the masked photo…")
    try:
        yield lambda done, total: bar.progress(done / total, text=f"{spec.label}: {done} of {total} forward "
                                               "passes (one per channel)")
    finally:
        bar.empty()


@st.cache_data(max_entries=16, show_spinner=False)
def faithfulness(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> FaithfulnessReport:
    """The first explained class's deletion / insertion curves and confidence change beside both baseline maps
    (faithfulness.forward_passes: 129 at the default steps, so computed once per photo and settings, on
    request)."""
    result = explanation(image_bytes, name, model, options)
    return explanation_faithfulness(photo_as_shown(image_bytes, name, model, options), model.load(), result)


@st.cache_data(max_entries=64, show_spinner=False)
def overlay_png(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions, *, rank: int,
                colormap: str, threshold_frac: float) -> bytes:
    """The download's overlay PNG (80 ms for a phone photo), kept so that a rerun for another photo, class or
    setting does not redraw it; its threshold is a fraction of the options' threshold standard."""
    result = explanation(image_bytes, name, model, options)
    return exports.overlay_png(photo_as_shown(image_bytes, name, model, options), result, rank, colormap=colormap,
                               threshold_frac=threshold_frac, standard=options.threshold_standard)


@st.cache_data(max_entries=16, show_spinner="Randomising a copy of the model stage by stage, one map per stage…")
def sanity_check(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions) -> SanityCheck:
    """One photo's cascading randomisation check (camcore.scores.sanity): a dozen forwards, kept so that a rerun for a
    slider or download does not repeat them. A spinner, not a progress bar: st.cache_data cannot replay writes to
    a bar made outside it. The check works on its own copy of the model; the shared one is only read."""
    return cascading_randomisation(photo_as_shown(image_bytes, name, model, options), model.load(), options)


@st.cache_data(max_entries=64, show_spinner="Blurring the region out…")
def occlusion(image_bytes: bytes, name: str, model: ModelChoice, options: MapOptions, *, box: Box | None,
              fraction: float | None) -> tuple[Occlusion, ...]:
    """The first explained class with the dragged box hidden, then with the map's top `fraction` and as many random
    pixels hidden (whichever is given): one forward pass each, cached per region."""
    result = explanation(image_bytes, name, model, options)
    photo, loaded = photo_as_shown(image_bytes, name, model, options), model.load()
    boxed = () if box is None else (hide_box(loaded, photo, result, box),)
    top = () if fraction is None else hide_top(loaded, photo, result, fraction)
    return (*boxed, *top)
