"""Class scores of the input masked by each channel of a layer's activations: what Score-CAM weighs, batched."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Progress = Callable[[int, int], None]
"""progress(done, total): masked inputs scored so far, of all this batch needs; called after each forward."""

MASKED_PIXEL_BUDGET = 64 * 224 ** 2
"""Masked inputs per forward: 64 at 224 px (pytorch-grad-cam runs 16, torchcam 32); larger batches gain little
on a CPU and would hold more memory on a shared GPU."""
NORMALISE_EPS = 1e-8
"""pytorch-grad-cam's (max - min + eps): kept so that near-constant channels get its masks, not ours."""


def channel_masks(acts: Tensor, size_hw: tuple[int, int]) -> Tensor:
    """(B, h, w) activations -> (B, 1, H, W) masks in [0, 1]: bilinear upsampling with align_corners=True, then
    min-max per channel, in that order, as pytorch-grad-cam's ScoreCAM (torchcam 0.5 scales first, then
    upsamples with align_corners=False: maps differ slightly at the borders)."""
    up = F.interpolate(acts.unsqueeze(1), size=size_hw, mode="bilinear", align_corners=True)
    low = up.amin(dim=(2, 3), keepdim=True)
    return (up - low) / (up.amax(dim=(2, 3), keepdim=True) - low + NORMALISE_EPS)


def masked_scores(x: Tensor, acts: Tensor, classes: Tensor, logits_of: Callable[[Tensor], Tensor], *,
                  progress: Progress | None = None) -> Tensor:
    """scores[n, k, c]: the logit of class classes[n, k] on image x[n] masked by channel c -> (N, K, C).

    Run under torch.inference_mode(). All K classes are read from the same forward passes (the libraries redo
    every pass per class). A constant channel's mask is all zeros (pytorch-grad-cam: (A - min) / (0 + eps);
    torchcam the same), so its masked input is the zero image whatever the photo: one forward scores all of them.
    (For a constant other than 0, pytorch-grad-cam's upsampling can leave rounding noise that its min-max then
    stretches to [0, 1]; after a ReLU the constant channels are all-zero ones.) x (N, 3, H, W) on the
    model's device; acts (N, C, h, w); classes (N, K); logits_of: (B, 3, H, W) batch -> (B, classes) logits.
    """
    n_images, channels = acts.shape[:2]
    varying = acts.flatten(2).amax(dim=2) > acts.flatten(2).amin(dim=2)
    rows, cols = varying.nonzero(as_tuple=True)
    total = rows.numel() + int(rows.numel() < n_images * channels)
    scores = torch.empty(n_images, classes.shape[1], channels, device=x.device)
    if rows.numel() < n_images * channels:
        zero_scores = logits_of(torch.zeros_like(x[:1]))[0, classes]  # (N, K)
        scores[:] = zero_scores.unsqueeze(2)
        _report(progress, 1, total)
    size_hw = (x.shape[-2], x.shape[-1])
    step = max(1, MASKED_PIXEL_BUDGET // (size_hw[0] * size_hw[1]))
    for start in range(0, rows.numel(), step):
        n, c = rows[start:start + step], cols[start:start + step]
        masked = x[n] * channel_masks(acts[n, c], size_hw)
        scores[n, :, c] = logits_of(masked).gather(1, classes[n])
        _report(progress, total - rows.numel() + start + n.numel(), total)
    return scores


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
