"""Finer-CAM (Zhang et al., 2025): Grad-CAM of the class's score minus those of the classes scored nearest to it,
so that what it shares with its look-alikes cancels out ("why a beagle rather than a basset hound?")."""
from collections.abc import Sequence

import torch
from torch import Tensor

from camcore.cams.base import register
from camcore.cams.gradcam import gradcam_weights

COMPARED = 3
"""How many look-alike classes each class is compared with (pytorch-grad-cam's and the authors' default)."""
ALPHA = 1.0
"""How much of the look-alikes' scores is subtracted (the reference's default)."""
CLOSE_RATIO = 0.5
"""The runner-up's probability at least this share of the top class's: a close call, where Finer-CAM helps."""


def close_call(probabilities: Sequence[float]) -> bool:
    """Whether the two best classes (probabilities best first) are close enough that "why this one rather than
    that one?" is the question to ask, which is the question Finer-CAM answers."""
    return len(probabilities) >= 2 and probabilities[1] >= CLOSE_RATIO * probabilities[0]


def compared_classes(logits: Tensor, chosen: Tensor, *, count: int = COMPARED) -> Tensor:
    """(N, classes) logits, (N, K) explained classes -> (N, K, m) the m = min(count, classes - 1) other classes
    whose logits are nearest each explained class's, nearest first (the reference's look-alikes)."""
    logits = logits.detach()
    distance = (logits.unsqueeze(1) - logits.gather(1, chosen).unsqueeze(2)).abs()
    distance.scatter_(2, chosen.unsqueeze(2), torch.inf)
    return distance.topk(min(count, logits.shape[1] - 1), dim=2, largest=False).indices


def finer_scores(logits: Tensor, chosen: Tensor) -> Tensor:
    """(N, classes) logits, (N, K) classes -> (N, K) y_c - ALPHA * sum_j q_j y_j over the look-alikes j, with
    q = their softmax: pytorch-grad-cam's FinerWeightedTarget (softmax-weighted, the weights differentiated too,
    as in the authors' code), with softmax taken over the look-alikes alone, which is the same function but
    cannot underflow to 0 / 0 when their probabilities do."""
    others = logits.unsqueeze(1).expand(-1, chosen.shape[1], -1).gather(2, compared_classes(logits, chosen))
    return logits.gather(1, chosen) - ALPHA * (others.softmax(dim=2) * others).sum(dim=2)


register("finercam", label="Finer-CAM", needs_gradients=True, target=finer_scores,
         summary="Grad-CAM of the class's score minus its 3 nearest-scored look-alikes'; what tells similar classes "
                 "apart")(gradcam_weights)
