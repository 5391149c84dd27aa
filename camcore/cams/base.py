"""What every map method shares: one forward, class scores, gradients when needed, and sum_c w_c * A_c.

A method file only says how channel (or pixel) weights come from what it is handed: the activations
(N, 1, C, h, w) and either the Linear head's rows (CAM), the gradients of each explained class's score
(N, K, C, h, w), each class's score on the input masked by each channel (N, K, C; Score-CAM, see
camcore.cams.masking), or, for a class-agnostic method (EigenCAM), the activations alone (handed twice).
Everything else happens here, once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from camcore.cams.masking import Progress, masked_scores
from camcore.errors import UnsupportedMethod
from camcore.models.device import autocast, memory_format
from camcore.models.hooks import eval_mode, gradient_tap, output_tap
from camcore.models.loading import LoadedModel

WeightsFn = Callable[[Tensor, Tensor], Tensor]
TargetFn = Callable[[Tensor, Tensor], Tensor]
"""(N, classes) logits, (N, K) explained classes -> (N, K) scores whose gradients a method weighs."""


@dataclass(frozen=True)
class Method:
    """A registered map method. `rectify`: its map is ReLU(sum_c w_c A_c), as in the Grad-CAM papers;
    CAM keeps the signed map (heatmap.normalise views its positive part over its maximum, as the CAM paper's
    threshold reads). `masked_scores`: its weights come from forward passes on masked inputs (Score-CAM).
    `class_agnostic`: one map for every class, from the activations alone (the UI says so).
    `target`: the scores to differentiate instead of the explained classes' logits (Finer-CAM's differences);
    by linearity their gradients are combinations of the class gradients, so one backward still serves."""

    key: str
    label: str  # the method's name in pages, legends and file names, e.g. "Grad-CAM++"
    summary: str  # what it weighs and when to pick it, in one line: the pages' help, Home and the CLI's --help
    weights: WeightsFn
    needs_gradients: bool
    rectify: bool
    masked_scores: bool = False
    class_agnostic: bool = False
    target: TargetFn | None = None

    @property
    def needs_head(self) -> bool:
        """CAM's kind: its weights are the Linear head's rows, so it maps only the features feeding the head (and
        only its weights can be clamped, Bae et al.'s NWC)."""
        return not (self.needs_gradients or self.masked_scores or self.class_agnostic)

    @property
    def compares_classes(self) -> bool:
        """Finer-CAM's kind: each class's map is taken against other classes (its `target`), which it reports."""
        return self.target is not None


METHODS: dict[str, Method] = {}


def register(key: str, *, label: str, summary: str, needs_gradients: bool, rectify: bool = True,
             masked_scores: bool = False, class_agnostic: bool = False,
             target: TargetFn | None = None) -> Callable[[WeightsFn], WeightsFn]:
    def decorate(weights: WeightsFn) -> WeightsFn:
        METHODS[key] = Method(key, label, summary, weights, needs_gradients, rectify, masked_scores, class_agnostic,
                              target)
        return weights
    return decorate


def get_method(key: str) -> Method:
    if key not in METHODS:
        raise UnsupportedMethod(f"Unknown method {key!r}. Valid: {', '.join(METHODS)}.")
    return METHODS[key]


@dataclass(frozen=True)
class MapBatch:
    """Maps for a batch. Shapes: logits/probabilities (N, num_classes); class_indices (N, K);
    signed_maps (N, K, h, w) = sum_c w_c A_c before any ReLU; maps = the method's map (ReLU'd or signed);
    bias (N, K) for CAM, where mean(signed_maps) + bias == logit; layer: the module the maps come from."""

    logits: Tensor
    probabilities: Tensor
    class_indices: Tensor
    signed_maps: Tensor
    maps: Tensor
    bias: Tensor | None
    layer: str


def exact_method(model: LoadedModel) -> str:
    """CAM where the head is global average pooling plus one Linear layer (exact, free), else Grad-CAM."""
    return "cam" if model.cam is not None else "gradcam"


def check_applicable(model: LoadedModel, method: str, layer: str | None = None, *,
                     clamp_negative_weights: bool = False) -> Method:
    """Raises UnsupportedMethod/ValueError now, before any work, if `method` at `layer` (with NWC) cannot run on
    `model`."""
    spec = get_method(method)
    if clamp_negative_weights and not spec.needs_head:
        raise UnsupportedMethod(f"Clamping negative weights (NWC) applies to CAM's head weights; {spec.label} "
                                "has none. Use cam, or turn NWC off.")
    if spec.needs_head and model.cam is None:
        raise UnsupportedMethod(f"{model.spec}: {model.cam_refusal or 'its head is not pooling plus one Linear'}. "
                                f"Use gradcam (at {model.default_layer}).")
    if spec.needs_head and layer not in (None, model.default_layer):
        raise UnsupportedMethod(f"CAM uses the features that feed the head ({model.default_layer}); "
                                "pick gradcam for another layer.")
    model.layer(layer)
    return spec


@dataclass(frozen=True)
class MapSteps:
    """The map computation up to its last step, so that the Lesson can show each one. Shapes: activations
    (N, C, h, w) at `layer`; channel_weights (N, K, C, 1|h, 1|w) (per channel, or per pixel for LayerCAM and
    the like); logits (N, num_classes); class_indices (N, K); bias (N, K) for CAM, else None."""

    activations: Tensor
    channel_weights: Tensor
    logits: Tensor
    class_indices: Tensor
    bias: Tensor | None
    layer: str


def compute_maps(model: LoadedModel, x: Tensor, *, method: str = "cam", top_k: int = 5,
                 layer: str | None = None, class_indices: Tensor | None = None,
                 progress: Progress | None = None, clamp_negative_weights: bool = False) -> MapBatch:
    """(N, 3, H, W) preprocessed batch -> maps of the top_k classes (or of `class_indices`, (N, K)).
    progress(done, total): masked inputs scored, for methods that run them (Score-CAM: one per channel).
    clamp_negative_weights: CAM only (see map_steps)."""
    steps = map_steps(model, x, method=method, top_k=top_k, layer=layer, class_indices=class_indices,
                      progress=progress, clamp_negative_weights=clamp_negative_weights)
    spec = get_method(method)
    with torch.inference_mode():
        signed = weighted_sum(steps.channel_weights, steps.activations)
        return MapBatch(steps.logits, _probabilities(steps.logits, model.binary), steps.class_indices, signed,
                        signed.relu() if spec.rectify else signed, steps.bias, steps.layer)


def map_steps(model: LoadedModel, x: Tensor, *, method: str = "cam", top_k: int = 5,
              layer: str | None = None, class_indices: Tensor | None = None,
              progress: Progress | None = None, clamp_negative_weights: bool = False) -> MapSteps:
    """Steps 1 and 2 of every map: the activations at the layer and each explained class's channel weights.
    compute_maps finishes with weighted_sum; the Lesson shows these steps on their own.

    clamp_negative_weights: NWC (Bae et al., 2020), CAM's weights max(w_c, 0), so that channels the class argues
    against (often the background) cannot cancel the object's less discriminative parts. The map's mean plus the
    bias is then no longer the logit. UnsupportedMethod for the other methods: NWC is about the head's weights.
    """
    spec = check_applicable(model, method, layer, clamp_negative_weights=clamp_negative_weights)
    class_indices = _checked_indices(class_indices, x.shape[0], len(model.class_names), top_k)
    x = x.to(model.device, memory_format=memory_format(model.device))
    if spec.masked_scores:
        return _masked_steps(model, x, spec, top_k, layer, class_indices, progress)
    if spec.class_agnostic:
        return _activation_steps(model, x, spec, top_k, layer, class_indices)
    if spec.needs_gradients:
        return _gradient_steps(model, x, spec, top_k, layer, class_indices)
    return _cam_steps(model, x, spec, top_k, class_indices, clamp_negative_weights)


def class_probabilities(model: LoadedModel, x: Tensor) -> Tensor:
    """(N, 3, H, W) preprocessed batch -> (N, classes) float32 probabilities, the same numbers compute_maps
    reports (the GAP+Linear head in float32 where there is one), with no map: for metrics that only read scores."""
    x = x.to(model.device, memory_format=memory_format(model.device))
    with eval_mode(model.module), torch.inference_mode():
        if model.cam is not None:
            with autocast(model.device):
                features = model.cam.features(x)
            logits = _head_logits(model, features)[0]
        else:
            with autocast(model.device):
                out = model.module(x)
            logits = _virtual_logits(out, model.binary)
        return _probabilities(logits, model.binary)


def _checked_indices(class_indices: Tensor | None, batch_size: int, num_classes: int,
                     top_k: int) -> Tensor | None:
    """(N, K) class indices checked on the CPU before any device work: on CUDA an index out of range is a
    device-side assert, which breaks CUDA for every session the process serves, not a catchable error."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, not {top_k}.")
    if class_indices is None:
        return None
    indices = torch.as_tensor(class_indices).cpu()
    if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
        raise TypeError(f"Class indices must be integers, not {indices.dtype}.")
    if indices.dim() != 2 or indices.shape[0] != batch_size or indices.shape[1] == 0:
        raise ValueError(f"Class indices must have shape (images, classes) = ({batch_size}, K >= 1), "
                         f"not {tuple(indices.shape)}.")
    bad = indices[(indices < 0) | (indices >= num_classes)]
    if bad.numel():
        raise ValueError(f"Class index {int(bad[0])} is out of range: this model has {num_classes} classes "
                         f"(0 to {num_classes - 1}).")
    return indices


def _head_logits(model: LoadedModel, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(N, C, h, w) features -> float32 logits (N, classes), head weight (classes, C) and bias (classes,).

    Both CAM and the Grad-CAM family take their logits from here when the head is GAP+Linear, so that one
    photo gets the same probabilities whichever method explains it: under autocast the model's own head
    would run in bf16/fp16, and its probabilities would differ from CAM's in the second or third digit.
    A one-logit head becomes two classes (-w, w), (-b, b).
    """
    assert model.cam is not None  # callers check first: check_applicable refuses CAM without these parts
    weight: Tensor = model.cam.linear.weight.float()
    head_bias = model.cam.linear.bias
    bias = torch.zeros(weight.shape[0], device=weight.device) if head_bias is None else head_bias.float()
    if model.binary:
        weight, bias = torch.cat([-weight, weight]), torch.cat([-bias, bias])
    return model.cam.pool(features.float()) @ weight.T + bias, weight, bias


def _virtual_logits(out: Tensor, binary: bool) -> Tensor:
    """One-logit heads become two classes: (negative, positive) = (-z, z)."""
    out = out.float()
    return torch.cat([-out, out], dim=1) if binary else out


def _probabilities(logits: Tensor, binary: bool) -> Tensor:
    """Softmax, or for a one-logit head sigmoid(-z), sigmoid(z) (BCEWithLogits' meaning)."""
    return torch.sigmoid(logits) if binary else torch.softmax(logits, dim=1)


def _chosen(logits: Tensor, top_k: int, class_indices: Tensor | None) -> Tensor:
    """The explained classes, (N, K); given indices are copied, as they may be inference tensors (from a CAM
    run) that autograd cannot save for the gradient methods' backward."""
    if class_indices is not None:
        return class_indices.to(logits.device, torch.long, copy=True)
    return logits.topk(min(top_k, logits.shape[1]), dim=1).indices


def weighted_sum(weights: Tensor, acts: Tensor) -> Tensor:
    """Step 3 of every map, sum_c w_c A_c: (N, K, C, 1|h, 1|w) weights, (N, C, h, w) activations ->
    (N, K, h, w), without a 5-D product when the weights are per channel."""
    if weights.shape[-2:] == (1, 1):
        return torch.einsum("nkc,nchw->nkhw", weights[..., 0, 0], acts)
    return (weights * acts.unsqueeze(1)).sum(dim=2)


def _cam_steps(model: LoadedModel, x: Tensor, spec: Method, top_k: int,
               class_indices: Tensor | None, clamp_negative_weights: bool) -> MapSteps:
    """CAM: one forward to the features; logits and every class's weights follow from the Linear head exactly
    (the logits always from the head as it is, NWC or not)."""
    with eval_mode(model.module), torch.inference_mode():
        with autocast(model.device):
            features = model.cam.features(x)  # type: ignore[union-attr]  # check_applicable ensured it
        acts = features.float()
        logits, weight, bias = _head_logits(model, features)
        chosen = _chosen(logits, top_k, class_indices)
        rows = weight[chosen].clamp(min=0) if clamp_negative_weights else weight[chosen]
        weights = spec.weights(acts.unsqueeze(1), rows)
        return MapSteps(acts, weights, logits, chosen, bias[chosen], model.default_layer)


def _gradient_steps(model: LoadedModel, x: Tensor, spec: Method, top_k: int, layer: str | None,
                    class_indices: Tensor | None) -> MapSteps:
    """Grad-CAM family: one forward (no graph before the layer), one batched backward for all K classes.
    On a GAP+Linear head the forward is CAM's (features, then the head in float32: see _head_logits)."""
    name = layer or model.default_layer
    with eval_mode(model.module), gradient_tap(model.layer(name)) as tap, torch.no_grad():
        logits = _model_logits(model, x)
        _check_tapped(tap, model, name)
        chosen = _chosen(logits, top_k, class_indices)
        scores = logits.gather(1, chosen) if spec.target is None else spec.target(logits, chosen)
        grads = model.to_maps(name, _class_gradients(scores, tap[0])).float()
    acts = model.to_maps(name, tap[0].detach()).float()
    with torch.inference_mode():
        weights = spec.weights(acts.unsqueeze(1), grads)
        return MapSteps(acts, weights, logits.detach(), chosen, None, name)


def _masked_steps(model: LoadedModel, x: Tensor, spec: Method, top_k: int, layer: str | None,
                  class_indices: Tensor | None, progress: Progress | None) -> MapSteps:
    """Score-CAM family: one forward for the activations and the explained classes, then forward passes on the
    input masked by each channel (camcore.cams.masking), no hook open during those, nothing on autograd's tape."""
    name = layer or model.default_layer
    with eval_mode(model.module), torch.inference_mode():
        logits, acts = _tapped_forward(model, x, name)
        chosen = _chosen(logits, top_k, class_indices)
        scores = masked_scores(x, acts, chosen, lambda batch: _model_logits(model, batch), progress=progress)
        weights = spec.weights(acts.unsqueeze(1), scores)
        return MapSteps(acts, weights, logits, chosen, None, name)


def _tapped_forward(model: LoadedModel, x: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """One forward without gradients: float32 logits (N, classes) and the layer's activations (N, C, h, w), the
    hook already removed when this returns (Score-CAM's masked passes that follow must not feed it)."""
    with output_tap(model.layer(name)) as tap:
        logits = _model_logits(model, x)
    _check_tapped(tap, model, name)
    return logits, model.to_maps(name, tap[0]).float()


def _check_tapped(tap: list[Tensor], model: LoadedModel, name: str) -> None:
    if not tap:
        raise UnsupportedMethod(f"Layer {name} is not used by {model.spec}'s forward pass; pick another.")


def _model_logits(model: LoadedModel, x: Tensor) -> Tensor:
    """float32 (N, classes) logits as every method reads them: a GAP+Linear head in float32 (_head_logits)."""
    x = x.contiguous(memory_format=memory_format(model.device))
    with autocast(model.device):
        out = model.module(x) if model.cam is None else model.cam.features(x)
    return _virtual_logits(out, model.binary) if model.cam is None else _head_logits(model, out)[0]


def _class_gradients(scores: Tensor, acts: Tensor) -> Tensor:
    """d scores[:, k] / d acts for every k: (N, K) scores -> (N, K, C, h, w).

    Uses torch.autograd.grad, not backward(): nothing may pile up in .grad of the shared model. The K
    backward passes are one vmapped call; images are independent in eval mode, so summing over the batch
    gives each image its own gradient.
    """
    k = scores.shape[1]
    if k == 1:
        return torch.autograd.grad(scores.sum(), acts)[0].unsqueeze(1)
    basis = torch.eye(k, device=scores.device, dtype=scores.dtype).unsqueeze(1).expand(k, *scores.shape)
    (grads,) = torch.autograd.grad(scores, acts, grad_outputs=basis, is_grads_batched=True)
    return grads.transpose(0, 1)


def _activation_steps(model: LoadedModel, x: Tensor, spec: Method, top_k: int, layer: str | None,
                      class_indices: Tensor | None) -> MapSteps:
    """Class-agnostic methods (EigenCAM): one forward, no gradients, on any head. Their map reads how the
    activations vary over the image, so each channel's spatial mean is removed first (a principal component is
    a direction of the centred data); the weights are the same for every explained class."""
    name = layer or model.default_layer
    with eval_mode(model.module), torch.inference_mode():
        logits, acts = _tapped_forward(model, x, name)
        chosen = _chosen(logits, top_k, class_indices)
        centred = (acts - acts.mean(dim=(-2, -1), keepdim=True)).unsqueeze(1)
        weights = spec.weights(centred, centred)
        return MapSteps(centred[:, 0], weights.expand(-1, chosen.shape[1], *weights.shape[2:]), logits, chosen,
                        None, name)
