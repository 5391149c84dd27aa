"""EigenCAM (Muhammad & Yeasin, 2020): the activations' first principal component; no gradients, one map for all
classes."""
import torch
from torch import Tensor

from camcore.cams.base import register


@register("eigencam", label="EigenCAM", needs_gradients=False, class_agnostic=True,
          summary="the activations' first principal component; no gradients, any head, the same map for every class")
def eigencam_weights(centred: Tensor, _centred: Tensor) -> Tensor:
    """(N, 1, C, h, w) activations, each channel's spatial mean removed -> (N, 1, C, 1, 1) weights: the first
    right singular vector of the (h*w, C) matrix, as pytorch-grad-cam's get_2d_projection. An SVD's sign is
    arbitrary (LAPACK's choice), so it is fixed as pytorch-grad-cam's get_2d_projection_with_sign_correction
    does (Seg-Eigen-CAM's eq. 13): flipped when the projection's most negative value outweighs its largest."""
    n, _, c, h, w = centred.shape
    rows = centred.reshape(n, c, h * w).transpose(1, 2)
    direction = torch.linalg.svd(rows, full_matrices=False).Vh[:, 0]  # (N, C)
    projection = rows @ direction.unsqueeze(2)  # (N, h*w, 1)
    sign = torch.where(-projection.amin(dim=(1, 2)) > projection.amax(dim=(1, 2)), -1.0, 1.0)
    return (sign[:, None] * direction)[:, None, :, None, None]
