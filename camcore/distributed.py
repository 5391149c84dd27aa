"""torchrun's world for training and evaluation: which rank this is, the process group, and sums across ranks.

Every rank walks the same seeded order of global batches and takes its slice [rank::world] of each, so a run's
batches (and its flips) do not depend on how many processes share them; rank 0 alone writes the run folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun job; rank 0 of size 1 when run alone."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """The one process that writes the run folder and shows progress."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """Each rank's own GPU (LOCAL_RANK); the CPU is shared."""
        if device.type != "cuda" or self.size == 1:
            return device
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))


def world_from_env() -> World:
    """torchrun's RANK and WORLD_SIZE."""
    return World(rank=int(os.environ.get("RANK", 0)), size=int(os.environ.get("WORLD_SIZE", 1)))


def join(world: World, device: torch.device) -> None:
    """NCCL between GPUs, gloo between CPU processes; torchrun's env:// rendezvous."""
    if world.size == 1:
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def leave(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DistributedDataParallel (gradients averaged across ranks in backward) when there are several ranks."""
    if world.size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


def everyone(value: T, world: World) -> list[T]:
    """Every rank's `value`, in rank order, on every rank (pickled: for small objects such as error lines)."""
    if world.size == 1:
        return [value]
    values: list[T] = [value] * world.size
    dist.all_gather_object(values, value)
    return values


def on_main(value: T, world: World) -> list[T] | None:
    """Every rank's `value`, in rank order, on rank 0; None on the others."""
    if world.size == 1:
        return [value]
    values: list[T] | None = [value] * world.size if world.main else None
    dist.gather_object(value, values, dst=0)
    return values


def all_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """Element-wise sum over ranks (float64 on the CPU for gloo, in place on the device for NCCL)."""
    if world.size == 1:
        return values
    dist.all_reduce(values)
    return values
