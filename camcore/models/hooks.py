"""Context managers that touch a shared model and always put it back as it was.

One model serves every session of the app, from many threads at once. A forward hook fires for every
thread's forward pass, so each hook here acts only for the thread that registered it; handles are removed
in `finally`, also when the work inside raises. Nothing here changes `requires_grad`.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_MODE_LOCK = threading.Lock()


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Runs `model` in eval mode and restores each module's `training` flag afterwards.

    Our loaders put shared models in eval mode once, so this normally changes nothing and takes no lock;
    a model that is training (say, mid fine-tuning) is switched under a lock, so that two threads never
    record each other's switch as the flag to restore.
    """
    if not any(module.training for module in model.modules()):
        yield
        return
    with _MODE_LOCK:
        flags = [(module, module.training) for module in model.modules()]
        model.eval()
        try:
            yield
        finally:
            for module, training in flags:
                module.training = training


@contextmanager
def gradient_tap(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Captures `module`'s output as a leaf that requires grad, and turns grad mode on from there.

    Run the forward under `torch.no_grad()`: the layers before `module` then build no autograd graph,
    and `torch.autograd.grad(scores, tap[0])` reaches only the layers after it. When a module is called
    more than once (torchvision's ResNet blocks reuse one ReLU), the last call's output is kept.
    Grad mode is thread-local and is restored on exit.
    """
    owner = threading.get_ident()
    captured: list[torch.Tensor] = []
    grad_was_enabled = torch.is_grad_enabled()

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if threading.get_ident() != owner:
            return None
        leaf = output.detach().requires_grad_(True)
        captured[:] = [leaf]
        torch.set_grad_enabled(True)
        return leaf.clone()  # a later in-place op (densenet's F.relu(inplace=True)) must not touch the leaf

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
        torch.set_grad_enabled(grad_was_enabled)


@contextmanager
def output_shapes(model: nn.Module) -> Iterator[list[tuple[str, torch.Size]]]:
    """Records (module name, output shape) of every module in the order their forward calls finish."""
    owner = threading.get_ident()
    shapes: list[tuple[str, torch.Size]] = []

    def make_hook(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: object) -> None:
            if threading.get_ident() == owner and isinstance(output, torch.Tensor):
                shapes.append((name, output.shape))
        return hook

    handles = [module.register_forward_hook(make_hook(name)) for name, module in model.named_modules() if name]
    try:
        yield shapes
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def output_tap(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Keeps `module`'s output (the last call's) for this thread's forward passes; the handle goes in `finally`."""
    owner = threading.get_ident()
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: tuple, output: object) -> None:
        if threading.get_ident() == owner and isinstance(output, torch.Tensor):
            captured[:] = [output.detach()]

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
