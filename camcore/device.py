"""Where inference runs: CUDA when there is one, else the CPU, and the autocast policy for each."""
from __future__ import annotations

import contextlib
from typing import Literal

import torch

DevicePreference = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def choose_device(preference: str = "auto") -> torch.device:
    """`auto` takes CUDA when available; asking for `cuda` on a machine without one is a clear error."""
    if preference not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {preference!r}. Valid: {', '.join(DEVICE_CHOICES)}.")
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but torch sees no GPU here. Use --device cpu or auto.")
    return torch.device("cuda")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (the convolutions), nothing on the CPU.

    The CAM head and the maps are computed in float32 afterwards (see cams.base), so reduced precision
    only touches the backbone; bench/ and tests/test_device.py compare the maps with float32 ones.
    """
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA, where cuDNN's convolutions are faster in it; the default layout elsewhere."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def describe(device: torch.device) -> str:
    """Human name of a device for the page and the CLI, e.g. 'cuda (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
