"""Score-CAM (Wang et al., 2020): a channel's weight is how much the class scores on the input masked by it."""
import torch
from torch import Tensor

from camcore.cams.base import register


@register("scorecam", label="Score-CAM", needs_gradients=False, masked_scores=True,
          summary="no gradients: each channel's masked photo scored, one forward pass per channel (seconds to minutes"
                  " on a CPU)")
def scorecam_weights(acts: Tensor, scores: Tensor) -> Tensor:
    """(N, K, C) class logits of the masked inputs -> (N, K, C, 1, 1) channel weights: their softmax over the
    channels (the paper's Algorithm 1, on logits as pytorch-grad-cam 1.5 and torchcam 0.5 both do; torchcam
    subtracts the unmasked input's logit first, which a softmax over channels ignores)."""
    return torch.softmax(scores, dim=-1)[..., None, None]
