"""`python -m camcore explain`: overlays, raw maps and results.json for photos, from the explain() the pages call."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from camcore.cams import METHODS, check_applicable
from camcore.cams.masking import Progress
from camcore.cli.args import add_model_options, add_threshold_options, map_options_of, positive_int, threshold_of
from camcore.data.images import load_image
from camcore.errors import CamcoreError
from camcore.explain import Explanation, explain
from camcore.files import write_atomic
from camcore.maps import exports, heatmap
from camcore.models.device import describe
from camcore.models.loading import LoadedModel, load_model
from camcore.options import MapOptions

GROUP_SIZE = 8
"""Photos per explain() call: batched on the device, yet only a few full-resolution photos in memory at once."""


def add_explain(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("explain", help="write overlays, raw maps and results.json for photos",
                                 description="For each photo and each of its top-k classes, write an overlay PNG "
                                 "and the raw map (.npy) at the photo's resolution, plus DIR/results.json.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photo files (JPEG, PNG, ...)")
    add_model_options(parser)
    parser.add_argument("--layer", help="layer to map (Grad-CAM family; default: the last convolutional block)")
    parser.add_argument("--top-k", type=positive_int, default=5, metavar="K", help="classes per photo")
    add_threshold_options(parser, what="the box and the overlay")
    parser.add_argument("--colormap", choices=heatmap.SEQUENTIAL_COLORMAPS, default="magma")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    parser.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    """`explain`: bad photos are reported and skipped; an unusable model or option stops everything (exit 2)."""
    try:
        model = load_model(args.model, weights_path=args.weights, device=args.device)
        options = map_options_of(args)
        check_applicable(model, options.method, options.layer, clamp_negative_weights=options.clamp_negative_weights)
        args.out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        results, bad = _explain_all(args, model, options)
        write_atomic(args.out / "results.json", json.dumps(results, indent=2).encode())
    except (CamcoreError, ValueError, OSError) as exc:  # ValueError: unknown model, layer or device
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    count = len(results)
    print(f"{count} image{'s' if count != 1 else ''} explained in {time.perf_counter() - start:.1f} s "
          f"on {describe(model.device)}")
    return 1 if bad else 0


def _explain_all(args: argparse.Namespace, model: LoadedModel,
                 options: MapOptions) -> tuple[list[dict[str, Any]], int]:
    """Explains the photos GROUP_SIZE at a time and writes their files; returns results.json's list and
    the number of bad inputs."""
    stems = _output_stems(args.images)
    results: list[dict[str, Any]] = []
    bad = 0
    with tqdm(total=len(args.images), unit="image", disable=None, file=sys.stderr) as progress, \
            _forward_passes(options.method) as passes:
        for first in range(0, len(args.images), GROUP_SIZE):
            group = range(first, min(first + GROUP_SIZE, len(args.images)))
            photos = _load_photos(args.images, group)
            bad += len(group) - len(photos)
            explanations = explain(list(photos.values()), model, options, progress=passes) if photos else []
            for (index, photo), explanation in zip(photos.items(), explanations):
                predictions = _write_predictions(args, photo, explanation, stems[index])
                results.append({"image": args.images[index], "predictions": predictions})
            progress.update(len(group))
    return results, bad


@contextmanager
def _forward_passes(method: str) -> Iterator[Progress | None]:
    """A second bar for Score-CAM's masked forward passes (one per channel, hundreds per photo): without it a
    group of photos would sit for minutes with nothing moving. None for the other methods."""
    if not METHODS[method].masked_scores:
        yield None
        return
    with tqdm(unit="pass", desc="forward passes", leave=False, disable=None, file=sys.stderr) as bar:
        def update(done: int, total: int) -> None:
            if done < bar.n or bar.total != total:  # the next batch of photos starts again from 0
                bar.reset(total=total)
            bar.update(done - bar.n)
        yield update


def _output_stems(paths: Sequence[str]) -> list[str]:
    """File stems of the outputs; when two inputs share one, every stem gets its input's index in front."""
    stems = [Path(path).stem for path in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{index}_{stem}" for index, stem in enumerate(stems)]


def _load_photos(paths: Sequence[str], indices: range) -> dict[int, Image.Image]:
    """The group's photos that load, by input index; one stderr line for each that does not."""
    photos = {}
    for index in indices:
        try:
            photos[index] = load_image(paths[index], name=paths[index])
        except CamcoreError as exc:
            tqdm.write(str(exc), file=sys.stderr)
    return photos


def _write_predictions(args: argparse.Namespace, photo: Image.Image, explanation: Explanation,
                       stem: str) -> list[dict[str, Any]]:
    """Writes the overlay PNG and raw map .npy of each explained class; returns their results.json entries."""
    entries = []
    for rank, prediction in enumerate(explanation.predictions):
        files = exports.export_class(photo, explanation, rank, colormap=args.colormap,
                                     threshold_frac=threshold_of(args), standard=explanation.options.threshold_standard)
        name = f"{stem}_top{rank + 1}_{prediction.class_index}"
        write_atomic(args.out / f"{name}.png", files.png)
        write_atomic(args.out / f"{name}.npy", files.npy)
        entries.append({"class_index": prediction.class_index, "class_name": prediction.class_name,
                        "logit": prediction.logit, "probability": prediction.probability,
                        "bbox": None if files.bbox is None else list(files.bbox),
                        "map": f"{name}.npy", "overlay": f"{name}.png",
                        **({} if explanation.compared is None else {"compared": list(explanation.compared[rank])})})
    return entries
