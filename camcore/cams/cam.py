"""CAM (Zhou et al., 2016): channel weights are the Linear head's row of the class; exact, no gradients."""
from torch import Tensor

from camcore.cams.base import register


@register("cam", label="CAM", needs_gradients=False, rectify=False,
          summary="the Linear head's weights on the features it pools; exact (mean + bias = logit), pooling + Linear "
                  "heads only")
def cam_weights(acts: Tensor, head_rows: Tensor) -> Tensor:
    """(N, K, C) rows of the head's weight -> (N, K, C, 1, 1) channel weights."""
    return head_rows[..., None, None]
