"""The cascading randomisation sanity check (Adebayo et al., 2018): re-initialise the model from the head down,
one stage at a time, and see whether the map of the original's class changes.

A map that survives randomisation explains the photo (its edges, its contrast), not what the model learnt.
Everything works on one private copy of the model, randomised progressively: the shared model is only read.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image
from scipy import stats
from skimage.metrics import structural_similarity

from camcore import cams
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions

ORIGINAL = "original"
"""Stage 0's name: nothing randomised yet."""


@dataclass(frozen=True)
class Stage:
    """A cascade step: its name (e.g. "layer4", "conv1+bn1") and the state-dict key prefixes it re-initialises."""

    name: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class SanityCheck:
    """The map of one class after each cumulative stage. stages (S + 1,): ORIGINAL, then the head and the
    network's stages from the last to the stem; maps (S + 1, h, w) normalised (heatmap.normalise) at the
    layer's resolution; spearman and ssim (S + 1,) of each map against maps[0], compared at the network input's
    resolution (spearman is NaN where a map is flat: a rank correlation with a constant is undefined)."""

    stages: tuple[str, ...]
    class_index: int
    class_name: str
    method: str
    layer: str
    maps: np.ndarray
    spearman: np.ndarray
    ssim: np.ndarray


def randomisation_stages(model: LoadedModel) -> tuple[Stage, ...]:
    """The cascade's steps, head first: whatever cams.stage_layers leaves out (the classifier), then each stage
    that holds weights, from the last to the first. A stage of 1-D parameters only (a norm layer's scale and
    shift, as resnet's bn1) joins the stage before it, so the stem is one step (conv1+bn1)."""
    keys = list(model.module.state_dict())
    groups: list[list[str]] = []
    for name in cams.stage_layers(model):
        params = [p for key, p in model.module.named_parameters() if _under(key, (name,))]
        if not params:
            continue  # relu, pooling
        if groups and all(p.dim() <= 1 for p in params):
            groups[-1].append(name)
        else:
            groups.append([name])
    covered = tuple(name for group in groups for name in group)
    head = list(dict.fromkeys(key.split(".")[0] for key in keys if not _under(key, covered)))
    steps = [Stage("+".join(head), tuple(head))] if head else []
    return (*steps, *(Stage("+".join(group), tuple(group)) for group in reversed(groups)))


def _under(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == prefix or key.startswith(prefix + ".") for prefix in prefixes)


def cumulative_randomisations(model: LoadedModel, *, seed: int = 0) -> Iterator[tuple[str, LoadedModel]]:
    """(ORIGINAL, a private copy of the model), then (stage name, the same copy with that stage re-initialised
    too) for each of randomisation_stages: one copy, randomised progressively, so use each before the next.

    The fresh weights are the architecture's own init (models.randomised, same seed), so the full cascade ends at
    exactly the random baseline of the other scores; parameters and buffers (a norm layer's running statistics)
    are both re-initialised, in place.
    """
    copy = randomised(model, seed=seed)
    state = copy.module.state_dict()
    fresh = {key: tensor.clone() for key, tensor in state.items()}
    copy.module.load_state_dict(model.module.state_dict())
    yield ORIGINAL, copy
    for stage in randomisation_stages(model):
        with torch.no_grad():
            for key, tensor in state.items():
                if _under(key, stage.prefixes):
                    tensor.copy_(fresh[key])
        yield stage.name, copy


def cascading_randomisation(image: Image.Image, model: LoadedModel, options: MapOptions | None = None, *,
                            class_index: int | None = None, seed: int = 0,
                            progress: cams.Progress | None = None) -> SanityCheck:
    """The map of the model's top class (or class_index) as `options` say (default: cams.exact_method's, at its
    default layer) after each cumulative stage of randomisation_stages; one map per stage. progress(done, total)
    after each map."""
    options = replace(options or MapOptions(method=cams.exact_method(model)), top_k=1,
                      classes=None if class_index is None else (class_index,))
    cams.check_applicable(model, options.method, options.layer,
                          clamp_negative_weights=options.clamp_negative_weights)
    total = len(randomisation_stages(model)) + 1
    names, maps, explained = [], [], None
    for name, copy in cumulative_randomisations(model, seed=seed):
        explained = explain([image], copy, options)[0]
        options = replace(options, classes=(explained.predictions[0].class_index,))  # the original's class on
        names.append(name)
        maps.append(explained.maps[0])
        if progress is not None:
            progress(len(maps), total)
    assert explained is not None  # the cascade always yields the original
    raw = np.stack(maps)
    spearman, ssim = compare_maps(raw[0], raw, model.preprocessing.with_size(options.size_px).input_size(image.size))
    prediction = explained.predictions[0]
    return SanityCheck(stages=tuple(names), class_index=prediction.class_index, class_name=prediction.class_name,
                       method=options.method, layer=explained.layer, maps=heatmap.normalise(raw), spearman=spearman,
                       ssim=ssim)


def compare_maps(reference: np.ndarray, maps: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) raw map, (S, h, w) raw maps -> (S,) Spearman and (S,) SSIM of each against the reference, all
    upsampled to size_hw (the network input's, as Adebayo et al. compare) and normalised first."""
    reference_n, maps_n = (heatmap.normalise(heatmap.upsample(m, size_hw)) for m in (reference, maps))
    pairs = [map_similarity(reference_n, other) for other in maps_n]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def map_similarity(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """(Spearman rank correlation, SSIM) of two (H, W) normalised maps in [0, 1]. Spearman is NaN where either map
    is flat, checked here rather than by silencing scipy's warning: warnings.catch_warnings is process-wide, not
    safe in the app's threads."""
    flat = np.ptp(first) == 0 or np.ptp(second) == 0
    rho = math.nan if flat else float(stats.spearmanr(first.ravel(), second.ravel()).statistic)
    return rho, float(structural_similarity(first, second, data_range=1.0))


def randomised_above_stem(model: LoadedModel, *, seed: int = 0) -> LoadedModel:
    """A private copy with every stage but the stem (the cascade's last step) re-initialised: the data-set
    summary of the check in one model, so that `evaluate` pays one extra map per photo, not one per stage."""
    *_, (_, copy) = itertools.islice(cumulative_randomisations(model, seed=seed), len(randomisation_stages(model)))
    return copy

