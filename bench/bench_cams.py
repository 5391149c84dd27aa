"""Images per second of CAM and Grad-CAM beside a plain forward pass, torchcam and pytorch-grad-cam.

Prints markdown tables (columns in bench/README.md). Random weights, so nothing is downloaded: speed does not
depend on the weights' values. Machines are noisy, so each row's variants run interleaved in rounds and the
median of each is kept; every ratio compares timings taken side by side in the same rounds.

    .venv/bin/python -m bench.bench_cams --quick              # smoke run, about two minutes on 2 CPU cores
    .venv/bin/python -m bench.bench_cams --json results.json  # the full tables: CPU, then CUDA when present
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn

from camcore import heatmap
from camcore.cams import compute_maps
from camcore.device import autocast, describe, memory_format
from camcore.explain import explain
from camcore.images import load_image
from camcore.models import LoadedModel, load_model

SHARED_DATA = Path(os.environ.get("CAMEXPLORER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
PET_PHOTOS = SHARED_DATA / "oxford-iiit-pet" / "images"
CPU_PIXEL_BUDGET = 16 * 224 ** 2
"""CPU rows cap batch * px^2 here (batch 16 at 224 px, 3 at 512 px): a 2-core CPU would take minutes per call
at batch 64, and the libraries' full autograd graphs at 512 px would not fit a shared machine's memory."""
GOAL_VS = {"torchcam": 1.0, "pytorch-grad-cam": 4.0}
"""Least speedup of ours over each library on the same row."""


@dataclass(frozen=True)
class Case:
    """One explanation task, done by each library in its own documented way."""

    label: str
    method: str
    top_k: int
    layer: str | None  # None: the model's default layer (the last block)
    goal_vs_forward: float | None


CASES = (
    Case("CAM top-5", "cam", 5, None, 0.95),
    Case("Grad-CAM layer4 top-1", "gradcam", 1, "layer4", 0.9),
    Case("Grad-CAM layer4 top-5", "gradcam", 5, "layer4", 0.8),
    Case("Grad-CAM layer3 top-5", "gradcam", 5, "layer3", None),
)


@dataclass
class Timed:
    """A callable to time. `release` runs untimed after each call and drops what a library keeps between calls
    (an autograd graph), so that several variants' copies never pile up memory. `probe` does 1/`probe_share` of
    `run`'s work: its time predicts whether `run` would pass the call limit before `run` is ever called."""

    method: str
    library: str
    run: Callable[[], object]
    release: Callable[[], None] = lambda: None
    probe: Callable[[], object] | None = None
    probe_share: int = 1
    times_s: list[float] = field(default_factory=list)
    skipped: str = ""


@dataclass(frozen=True)
class Row:
    """One measured cell; median_s, images_per_s and vs_forward are None when skipped (note says why)."""

    device: str
    model: str
    size_px: int
    batch: int
    method: str
    library: str
    median_s: float | None
    images_per_s: float | None
    vs_forward: float | None
    rounds: int
    note: str = ""


@dataclass(frozen=True)
class PathRow:
    """One path a user waits for, over a set of photos explained one at a time."""

    device: str
    model: str
    photos: str
    path: str
    ms_per_photo: float
    vs_forward: float
    rounds: int


@dataclass(frozen=True)
class Settings:
    rounds: int
    min_rounds: int
    budget_s: float
    call_limit_s: float


# ---------------------------------------------------------------- the variants of one row

def random_models(names: Sequence[str], device: torch.device, folder: Path) -> dict[str, LoadedModel]:
    """Random-weight models through load_model's offline path (a local state dict), as users load them."""
    models = {}
    for name in names:
        path = folder / f"{name}.pth"
        torch.save(torchvision.models.get_model(name).state_dict(), path)
        models[name] = load_model(name, weights_path=path, device=str(device))
    return models


def plain_forward(model: LoadedModel, x: torch.Tensor) -> Timed:
    """The limit: CAM needs nothing more than this. Autocast as compute_maps uses it."""
    def run() -> torch.Tensor:
        with torch.inference_mode(), autocast(model.device):
            return model.module(x)
    return Timed("forward", "torch", run)


def ours(model: LoadedModel, x: torch.Tensor, case: Case) -> Timed:
    return Timed(case.label, "ours",
                 lambda: compute_maps(model, x, method=case.method, top_k=case.top_k, layer=case.layer))


