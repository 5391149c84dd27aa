"""Grad-CAM++ (Chattopadhay et al., 2018): positive gradients weighted per pixel by the closed-form alphas."""
import torch
from torch import Tensor

from camcore.cams.base import register


@register("gradcam++", needs_gradients=True)
def gradcampp_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """(N, 1, C, h, w) activations, (N, K, C, h, w) gradients -> (N, K, C, 1, 1) channel weights.

    alpha = g^2 / (2 g^2 + sum_ij(A) g^3), the paper's eq. 19 with the exponential-score simplification
    (g^2 and g^3 of the exp score become powers of the gradient), set to 0 where g is 0.
    """
    grads_2, grads_3 = grads.pow(2), grads.pow(3)
    denominator = 2 * grads_2 + acts.sum(dim=(-2, -1), keepdim=True) * grads_3
    alpha = torch.where(grads != 0, grads_2 / torch.where(denominator != 0, denominator, 1.0), 0.0)
    return (alpha * grads.relu()).sum(dim=(-2, -1), keepdim=True)
