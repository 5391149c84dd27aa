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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on a GPU that runs it natively (Ampere and later), fp16 on older GPUs, None (float32) on the CPU.

    `including_emulation=False`: torch otherwise answers True on pre-Ampere GPUs, where bf16 is emulated and slow.
    fp16 has bf16's 10x smaller range, but the head and the maps stay in float32 (see cams.base).
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast to autocast_dtype(device) for the backbone's convolutions; nothing on the CPU.

    The head's logits and the maps are computed in float32 afterwards (see cams.base), so reduced precision
    only touches the backbone; bench/ and tests/camcore/models/test_device.py compare the maps with float32 ones.
    """
    dtype = autocast_dtype(device)
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA, where cuDNN's convolutions are faster in it; the default layout elsewhere."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def describe(device: torch.device) -> str:
    """Human name of a device for the page and the CLI, e.g. 'cuda (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