def competitor_copy(model: LoadedModel) -> nn.Module:
    """A deep copy per extractor: a library's hooks and flags never reach our model or another extractor.
    Parameters require grad, as in a user's model: both libraries need it for their gradients."""
    return copy.deepcopy(model.module).requires_grad_(True)


def _class_ranks(scores: torch.Tensor, top_k: int) -> list[list[int]]:
    """(N, classes) scores -> top_k lists of N class indices, best rank first."""
    return scores.topk(top_k, dim=1).indices.T.tolist()


def torchcam_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed:
    """torchcam's documented use: a forward, then one extractor call per class rank (a class_idx per image)."""
    from torchcam.methods import CAM, GradCAM

    module, layer = competitor_copy(model), case.layer or model.default_layer
    if case.method == "cam":
        head = {id(m): name for name, m in model.module.named_modules()}[id(model.cam.linear)]
        extractor = stack.enter_context(CAM(module, target_layer=layer, fc_layer=head))
    else:
        extractor = stack.enter_context(GradCAM(module, target_layer=layer))

    def run() -> list[torch.Tensor]:
        with torch.inference_mode(case.method == "cam"), autocast(model.device):  # Grad-CAM: grad mode
            scores = module(x)
        ranks = _class_ranks(scores, case.top_k)
        if case.method == "cam":
            return [extractor(class_idx=classes)[0] for classes in ranks]
        return [extractor(class_idx=classes, scores=scores, retain_graph=rank < case.top_k - 1)[0]
                for rank, classes in enumerate(ranks)]  # the graph is kept for every class but the last
    return Timed(case.label, "torchcam", run, extractor.reset_hooks)


def pgc_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed:
    """pytorch-grad-cam: one call per class (its way; each is a forward and a full backward), maps upsampled
    to the input size with cv2. Float32 even on CUDA: it turns the activations into numpy, which has no bf16."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = competitor_copy(model)
    cam = GradCAM(model=module, target_layers=[module.get_submodule(case.layer or model.default_layer)])
    stack.callback(cam.activations_and_grads.release)  # not `with`: its __exit__ swallows IndexError

    def top1() -> np.ndarray:
        return cam(input_tensor=x, targets=None)  # None: each image's top class

    def run() -> list[np.ndarray]:
        maps = [top1()]
        for classes in _class_ranks(cam.outputs.detach(), case.top_k)[1:]:
            maps.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes]))
        return maps

    def release() -> None:
        cam.outputs = None  # it holds the retained graph until the next call
        cam.activations_and_grads.clear()
    return Timed(case.label, "pytorch-grad-cam", run, release,
                 probe=top1 if case.top_k > 1 else None, probe_share=case.top_k)


def row_variants(model: LoadedModel, x: torch.Tensor, stack: ExitStack) -> list[Timed]:
    """The plain forward, then per case ours, torchcam and pytorch-grad-cam (which has no CAM)."""
    variants = [plain_forward(model, x)]
    for case in CASES:
        variants += [ours(model, x, case), torchcam_variant(model, x, case, stack)]
        if case.method != "cam":
            variants.append(pgc_variant(model, x, case, stack))
    return variants


# ---------------------------------------------------------------- timing

def _sync(device: torch.device) -> None:
    """Waits for queued CUDA work, so that a call's time includes its kernels."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(timed: Timed, device: torch.device, call: Callable[[], object] | None = None) -> float | None:
    """Seconds of one call (of `run` unless told); None, with the variant marked skipped, when out of memory
    (the allocator has already emptied its cache and retried by then)."""
    _sync(device)
    start = time.perf_counter()
    try:
        (call or timed.run)()
        _sync(device)
        return time.perf_counter() - start
    except torch.cuda.OutOfMemoryError:
        timed.skipped = "skipped (out of memory)"
        return None
    finally:
        timed.release()


def warm_up(timed: Timed, device: torch.device, settings: Settings) -> None:
    """Once, three times on CUDA (kernel choice). A library's variant predicted by its probe, or seen, to take
    longer than the call limit is skipped, so that one slow library cannot hold the whole run."""
    limit = f"skipped (>{settings.call_limit_s:g} s a call)"
    if timed.probe is not None:
        probe_s = time_call(timed, device, timed.probe)
        if probe_s is not None and probe_s * timed.probe_share > settings.call_limit_s:
            timed.skipped = limit
    for _ in range(3 if device.type == "cuda" else 1):
        if timed.skipped:
            return
        elapsed_s = time_call(timed, device)
        if timed.library in GOAL_VS and elapsed_s is not None and elapsed_s > settings.call_limit_s:
            timed.skipped = limit


