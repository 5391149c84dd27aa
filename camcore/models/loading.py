"""Model specs -> a ready, shared, read-only classifier with its class names, preprocessing and CAM parts.

A spec is a torchvision classifier name (`resnet18`), `timm:NAME`, or the path of one of our checkpoints.
ImageNet weights come from torchvision's weights API or timm's hub, or from a local state dict
(`weights_path`): the offline path, and how every test here gets real weights.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camcore.errors import CheckpointError, ModelUnsupported
from camcore.models import checkpoints, heads, pretrained
from camcore.models.device import choose_device, memory_format
from camcore.models.layouts import NCHW, Layout
from camcore.models.pooling import install_pooling, parse_pooling
from camcore.models.preprocessing import Preprocessing, fixed_input_size, from_timm, from_torchvision
from camcore.models.pretrained import TIMM_PREFIX

TORCHVISION_CHOICES = ("resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "densenet121")
MODEL_CHOICES = ("lite0", *TORCHVISION_CHOICES, "swin_tiny", "deit_tiny")
"""What the app lists: the packaged EfficientNet-Lite0 (works offline), torchvision's classifiers, and two timm
transformers (a Swin, whose CAM is exact, and a ViT, whose class token allows gradient methods only)."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A classifier in eval mode with nothing requiring grad, safe to share between threads.

    `class_names` has two entries for a one-logit head: (negative, positive), the negative's logit being
    minus the model's. `cam` holds the features function and Linear head when the head is global average
    pooling plus one Linear layer (checked numerically at load), else None: then only gradient methods apply,
    and `cam_refusal` says why in the user's words. `layouts`: each mappable layer and how its output is laid
    out (camcore.models.layouts), in model order.
    """

    spec: str
    arch: str  # the architecture: spec itself for a model name, the checkpoint's "arch" for a checkpoint
    module: nn.Module
    class_names: tuple[str, ...]
    binary: bool
    preprocessing: Preprocessing
    layouts: Mapping[str, Layout]
    default_layer: str
    cam: heads.CamParts | None
    device: torch.device
    training_summary: dict[str, Any] = field(default_factory=dict)
    cam_refusal: str = ""

    @property
    def layers(self) -> tuple[str, ...]:
        """The mappable layers' names, in model order."""
        return tuple(self.layouts)

    def layer(self, name: str | None) -> nn.Module:
        """The module called `name` (default: the last convolutional block)."""
        name = name or self.default_layer
        if name not in self.layers:
            try:
                self.module.get_submodule(name)
            except AttributeError:
                raise ValueError(f"Unknown layer {name!r} for {self.spec}. Valid: "
                                 f"{', '.join(self.layers[-8:])}...") from None
            raise ValueError(f"Layer {name!r} of {self.spec} has no map over the photo (its output is laid out "
                             f"otherwise, e.g. attention weights). Pick one of: {', '.join(self.layers[-8:])}...")
        return self.module.get_submodule(name)

    def to_maps(self, name: str | None, output: torch.Tensor) -> torch.Tensor:
        """A hooked output (or its gradient) of layer `name` (default: the default layer) as (..., C, h, w)."""
        return self.layouts.get(name or self.default_layer, NCHW).to_maps(output)


def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names in index order, shipped with torchvision (no download)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def is_checkpoint_spec(spec: str) -> bool:
    return os.sep in spec or spec.endswith((".pt", ".pth", ".ckpt")) or Path(spec).is_file()


def load_model(spec: str, *, weights_path: str | os.PathLike | None = None,
               device: str = "auto") -> LoadedModel:
    """Builds the model for `spec`, loads its weights, moves it to the device and freezes it for sharing."""
    target = choose_device(device)
    summary: dict[str, Any] = {}
    if is_checkpoint_spec(spec):
        ckpt = checkpoints.load_checkpoint(spec)
        arch = ckpt.arch
        module, _ = _build(arch, num_outputs=ckpt.num_outputs)
        install_pooling(module, parse_pooling(ckpt.pooling))
        _load_weights(module, ckpt.state_dict, Path(spec).name)
        names, binary, pre, summary = ckpt.class_names, ckpt.head == "binary", ckpt.preprocessing, ckpt.training
    else:
        arch = pretrained.resolve(spec)
        module, pre = _build(arch, num_outputs=1000)
        if weights_path is not None:
            _load_weights(module, checkpoints.load_state_dict(weights_path), Path(weights_path).name)
        else:
            _pretrained_weights(module, arch)
        names, binary = imagenet_categories(), False
    _freeze(module, target)
    layers, cam = _probe_heads(module, target, spec)
    return LoadedModel(spec=spec, arch=arch, module=module, class_names=tuple(names), binary=binary,
                       preprocessing=dataclasses.replace(pre, fixed_size=fixed_input_size(module)),
                       layouts=layers.layouts, default_layer=layers.default, cam=cam, device=target,
                       training_summary=summary, cam_refusal="" if cam else heads.cam_refusal(module, layers))


