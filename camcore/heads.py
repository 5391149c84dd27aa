"""Which layers a model has for maps, and whether its head allows exact CAM (global average pool + Linear)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from camcore.hooks import output_shapes


@dataclass(frozen=True, eq=False)
class CamParts:
    """`features(x)` -> (N, C, h, w) maps whose spatial mean fed to `linear` gives the model's logits."""

    features: Callable[[torch.Tensor], torch.Tensor]
    linear: nn.Linear


def _candidates(model: nn.Module) -> CamParts | None:
    """timm's forward_features/get_classifier, or torchvision's conventions for its classifier families."""
    if hasattr(model, "forward_features") and hasattr(model, "get_classifier"):
        classifier = model.get_classifier()
        return CamParts(model.forward_features, classifier) if isinstance(classifier, nn.Linear) else None
    children = dict(model.named_children())
    if isinstance(children.get("fc"), nn.Linear) and "avgpool" in children:  # resnet, resnext, regnet
        body = nn.Sequential(*[m for name, m in children.items() if name not in ("avgpool", "fc")])
        return CamParts(body, children["fc"])
    classifier, features = children.get("classifier"), children.get("features")
    if isinstance(classifier, nn.Linear) and features is not None:  # densenet: ReLU after the features
        return CamParts(nn.Sequential(features, nn.ReLU()), classifier)
    if isinstance(classifier, nn.Sequential) and features is not None:  # efficientnet, mobilenet
        layers = [m for m in classifier if not isinstance(m, nn.Dropout)]
        if len(layers) == 1 and isinstance(layers[0], nn.Linear):
            return CamParts(features, layers[0])
    return None


PROBE_PX = 128
"""Side of the probe input: small enough to be cheap at load time, large enough (4x4 after a stride of 32)
that the last block still has a spatial output."""


_PASSTHROUGH = (nn.Identity, nn.Dropout, nn.Dropout2d)
"""Modules that hand their input on unchanged in eval mode: not worth a place in the layer list."""


def _probe(device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, PROBE_PX, PROBE_PX, generator=generator).to(device)


def find_cam_parts(model: nn.Module, device: torch.device) -> CamParts | None:
    """CamParts only if Linear(mean(features)) reproduces the model's own logits on a probe input."""
    parts = _candidates(model)
    if parts is None:
        return None
    x = _probe(device)
    with torch.inference_mode():
        logits = model(x).float()
        rebuilt = parts.linear(parts.features(x).float().mean(dim=(2, 3)))
    scale = logits.abs().max().clamp_min(1.0)
    return parts if rebuilt.shape == logits.shape and ((rebuilt - logits).abs().max() / scale) < 1e-4 else None


def conv_layers(model: nn.Module, device: torch.device) -> tuple[tuple[str, ...], str]:
    """Names of modules with spatial (N, C, h>1 or w>1) outputs, and the last one to finish: the default
    Grad-CAM layer (a whole block such as resnet's `layer4`, since children finish before their parents)."""
    with output_shapes(model) as shapes, torch.inference_mode():
        model(_probe(device))
    passthrough = {name for name, module in model.named_modules() if isinstance(module, _PASSTHROUGH)}
    spatial = [name for name, shape in shapes
               if len(shape) == 4 and shape[2] * shape[3] > 1 and name not in passthrough]
    if not spatial:
        raise ValueError(f"{type(model).__name__} has no layer with a spatial output: not a CNN.")
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return tuple(sorted(set(spatial), key=order.__getitem__)), spatial[-1]
