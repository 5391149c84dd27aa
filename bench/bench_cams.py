"""Images per second of every registered map method beside a plain forward pass, torchcam and pytorch-grad-cam.

Prints markdown tables (columns in bench/README.md). Random weights, so nothing is downloaded: speed does not
depend on the weights' values. Machines are noisy, so each row's variants run interleaved in rounds and the
median of each is kept (bench/timing.py); every ratio compares timings taken side by side in the same rounds.

    .venv/bin/python -m bench.bench_cams --quick              # smoke run, about two minutes on 2 CPU cores
    .venv/bin/python -m bench.bench_cams --json results.json  # the full tables: CPU, then CUDA when present
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the repo root, not from bench/ (its tables, timing...)
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import timm
import torch
import torchvision

from bench.cases import Case, bench_cases
from bench.competitors import pgc_variant, torchcam_variant
from bench.rows import PathRow, PhoneRow, Row
from bench.tables import path_table, phone_table, speed_table
from bench.timing import Settings, Timed, measure
from bench.user_path import bench_phone_photo, bench_user_path, photo_sets
from camcore.cams import compute_maps
from camcore.models.device import autocast, describe, memory_format
from camcore.models.loading import LoadedModel, load_model
from camcore.models.pretrained import TIMM_PREFIX, resolve

CPU_PIXEL_BUDGET = 16 * 224 ** 2
"""CPU rows cap batch * px^2 here (batch 16 at 224 px, 3 at 512 px): a 2-core CPU would take minutes per call
at batch 64, and the libraries' full autograd graphs at 512 px would not fit a shared machine's memory."""


# ---------------------------------------------------------------- the variants of one row

def random_models(names: Sequence[str], device: torch.device, folder: Path) -> dict[str, LoadedModel]:
    """Random-weight models through load_model's offline path (a local state dict), as users load them: torchvision
    names, timm:NAME, and the app's short names (swin_tiny)."""
    models = {}
    for name in names:
        arch, path = resolve(name), folder / f"{name}.pth"
        if arch.startswith(TIMM_PREFIX):
            module = timm.create_model(arch.removeprefix(TIMM_PREFIX), pretrained=False)
        else:
            module = torchvision.models.get_model(arch)
        torch.save(module.state_dict(), path)
        models[name] = load_model(name, weights_path=path, device=str(device))
    return models


def plain_forward(model: LoadedModel, x: torch.Tensor) -> Timed:
    """The limit: CAM needs nothing more than this. Autocast as compute_maps uses it."""
    def run() -> torch.Tensor:
        with torch.inference_mode(), autocast(model.device):
            return model.module(x)
    return Timed("forward", "torch", run)


def ours(model: LoadedModel, x: torch.Tensor, case: Case) -> Timed:
    """Our engine on the preprocessed batch: compute_maps, what explain() runs after preprocessing."""
    return Timed(case.label, "ours",
                 lambda: compute_maps(model, x, method=case.method, top_k=case.top_k, layer=case.layer))


def installed(module: str) -> bool:
    """Whether an optional library is importable: a machine without it (a lent GPU box) gets empty columns."""
    return importlib.util.find_spec(module) is not None


def row_variants(model: LoadedModel, x: torch.Tensor, stack: ExitStack, cases: Sequence[Case]) -> list[Timed]:
    """The plain forward, then per case ours, torchcam and pytorch-grad-cam, when installed and having the method
    (bench.competitors.CLASSES)."""
    variants = [plain_forward(model, x)]
    for case in cases:
        if case.layer is not None and case.layer not in model.layers:
            continue  # resnet's layer4 on a Swin: the case is not this model's
        variants.append(ours(model, x, case))
        for adapter, module in ((torchcam_variant, "torchcam"), (pgc_variant, "pytorch_grad_cam")):
            timed = adapter(model, x, case, stack) if installed(module) else None
            variants += [timed] if timed is not None else []
    return variants


def bench_row(model: LoadedModel, size_px: int, batch: int, settings: Settings,
              cases: Sequence[Case] | None = None) -> list[Row]:
    """All variants of one (model, size, batch) on one random, already preprocessed batch."""
    device = model.device
    x = torch.randn(batch, 3, size_px, size_px).to(device, memory_format=memory_format(device))
    with ExitStack() as stack:
        variants = row_variants(model, x, stack, bench_cases() if cases is None else cases)
        rounds = measure(variants, device, settings)
    forward_s = statistics.median(variants[0].times_s)
    return [_row(model, size_px, batch, timed, forward_s, rounds) for timed in variants]


