"""The classifier being trained: a camcore.models.loading spec with a new head of 1 or 37 outputs, and its views as a
LoadedModel (for probe CAMs) and as a CAM Explorer checkpoint (what the Explain engine loads)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from camcore.errors import ModelUnsupported
from camcore.models import heads
from camcore.models.checkpoints import Checkpoint
from camcore.models.device import memory_format
from camcore.models.loading import LoadedModel, load_model
from camcore.models.pooling import install_pooling, parse_pooling, pooling_name
from camcore.models.preprocessing import Preprocessing
from camcore.train.config import TrainConfig
from camcore.train.data import class_names


@dataclass(frozen=True, eq=False)
class Classifier:
    """The trainable module (on its device, in train mode between evaluations), its new head, and what a
    checkpoint of it carries. `loaded` is the same module as a LoadedModel (new class names, CAM parts of the new
    head) for camcore.cams.compute_maps, which runs it inside hooks.eval_mode and so leaves every flag as it was."""

    module: nn.Module
    head: nn.Linear
    arch: str
    pooling: str
    binary: bool
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    freeze_backbone: bool
    loaded: LoadedModel

    def parameters(self) -> list[nn.Parameter]:
        """What the optimiser updates: the head alone with a frozen backbone, else every parameter."""
        return list(self.head.parameters()) if self.freeze_backbone else list(self.module.parameters())

    def train_mode(self) -> None:
        """Training mode; a frozen backbone stays in eval mode, so its BatchNorm statistics stay ImageNet's."""
        if self.freeze_backbone:
            self.module.eval()
            self.head.train()
        else:
            self.module.train()


def build_classifier(config: TrainConfig, device: torch.device) -> Classifier:
    """config.arch with its ImageNet weights (or config.weights, or a checkpoint's) and a new head of
    config.num_outputs, initialised from config.seed so that every rank of a distributed run starts alike."""
    base = load_model(config.arch, weights_path=config.weights, device="cpu")
    module = base.module
    name = _head_name(base)
    old = module.get_submodule(name)
    assert isinstance(old, nn.Linear)  # _head_name only names Linear layers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = nn.Linear(old.in_features, config.num_outputs)
    module.set_submodule(name, head)
    install_pooling(module, parse_pooling(config.pooling))
    cam = heads.find_cam_parts(module, torch.device("cpu"))  # a numerical check that CAM still holds
    module.requires_grad_(True)
    if config.freeze_backbone:
        module.requires_grad_(False)
        head.requires_grad_(True)
    module.to(device, memory_format=memory_format(device))  # type: ignore[call-overload]  # torch's stubs lack it
    names = class_names(config.task)
    pre = base.preprocessing.with_size(config.image_size_px)
    view = dataclasses.replace(base, spec=f"{config.arch} (training)", class_names=names,
                               binary=config.task == "binary", preprocessing=pre, cam=cam, device=device,
                               training_summary={})
    return Classifier(module=module, head=head, arch=base.arch, pooling=pooling_name(parse_pooling(config.pooling)),
                      binary=config.task == "binary", class_names=names,
                      preprocessing=pre, freeze_backbone=config.freeze_backbone, loaded=view)


def _head_name(model: LoadedModel) -> str:
    """Where the final Linear layer sits: the CAM head when there is one, else the last Linear module."""
    linears = [(name, module) for name, module in model.module.named_modules() if isinstance(module, nn.Linear)]
    if model.cam is not None:
        linears = [(name, module) for name, module in linears if module is model.cam.linear]
    if not linears:
        raise ModelUnsupported(f"{model.spec} has no final Linear layer to replace. Pick a classifier such as "
                               "resnet18 or lite0.")
    return linears[-1][0]


def to_checkpoint(classifier: Classifier, training: dict[str, Any]) -> Checkpoint:
    """A CAM Explorer checkpoint of the current weights (copied to the CPU, contiguous)."""
    state = {key: value.detach().cpu().contiguous().clone() for key, value in classifier.module.state_dict().items()}
    return Checkpoint(arch=classifier.arch, head="binary" if classifier.binary else "multiclass",
                      class_names=classifier.class_names, preprocessing=classifier.preprocessing, state_dict=state,
                      training=training, pooling=classifier.pooling)