def measure(variants: list[Timed], device: torch.device, settings: Settings) -> int:
    """Interleaved rounds: every variant once per round, so that a noisy neighbour slows all of them alike.
    Stops at settings.rounds, or after min_rounds once the row's time budget is spent; returns the count."""
    for timed in variants:
        warm_up(timed, device, settings)
    start, done = time.perf_counter(), 0
    while done < settings.rounds:
        if done >= settings.min_rounds and time.perf_counter() - start > settings.budget_s:
            break
        for timed in variants:
            if not timed.skipped:
                timed.times_s.append(time_call(timed, device))
        done += 1
    for timed in variants:
        if timed.skipped:
            timed.times_s.clear()
    return done


def bench_row(model: LoadedModel, size_px: int, batch: int, settings: Settings) -> list[Row]:
    """All variants of one (model, size, batch) on one random, already preprocessed batch."""
    device = model.device
    x = torch.randn(batch, 3, size_px, size_px).to(device, memory_format=memory_format(device))
    with ExitStack() as stack:
        variants = row_variants(model, x, stack)
        rounds = measure(variants, device, settings)
    forward_s = statistics.median(variants[0].times_s)
    return [_row(model, size_px, batch, timed, forward_s, rounds) for timed in variants]


def _row(model: LoadedModel, size_px: int, batch: int, timed: Timed, forward_s: float, rounds: int) -> Row:
    median_s = statistics.median(timed.times_s) if timed.times_s else None
    known = median_s is not None
    return Row(device=describe(model.device), model=model.spec, size_px=size_px, batch=batch, method=timed.method,
               library=timed.library, median_s=median_s, images_per_s=batch / median_s if known else None,
               vs_forward=forward_s / median_s if known else None, rounds=rounds, note=timed.skipped)


