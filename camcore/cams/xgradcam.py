"""XGrad-CAM (Fu et al., 2020): each channel's gradients averaged with its own activations as the weights."""
import torch
from torch import Tensor

from camcore.cams.base import register


@register("xgradcam", label="XGrad-CAM", needs_gradients=True,
          summary="gradients averaged with the activations as weights (two axioms); close to Grad-CAM at the last "
                  "block")
def xgradcam_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """(N, 1, C, h, w) activations, (N, K, C, h, w) gradients -> (N, K, C, 1, 1) channel weights
    sum_ij(g A) / sum_ij(A), the paper's eq. 12 (chosen so that the map satisfies its sensitivity and
    conservation axioms). A channel whose activations sum to 0 gets weight 0; unlike pytorch-grad-cam we add no
    eps = 1e-7 to the denominator, which would not be scale-free (see gradcampp.py)."""
    sums = acts.sum(dim=(-2, -1), keepdim=True)
    weighted = (grads * acts).sum(dim=(-2, -1), keepdim=True)
    return torch.where(sums != 0, weighted / torch.where(sums != 0, sums, 1.0), 0.0)
