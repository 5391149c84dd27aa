"""What a user waits for: JPEG bytes to a prediction, or to top-5 maps at photo size with boxes, one photo a time."""
from __future__ import annotations

import io
import os
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.rows import PathRow
from bench.timing import Settings, Timed, measure
from camcore import heatmap
from camcore.device import autocast, describe, memory_format
from camcore.explain import explain
from camcore.images import load_image
from camcore.models import LoadedModel

SHARED_DATA = Path(os.environ.get("CAM_EXPLORER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
PET_PHOTOS = SHARED_DATA / "oxford-iiit-pet" / "images"


def generated_jpeg(width: int = 1200, height: int = 900) -> bytes:
    """A photo-like JPEG (smooth gradients, a disc, mild noise): its decode costs what a camera photo's does."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width]
    disc = ((xx - width * 0.6) ** 2 + (yy - height * 0.45) ** 2) < (height * 0.25) ** 2
    pixels = np.stack([xx * 200 / width, yy * 200 / height, 120 + 100 * disc], axis=-1)
    pixels += rng.normal(0, 8, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def photo_sets(limit: int) -> dict[str, list[bytes]]:
    """The generated photo, and the first `limit` Oxford pets photos when the shared data is here."""
    sets = {"generated 1200x900 JPEG": [generated_jpeg()]}
    pets = sorted(PET_PHOTOS.glob("*.jpg"))[:limit] if PET_PHOTOS.is_dir() else []
    if pets:
        sets[f"{len(pets)} Oxford pets JPEGs"] = [path.read_bytes() for path in pets]
    return sets


def decode_and_forward(model: LoadedModel, data: bytes) -> torch.Tensor:
    """The least a prediction costs: decode, preprocess as explain() does, forward, logits to the CPU."""
    x = model.preprocessing.transform()(load_image(data))[None]
    x = x.to(model.device, memory_format=memory_format(model.device))
    with torch.inference_mode(), autocast(model.device):
        return model.module(x).float().cpu()


def decode_and_explain(model: LoadedModel, data: bytes, method: str) -> np.ndarray:
    """What the user waits for: decode, top-5 maps, upsampled to the photo, normalised, boxed at 20%."""
    (explanation,) = explain([load_image(data)], model, method=method, top_k=5)
    normalised = heatmap.normalise(explanation.at_image_size())
    return heatmap.boxes_per_threshold(normalised, np.array([heatmap.DEFAULT_THRESHOLD]))


def bench_user_path(model: LoadedModel, label: str, photos: list[bytes], settings: Settings) -> list[PathRow]:
    """ms per photo, one photo at a time; each path goes over the whole set once per round."""
    variants = [Timed("decode + forward", "torch", lambda: [decode_and_forward(model, d) for d in photos])]
    for method, name in (("cam", "CAM"), ("gradcam", "Grad-CAM")):
        variants.append(Timed(f"decode + {name} top-5 + maps at photo size + boxes", "ours",
                              lambda m=method: [decode_and_explain(model, d, m) for d in photos]))
    rounds = measure(variants, model.device, settings)
    medians_s = [statistics.median(timed.times_s) for timed in variants]
    return [PathRow(device=describe(model.device), model=model.spec, photos=label, path=timed.method,
                    ms_per_photo=1000 * median_s / len(photos), vs_forward=medians_s[0] / median_s, rounds=rounds)
            for timed, median_s in zip(variants, medians_s)]
