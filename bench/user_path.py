"""What a user waits for: JPEG bytes to a prediction, or to top-5 maps at photo size with boxes, one photo a time;
and a 12 MP phone photo through the Explain page's path beside the same photo at 504x378."""
from __future__ import annotations

import io
import os
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.rows import PathRow, PhoneRow
from bench.timing import Settings, Timed, measure
from camcore.data.images import load_image
from camcore.explain import decode_side_px, explain
from camcore.maps import display, heatmap
from camcore.models.device import autocast, describe, memory_format
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions

SHARED_DATA = Path(os.environ.get("CAM_EXPLORER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
PET_PHOTOS = SHARED_DATA / "oxford-iiit-pet" / "images"
PHONE_WH, SMALL_WH = (4032, 3024), (504, 378)
PHONE_GOAL = 1.3
"""Most a 12 MP phone photo may take, as a multiple of the same photo at 504x378, on the Explain page's path."""


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
    (explanation,) = explain([load_image(data)], model, MapOptions(method=method, top_k=5))
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


def phone_jpegs() -> tuple[bytes, bytes]:
    """A generated 12 MP phone photo (about 3 MB, as a phone's JPEG), and the same photo saved at 504x378."""
    phone = generated_jpeg(*PHONE_WH)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(phone)).resize(SMALL_WH, Image.Resampling.LANCZOS).save(buffer, format="JPEG", quality=90)
    return phone, buffer.getvalue()


def explain_for_figure(model: LoadedModel, data: bytes, *, min_side_px: int | None) -> display.SliderLayers:
    """The Explain page's calls: bytes -> load_image -> top-5 CAM -> the figure's slider layers."""
    photo = load_image(data, min_side_px=min_side_px)
    (explanation,) = explain([photo], model, MapOptions(method="cam", top_k=5))
    return display.slider_layers(explanation)


def bench_phone_photo(model: LoadedModel, settings: Settings) -> list[PhoneRow]:
    """The small photo, the phone photo as the page loads it (decode_side_px), and the phone photo decoded in full,
    interleaved in the same rounds; each time over the small photo's."""
    phone, small = phone_jpegs()
    side_px = decode_side_px(model)
    cases = [(f"{SMALL_WH[0]}x{SMALL_WH[1]} JPEG", small, side_px, None),
             (f"{PHONE_WH[0]}x{PHONE_WH[1]} JPEG, {len(phone) / 1e6:.1f} MB", phone, side_px, PHONE_GOAL),
             (f"{PHONE_WH[0]}x{PHONE_WH[1]} JPEG, {len(phone) / 1e6:.1f} MB", phone, None, None)]
    variants = [Timed(label, "ours", lambda d=data, m=side: explain_for_figure(model, d, min_side_px=m))
                for label, data, side, _ in cases]
    rounds = measure(variants, model.device, settings)
    medians_s = [statistics.median(timed.times_s) for timed in variants]
    rows = []
    for (label, data, side, goal), median_s in zip(cases, medians_s):
        width, height = load_image(data, min_side_px=side).size
        decoded = f"{width}x{height}" + ("" if side is None else f" (min_side_px={side})")
        rows.append(PhoneRow(device=describe(model.device), model=model.spec, photo=label, decoded=decoded,
                             ms_per_photo=1000 * median_s, vs_small=median_s / medians_s[0], rounds=rounds, goal=goal))
    return rows
