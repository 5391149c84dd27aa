"""Cached results of explaining one photo, keyed on its bytes, the model's version and every setting: the
explanation, the Lesson's feature maps, pooling numbers and weight comparisons, faithfulness reports, sanity
checks, hidden regions and the download's overlay PNG. Shared by every session: a rerun or another student with
the same photo and settings costs no model pass."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from camcore import cams
from camcore.cams import lesson
from camcore.data.images import load_image
from camcore.explain import Explanation
from camcore.maps import exports, heatmap
from camcore.scores.faithfulness import FaithfulnessReport, explanation_faithfulness
from camcore.scores.occlusion import Box, Occlusion, hide_box, hide_top
from camcore.scores.sanity import SanityCheck, cascading_randomisation
from camcore.serving.batching import explain_batched
from ui.common.models import per_model_version, shared_model


@per_model_version
@st.cache_data(max_entries=64, show_spinner=False)
def explanation(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *,
                method: str, layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None = None,
                classes: tuple[int, ...] | None = None, clamp_negative_weights: bool = False,
                stamp: tuple[int, ...]) -> Explanation:
    """One photo explained, keyed on its bytes and every setting, so a rerun from a download or class picker
    does not recompute. The model is fetched inside: st.cache_data cannot hash a LoadedModel. min_side_px:
    decode a large JPEG at reduced scale (camcore.data.images.load_image), as the page decodes the photo it shows.
    Sessions explaining at the same time share one batched model pass (camcore.serving.batching)."""
    model = shared_model(spec, weights_path, device)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    with _forward_pass_bar(method) as progress:
        return explain_batched([photo], model, method=method, top_k=top_k, layer=layer, size_px=size_px,
                               classes=None if classes is None else [classes], progress=progress,
                               clamp_negative_weights=clamp_negative_weights)[0]


@per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def feature_maps(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, layer: str,
                 stamp: tuple[int, ...]) -> lesson.FeatureMaps:
    """One layer's activations for the Lesson, cached as explanations are: paging its channels costs no pass."""
    return lesson.feature_maps(shared_model(spec, weights_path, device), load_image(image_bytes, name=name), layer)


@per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def pooling(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, class_index: int,
            stamp: tuple[int, ...]) -> lesson.Pooling:
    """The Lesson's GAP/Linear swap with this photo's numbers for one class, cached as feature maps are."""
    return lesson.pooling(shared_model(spec, weights_path, device), load_image(image_bytes, name=name), class_index)


@per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def weights_comparison(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *,
                       class_index: int, stamp: tuple[int, ...]) -> lesson.WeightsComparison:
    """Grad-CAM's pooled gradients beside CAM's weights for one class (a forward and a backward pass), cached as
    feature maps are: a whole class rerunning the Lesson's step 4 shares one computation."""
    return lesson.compare_weights(shared_model(spec, weights_path, device), load_image(image_bytes, name=name),
                                  class_index)


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


@per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def faithfulness(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, method: str,
                 layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None,
                 classes: tuple[int, ...] | None = None, clamp_negative_weights: bool = False,
                 stamp: tuple[int, ...]) -> FaithfulnessReport:
    """The first explained class's deletion / insertion curves and confidence change beside both baseline maps
    (faithfulness.forward_passes: 129 at the default steps, so computed once per photo and settings, on
    request)."""
    result = explanation(image_bytes, name, spec, weights_path, device, method=method, layer=layer, top_k=top_k,
                         size_px=size_px, min_side_px=min_side_px, classes=classes,
                         clamp_negative_weights=clamp_negative_weights)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    return explanation_faithfulness(photo, shared_model(spec, weights_path, device), result, size_px=size_px)


@per_model_version
@st.cache_data(max_entries=64, show_spinner=False)
def overlay_png(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, method: str,
                layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None, rank: int,
                colormap: str, threshold_frac: float, clamp_negative_weights: bool = False,
                threshold_standard: str = "max", stamp: tuple[int, ...]) -> bytes:
    """The download's overlay PNG (80 ms for a phone photo), kept so that a rerun for another photo, class or
    setting does not redraw it. threshold_standard: heatmap.threshold_standard's spelling (a str hashes simply)."""
    result = explanation(image_bytes, name, spec, weights_path, device, method=method, layer=layer, top_k=top_k,
                         size_px=size_px, min_side_px=min_side_px, clamp_negative_weights=clamp_negative_weights)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    return exports.overlay_png(photo, result, rank, colormap=colormap, threshold_frac=threshold_frac,
                               standard=heatmap.threshold_standard(threshold_standard))


@per_model_version
@st.cache_data(max_entries=16, show_spinner="Randomising a copy of the model stage by stage, one map per stage…")
def sanity_check(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, method: str,
                 layer: str | None, size_px: int | None, min_side_px: int | None,
                 clamp_negative_weights: bool = False, stamp: tuple[int, ...]) -> SanityCheck:
    """One photo's cascading randomisation check (camcore.scores.sanity): a dozen forwards, kept so that a rerun for a
    slider or download does not repeat them. A spinner, not a progress bar: st.cache_data cannot replay writes to
    a bar made outside it. The check works on its own copy of the model; the shared one is only read."""
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    return cascading_randomisation(photo, shared_model(spec, weights_path, device), method=method, layer=layer,
                                   size_px=size_px, clamp_negative_weights=clamp_negative_weights)


@per_model_version
@st.cache_data(max_entries=64, show_spinner="Blurring the region out…")
def occlusion(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, method: str,
              layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None,
              clamp_negative_weights: bool = False, box: Box | None, fraction: float | None,
              stamp: tuple[int, ...]) -> tuple[Occlusion, ...]:
    """The first explained class with the dragged box hidden, then with the map's top `fraction` and as many random
    pixels hidden (whichever is given): one forward pass each, cached per region."""
    result = explanation(image_bytes, name, spec, weights_path, device, method=method, layer=layer, top_k=top_k,
                         size_px=size_px, min_side_px=min_side_px, clamp_negative_weights=clamp_negative_weights)
    model = shared_model(spec, weights_path, device)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    boxed = () if box is None else (hide_box(model, photo, result, box, size_px=size_px),)
    top = () if fraction is None else hide_top(model, photo, result, fraction, size_px=size_px)
    return (*boxed, *top)
