"""Grad-CAM (Selvaraju et al., 2017): channel weights are spatially averaged gradients."""
from torch import Tensor

from camcore.cams.base import register


@register("gradcam", label="Grad-CAM", needs_gradients=True,
          summary="spatially averaged gradients; any CNN and layer, the usual first choice")
def gradcam_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """(N, K, C, h, w) gradients -> (N, K, C, 1, 1) channel weights."""
    return grads.mean(dim=(-2, -1), keepdim=True)
