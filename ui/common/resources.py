"""The app's only caches: one shared model per (spec, weights, device), explanations and their figures and
overlay PNGs, the Lesson's feature maps, pooling numbers and weight comparisons, faithfulness reports, sanity
checks, the sample list, the data set's index, the Dataset page's per-image results as read from their store on
disk, and uploaded weights.

Everything cached here lives in this one module: st.cache_resource keys include the defining module, so a
loader pasted into two pages would hold two copies of the same model.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import plotly.graph_objects as go
import streamlit as st

from camcore import cams
from camcore.cams import lesson
from camcore.data import pets
from camcore.data.images import load_image
from camcore.explain import Explanation, Prediction
from camcore.files import modified_ns
from camcore.jobs.predict import predict_missing
from camcore.jobs.predict_store import PredictStore
from camcore.maps import display, exports, heatmap
from camcore.models.device import choose_device
from camcore.models.loading import LoadedModel, load_model, randomised
from camcore.scores.evaluate import ImageResult, Progress
from camcore.scores.faithfulness import FaithfulnessReport, explanation_faithfulness
from camcore.scores.occlusion import Box, Occlusion, hide_box, hide_top
from camcore.scores.sanity import SanityCheck, cascading_randomisation
from camcore.serving.batching import explain_batched
from camcore.serving.paths import store_upload
from camcore.settings import server_model, server_weights
from ui.explain import figures as explain_figures

T = TypeVar("T")


MODELS_KEPT = 4
"""Models kept loaded besides the class's default (pinned apart): the four rows of Explain's Compare models
(ui.explain.compare_models) stay loaded across reruns, and never push the default out (docs/serving.md: memory)."""


def shared_model(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """One frozen model for every session; read-only use only (camcore.models.hooks restores whatever it touches).

    Cached under the resolved device, so "auto" and "cuda" on a GPU machine share one copy, and under the files'
    modification times, so a checkpoint rewritten at the same path (a training run's best.pt) is loaded again,
    never explained stale. The server's default model has a cache of its own: whatever other models sessions
    load, every session's first page never waits for it again. Failures (no weights offline, a wrong file) are not
    cached, so a retry reloads.
    """
    resolved, stamp = str(choose_device(device)), _files_stamp(spec, weights_path)
    if _is_servers_default(spec, weights_path):
        return _default_model_on(spec, weights_path or None, resolved, stamp)
    return _model_on(spec, weights_path or None, resolved, stamp)


def _is_servers_default(spec: str, weights_path: str | None) -> bool:
    """The model every page starts with (camcore.settings), with the operator's weights file if there is one."""
    weights = server_weights()
    same_weights = (not weights_path and not weights) or bool(
        weights_path and weights and Path(weights_path).resolve() == Path(weights).resolve())
    return spec == server_model() and same_weights


def _files_stamp(*paths: str | None) -> tuple[int, ...]:
    """Modification times (ns) of the paths that are files: a model name or a missing file contributes nothing."""
    return tuple(stamp for stamp in map(modified_ns, paths) if stamp is not None)


def _per_model_version(cached: Callable[..., T]) -> Callable[..., T]:
    """A cached function of (image_bytes, name, spec, weights_path, device, *, ..., stamp) called without `stamp`:
    the model files' modification times are added to its cache key here, so a checkpoint rewritten at the same
    path (a training run's best.pt) misses every cache of results made with it, as shared_model reloads it."""
    signature = inspect.signature(cached)

    @functools.wraps(cached)
    def call(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, **options: Any) -> T:
        arguments = signature.bind(image_bytes, name, spec, weights_path, device,
                                   stamp=_files_stamp(spec, weights_path), **options)
        arguments.apply_defaults()  # Streamlit keys on the arguments as passed: a default left out is another key
        return cached(*arguments.args, **arguments.kwargs)
    call.clear = cached.clear  # type: ignore[attr-defined]  # tests start from an empty cache
    return call


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def _default_model_on(spec: str, weights_path: str | None, device: str, stamp: tuple[int, ...]) -> LoadedModel:
    """Two entries: the default changes once resnet18's weights are cached (camcore.settings.server_model)."""
    return load_model(spec, weights_path=weights_path, device=device)


@st.cache_resource(max_entries=MODELS_KEPT, show_spinner="Loading the model…")
def _model_on(spec: str, weights_path: str | None, device: str, stamp: tuple[int, ...]) -> LoadedModel:
    return load_model(spec, weights_path=weights_path, device=device)


@_per_model_version
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


@_per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def feature_maps(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, layer: str,
                 stamp: tuple[int, ...]) -> lesson.FeatureMaps:
    """One layer's activations for the Lesson, cached as explanations are: paging its channels costs no pass."""
    return lesson.feature_maps(shared_model(spec, weights_path, device), load_image(image_bytes, name=name), layer)


@_per_model_version
@st.cache_data(max_entries=16, show_spinner=False)
def pooling(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, class_index: int,
            stamp: tuple[int, ...]) -> lesson.Pooling:
    """The Lesson's GAP/Linear swap with this photo's numbers for one class, cached as feature maps are."""
    return lesson.pooling(shared_model(spec, weights_path, device), load_image(image_bytes, name=name), class_index)


@_per_model_version
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


@_per_model_version
@st.cache_resource(max_entries=64, show_spinner=False)
def explanation_figures(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *,
                        method: str, layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None,
                        title: str, classes: tuple[int, ...] | None = None, clamp_negative_weights: bool = False,
                        threshold_standard: str = "max", stamp: tuple[int, ...]) -> tuple[go.Figure, go.Figure]:
    """(map figure with its sliders, signed figure) of one explained photo, built once per photo and settings and
    shared by every rerun and session (st.plotly_chart only reads a figure; st.cache_data would unpickle a copy
    of 0.8 MB of slider steps each time). A class picker or download rerun then costs only Streamlit's JSON
    encoding of the figures (bench/bench_figures.py)."""
    result = explanation(image_bytes, name, spec, weights_path, device, method=method, layer=layer, top_k=top_k,
                         size_px=size_px, min_side_px=min_side_px, classes=classes,
                         clamp_negative_weights=clamp_negative_weights)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    layers = display.slider_layers(result, standard=heatmap.threshold_standard(threshold_standard))
    return (explain_figures.explanation_figure(photo, layers, title=title),
            explain_figures.signed_figure(photo, layers))


@_per_model_version
@st.cache_resource(max_entries=64, show_spinner=False)
def selection_figure(image_bytes: bytes, name: str, spec: str, weights_path: str | None, device: str, *, method: str,
                     layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None,
                     clamp_negative_weights: bool = False, stamp: tuple[int, ...]) -> go.Figure:
    """Hide a region's photo with its first class's map, in box-select mode: built once per photo and settings,
    as explanation_figures are (the expander's body runs on every rerun, open or not)."""
    result = explanation(image_bytes, name, spec, weights_path, device, method=method, layer=layer, top_k=top_k,
                         size_px=size_px, min_side_px=min_side_px, clamp_negative_weights=clamp_negative_weights)
    photo = load_image(image_bytes, name=name, min_side_px=min_side_px)
    width, height = photo.size
    return explain_figures.selection_figure(photo, heatmap.upsample(result.maps[0], (height, width)))


@st.cache_resource(max_entries=256, show_spinner=False)
def top_k_bar(predictions: tuple[Prediction, ...]) -> go.Figure:
    """The top-k bars, built once per answer and shared (st.plotly_chart only reads it): plotly validates every
    figure it builds, a few ms of held GIL on each rerun of each session otherwise."""
    return explain_figures.top_k_bar(predictions)


@_per_model_version
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


@_per_model_version
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


@_per_model_version
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


def random_model(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """The shared model's architecture with re-initialised weights: the sanity-check baseline of every score."""
    return _random_model_on(spec, weights_path or None, str(choose_device(device)))


@st.cache_resource(max_entries=3, show_spinner="Randomising a copy of the model…")
def _random_model_on(spec: str, weights_path: str | None, device: str) -> LoadedModel:
    """The architecture alone matters, so no file stamp: a retrained checkpoint keeps its random baseline."""
    return randomised(shared_model(spec, weights_path, device))


def prediction_store(root: Path, spec: str, weights_path: str | None, method: str, *,
                     faithfulness_steps: int | None = None, clamp_negative_weights: bool = False,
                     threshold_standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> PredictStore:
    """The on-disk results of this model version and method on `root`, shared with the predict job and every
    session (camcore.jobs.predict_store); with faithfulness_steps, NWC or a percentile threshold, the store of
    results made so."""
    return PredictStore.for_model(root, spec, weights_path, method, faithfulness_steps=faithfulness_steps,
                                  clamp_negative_weights=clamp_negative_weights, threshold_standard=threshold_standard)


@st.cache_resource(max_entries=16, show_spinner=False)
def _results_read(store_path: str) -> dict[str, ImageResult]:
    """Results already read from one store, by file name: a store's results never change (a new model version
    gets a new store), so a rerun reads only the photos it has not seen yet."""
    return {}


def stored_predictions(store: PredictStore, records: Sequence[pets.PetRecord]) -> dict[str, ImageResult]:
    """The records' results that the store holds, by name; the others are simply absent."""
    known = _results_read(str(store.path))
    known.update(store.results(record.name for record in records if record.name not in known))
    return {record.name: known[record.name] for record in records if record.name in known}


def predictions(root: Path, records: Sequence[pets.PetRecord], spec: str, weights_path: str | None, device: str,
                *, method: str, faithfulness_steps: int | None = None, clamp_negative_weights: bool = False,
                threshold_standard: heatmap.ThresholdStandard = heatmap.MAXIMUM,
                progress: Progress | None = None) -> dict[str, ImageResult]:
    """Each record's result by name, predicted here (a page of photos) where no session or job has stored it yet,
    and stored for all of them; with faithfulness_steps, results with the faithfulness scores too."""
    store = prediction_store(root, spec, weights_path, method, faithfulness_steps=faithfulness_steps,
                             clamp_negative_weights=clamp_negative_weights, threshold_standard=threshold_standard)
    if len(stored_predictions(store, records)) < len(records):
        predict_missing(store, root, records, shared_model(spec, weights_path, device), method=method,
                        random_model=random_model(spec, weights_path, device), faithfulness_steps=faithfulness_steps,
                        clamp_negative_weights=clamp_negative_weights, threshold_standard=threshold_standard,
                        progress=progress)
    return stored_predictions(store, records)


@st.cache_data(max_entries=8, show_spinner="Checking the uploaded file…")
def stored_upload(file_id: str, _data: bytes) -> tuple[str, bool]:
    """(path, is a checkpoint) of an upload kept by camcore.serving.paths.store_upload, read once per upload (keyed on
    Streamlit's file id: hashing up to 200 MB on every rerun would be slow)."""
    path, is_checkpoint = store_upload(_data)
    return str(path), is_checkpoint


@_per_model_version
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
