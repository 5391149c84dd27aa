"""Adapters for the libraries ours is timed against, torchcam and pytorch-grad-cam, each used its documented way."""
from __future__ import annotations

import copy
from contextlib import ExitStack

import numpy as np
import torch
from torch import nn

from bench.cases import Case
from bench.timing import Timed
from camcore.cams import get_method
from camcore.cams.finercam import ALPHA, compared_classes
from camcore.models.device import autocast
from camcore.models.loading import LoadedModel

CLASSES: dict[str, tuple[str | None, str | None]] = {
    "cam": ("CAM", None),
    "gradcam": ("GradCAM", "GradCAM"),
    "gradcam++": ("GradCAMpp", "GradCAMPlusPlus"),
    "layercam": ("LayerCAM", "LayerCAM"),
    "scorecam": ("ScoreCAM", "ScoreCAM"),
    "xgradcam": ("XGradCAM", "XGradCAM"),
    "hirescam": (None, "HiResCAM"),
    "finercam": ("FinerCAM", "FinerCAM"),
    "eigencam": (None, "EigenCAM"),
}
"""Method key -> its class in (torchcam.methods, pytorch_grad_cam), the one place a method meets a library;
None, or a key missing here: that library has no such method and its cells read n/a."""
LIBRARIES = ("torchcam", "pytorch-grad-cam")
"""CLASSES' columns."""


def library_class(method: str, library: str) -> str | None:
    """The class of `library` that does `method`, or None."""
    return CLASSES.get(method, (None, None))[LIBRARIES.index(library)]


def competitor_copy(model: LoadedModel) -> nn.Module:
    """A deep copy per extractor: a library's hooks and flags never reach our model or another extractor.
    Parameters require grad, as in a user's model: both libraries need it for their gradients."""
    return copy.deepcopy(model.module).requires_grad_(True)


def _class_ranks(scores: torch.Tensor, top_k: int) -> list[list[int]]:
    """(N, classes) scores -> top_k lists of N class indices, best rank first."""
    return scores.topk(top_k, dim=1).indices.T.tolist()


def torchcam_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed | None:
    """torchcam's documented use: a forward, then one extractor call per class rank (a class_idx per image);
    None when it has no such method."""
    import torchcam.methods

    name = library_class(case.method, "torchcam")
    if name is None:
        return None
    module, layer = competitor_copy(model), case.layer or model.default_layer
    options = {"target_layer": layer, "input_shape": tuple(x.shape[1:])}  # Score-CAM: 32 masked inputs a forward
    if case.method == "cam":
        options["fc_layer"] = {id(m): path for path, m in model.module.named_modules()}[id(model.cam.linear)]
    extractor = stack.enter_context(getattr(torchcam.methods, name)(module, **options))
    gradient_free = not get_method(case.method).needs_gradients

    def run() -> list[torch.Tensor]:
        with torch.inference_mode(gradient_free), autocast(model.device):  # Grad-CAM: grad mode
            scores = module(x)
        ranks = _class_ranks(scores, case.top_k)
        if gradient_free:  # Score-CAM: every call redoes the C masked forwards per image
            return [extractor(class_idx=classes)[0] for classes in ranks]
        return [extractor(class_idx=classes, scores=scores, retain_graph=rank < case.top_k - 1)[0]
                for rank, classes in enumerate(ranks)]  # the graph is kept for every class but the last
    return Timed(case.label, "torchcam", run, extractor.reset_hooks, limited=True)


def _pgc_targets(method: str, scores: torch.Tensor, classes: list[int]) -> list[object]:
    """pytorch-grad-cam's target per image for `classes`: the class's output, or for Finer-CAM its
    FinerWeightedTarget against the classes scored nearest (what its FinerCAM builds for the top class)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, FinerWeightedTarget

    if method != "finercam":
        return [ClassifierOutputTarget(c) for c in classes]
    chosen = torch.tensor(classes, device=scores.device)[:, None]
    nearest = compared_classes(scores, chosen)[:, 0].tolist()
    return [FinerWeightedTarget(c, others, ALPHA) for c, others in zip(classes, nearest, strict=True)]


def pgc_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed | None:
    """pytorch-grad-cam: one call per class (its way; each is a forward and a full backward, or for Score-CAM
    a forward and C masked forwards per image, 16 at a time), maps upsampled to the input size with cv2;
    None when it has no such method. Float32 even on CUDA: it turns the activations into numpy (no bf16).
    Its FinerCAM wraps a GradCAM (`base_cam`, which holds the hooks) and keeps no `outputs`, so for every method
    a hook keeps each call's first forward output (the unmasked one) to rank the classes past the top one."""
    import pytorch_grad_cam

    name = library_class(case.method, "pytorch-grad-cam")
    if name is None:
        return None
    module = competitor_copy(model)
    layer = module.get_submodule(case.layer or model.default_layer)
    cam = getattr(pytorch_grad_cam, name)(model=module, target_layers=[layer])
    base = getattr(cam, "base_cam", cam)
    stack.callback(base.activations_and_grads.release)  # not `with`: its __exit__ swallows IndexError
    outputs: list[torch.Tensor] = []

    def keep_first(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if not outputs:  # Score-CAM's masked forwards come after
            outputs.append(output.detach())
    stack.callback(module.register_forward_hook(keep_first).remove)

    def top1() -> np.ndarray:
        outputs.clear()
        return cam(input_tensor=x, targets=None)  # None: each image's top class (EigenCAM: its one map)

    def run() -> list[np.ndarray]:
        maps = [top1()]
        for classes in _class_ranks(outputs[0], case.top_k)[1:]:
            maps.append(cam(input_tensor=x, targets=_pgc_targets(case.method, outputs[0], classes)))
        return maps

    def release() -> None:
        base.outputs = None  # it holds the retained graph until the next call
        base.activations_and_grads.clear()
        outputs.clear()
    return Timed(case.label, "pytorch-grad-cam", run, release,
                 probe=top1 if case.top_k > 1 else None, probe_share=case.top_k, limited=True)
