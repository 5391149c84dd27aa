"""Photos -> predictions and maps: what the pages and the CLI both call."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image

from camcore import cams
from camcore.cams import finercam
from camcore.cams.masking import Progress
from camcore.maps import heatmap
from camcore.models.device import describe
from camcore.models.loading import LoadedModel
from camcore.models.preprocessing import Preprocessing
from camcore.options import DEFAULTS, MapOptions

DISPLAY_PX = 640
"""Longest side of the photo in the app's figures."""


def decode_side_px(model: LoadedModel, *, size_px: int | None = None, display_px: int = DISPLAY_PX) -> int:
    """The load_image(min_side_px=...) a photo needs before explain() at MapOptions.size_px and a figure whose
    long side is display_px: the input's shorter side, and display_px so that even a square photo is never
    enlarged on screen. A 12 MP phone photo (4032x3024) then decodes at 1/4 scale, 1008x756."""
    return max(model.preprocessing.with_size(size_px).short_side_px, display_px)


@dataclass(frozen=True)
class Prediction:
    class_index: int
    class_name: str
    logit: float
    probability: float


@dataclass(frozen=True, eq=False)
class Explanation:
    """One photo's explained classes, best first, and their maps over the whole photo.

    signed_maps (K, h, w): sum_c w_c A_c before any ReLU at the layer's resolution; for CAM,
    signed_maps[k].mean() + bias[k] == predictions[k].logit. maps (K, h, w): the method's own map
    (ReLU'd for the Grad-CAM family). options: what made it (its classes: this photo's); elapsed_s: wall time of
    the explain() call that made it. compared: Finer-CAM only, the classes whose scores each map's class is
    compared with (subtracted). pooling: the head's
    ("avg", or "tap:TAU": thresholded average pooling, where the logit is W . TAP(F) + b, not the map's mean + b).
    input_size: (H, W) the network saw; squashed: a fixed-size model changed the photo's aspect to get it (the
    map, stretched back over the photo, lines up with it again; the pages say so).
    """

    predictions: tuple[Prediction, ...]  # best first, or in the order of explain()'s `classes`
    signed_maps: np.ndarray
    maps: np.ndarray
    bias: tuple[float, ...] | None
    image_size: tuple[int, int]
    options: MapOptions
    layer: str  # the module mapped: options.layer, or the method's default when that is None
    device: str
    elapsed_s: float
    compared: tuple[tuple[str, ...], ...] | None = None
    pooling: str = "avg"
    input_size: tuple[int, int] = (0, 0)
    squashed: bool = False

    @property
    def method(self) -> str:
        return self.options.method

    @property
    def clamped(self) -> bool:
        """CAM with negative weights clamped (NWC), whose mean plus bias is not the logit."""
        return self.options.clamp_negative_weights

    def map_mean(self, rank: int) -> float:
        """Spatial mean of a class's signed map: for CAM (not clamped, average pooling), plus bias[rank] it is the
        class's logit."""
        return float(self.signed_maps[rank].mean())

    def normalised(self) -> np.ndarray:
        """(K, h, w) maps scaled to [0, 1]: what the threshold's fraction applies to."""
        return heatmap.normalise(self.maps)

    def at_image_size(self) -> np.ndarray:
        """(K, H, W) raw maps upsampled to the photo's own pixels."""
        width, height = self.image_size
        return heatmap.upsample(self.maps, (height, width))


def explain(images: Sequence[Image.Image], model: LoadedModel, options: MapOptions = DEFAULTS, *,
            per_photo_classes: Sequence[Sequence[int]] | None = None,
            progress: Progress | None = None) -> list[Explanation]:
    """Predicts and maps each photo's classes as `options` say (its top_k, or options.classes), in that order;
    photos of one input shape share a batch. per_photo_classes: instead of options.classes, each photo's own
    (the same number for every photo), e.g. what another model predicted for it. progress(done, total): masked
    inputs scored, for Score-CAM (one forward per channel), counted again for each batch."""
    start = time.perf_counter()
    preprocessing = model.preprocessing.with_size(options.size_px)
    transform = preprocessing.transform()
    tensors = [transform(image) for image in images]
    by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, tensor in enumerate(tensors):
        by_shape[tuple(tensor.shape)].append(index)
    classes = per_photo_classes or (None if options.classes is None else [options.classes] * len(images))
    results: dict[int, tuple] = {}
    for indices in by_shape.values():
        chosen = None if classes is None else torch.tensor([list(classes[i]) for i in indices])
        batch = cams.compute_maps(model, torch.stack([tensors[i] for i in indices]), method=options.method,
                                  top_k=options.top_k, layer=options.layer, class_indices=chosen, progress=progress,
                                  clamp_negative_weights=options.clamp_negative_weights)
        compared = finercam.compared_classes(batch.logits, batch.class_indices).tolist() \
            if cams.get_method(options.method).compares_classes else None
        for row, index in enumerate(indices):
            results[index] = (*_to_numpy(batch, row), None if compared is None else compared[row])
    elapsed_s = time.perf_counter() - start
    mine = [options if classes is None else replace(options, classes=tuple(classes[i])) for i in range(len(images))]
    return [_explanation(model, preprocessing, images[i], mine[i], elapsed_s, *results[i]) for i in range(len(images))]


def _to_numpy(batch: cams.MapBatch, row: int) -> tuple:
    """One image's share of a batch, on the CPU (the .cpu() calls are the GPU sync point)."""
    chosen = batch.class_indices[row].cpu()
    return (chosen.tolist(), batch.logits[row, chosen].cpu().tolist(),
            batch.probabilities[row, chosen].cpu().tolist(), batch.signed_maps[row].cpu().numpy(),
            batch.maps[row].cpu().numpy(), None if batch.bias is None else tuple(batch.bias[row].cpu().tolist()),
            batch.layer)


def _explanation(model: LoadedModel, preprocessing: Preprocessing, image: Image.Image, options: MapOptions,
                 elapsed_s: float, chosen: list[int], logits: list[float], probabilities: list[float],
                 signed: np.ndarray, maps: np.ndarray, bias: tuple[float, ...] | None, layer: str,
                 compared: list[list[int]] | None) -> Explanation:
    predictions = tuple(Prediction(c, model.class_names[c], lg, p) for c, lg, p in zip(chosen, logits, probabilities))
    names = None if compared is None else tuple(tuple(model.class_names[c] for c in row) for row in compared)
    return Explanation(predictions=predictions, signed_maps=signed, maps=maps, bias=bias,
                       image_size=image.size, options=options, layer=layer, device=describe(model.device),
                       elapsed_s=elapsed_s, compared=names,
                       pooling="avg" if model.cam is None else model.cam.pooling,
                       input_size=preprocessing.input_size(image.size), squashed=preprocessing.squashes(image.size))
