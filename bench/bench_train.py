"""One epoch of fine-tuning: the lesson's plain loop against camcore's, on the same device, data and start weights.

The lesson's loop keeps every photo as a normalised float32 tensor in memory and runs a plain fp32 loop; camcore's
(camcore.train) keeps uint8, flips and normalises on the device, and uses channels_last + bf16 autocast on CUDA.
Both decode the photos once beforehand (not timed); images/s counts training steps only (the first step, which
warms up kernels, is left out). Prints a markdown table with the test accuracy after the epoch.

    .venv/bin/python -m bench.bench_train --data ../shared/data --image-size 128 --limit 96   # CPU smoke run
    python -m bench.bench_train --data DATA --device cuda                                    # the lesson's 512 px
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the repo root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch

from camcore.jobs.runs import RunFolder
from camcore.models.device import choose_device, describe
from camcore.train.config import TrainConfig
from camcore.train.data import load_split
from camcore.train.loop import train_run
from camcore.train.model import build_classifier
from camcore.train.steps import per_image_loss, predicted_class


def plain_epoch(config: TrainConfig, device: torch.device) -> tuple[float, float]:
    """The lesson's loop: float32 photos in memory, fp32, no autocast or channels_last. -> (images/s, accuracy)."""
    classifier = build_classifier(config, device)
    model = classifier.module.to(memory_format=torch.contiguous_format)
    pre = classifier.preprocessing
    mean, std = torch.tensor(pre.mean).view(1, 3, 1, 1), torch.tensor(pre.std).view(1, 3, 1, 1)
    splits = {}
    for split in ("trainval", "test"):
        data = load_split(Path(config.data_root), split, task=config.task, image_size_px=config.image_size_px,
                          limit=config.limit, seed=config.seed, interpolation=pre.interpolation)
        splits[split] = ((data.images.float() / 255 - mean) / std, data.targets)
    images, targets = splits["trainval"]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(config.seed))
    model.train()
    timed_images, start = 0, 0.0
    for first in range(0, len(images), config.batch_size):
        chosen = order[first:first + config.batch_size]
        x, y = images[chosen].to(device), targets[chosen].to(device)
        loss = per_image_loss(model(x), y, classifier.binary).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
        if first == 0:
            start = time.perf_counter()
        else:
            timed_images += len(chosen)
    rate = timed_images / max(time.perf_counter() - start, 1e-9)
    model.eval()
    correct = 0
    images, targets = splits["test"]
    with torch.no_grad():
        for first in range(0, len(images), config.batch_size):
            x, y = images[first:first + config.batch_size].to(device), targets[first:first + config.batch_size]
            correct += int((predicted_class(model(x), classifier.binary).cpu() == y).sum())
    return rate, correct / len(images)


def camcore_epoch(config: TrainConfig) -> tuple[float, float]:
    """camcore.train's loop into a temporary run folder -> (images/s from its step times, test accuracy)."""
    with tempfile.TemporaryDirectory() as folder:
        run = RunFolder.create(Path(folder) / "run", config.to_dict())
        status = train_run(run)
        steps = [line for line in run.metrics() if line["kind"] == "step"]
    images = min(config.limit or 10**9, _train_count(config)) - config.batch_size
    rate = images / max(steps[-1]["time"] - steps[0]["time"], 1e-9)
    return rate, float(status.test_accuracy or 0.0)


def _train_count(config: TrainConfig) -> int:
    from camcore.data.pets import filter_records, pet_index

    return len(filter_records(pet_index(Path(config.data_root)), split="trainval"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding oxford-iiit-pet/")
    parser.add_argument("--arch", default="lite0")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3, help="1e-3: one epoch of the mini data set learns")
    parser.add_argument("--limit", type=int, default=None, help="photos per split")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    config = TrainConfig(data_root=str(args.data.resolve()), arch=args.arch, epochs=1, image_size_px=args.image_size,
                         batch_size=args.batch_size, lr=args.lr, limit=args.limit, device=args.device, probes=0)
    device = choose_device(args.device)
    plain_rate, plain_accuracy = plain_epoch(config, device)
    ours_rate, ours_accuracy = camcore_epoch(config)
    print(f"One epoch, {args.arch}, {args.image_size} px, batch {args.batch_size}, lr {args.lr}, "
          f"{min(args.limit or 10**9, _train_count(config))} training photos, on {describe(device)}\n")
    print("| loop | images/s | vs lesson | test accuracy |\n|---|---|---|---|")
    print(f"| lesson (float32 in memory, fp32) | {plain_rate:.1f} | 1.00 | {plain_accuracy:.3f} |")
    print(f"| camcore.train | {ours_rate:.1f} | {ours_rate / plain_rate:.2f} | {ours_accuracy:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