def _probe_heads(module: nn.Module, device: torch.device, spec: str) -> tuple[heads.MapLayers, heads.CamParts | None]:
    """Mappable layers and CAM parts, found by probe forwards; a model that fails them is refused in one line
    naming the spec (ModelUnsupported), never a traceback on the page or in the CLI."""
    try:
        return heads.map_layers(module, device), heads.find_cam_parts(module, device)
    except ModelUnsupported as exc:
        raise ModelUnsupported(f"{spec}: {exc}") from exc


def _freeze(module: nn.Module, device: torch.device) -> None:
    """Eval mode, nothing requiring grad, on the device: the state a shared model keeps for good."""
    module.requires_grad_(False).eval()
    module.to(device, memory_format=memory_format(device))  # type: ignore[call-overload]  # torch's stubs lack it


def _build(arch: str, *, num_outputs: int) -> tuple[nn.Module, Preprocessing]:
    """Architecture with random weights, and the preprocessing its ImageNet weights expect."""
    if arch.startswith(TIMM_PREFIX):
        import timm

        name = arch[len(TIMM_PREFIX):]
        if not timm.is_model(name):
            raise ValueError(f"Unknown timm model {name!r}. See timm.list_models().")
        module = timm.create_model(name, pretrained=False, num_classes=num_outputs)
        return module, from_timm(module)
    import torchvision.models as tvm

    if arch not in tvm.list_models(module=tvm):
        raise ValueError(f"Unknown model {arch!r}. Valid: {', '.join(TORCHVISION_CHOICES)}, any torchvision "
                         "classifier, timm:NAME or a checkpoint file.")
    module = tvm.get_model(arch, weights=None, num_classes=num_outputs)
    heads.expose_final_relu(module)  # densenet: CAM and Grad-CAM then share one layer, `features`
    return module, from_torchvision(tvm.get_model_weights(arch).DEFAULT)


def _load_weights(module: nn.Module, state_dict: dict[str, torch.Tensor], name: str) -> None:
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        detail = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise CheckpointError(f"{name}: does not fit this architecture ({detail[:200]}). "
                              "Pick the model the file was saved from.") from exc


def _pretrained_weights(module: nn.Module, arch: str) -> None:
    """ImageNet weights from the package, the libraries' caches or their normal download (camcore.models.pretrained)."""
    if arch.startswith(TIMM_PREFIX) and arch != pretrained.PACKAGED_ARCH:
        pretrained.load_timm_weights(module, arch)
        return
    _load_weights(module, pretrained.imagenet_state_dict(arch), arch)


def randomised(model: LoadedModel, *, seed: int = 0) -> LoadedModel:
    """The same architecture freshly initialised: the sanity-check baseline of Adebayo et al. (2018).

    Built again by its library under torch.manual_seed(seed), so each layer gets the architecture's own
    initialisation. Calling every module's reset_parameters() instead (PyTorch's generic init) made
    EfficientNet-Lite0's features vanish (max 1e-7): its CAM was flat and no baseline at all. Built on the CPU,
    so one seed gives the same weights on any device and in every rank of a distributed run; the global RNG
    state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, _ = _build(model.arch, num_outputs=1 if model.binary else len(model.class_names))
    install_pooling(module, None if model.cam is None else parse_pooling(model.cam.pooling))  # TAP stays TAP
    _freeze(module, model.device)
    return dataclasses.replace(model, module=module, cam=heads.find_cam_parts(module, model.device),
                               training_summary={})
