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
from camcore.models.layouts import NCHW, Layout, layout_of, patch_grid, token_grid
from camcore.models.pooling import ThresholdedAvgPool2d, pooling_name, tap_of
from camcore.models.preprocessing import fixed_input_size


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
"""Side of the probe input for models that take any size: small enough to be cheap at load time, large enough
(4x4 after a stride of 32) that the last block still has a spatial output. Fixed-size models get their own size."""


_PASSTHROUGH = (nn.Identity, nn.Dropout, nn.Dropout2d)
"""Modules that hand their input on unchanged in eval mode: not worth a place in the layer list."""


def probe_size(model: nn.Module) -> tuple[int, int]:
    """(H, W) of the probe: the size a fixed-size model was built for (a timm ViT or Swin), else PROBE_PX square."""
    return fixed_input_size(model) or (PROBE_PX, PROBE_PX)


def _probe(model: nn.Module, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, 3, *probe_size(model), generator=generator).to(device)


def _probe_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's own forward on the probe; any failure becomes one ModelUnsupported line.

    Architectures fail in their own ways (inception's kernels outgrow a small input, a model in train mode
    returns a namedtuple): none of that may reach a user as a traceback.
    """
    try:
        out = model(x)
    except Exception as exc:  # noqa: BLE001  (any architecture's failure; the cause is kept)
        detail = (str(exc).splitlines() or [""])[0][:160]
        height, width = x.shape[-2:]
        raise ModelUnsupported(f"{type(model).__name__} fails on a {height}x{width} probe image "
                               f"({type(exc).__name__}: {detail}). Pick a classifier that takes images, "
                               "such as resnet18.") from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ModelUnsupported(f"{type(model).__name__} returns {type(out).__name__}, not (N, classes) logits. "
                               "Pick a plain classifier, such as resnet18.")
    return out


def _channels_first(features: Callable[[torch.Tensor], torch.Tensor],
                    layout: Layout) -> Callable[[torch.Tensor], torch.Tensor]:
    """`features` with its output turned into (N, C, h, w) (Swin's channels-last features, permuted)."""
    return features if layout == NCHW else lambda x: layout.to_maps(features(x))


def find_cam_parts(model: nn.Module, device: torch.device) -> CamParts | None:
    """CamParts only if Linear(pool(features)) reproduces the model's own logits on a probe input (the pool: TAP
    where the module tree has one, else the mean; the features in whatever layout they come, made channels-first).

    A candidate that fails to run (a wrong guess at how the body chains) only means no CAM; a failure of the
    model's own forward is ModelUnsupported. A ViT's tokens pool to their mean, which is not its class token's
    logit: no CAM, as it should be.
    """
    parts = _candidates(model)
    if parts is None:
        return None
    x = _probe(model, device)
    with torch.inference_mode():
        logits = _probe_forward(model, x).float()
        try:
            raw = parts.features(x)
            layout = layout_of(raw.shape, token_grid(model), patch_grid(model))
            if layout is None:
                return None
            parts = CamParts(_channels_first(parts.features, layout), parts.linear, tap_of(model))
            rebuilt = parts.linear(parts.pool(layout.to_maps(raw).float()))
        except (RuntimeError, TypeError, ValueError, AttributeError, IndexError, AssertionError):
            return None
    scale = logits.abs().max().clamp_min(1.0)
    return parts if rebuilt.shape == logits.shape and ((rebuilt - logits).abs().max() / scale) < 1e-4 else None


@dataclass(frozen=True)
class MapLayers:
    """What a model offers maps from: `layouts`, the mappable layers in model order with their output's layout;
    `default`, the gradient methods' default layer; `after_default`, the classes of the modules that run after it
    (the head, in the order they run), for saying why a head allows no exact CAM."""

    layouts: dict[str, Layout]
    default: str
    after_default: tuple[str, ...]


def map_layers(model: nn.Module, device: torch.device) -> MapLayers:
    """The modules with map-shaped outputs (camcore.models.layouts) found by one probe forward.

    The default is the last one to finish (a whole block such as resnet's `layer4`, since children finish
    before their parents), except where the head reads prefix tokens (a ViT's class token): those see the
    patches only through attention, so after the last block's attention no patch token reaches the logits and
    their gradients are zero. The default is then the last block's first layer (timm's `blocks.11.norm1`), the
    last place whose patch tokens the class token still attends to.
    """
    with output_shapes(model) as shapes, torch.inference_mode():
        _probe_forward(model, _probe(model, device))
    passthrough = {name for name, module in model.named_modules() if isinstance(module, _PASSTHROUGH)}
    tokens, grid = token_grid(model), patch_grid(model)
    finished = [(name, layout) for name, shape in shapes
                if name not in passthrough and (layout := layout_of(shape, tokens, grid)) is not None]
    if not finished:
        raise ModelUnsupported(f"{type(model).__name__} has no layer whose output is a map ((N, C, h, w), "
                               "channels-last or patch tokens), so there is nothing to map. Pick an image "
                               "classifier, such as resnet18.")
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    layouts = dict(sorted(dict(finished).items(), key=lambda item: order[item[0]]))
    default = finished[-1][0]
    if layouts[default].kind == "tokens" and layouts[default].prefix > 0:
        default = _last_block_input(model, layouts) or default
    return MapLayers(layouts, default, _run_after(model, [name for name, _ in shapes], default, passthrough))


def _run_after(model: nn.Module, finished: list[str], layer: str, passthrough: set[str]) -> tuple[str, ...]:
    """The classes of the leaf modules that finish after `layer`'s last call, in order, without passthroughs."""
    last_call = max(i for i, name in enumerate(finished) if name == layer)
    modules = dict(model.named_modules())
    return tuple(type(modules[name]).__name__ for name in dict.fromkeys(finished[last_call + 1:])
                 if next(modules[name].children(), None) is None and name not in passthrough)


def _last_block_input(model: nn.Module, layouts: dict[str, Layout]) -> str | None:
    """The first mappable layer inside the last block of the model's chain of blocks (a top-level Sequential)."""
    chains = [(name, child) for name, child in model.named_children() if isinstance(child, nn.Sequential) and child]
    if not chains:
        return None
    name, chain = chains[-1]
    last = f"{name}.{len(chain) - 1}"
    return next((layer for layer in layouts if layer.startswith(f"{last}.")), None)


def cam_refusal(model: nn.Module, layers: MapLayers) -> str:
    """Why CAM is not exact for a model that find_cam_parts refused, in one line read from its module tree."""
    if getattr(model, "global_pool", None) == "token" or layers.layouts[layers.default].prefix > 0:
        return ("the class token decides the score and it attends to the patches; no pooled map adds up to the "
                "logit, so CAM is not exact")
    if layers.after_default:
        return (f"after its features the head runs {' → '.join(layers.after_default)}: the score is not one "
                "Linear layer of the pooled features, so CAM is not exact")
    return "its head is not global average pooling plus one Linear layer, so CAM is not exact"