def _row(model: LoadedModel, size_px: int, batch: int, timed: Timed, forward_s: float, rounds: int) -> Row:
    """One variant's line; its ratio to the forward uses medians from the same rounds."""
    median_s = statistics.median(timed.times_s) if timed.times_s else None
    known = median_s is not None
    return Row(device=describe(model.device), model=model.spec, size_px=size_px, batch=batch, method=timed.method,
               library=timed.library, median_s=median_s, images_per_s=batch / median_s if known else None,
               vs_forward=forward_s / median_s if known else None, rounds=rounds, note=timed.skipped)


def batch_for(device: torch.device, batch: int, size_px: int) -> int:
    """The batch really run: capped on the CPU at CPU_PIXEL_BUDGET / px^2 images."""
    if device.type == "cpu":
        return min(batch, max(1, CPU_PIXEL_BUDGET // size_px ** 2))
    return batch


# ---------------------------------------------------------------- command line

@dataclass(frozen=True)
class DeviceResult:
    """One device's tables, and the versions they were measured with (saved by --json); phone: CPU only."""

    environment: dict[str, str]
    speed: list[Row]
    user_path: list[PathRow]
    phone: list[PhoneRow]


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
    parser.add_argument("--cases", help="only the cases whose label contains one of these, e.g. Score-CAM")
    parser.add_argument("--speed-only", action="store_true", help="the speed table alone (no user path, phone)")
    parser.add_argument("--quick", action="store_true", help="resnet18, 224 px, batches 1 and 4, 3 rounds")
    parser.add_argument("--json", type=Path, help="also save every row here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sizes, args.batches, args.rounds, args.photos_limit = "resnet18", "224", "1,4", 3, 4
    return args


def devices(preference: str) -> list[torch.device]:
    """--device as the devices to run, in order; asking for CUDA without a GPU is an error, not a silent CPU run."""
    if preference == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if preference == "cuda" and not torch.cuda.is_available():
        raise SystemExit("CUDA was asked for but torch sees no GPU here. Use --device cpu or auto.")
    return [torch.device(preference)]


def bench_device(device: torch.device, args: argparse.Namespace, folder: Path) -> DeviceResult:
    settings = Settings(args.rounds, min(3, args.rounds), args.budget_s, args.call_limit_s)
    models = random_models(args.models.split(","), device, folder).values()
    sizes, batches = [int(s) for s in args.sizes.split(",")], [int(b) for b in args.batches.split(",")]
    parts = args.cases.split(",") if args.cases else [""]
    cases = [case for case in bench_cases() if any(part in case.label for part in parts)]
    speed = [row for model in models for size_px in sizes if model.preprocessing.fixed_size
             in (None, (size_px, size_px))  # a Swin or ViT runs at its own size only
             for batch in dict.fromkeys(batch_for(device, b, size_px) for b in batches)
             for row in bench_row(model, size_px, batch, settings, cases)]
    photos = {} if args.speed_only else photo_sets(args.photos_limit)
    paths = [row for model in models for label, group in photos.items()
             for row in bench_user_path(model, label, group, settings)]
    phone_here = device.type == "cpu" and not args.speed_only
    phone = bench_phone_photo(load_model("lite0", device="cpu"), settings) if phone_here else []
    environment = {"device": describe(device), "torch": torch.__version__,
                   **{name: version(name) if installed(module) else "not installed (columns empty)"
                      for name, module in (("torchcam", "torchcam"), ("grad-cam", "pytorch_grad_cam"))}}
    return DeviceResult(environment, speed, paths, phone)


def report(result: DeviceResult, device: torch.device) -> str:
    """One device's section: versions, how to read it, then the speed and user-path tables."""
    env = result.environment
    lines = [f"## {env['device']} · torch {env['torch']} · torchcam {env['torchcam']} · "
             f"grad-cam {env['grad-cam']}", ""]
    if device.type == "cpu":
        lines.append(f"CPU rows: batch capped at {CPU_PIXEL_BUDGET:,} / px² images (16 at 224 px, 3 at 512 px).")
    else:
        lines.append("forward, ours and torchcam under bf16 autocast; pytorch-grad-cam in float32 (numpy has no "
                     "bf16), so its ×fwd is against a bf16 forward.")
    lines += ["Median of interleaved rounds; ×fwd = images/s over the plain forward's on the same row.", "",
              speed_table(result.speed), ""]
    if result.user_path:
        lines += ["What a user waits for (one photo at a time):", "", path_table(result.user_path), ""]
    if result.phone:
        lines += ["A phone photo on the Explain page's path (load_image at decode_side_px, top-5 CAM, slider_layers), "
                  "beside the same photo at 504x378:", "", phone_table(result.phone), ""]
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