def batch_for(device: torch.device, batch: int, size_px: int) -> int:
    if device.type == "cpu":
        return min(batch, max(1, CPU_PIXEL_BUDGET // size_px ** 2))
    return batch


# ---------------------------------------------------------------- what a user waits for

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


# ---------------------------------------------------------------- tables

SPEED_HEADER = ("| model | px | batch | rounds | method | ours img/s | ours ×fwd | torchcam img/s | torchcam ×fwd "
                "| ours ÷ torchcam | pgc img/s | pgc ×fwd | ours ÷ pgc | goals |")


def _cell(row: Row | None) -> list[str]:
    """img/s and ×fwd, or why there is none."""
    if row is None or row.median_s is None:
        return ["n/a" if row is None else row.note, ""]
    return [f"{row.images_per_s:,.1f}", f"{row.vs_forward:.2f}"]


def _speedup(mine: Row, other: Row | None) -> float | None:
    """How many times faster ours is than `other` on the same row."""
    if other is None or other.median_s is None or mine.median_s is None:
        return None
    return other.median_s / mine.median_s


def _goals(case: Case, mine: Row, speedups: dict[str, float | None]) -> str:
    """'ok', or each goal this line misses."""
    if mine.median_s is None:
        return ""
    goal = case.goal_vs_forward
    misses = [f"×fwd < {goal:g}"] if goal is not None and mine.vs_forward < goal else []
    misses += [f"÷ {library} < {GOAL_VS[library]:g}" for library, speedup in speedups.items()
               if speedup is not None and speedup < GOAL_VS[library]]
    return "MISS " + ", ".join(misses) if misses else "ok"


def _speed_cells(method: str, group: dict[tuple[str, str], Row]) -> list[str]:
    """rounds, method, ours, then each library with our speedup over it, and the goals."""
    if method == "forward":
        forward = group[(method, "torch")]
        return [str(forward.rounds), method, *_cell(forward), *[""] * 7]
    mine = group[(method, "ours")]
    cells, speedups = [str(mine.rounds), method, *_cell(mine)], {}
    for library in GOAL_VS:
        other = group.get((method, library))
        speedups[library] = _speedup(mine, other)
        cells += [*_cell(other), "" if speedups[library] is None else f"{speedups[library]:.2f}"]
    case = next(case for case in CASES if case.label == method)
    return [*cells, _goals(case, mine, speedups)]


def speed_table(rows: list[Row]) -> str:
    """One line per method of each (model, size, batch); the libraries on the same line."""
    lines = [SPEED_HEADER, "|---" * SPEED_HEADER.count(" | ") + "|---|"]
    for key in dict.fromkeys((row.model, row.size_px, row.batch) for row in rows):
        group = {(row.method, row.library): row for row in rows if (row.model, row.size_px, row.batch) == key}
        for method in dict.fromkeys(method for method, _ in group):
            lines.append("| " + " | ".join([*map(str, key), *_speed_cells(method, group)]) + " |")
    return "\n".join(lines)


def path_table(rows: list[PathRow]) -> str:
    lines = ["| model | photos | rounds | path | ms / photo | ×(decode + forward) |", "|---|---|---|---|---|---|"]
    lines += [f"| {row.model} | {row.photos} | {row.rounds} | {row.path} | {row.ms_per_photo:,.1f} | "
              f"{row.vs_forward:.2f} |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- command line

@dataclass(frozen=True)
class DeviceResult:
    environment: dict[str, str]
    speed: list[Row]
    user_path: list[PathRow]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: the CPU, then CUDA when present")
    parser.add_argument("--models", default="resnet18,resnet50")
    parser.add_argument("--sizes", default="224,512", help="input side in px")
    parser.add_argument("--batches", default="1,64", help=f"on CPU capped at {CPU_PIXEL_BUDGET:,} / px^2 images")
    parser.add_argument("--rounds", type=int, default=5, help="most interleaved rounds per row")
    parser.add_argument("--budget-s", type=float, default=60.0, help="no new round after this long (min 3 rounds)")
    parser.add_argument("--call-limit-s", type=float, default=20.0, help="skip a variant whose call takes longer")
    parser.add_argument("--photos-limit", type=int, default=8, help="Oxford pets photos in the user path")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="resnet18, 224 px, batches 1 and 4, 3 rounds")
    parser.add_argument("--json", type=Path, help="also save every row here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sizes, args.batches, args.rounds, args.photos_limit = "resnet18", "224", "1,4", 3, 4
    return args


def devices(preference: str) -> list[torch.device]:
    if preference == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if preference == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA was asked for but torch sees no GPU here. Use --device cpu or auto.")
    return [torch.device(preference)]


def bench_device(device: torch.device, args: argparse.Namespace, folder: Path) -> DeviceResult:
    settings = Settings(args.rounds, min(3, args.rounds), args.budget_s, args.call_limit_s)
    models = random_models(args.models.split(","), device, folder).values()
    sizes, batches = [int(s) for s in args.sizes.split(",")], [int(b) for b in args.batches.split(",")]
    speed = [row for model in models for size_px in sizes
             for batch in dict.fromkeys(batch_for(device, b, size_px) for b in batches)
             for row in bench_row(model, size_px, batch, settings)]
    paths = [row for model in models for label, photos in photo_sets(args.photos_limit).items()
             for row in bench_user_path(model, label, photos, settings)]
    environment = {"device": describe(device), "torch": torch.__version__, "torchcam": version("torchcam"),
                   "grad-cam": version("grad-cam")}
    return DeviceResult(environment, speed, paths)


def report(result: DeviceResult, device: torch.device) -> str:
    env = result.environment
    lines = [f"## {env['device']} · torch {env['torch']} · torchcam {env['torchcam']} · "
             f"grad-cam {env['grad-cam']}", ""]
    if device.type == "cpu":
        lines.append(f"CPU rows: batch capped at {CPU_PIXEL_BUDGET:,} / px² images (16 at 224 px, 3 at 512 px).")
    else:
        lines.append("forward, ours and torchcam under bf16 autocast; pytorch-grad-cam in float32 (numpy has no "
                     "bf16), so its ×fwd is against a bf16 forward.")
    lines += ["Median of interleaved rounds; ×fwd = images/s over the plain forward's on the same row.", "",
              speed_table(result.speed), "", "What a user waits for (one photo at a time):", "",
              path_table(result.user_path), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for device in devices(args.device):
            results.append(bench_device(device, args, Path(folder)))
            print(report(results[-1], device), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(result) for result in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
