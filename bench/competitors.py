"""Adapters for the libraries ours is timed against, torchcam and pytorch-grad-cam, each used its documented way."""
from __future__ import annotations

import copy
from contextlib import ExitStack

import numpy as np
import torch
from torch import nn

from bench.cases import Case
from bench.timing import Timed
from camcore.device import autocast
from camcore.models import LoadedModel


def competitor_copy(model: LoadedModel) -> nn.Module:
    """A deep copy per extractor: a library's hooks and flags never reach our model or another extractor.
    Parameters require grad, as in a user's model: both libraries need it for their gradients."""
    return copy.deepcopy(model.module).requires_grad_(True)


def _class_ranks(scores: torch.Tensor, top_k: int) -> list[list[int]]:
    """(N, classes) scores -> top_k lists of N class indices, best rank first."""
    return scores.topk(top_k, dim=1).indices.T.tolist()


def torchcam_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed:
    """torchcam's documented use: a forward, then one extractor call per class rank (a class_idx per image)."""
    from torchcam.methods import CAM, GradCAM, ScoreCAM

    module, layer = competitor_copy(model), case.layer or model.default_layer
    gradient_free = case.method in ("cam", "scorecam")
    if case.method == "cam":
        head = {id(m): name for name, m in model.module.named_modules()}[id(model.cam.linear)]
        extractor = stack.enter_context(CAM(module, target_layer=layer, fc_layer=head))
    elif case.method == "scorecam":  # its default batch of 32 masked inputs per forward
        extractor = stack.enter_context(ScoreCAM(module, target_layer=layer, input_shape=tuple(x.shape[1:])))
    else:
        extractor = stack.enter_context(GradCAM(module, target_layer=layer))

    def run() -> list[torch.Tensor]:
        with torch.inference_mode(gradient_free), autocast(model.device):  # Grad-CAM: grad mode
            scores = module(x)
        ranks = _class_ranks(scores, case.top_k)
        if gradient_free:  # Score-CAM: every call redoes the C masked forwards per image
            return [extractor(class_idx=classes)[0] for classes in ranks]
        return [extractor(class_idx=classes, scores=scores, retain_graph=rank < case.top_k - 1)[0]
                for rank, classes in enumerate(ranks)]  # the graph is kept for every class but the last
    return Timed(case.label, "torchcam", run, extractor.reset_hooks, limited=True)


def pgc_variant(model: LoadedModel, x: torch.Tensor, case: Case, stack: ExitStack) -> Timed:
    """pytorch-grad-cam: one call per class (its way; each is a forward and a full backward, or for Score-CAM
    a forward and C masked forwards per image, 16 at a time), maps upsampled to the input size with cv2.
    Float32 even on CUDA: it turns the activations into numpy, which has no bf16."""
    from pytorch_grad_cam import GradCAM, ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    module = competitor_copy(model)
    method = ScoreCAM if case.method == "scorecam" else GradCAM
    cam = method(model=module, target_layers=[module.get_submodule(case.layer or model.default_layer)])
    stack.callback(cam.activations_and_grads.release)  # not `with`: its __exit__ swallows IndexError

    def top1() -> np.ndarray:
        return cam(input_tensor=x, targets=None)  # None: each image's top class

    def run() -> list[np.ndarray]:
        maps = [top1()]
        for classes in _class_ranks(cam.outputs.detach(), case.top_k)[1:]:
            maps.append(cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes]))
        return maps

    def release() -> None:
        cam.outputs = None  # it holds the retained graph until the next call
        cam.activations_and_grads.clear()
    return Timed(case.label, "pytorch-grad-cam", run, release,
                 probe=top1 if case.top_k > 1 else None, probe_share=case.top_k, limited=True)
