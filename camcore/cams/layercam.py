"""LayerCAM (Jiang et al., 2021): each pixel's own positive gradient weights it, so early layers map well."""
from torch import Tensor

from camcore.cams.base import register


@register("layercam", label="LayerCAM", needs_gradients=True,
          summary="each pixel's positive gradient; sharp maps at early layers")
def layercam_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """(N, K, C, h, w) gradients -> (N, K, C, h, w) per-pixel weights."""
    return grads.relu()
