"""One epoch of training steps and one evaluation pass, summed across ranks; losses per task."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from camcore.distributed import World, all_sum
from camcore.models.device import autocast, memory_format
from camcore.models.hooks import eval_mode
from camcore.train.data import PetTensors, batch_to_device, normalise
from camcore.train.model import Classifier


@dataclass(frozen=True)
class StepResult:
    """One optimiser step over a global batch, summed over ranks: loss sum, correct predictions, images; `stop`
    is True when rank 0 saw a stop request (every rank then stops after this same step)."""

    loss_sum: float
    correct: float
    images: float
    stop: bool
    elapsed_s: float


@dataclass(frozen=True)
class Evaluation:
    """Test loss and accuracy over the whole split; confusion (K, K) counts, rows true, columns predicted."""

    loss: float
    accuracy: float
    confusion: list[list[int]]


def per_image_loss(logits: torch.Tensor, targets: torch.Tensor, binary: bool) -> torch.Tensor:
    """(B, K) float32 logits -> (B,) losses: BCEWithLogits on the one logit (dog = 1), else cross-entropy."""
    if binary:
        return F.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
    return F.cross_entropy(logits, targets, reduction="none")


def predicted_class(logits: torch.Tensor, binary: bool) -> torch.Tensor:
    return (logits[:, 0] > 0).long() if binary else logits.argmax(dim=1)


def epoch_order(count: int, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The epoch's shuffled order and flips (count,), the same in every rank and after a resume."""
    generator = torch.Generator().manual_seed(seed * 1009 + epoch)
    return torch.randperm(count, generator=generator), torch.rand(count, generator=generator) < 0.5


def train_step(classifier: Classifier, wrapped: nn.Module, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, images: torch.Tensor, data: PetTensors, indices: torch.Tensor,
               flips: torch.Tensor, world: World, stop: Callable[[], bool]) -> StepResult:
    """One step on this rank's slice [rank::world] of the global batch `indices`.

    The loss is sum / global batch * world: DDP averages gradients over ranks, so the step equals a single
    process's step on the whole batch. A rank whose slice is empty (a last batch smaller than the world) runs
    one image with weight 0, since every rank must join DDP's gradient all-reduce.
    """
    start = time.perf_counter()
    device = classifier.loaded.device
    mine, my_flips = indices[world.rank::world.size], flips[world.rank::world.size]
    weight = torch.ones(len(mine), device=device)
    if len(mine) == 0:
        mine, my_flips, weight = indices[:1], flips[:1], torch.zeros(1, device=device)
    x = normalise(batch_to_device(images, mine, device), classifier.preprocessing, flips=my_flips,
                  memory_format=memory_format(device))
    targets = data.targets[mine].to(device, non_blocking=True)
    with autocast(device):
        logits = wrapped(x).float()
    losses = per_image_loss(logits, targets, classifier.binary) * weight
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(losses.sum() * (world.size / len(indices))).backward()
    scaler.step(optimizer)
    scaler.update()
    correct = ((predicted_class(logits.detach(), classifier.binary) == targets).float() * weight).sum()
    stopping = float(world.main and stop())
    sums = torch.stack([losses.detach().sum(), correct, weight.sum(), torch.tensor(stopping, device=device)])
    loss_sum, right, seen, stop_votes = all_sum(sums.double(), world).tolist()  # one sync per step
    return StepResult(loss_sum, right, seen, stop_votes > 0, time.perf_counter() - start)


def evaluate(classifier: Classifier, images: torch.Tensor, data: PetTensors, world: World, *,
             batch_size: int) -> Evaluation:
    """Loss, accuracy and confusion over the split, each rank taking images rank, rank + world, ...; no
    gradients, eval mode (restored afterwards)."""
    device = classifier.loaded.device
    classes = len(classifier.class_names)
    sums = torch.zeros(2 + classes * classes, dtype=torch.float64, device=device)
    mine = torch.arange(len(data))[world.rank::world.size]
    with eval_mode(classifier.module), torch.inference_mode():
        for first in range(0, len(mine), batch_size):
            chunk = mine[first:first + batch_size]
            x = normalise(batch_to_device(images, chunk, device), classifier.preprocessing, flips=None,
                          memory_format=memory_format(device))
            targets = data.targets[chunk].to(device)
            with autocast(device):
                logits = classifier.module(x).float()
            predicted = predicted_class(logits, classifier.binary)
            sums[0] += per_image_loss(logits, targets, classifier.binary).sum()
            sums[1] += (predicted == targets).sum()
            sums[2:].index_add_(0, targets * classes + predicted, torch.ones(len(chunk), dtype=torch.float64,
                                                                              device=device))
    totals = all_sum(sums, world).cpu()
    confusion = totals[2:].round().long().view(classes, classes).tolist()
    return Evaluation(loss=float(totals[0]) / len(data), accuracy=float(totals[1]) / len(data), confusion=confusion)
