"""HiResCAM (Draelos & Carin, 2020): each pixel's own gradient times its activation, summed over channels."""
from torch import Tensor

from camcore.cams.base import register


@register("hirescam", label="HiResCAM", needs_gradients=True,
          summary="gradient times activation per pixel; faithful to the score for any head")
def hirescam_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """(N, K, C, h, w) gradients -> the same, as per-pixel weights: map = sum_c g_c A_c, unaveraged, so the map
    shows the locations that raised the score for any head (Grad-CAM's spatial mean of g can blur them)."""
    return grads
