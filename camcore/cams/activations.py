"""Step 1 of every map on its own: the activations at a layer, and the network's stages to pick one from."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from camcore.errors import UnsupportedMethod
from camcore.models.device import autocast, memory_format
from camcore.models.hooks import eval_mode, output_tap
from camcore.models.loading import LoadedModel

MIN_STAGE_CHILDREN = 2
"""A Sequential with at least this many mappable children may be a chain of stages."""


def stage_layers(model: LoadedModel) -> tuple[str, ...]:
    """A short, ordered list of the network's stages from the first convolution to the last block, taken from
    the module tree: each top-level mappable module, and when exactly one top-level Sequential holds the chain
    (timm EfficientNet's `blocks`, torchvision's `features`), its children instead. Several Sequentials (resnet's
    layer1-4) are the stages themselves. A student picks from these, not from the hundred-odd model.layers."""
    mappable = set(model.layers)
    inner = {name: [f"{name}.{sub}" for sub, _ in child.named_children() if f"{name}.{sub}" in mappable]
             for name, child in model.module.named_children() if isinstance(child, nn.Sequential)}
    chains = [name for name, children in inner.items() if len(children) >= MIN_STAGE_CHILDREN]
    stages: list[str] = []
    for name, _ in model.module.named_children():
        if len(chains) == 1 and name == chains[0]:
            stages += inner[name]
        elif name in mappable:
            stages.append(name)
    return tuple(stages) or (model.default_layer,)


def layer_activations(model: LoadedModel, x: Tensor, layer: str) -> Tensor:
    """(N, 3, H, W) preprocessed batch -> (N, C, h, w) float32 output of `layer`: the A_c that every map
    method weighs. No gradients, and the hook is gone afterwards (camcore.models.hooks)."""
    module = model.layer(layer)
    x = x.to(model.device, memory_format=memory_format(model.device))
    with eval_mode(model.module), output_tap(module) as tap, torch.inference_mode(), autocast(model.device):
        model.module(x)
    if not tap:
        raise UnsupportedMethod(f"Layer {layer} is not used by {model.spec}'s forward pass; pick another.")
    return model.to_maps(layer, tap[0]).float()
