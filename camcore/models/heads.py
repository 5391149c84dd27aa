"""Which layers a model has for maps, and whether its head allows exact CAM (global pooling + Linear: average
pooling, or TAP, whose pooling the identity then runs through)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from camcore.errors import ModelUnsupported
from camcore.models.hooks import output_shapes
from camcore.models.pooling import ThresholdedAvgPool2d, pooling_name, tap_of


@dataclass(frozen=True, eq=False)
class CamParts:
    """`features(x)` -> (N, C, h, w) maps whose pooling (the spatial mean, or `tap`'s) fed to `linear` gives the
    model's logits. CAM's map is sum_c w_c F_c either way; only with the mean is its mean plus the bias the logit."""

    features: Callable[[torch.Tensor], torch.Tensor]
    linear: nn.Linear
    tap: ThresholdedAvgPool2d | None = None

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, C): what the model's head pools its features into."""
        return features.mean(dim=(2, 3)) if self.tap is None else self.tap(features).flatten(1)

    @property
    def pooling(self) -> str:
        """"avg" or "tap:TAU" (camcore.models.pooling's names)."""
        return pooling_name(None if self.tap is None else self.tap.tau)


class FinalReLU(nn.Module):
    """The ReLU that torchvision's DenseNet applies functionally after `features`, made a module at its end.

    Without it no module outputs what the head pools, so CAM (on ReLU(features)) and Grad-CAM (on a module's
    output) could not share a layer. ReLU is idempotent, so the model's outputs do not change. clamp_min, not
    torch.relu: relu saves its output for backward, and DenseNet's F.relu(inplace=True) right after it would
    then break training's backward; clamp_min saves its input.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(0)


def expose_final_relu(model: nn.Module) -> None:
    """Appends FinalReLU to a torchvision DenseNet's `features` (no parameters: its state dict is unchanged),
    so that `features` is the one layer of both CAM and the Grad-CAM family; other models are left as they are."""
    from torchvision.models import DenseNet

    if isinstance(model, DenseNet) and not isinstance(model.features[-1], FinalReLU):
        model.features.add_module("relu5", FinalReLU())


def _candidates(model: nn.Module) -> CamParts | None:
    """timm's forward_features/get_classifier, or torchvision's conventions for its classifier families."""
    if hasattr(model, "forward_features") and hasattr(model, "get_classifier"):
        classifier = cast(Callable[[], nn.Module], model.get_classifier)()
        timm_features = cast(Callable[[torch.Tensor], torch.Tensor], model.forward_features)
        return CamParts(timm_features, classifier) if isinstance(classifier, nn.Linear) else None
    children = dict(model.named_children())
    fc = children.get("fc")
    if isinstance(fc, nn.Linear) and "avgpool" in children:  # resnet, resnext, regnet, googlenet
        body = nn.Sequential(*[m for name, m in children.items()
                               if name not in ("avgpool", "fc") and not name.lower().startswith("aux")])
        return CamParts(body, fc)
    head, features = children.get("classifier"), children.get("features")
    if isinstance(head, nn.Linear) and features is not None:  # densenet, its ReLU exposed at load
        return CamParts(features, head)
    if isinstance(head, nn.Sequential) and features is not None:  # efficientnet, mobilenet
        layers = [m for m in head if not isinstance(m, nn.Dropout)]
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


def _probe_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's own forward on the probe; any failure becomes one ModelUnsupported line.

    Architectures fail in their own ways (a ViT asserts its input size, inception's kernels outgrow a small
    input, a model in train mode returns a namedtuple): none of that may reach a user as a traceback.
    """
    try:
        out = model(x)
    except Exception as exc:  # noqa: BLE001  (any architecture's failure; the cause is kept)
        detail = (str(exc).splitlines() or [""])[0][:160]
        raise ModelUnsupported(f"{type(model).__name__} fails on a {PROBE_PX}x{PROBE_PX} probe image "
                               f"({type(exc).__name__}: {detail}). Pick a CNN classifier that takes any input "
                               "size, such as resnet18.") from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ModelUnsupported(f"{type(model).__name__} returns {type(out).__name__}, not (N, classes) logits. "
                               "Pick a plain classifier, such as resnet18.")
    return out


def find_cam_parts(model: nn.Module, device: torch.device) -> CamParts | None:
    """CamParts only if Linear(pool(features)) reproduces the model's own logits on a probe input (the pool: TAP
    where the module tree has one, else the mean).

    A candidate that fails to run (a wrong guess at how the body chains) only means no CAM; a failure of the
    model's own forward is ModelUnsupported.
    """
    parts = _candidates(model)
    if parts is None:
        return None
    parts = CamParts(parts.features, parts.linear, tap_of(model))
    x = _probe(device)
    with torch.inference_mode():
        logits = _probe_forward(model, x).float()
        try:
            features = parts.features(x)
            rebuilt = parts.linear(parts.pool(features.float()))
        except (RuntimeError, TypeError, ValueError, AttributeError, IndexError, AssertionError):
            return None
    scale = logits.abs().max().clamp_min(1.0)
    return parts if rebuilt.shape == logits.shape and ((rebuilt - logits).abs().max() / scale) < 1e-4 else None


def conv_layers(model: nn.Module, device: torch.device) -> tuple[tuple[str, ...], str]:
    """Names of modules with spatial (N, C, h>1 or w>1) outputs, and the last one to finish: the default
    Grad-CAM layer (a whole block such as resnet's `layer4`, since children finish before their parents)."""
    with output_shapes(model) as shapes, torch.inference_mode():
        _probe_forward(model, _probe(device))
    passthrough = {name for name, module in model.named_modules() if isinstance(module, _PASSTHROUGH)}
    spatial = [name for name, shape in shapes
               if len(shape) == 4 and shape[2] * shape[3] > 1 and name not in passthrough]
    if not spatial:
        raise ModelUnsupported(f"{type(model).__name__} has no layer with a spatial (N, C, h, w) output: not a "
                               "CNN, so there is nothing to map. Pick a CNN classifier, such as resnet18.")
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return tuple(sorted(set(spatial), key=order.__getitem__)), spatial[-1]
