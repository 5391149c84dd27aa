"""Batched prediction + CAM over a folder of photos, JPEG decoding included, beside the plain forward on
already-decoded tensors (the floor): images per second, measured side by side in interleaved rounds. Where the
shared Oxford-IIIT Pet is, more rows: what the Dataset page pays per photo (predict_records: the model's and the
random baseline's CAM, the localisation scores and the WSOL curves of three maps against the trimap), and the
WSOL curves of those three maps alone; each twice, with the curves from one pass over nested regions (now) and
from heatmap.region_boxes level by level (before), in the same rounds.

    .venv/bin/python -m bench.bench_dataset [--photos N] [--batch B] [--device auto|cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from unittest import mock

if __package__ in (None, ""):  # run as a file: put the repo root first, as `python -m` does
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import torch

from bench.timing import Settings, Timed, measure
from bench.user_path import PET_PHOTOS, generated_jpeg
from camcore.data import pets
from camcore.data.images import load_image
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.device import autocast, choose_device, describe, memory_format
from camcore.models.loading import LoadedModel, load_model, randomised
from camcore.options import MapOptions
from camcore.scores import localisation, wsol
from camcore.scores.evaluate import predict_records

LITE0 = PET_PHOTOS.parents[1] / "imagenet_cnn" / "tf_efficientnet_lite0_in1k.pth"


def photos(count: int) -> tuple[str, list[bytes]]:
    """The first `count` Oxford pets JPEGs when the shared data is here, else one generated JPEG repeated."""
    paths = sorted(PET_PHOTOS.glob("*.jpg"))[:count] if PET_PHOTOS.is_dir() else []
    if paths:
        return f"{len(paths)} Oxford pets JPEGs", [path.read_bytes() for path in paths]
    return f"{count} generated 1200x900 JPEGs", [generated_jpeg()] * count


def model_for(device: torch.device) -> LoadedModel:
    """The real EfficientNet-Lite0 when present (speed does not depend on the values, but its shapes are real)."""
    if LITE0.is_file():
        return load_model("timm:tf_efficientnet_lite0", weights_path=LITE0, device=device.type)
    folder = Path(torch.hub.get_dir()) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    import torchvision

    torch.save(torchvision.models.resnet18().state_dict(), folder / "resnet18_random.pth")
    return load_model("resnet18", weights_path=folder / "resnet18_random.pth", device=device.type)


def shape_batches(model: LoadedModel, data: list[bytes], batch: int) -> list[torch.Tensor]:
    """Decoded, preprocessed photos stacked by input shape, as explain() batches them, `batch` at most."""
    by_shape: dict[tuple[int, ...], list[torch.Tensor]] = defaultdict(list)
    transform = model.preprocessing.transform()
    for item in data:
        tensor = transform(load_image(item))
        by_shape[tuple(tensor.shape)].append(tensor)
    return [torch.stack(group[i:i + batch]) for group in by_shape.values() for i in range(0, len(group), batch)]


def variants(model: LoadedModel, data: list[bytes], batch: int) -> list[Timed]:
    decoded = shape_batches(model, data, batch)

    def forward() -> None:
        with torch.inference_mode(), autocast(model.device):
            for x in decoded:
                model.module(x.to(model.device, memory_format=memory_format(model.device))).float().cpu()

    def decode_and_explain(method: str) -> None:
        for start in range(0, len(data), batch):
            explain([load_image(item) for item in data[start:start + batch]], model, MapOptions(method=method, top_k=1))

    return [Timed("forward on decoded tensors", "plain", forward),
            Timed("decode + predict + CAM", "ours", lambda: decode_and_explain("cam")),
            Timed("decode + predict + Grad-CAM", "ours", lambda: decode_and_explain("gradcam")),
            *scoring(model, len(data), batch)]


def scoring(model: LoadedModel, count: int, batch: int) -> list[Timed]:
    """The Dataset page's work on the same photos (camcore.scores.evaluate.predict_records), when they are the
    shared Oxford pets with their trimaps; none for generated photos."""
    if not PET_PHOTOS.is_dir():
        return []
    root = PET_PHOTOS.parents[1]
    names = {path.stem for path in sorted(PET_PHOTOS.glob("*.jpg"))[:count]}
    records = [record for record in pets.pet_index(root) if record.name in names]
    random_model = randomised(model)
    photos = [load_image(pets.image_path(root, record)) for record in records]
    maps = [explanation.maps[0] for explanation in explain(photos, model, MapOptions(top_k=1))]
    random_maps = [explanation.maps[0] for explanation in explain(photos, random_model, MapOptions(top_k=1))]
    trimaps = [pets.trimap(root, record) for record in records]
    boxes = [pets.head_box(root, record) for record in records]

    def curves_alone() -> None:
        """What the WSOL scores add per photo: the curves of the page's three maps (model, Gaussian, random model)."""
        for layer_map, random_map, trimap, box in zip(maps, random_maps, trimaps, boxes):
            for each in (layer_map, localisation.centred_gaussian(*wsol.scored_size(trimap.shape)), random_map):
                wsol.map_curves(each, trimap, box)

    def page() -> None:
        predict_records(root, records, model, batch_size=batch, random_model=random_model)

    return [Timed("decode + CAM + scores + WSOL curves, random baseline too (Dataset page)", "ours", page),
            Timed("the same, WSOL curves level by level (before)", "ours", per_level(page)),
            Timed("of which the WSOL curves of its three maps", "ours", curves_alone),
            Timed("the same, level by level (before)", "ours", per_level(curves_alone))]


def per_level(run: Callable[[], None]) -> Callable[[], None]:
    """`run` with the WSOL curves computed as before the one pass: per_level_box_curves in wsol's place."""
    def before() -> None:
        with mock.patch.object(wsol, "_box_curves", per_level_box_curves):
            run()
    return before


def per_level_box_curves(normalised: np.ndarray, levels: np.ndarray,
                         truths: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """wsol._box_curves as it was: one heatmap.region_boxes labelling per level, for the "before" rows."""
    curves = [np.full((2, len(levels)), np.nan if truth is None else 0.0, dtype=np.float32) for truth in truths]
    for t, level in enumerate(levels):
        boxes, sizes = heatmap.region_boxes(normalised, float(level))
        for curve, truth in zip(curves, truths):
            if truth is not None and len(sizes):
                ious = localisation.box_ious(boxes, truth[None])[:, 0]
                curve[wsol.ALL_REGIONS, t], curve[wsol.LARGEST_REGION, t] = ious.max(), ious[sizes.argmax()]
    return curves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    device = choose_device(args.device)
    model = model_for(device)
    label, data = photos(args.photos)
    timed = variants(model, data, args.batch)
    rounds = measure(timed, device, Settings(rounds=args.rounds, min_rounds=3, budget_s=300, call_limit_s=600))
    floor_s = statistics.median(timed[0].times_s)
    print(f"## {describe(device)} · {model.spec} · {label} · batch {args.batch} · {rounds} rounds\n")
    print("| path | images/s | ms / photo | × forward on decoded tensors |\n|---|---|---|---|")
    for item in timed:
        seconds = statistics.median(item.times_s)
        per_photo_ms = 1e3 * seconds / len(data)
        print(f"| {item.method} | {len(data) / seconds:.1f} | {per_photo_ms:.1f} | {floor_s / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
